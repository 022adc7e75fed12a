package realtime

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// The session.update payloads, as each dialect writes them. Settings a
// session cannot change or that voicegate accepts without applying are
// decoded into raw values and checked for their type only (see
// docs/realtime.md).

type gaSessionIn struct {
	Type             *string            `json:"type"`
	Object           *string            `json:"object"`
	ID               *string            `json:"id"`
	ExpiresAt        *int64             `json:"expires_at"`
	Model            *string            `json:"model"`
	OutputModalities []string           `json:"output_modalities"`
	Instructions     *string            `json:"instructions"`
	Audio            *gaAudioIn         `json:"audio"`
	Tools            *[]json.RawMessage `json:"tools"`
	ToolChoice       json.RawMessage    `json:"tool_choice"`
	MaxOutputTokens  json.RawMessage    `json:"max_output_tokens"`
	Tracing          json.RawMessage    `json:"tracing"`
	Truncation       json.RawMessage    `json:"truncation"`
	Prompt           json.RawMessage    `json:"prompt"`
	Include          []string           `json:"include"`
	Reasoning        json.RawMessage    `json:"reasoning"`
	ParallelTools    *bool              `json:"parallel_tool_calls"`
}

type gaAudioIn struct {
	Input *struct {
		Format         json.RawMessage `json:"format"`
		NoiseReduction json.RawMessage `json:"noise_reduction"`
		Transcription  json.RawMessage `json:"transcription"`
		TurnDetection  json.RawMessage `json:"turn_detection"`
	} `json:"input"`
	Output *struct {
		Format json.RawMessage `json:"format"`
		Voice  json.RawMessage `json:"voice"`
		Speed  *float64        `json:"speed"`
	} `json:"output"`
}

type betaSessionIn struct {
	Object                   *string            `json:"object"`
	ID                       *string            `json:"id"`
	ExpiresAt                *int64             `json:"expires_at"`
	Model                    *string            `json:"model"`
	Modalities               []string           `json:"modalities"`
	Instructions             *string            `json:"instructions"`
	Voice                    json.RawMessage    `json:"voice"`
	InputAudioFormat         json.RawMessage    `json:"input_audio_format"`
	OutputAudioFormat        json.RawMessage    `json:"output_audio_format"`
	InputAudioTranscription  json.RawMessage    `json:"input_audio_transcription"`
	InputAudioNoiseReduction json.RawMessage    `json:"input_audio_noise_reduction"`
	TurnDetection            json.RawMessage    `json:"turn_detection"`
	Tools                    *[]json.RawMessage `json:"tools"`
	ToolChoice               json.RawMessage    `json:"tool_choice"`
	Temperature              *float64           `json:"temperature"`
	MaxResponseOutputTokens  json.RawMessage    `json:"max_response_output_tokens"`
	Speed                    *float64           `json:"speed"`
	Tracing                  json.RawMessage    `json:"tracing"`
	ClientSecret             json.RawMessage    `json:"client_secret"`
	Include                  []string           `json:"include"`
}

