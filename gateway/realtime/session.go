package realtime

import (
	"encoding/json"
	"slices"
)

// Session is a session's effective configuration: what session.created and
// session.updated report, in full, after every change.
type Session struct {
	ID           string
	Model        string
	ExpiresAt    int64 // Unix seconds
	Instructions string
	// Audio is whether replies are spoken (GA output_modalities ["audio"],
	// beta modalities ["audio", "text"]); false: written only (["text"]).
	Audio        bool
	InputFormat  Format
	OutputFormat Format
	Voice        string
	// Transcription is the transcription the client asked for; nil: no
	// input_audio_transcription events are sent (recognition still runs:
	// the model hears the user through it).
	Transcription *Transcription
	// TurnDetection nil means push-to-talk: the user's turn ends at
	// input_audio_buffer.commit.
	TurnDetection *TurnDetection
	Tools         []Tool
	ToolChoice    string // "auto" or "none"
}

// Transcription is the input transcription settings, reported as given.
type Transcription struct {
	Model    string `json:"model,omitempty"`
	Language string `json:"language,omitempty"`
	Prompt   string `json:"prompt,omitempty"`
}

// Turn detection types.
const (
	ServerVAD   = "server_vad"
	SemanticVAD = "semantic_vad"
)

// TurnDetection is voice activity detection: server_vad with its
// threshold, prefix padding and silence, or semantic_vad with its
// eagerness.
type TurnDetection struct {
	Type              string
	Threshold         float64 // server_vad: 0 to 1, default 0.5
	PrefixPaddingMS   int     // server_vad: default 300
	SilenceDurationMS int     // server_vad: default 500
	Eagerness         string  // semantic_vad: low, medium, high or auto (default)
	CreateResponse    bool    // default true
	InterruptResponse bool    // default true
}

// DefaultTurnDetection returns the defaults of type typ (ServerVAD or
// SemanticVAD).
func DefaultTurnDetection(typ string) TurnDetection {
	td := TurnDetection{Type: typ, CreateResponse: true, InterruptResponse: true}
	if typ == ServerVAD {
		td.Threshold, td.PrefixPaddingMS, td.SilenceDurationMS = 0.5, 300, 500
	} else {
		td.Eagerness = "auto"
	}
	return td
}

// Tool is a function the client offers the model; the client runs it.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage // a JSON Schema object, or nil
}

// Nullable is a setting an update may leave out, set to null or set.
type Nullable[T any] struct {
	Set   bool // present in the update
	Value *T   // nil with Set: null
}

// SessionUpdate is what a session.update asks to change: nil (or unset)
// fields are left as they are.
type SessionUpdate struct {
	Model         *string
	Instructions  *string
	Audio         *bool
	InputFormat   *Format
	OutputFormat  *Format
	Voice         *string
	Transcription Nullable[Transcription]
	TurnDetection Nullable[TurnDetection]
	Tools         *[]Tool
	ToolChoice    *string
}