type toolIn struct {
	Type        *string         `json:"type"`
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

type turnDetectionIn struct {
	Type              *string         `json:"type"`
	Threshold         *float64        `json:"threshold"`
	PrefixPaddingMS   *int            `json:"prefix_padding_ms"`
	SilenceDurationMS *int            `json:"silence_duration_ms"`
	IdleTimeoutMS     json.RawMessage `json:"idle_timeout_ms"`
	Eagerness         *string         `json:"eagerness"`
	CreateResponse    *bool           `json:"create_response"`
	InterruptResponse *bool           `json:"interrupt_response"`
	ModelVersion      *string         `json:"model_version"`
}

type transcriptionIn struct {
	Model     *string   `json:"model"`
	Language  *string   `json:"language"`
	Prompt    *string   `json:"prompt"`
	Delay     *string   `json:"delay"`
	Keywords  []string  `json:"keywords"`
	Languages *[]string `json:"languages"`
}

// parseSessionUpdate reads the session object of a session.update; the
// fields of a turn_detection it leaves out take their values from td.
func parseSessionUpdate(raw json.RawMessage, d Dialect, td TurnDefaults) (SessionUpdate, *Error) {
	if len(raw) == 0 || isNull(raw) {
		return SessionUpdate{}, Invalid(CodeMissingParameter, "session", "Missing required parameter: 'session'.")
	}
	if d == Beta {
		return parseBetaSession(raw, td)
	}
	return parseGASession(raw, td)
}

// TurnDefaults are the server_vad settings a turn_detection that leaves
// them out gets: the server's own voice activity detection. Zero fields
// are OpenAI's defaults (threshold 0.5, 300 ms of prefix, 500 ms of
// silence).
type TurnDefaults struct {
	PrefixPaddingMS   int
	SilenceDurationMS int
}

// Of returns the defaults of turn detection of type typ.
func (td TurnDefaults) Of(typ string) TurnDetection {
	t := DefaultTurnDetection(typ)
	if typ == ServerVAD {
		if td.PrefixPaddingMS > 0 {
			t.PrefixPaddingMS = td.PrefixPaddingMS
		}
		if td.SilenceDurationMS > 0 {
			t.SilenceDurationMS = td.SilenceDurationMS
		}
	}
	return t
}

func parseGASession(raw json.RawMessage, defaults TurnDefaults) (SessionUpdate, *Error) {
	var in gaSessionIn
	if err := strictUnmarshal(raw, &in, "session"); err != nil {
		return SessionUpdate{}, err
	}
	var u SessionUpdate
	if in.Type != nil {
		switch *in.Type {
		case "realtime":
		case "transcription":
			return u, Invalid(CodeUnsupported, "session.type", "Transcription sessions are not offered here; use session.type 'realtime'.")
		default:
			return u, Invalid(CodeInvalidValue, "session.type", "Invalid value: '%s'. Supported values are: 'realtime'.", clip(*in.Type))
		}
	}
	if err := u.common(in.Model, in.Instructions, in.Tools, in.ToolChoice, "session"); err != nil {
		return u, err
	}
	if in.OutputModalities != nil {
		a, err := parseModalities(in.OutputModalities, "session.output_modalities")
		if err != nil {
			return u, err
		}
		u.Audio = &a
	}
	if err := checkIgnored(in.Prompt, "session.prompt"); err != nil {
		return u, err
	}
	if a := in.Audio; a != nil {
		if in := a.Input; in != nil {
			if err := u.input(in.Format, in.Transcription, in.TurnDetection, GA, "session.audio.input", defaults); err != nil {
				return u, err
			}
		}
		if out := a.Output; out != nil {
			if len(out.Format) > 0 {
				f, err := parseFormat(out.Format, GA, "session.audio.output.format")
				if err != nil {
					return u, err
				}
				u.OutputFormat = &f
			}
			if err := u.voice(out.Voice, "session.audio.output.voice"); err != nil {
				return u, err
			}
		}
	}
	return u, nil
}

func parseBetaSession(raw json.RawMessage, defaults TurnDefaults) (SessionUpdate, *Error) {
	var in betaSessionIn
	if err := strictUnmarshal(raw, &in, "session"); err != nil {
		return SessionUpdate{}, err
	}
	var u SessionUpdate
	if err := u.common(in.Model, in.Instructions, in.Tools, in.ToolChoice, "session"); err != nil {
		return u, err
	}
	if in.Modalities != nil {
		a, err := parseModalities(in.Modalities, "session.modalities")
		if err != nil {
			return u, err
		}
		u.Audio = &a
	}
	if err := u.input(in.InputAudioFormat, in.InputAudioTranscription, in.TurnDetection, Beta, "session", defaults); err != nil {
		return u, err
	}
	if len(in.OutputAudioFormat) > 0 {
		f, err := parseFormat(in.OutputAudioFormat, Beta, "session.output_audio_format")
		if err != nil {
			return u, err
		}
		u.OutputFormat = &f
	}
	return u, u.voice(in.Voice, "session.voice")
}

// common reads what both dialects name alike.
func (u *SessionUpdate) common(model, instructions *string, tools *[]json.RawMessage, choice json.RawMessage, param string) *Error {
	if model != nil {
		if *model == "" || len(*model) > maxModelBytes {
			return Invalid(CodeInvalidValue, param+".model", "Invalid value for '%s.model': give a model name of 1 to %d bytes.", param, maxModelBytes)
		}
		u.Model = model
	}
	if instructions != nil {
		if len(*instructions) > maxInstructionsBytes {
			return Invalid(CodeInvalidValue, param+".instructions", "'%s.instructions' is %d bytes; the limit is %d.", param, len(*instructions), maxInstructionsBytes)
		}
		u.Instructions = instructions
	}
	if tools != nil {
		ts, err := parseTools(*tools, param+".tools")
		if err != nil {
			return err
		}
		u.Tools = &ts
	}
	if len(choice) > 0 {
		c, err := parseToolChoice(choice, param+".tool_choice")
		if err != nil {
			return err
		}
		u.ToolChoice = &c
	}
	return nil
}

// input reads the input format, transcription and turn detection; prefix
// is where they sit: GA session.audio.input.{format,…}, beta
// session.input_audio_{format,…} and session.turn_detection.
func (u *SessionUpdate) input(format, transcription, turns json.RawMessage, d Dialect, prefix string, defaults TurnDefaults) *Error {
	names := [3]string{prefix + ".format", prefix + ".transcription", prefix + ".turn_detection"}
	if d == Beta {
		names = [3]string{prefix + ".input_audio_format", prefix + ".input_audio_transcription", prefix + ".turn_detection"}
	}
	if len(format) > 0 {
		f, err := parseFormat(format, d, names[0])
		if err != nil {
			return err
		}
		u.InputFormat = &f
	}
	if len(transcription) > 0 {
		u.Transcription.Set = true
		if !isNull(transcription) {
			var in transcriptionIn
			if err := strictUnmarshal(transcription, &in, names[1]); err != nil {
				return err
			}
			t := Transcription{}
			for _, f := range []struct {
				dst *string
				v   *string
			}{{&t.Model, in.Model}, {&t.Language, in.Language}, {&t.Prompt, in.Prompt}} {
				if f.v != nil {
					if len(*f.v) > maxToolDescBytes {
						return Invalid(CodeInvalidValue, names[1], "'%s' holds a value over %d bytes.", names[1], maxToolDescBytes)
					}
					*f.dst = *f.v
				}
			}
			u.Transcription.Value = &t
		}
	}
	if len(turns) > 0 {
		u.TurnDetection.Set = true
		if !isNull(turns) {
			td, err := parseTurnDetection(turns, names[2], defaults)
			if err != nil {
				return err
			}
			u.TurnDetection.Value = &td
		}
	}
	return nil
}

func (u *SessionUpdate) voice(raw json.RawMessage, param string) *Error {
	if len(raw) == 0 {
		return nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return Invalid(CodeUnsupported, param, "Custom voices ({\"id\": …}) are not offered here; name a voice.")
	}
	if len(v) > maxVoiceBytes || !validID(v) {
		return Invalid(CodeInvalidValue, param, "Invalid value for '%s': give a voice name of 1 to %d printable characters.", param, maxVoiceBytes)
	}
	u.Voice = &v
	return nil
}

// checkIgnored refuses a setting that would change what the model says
// but that voicegate cannot honour (a stored prompt): null is fine.
func checkIgnored(raw json.RawMessage, param string) *Error {
	if len(raw) > 0 && !isNull(raw) {
		return Invalid(CodeUnsupported, param, "'%s' (stored prompts) is not offered here; send instructions instead.", param)
	}
	return nil
}

func parseTurnDetection(raw json.RawMessage, param string, defaults TurnDefaults) (TurnDetection, *Error) {
	var in turnDetectionIn
	if err := strictUnmarshal(raw, &in, param); err != nil {
		return TurnDetection{}, err
	}
	typ := ServerVAD
	if in.Type != nil {
		typ = *in.Type
	}
	if typ != ServerVAD && typ != SemanticVAD {
		return TurnDetection{}, Invalid(CodeInvalidValue, param+".type", "Invalid value: '%s'. Supported values are: 'server_vad' and 'semantic_vad'.", clip(typ))
	}
	td := defaults.Of(typ)
	set(&td.CreateResponse, in.CreateResponse)
	set(&td.InterruptResponse, in.InterruptResponse)
	if len(in.IdleTimeoutMS) > 0 && !isNull(in.IdleTimeoutMS) {
		return td, Invalid(CodeUnsupported, param+".idle_timeout_ms", "An idle timeout is not offered here; leave idle_timeout_ms null.")
	}
	if typ == SemanticVAD {
		for name, present := range map[string]bool{"threshold": in.Threshold != nil, "prefix_padding_ms": in.PrefixPaddingMS != nil, "silence_duration_ms": in.SilenceDurationMS != nil} {
			if present {
				return td, Invalid(CodeUnknownParameter, param+"."+name, "Unknown parameter for semantic_vad: '%s.%s' (it is server_vad's).", param, name)
			}
		}
		if in.Eagerness != nil {
			switch *in.Eagerness {
			case "low", "medium", "high", "auto":
				td.Eagerness = *in.Eagerness
			default:
				return td, Invalid(CodeInvalidValue, param+".eagerness", "Invalid value: '%s'. Supported values are: 'low', 'medium', 'high', and 'auto'.", clip(*in.Eagerness))
			}
		}
		return td, nil
	}
	if in.Eagerness != nil {
		return td, Invalid(CodeUnknownParameter, param+".eagerness", "Unknown parameter for server_vad: '%s.eagerness' (it is semantic_vad's).", param)
	}
	if v := in.Threshold; v != nil {
		if *v < 0 || *v > 1 {
			return td, Invalid(CodeInvalidValue, param+".threshold", "Invalid value for '%s.threshold': %v; use 0.0 to 1.0.", param, *v)
		}
		td.Threshold = *v
	}
	if v := in.PrefixPaddingMS; v != nil {
		if *v < 0 || *v > 5000 {
			return td, Invalid(CodeInvalidValue, param+".prefix_padding_ms", "Invalid value for '%s.prefix_padding_ms': %d; use 0 to 5000.", param, *v)
		}
		td.PrefixPaddingMS = *v
	}
	if v := in.SilenceDurationMS; v != nil {
		if *v < 100 || *v > 5000 {
			return td, Invalid(CodeInvalidValue, param+".silence_duration_ms", "Invalid value for '%s.silence_duration_ms': %d; use 100 to 5000.", param, *v)
		}
		td.SilenceDurationMS = *v
	}
	return td, nil
}

func parseTools(in []json.RawMessage, param string) ([]Tool, *Error) {
	if len(in) > maxTools {
		return nil, Invalid(CodeInvalidValue, param, "%d tools; the limit is %d.", len(in), maxTools)
	}
	out := make([]Tool, 0, len(in))
	seen := make(map[string]bool, len(in))
	for i, raw := range in {
		p := param + "[" + itoa(i) + "]"
		var kind struct {
			Type *string `json:"type"`
		}
		if json.Unmarshal(raw, &kind) == nil && kind.Type != nil && *kind.Type != "function" {
			if *kind.Type == "mcp" {
				return nil, Invalid(CodeUnsupported, p+".type", "MCP tools are not offered here; define function tools.")
			}
			return nil, Invalid(CodeInvalidValue, p+".type", "Invalid value: '%s'. Supported values are: 'function'.", clip(*kind.Type))
		}
		var t toolIn
		if err := strictUnmarshal(raw, &t, p); err != nil {
			return nil, err
		}
		if t.Name == nil || !validToolName(*t.Name) {
			return nil, Invalid(CodeInvalidValue, p+".name", "'%s.name' must be 1 to %d letters, digits, '_' or '-'.", p, maxToolNameBytes)
		}
		if seen[*t.Name] {
			return nil, Invalid(CodeInvalidValue, p+".name", "Two tools are named '%s'.", *t.Name)
		}
		seen[*t.Name] = true
		tool := Tool{Name: *t.Name}
		if t.Description != nil {
			if len(*t.Description) > maxToolDescBytes {
				return nil, Invalid(CodeInvalidValue, p+".description", "'%s.description' is over %d bytes.", p, maxToolDescBytes)
			}
			tool.Description = *t.Description
		}
		if len(t.Parameters) > 0 && !isNull(t.Parameters) {
			if len(t.Parameters) > maxToolParamsBytes {
				return nil, Invalid(CodeInvalidValue, p+".parameters", "'%s.parameters' is over %d bytes.", p, maxToolParamsBytes)
			}
			if !strings.HasPrefix(strings.TrimSpace(string(t.Parameters)), "{") {
				return nil, Invalid(CodeInvalidType, p+".parameters", "'%s.parameters' must be a JSON Schema object.", p)
			}
			tool.Parameters = compact(t.Parameters)
		}
		out = append(out, tool)
	}
	return out, nil
}

func validToolName(s string) bool {
	if s == "" || len(s) > maxToolNameBytes {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// compact returns raw as encoding/json writes a raw value (without
// insignificant space, HTML characters escaped), in a new slice: raw
// aliases the client's message, and a session reports the tool as it will
// be sent on.
func compact(raw json.RawMessage) json.RawMessage {
	b, _ := json.Marshal(raw) // valid JSON: cannot fail
	return b
}

// parseToolChoice accepts "auto" and "none"; "required" and a named
// function are not offered (the pipeline lets the model choose).
func parseToolChoice(raw json.RawMessage, param string) (string, *Error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", Invalid(CodeUnsupported, param, "Forcing a particular tool is not offered here; use 'auto' or 'none'.")
	}
	switch s {
	case "auto", "none":
		return s, nil
	case "required":
		return "", Invalid(CodeUnsupported, param, "tool_choice 'required' is not offered here; use 'auto' or 'none'.")
	}
	return "", Invalid(CodeInvalidValue, param, "Invalid value: '%s'. Supported values are: 'auto' and 'none'.", clip(s))
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// validID reports whether s can name an item, a response or an event:
// 1 to maxIDBytes printable ASCII characters.
func validID(s string) bool {
	if s == "" || len(s) > maxIDBytes || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

const maxIDBytes = 128

// ParseSession reads a session object in dialect d, as session.update
// carries it and as POST /v1/realtime/client_secrets takes it.
func ParseSession(raw json.RawMessage, d Dialect, td TurnDefaults) (SessionUpdate, *Error) {
	return parseSessionUpdate(raw, d, td)
}