// Apply changes s as u asks.
func (s *Session) Apply(u SessionUpdate) {
	set(&s.Model, u.Model)
	set(&s.Instructions, u.Instructions)
	set(&s.Audio, u.Audio)
	set(&s.InputFormat, u.InputFormat)
	set(&s.OutputFormat, u.OutputFormat)
	set(&s.Voice, u.Voice)
	set(&s.ToolChoice, u.ToolChoice)
	if u.Tools != nil {
		s.Tools = slices.Clone(*u.Tools)
	}
	if u.Transcription.Set {
		s.Transcription = clone(u.Transcription.Value)
	}
	if u.TurnDetection.Set {
		s.TurnDetection = clone(u.TurnDetection.Value)
	}
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func clone[T any](v *T) *T {
	if v == nil {
		return nil
	}
	c := *v
	return &c
}

// Limits on what a client's session and items may hold; the gateway's
// own caps (text, audio) come on top.
const (
	maxInstructionsBytes = 64 << 10
	maxTools             = 128
	maxToolNameBytes     = 64
	maxToolDescBytes     = 4 << 10
	maxToolParamsBytes   = 64 << 10
	maxVoiceBytes        = 64
	maxModelBytes        = 128
)

// modalities returns the output modalities of a session or response that
// speaks (audio) or writes, as d names them.
func modalities(audio bool, d Dialect) []string {
	switch {
	case !audio:
		return []string{"text"}
	case d == Beta:
		return []string{"audio", "text"}
	}
	return []string{"audio"}
}

// parseModalities reads output_modalities (GA) or modalities (beta).
func parseModalities(m []string, param string) (bool, *Error) {
	if len(m) == 0 {
		return false, Invalid(CodeInvalidValue, param, "'%s' must name 'audio' or 'text'.", param)
	}
	audio := false
	for _, v := range m {
		switch v {
		case "audio":
			audio = true
		case "text":
		default:
			return false, Invalid(CodeInvalidValue, param, "Invalid value: '%s'. Supported values are: 'text' and 'audio'.", clip(v))
		}
	}
	return audio, nil
}

// The wire shapes of a session, as the server reports it.

type toolJSON struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type turnDetectionJSON struct {
	Type              string   `json:"type"`
	Threshold         *float64 `json:"threshold,omitempty"`
	PrefixPaddingMS   *int     `json:"prefix_padding_ms,omitempty"`
	SilenceDurationMS *int     `json:"silence_duration_ms,omitempty"`
	IdleTimeoutMS     *int     `json:"idle_timeout_ms"`
	Eagerness         string   `json:"eagerness,omitempty"`
	CreateResponse    bool     `json:"create_response"`
	InterruptResponse bool     `json:"interrupt_response"`
}

func (t *TurnDetection) encode() *turnDetectionJSON {
	if t == nil {
		return nil
	}
	j := &turnDetectionJSON{Type: t.Type, CreateResponse: t.CreateResponse, InterruptResponse: t.InterruptResponse}
	if t.Type == ServerVAD {
		j.Threshold, j.PrefixPaddingMS, j.SilenceDurationMS = &t.Threshold, &t.PrefixPaddingMS, &t.SilenceDurationMS
	} else {
		j.Eagerness = t.Eagerness
	}
	return j
}

func encodeTools(tools []Tool) []toolJSON {
	out := make([]toolJSON, 0, len(tools))
	for _, t := range tools {
		out = append(out, toolJSON{Type: "function", Name: t.Name, Description: t.Description, Parameters: t.Parameters})
	}
	return out
}

type gaSessionJSON struct {
	Type             string          `json:"type"`
	Object           string          `json:"object"`
	ID               string          `json:"id"`
	Model            string          `json:"model"`
	ExpiresAt        int64           `json:"expires_at"`
	OutputModalities []string        `json:"output_modalities"`
	Instructions     string          `json:"instructions"`
	Audio            gaAudioJSON     `json:"audio"`
	Tools            []toolJSON      `json:"tools"`
	ToolChoice       string          `json:"tool_choice"`
	MaxOutputTokens  string          `json:"max_output_tokens"`
	Tracing          json.RawMessage `json:"tracing"`
	Truncation       string          `json:"truncation"`
	Prompt           json.RawMessage `json:"prompt"`
	Include          json.RawMessage `json:"include"`
}

type gaAudioJSON struct {
	Input struct {
		Format         gaFormat           `json:"format"`
		Transcription  *Transcription     `json:"transcription"`
		NoiseReduction json.RawMessage    `json:"noise_reduction"`
		TurnDetection  *turnDetectionJSON `json:"turn_detection"`
	} `json:"input"`
	Output struct {
		Format gaFormat `json:"format"`
		Voice  string   `json:"voice"`
		Speed  float64  `json:"speed"`
	} `json:"output"`
}

type betaSessionJSON struct {
	ID                       string             `json:"id"`
	Object                   string             `json:"object"`
	Model                    string             `json:"model"`
	ExpiresAt                int64              `json:"expires_at"`
	Modalities               []string           `json:"modalities"`
	Instructions             string             `json:"instructions"`
	Voice                    string             `json:"voice"`
	InputAudioFormat         string             `json:"input_audio_format"`
	OutputAudioFormat        string             `json:"output_audio_format"`
	InputAudioTranscription  *Transcription     `json:"input_audio_transcription"`
	InputAudioNoiseReduction json.RawMessage    `json:"input_audio_noise_reduction"`
	TurnDetection            *turnDetectionJSON `json:"turn_detection"`
	Tools                    []toolJSON         `json:"tools"`
	ToolChoice               string             `json:"tool_choice"`
	MaxResponseOutputTokens  string             `json:"max_response_output_tokens"`
	Speed                    float64            `json:"speed"`
	Tracing                  json.RawMessage    `json:"tracing"`
}

var jsonNull = json.RawMessage("null")

// encode returns s as d reports it. Settings voicegate accepts but does
// not apply are reported as in effect: no noise reduction, speed 1, no
// output token limit, no tracing.
func (s *Session) encode(d Dialect) any {
	if d == Beta {
		return &betaSessionJSON{
			ID: s.ID, Object: "realtime.session", Model: s.Model, ExpiresAt: s.ExpiresAt,
			Modalities: modalities(s.Audio, d), Instructions: s.Instructions, Voice: s.Voice,
			InputAudioFormat: s.InputFormat.BetaName(), OutputAudioFormat: s.OutputFormat.BetaName(),
			InputAudioTranscription: s.Transcription, InputAudioNoiseReduction: jsonNull,
			TurnDetection: s.TurnDetection.encode(), Tools: encodeTools(s.Tools), ToolChoice: s.ToolChoice,
			MaxResponseOutputTokens: "inf", Speed: 1, Tracing: jsonNull,
		}
	}
	j := &gaSessionJSON{
		Type: "realtime", Object: "realtime.session", ID: s.ID, Model: s.Model, ExpiresAt: s.ExpiresAt,
		OutputModalities: modalities(s.Audio, d), Instructions: s.Instructions,
		Tools: encodeTools(s.Tools), ToolChoice: s.ToolChoice, MaxOutputTokens: "inf",
		Tracing: jsonNull, Truncation: "auto", Prompt: jsonNull, Include: jsonNull,
	}
	j.Audio.Input.Format = s.InputFormat.ga()
	j.Audio.Input.Transcription = s.Transcription
	j.Audio.Input.NoiseReduction = jsonNull
	j.Audio.Input.TurnDetection = s.TurnDetection.encode()
	j.Audio.Output.Format = s.OutputFormat.ga()
	j.Audio.Output.Voice = s.Voice
	j.Audio.Output.Speed = 1
	return j
}

// MarshalDialect returns s as d reports it in session.created and
// session.updated, for the client_secrets answer and tests.
func (s *Session) MarshalDialect(d Dialect) ([]byte, error) { return json.Marshal(s.encode(d)) }
