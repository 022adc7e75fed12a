package realtime

import "encoding/json"

// ResponseParams is what a response.create asks of one response. Fields
// left nil take the session's settings.
type ResponseParams struct {
	// Instructions replace the session's instructions for this response
	// only: an out-of-band prompt.
	Instructions *string
	Audio        *bool   // the response's modalities
	OutputFormat *Format // must match the session's
	Voice        *string // must match the session's
	// Metadata is echoed in the response object.
	Metadata map[string]string
}

type gaResponseIn struct {
	Audio *struct {
		Output *struct {
			Format json.RawMessage `json:"format"`
			Voice  json.RawMessage `json:"voice"`
		} `json:"output"`
	} `json:"audio"`
	Conversation     *string           `json:"conversation"`
	Input            json.RawMessage   `json:"input"`
	Instructions     *string           `json:"instructions"`
	MaxOutputTokens  json.RawMessage   `json:"max_output_tokens"`
	Metadata         map[string]string `json:"metadata"`
	OutputModalities []string          `json:"output_modalities"`
	ParallelTools    *bool             `json:"parallel_tool_calls"`
	Prompt           json.RawMessage   `json:"prompt"`
	Reasoning        json.RawMessage   `json:"reasoning"`
	ToolChoice       json.RawMessage   `json:"tool_choice"`
	Tools            json.RawMessage   `json:"tools"`
}

type betaResponseIn struct {
	Conversation            *string           `json:"conversation"`
	Input                   json.RawMessage   `json:"input"`
	Instructions            *string           `json:"instructions"`
	MaxResponseOutputTokens json.RawMessage   `json:"max_response_output_tokens"`
	Metadata                map[string]string `json:"metadata"`
	Modalities              []string          `json:"modalities"`
	OutputAudioFormat       json.RawMessage   `json:"output_audio_format"`
	Temperature             *float64          `json:"temperature"`
	ToolChoice              json.RawMessage   `json:"tool_choice"`
	Tools                   json.RawMessage   `json:"tools"`
	Voice                   json.RawMessage   `json:"voice"`
}

// Metadata limits, OpenAI's.
const (
	maxMetadataKeys       = 16
	maxMetadataKeyBytes   = 64
	maxMetadataValueBytes = 512
)

func parseResponseParams(raw json.RawMessage, d Dialect) (ResponseParams, *Error) {
	var p ResponseParams
	if len(raw) == 0 || isNull(raw) {
		return p, nil
	}
	var (
		conversation      *string
		input, tools      json.RawMessage
		choice, prompt    json.RawMessage
		modalitiesIn      []string
		format, voice     json.RawMessage
		metadata          map[string]string
		modalitiesName    = "response.output_modalities"
		formatName, vName = "response.audio.output.format", "response.audio.output.voice"
	)
	if d == Beta {
		var in betaResponseIn
		if err := strictUnmarshal(raw, &in, "response"); err != nil {
			return p, err
		}
		conversation, input, tools, choice = in.Conversation, in.Input, in.Tools, in.ToolChoice
		p.Instructions, modalitiesIn, format, voice, metadata = in.Instructions, in.Modalities, in.OutputAudioFormat, in.Voice, in.Metadata
		modalitiesName, formatName, vName = "response.modalities", "response.output_audio_format", "response.voice"
	} else {
		var in gaResponseIn
		if err := strictUnmarshal(raw, &in, "response"); err != nil {
			return p, err
		}
		conversation, input, tools, choice, prompt = in.Conversation, in.Input, in.Tools, in.ToolChoice, in.Prompt
		p.Instructions, modalitiesIn, metadata = in.Instructions, in.OutputModalities, in.Metadata
		if in.Audio != nil && in.Audio.Output != nil {
			format, voice = in.Audio.Output.Format, in.Audio.Output.Voice
		}
	}
	if conversation != nil && *conversation != "auto" {
		return p, Invalid(CodeUnsupported, "response.conversation", "Responses outside the conversation (conversation '%s') are not offered here; every response joins the conversation.", clip(*conversation))
	}
	if len(input) > 0 && !isNull(input) && string(input) != "[]" {
		return p, Invalid(CodeUnsupported, "response.input", "A response's own input items are not offered here; add items with conversation.item.create.")
	}
	if len(tools) > 0 && !isNull(tools) {
		return p, Invalid(CodeUnsupported, "response.tools", "Tools for one response are not offered here; set them with session.update.")
	}
	if len(choice) > 0 {
		if _, err := parseToolChoice(choice, "response.tool_choice"); err != nil {
			return p, err
		}
	}
	if err := checkIgnored(prompt, "response.prompt"); err != nil {
		return p, err
	}
	if p.Instructions != nil && len(*p.Instructions) > maxInstructionsBytes {
		return p, Invalid(CodeInvalidValue, "response.instructions", "'response.instructions' is %d bytes; the limit is %d.", len(*p.Instructions), maxInstructionsBytes)
	}
	if modalitiesIn != nil {
		a, err := parseModalities(modalitiesIn, modalitiesName)
		if err != nil {
			return p, err
		}
		p.Audio = &a
	}
	if len(format) > 0 {
		f, err := parseFormat(format, d, formatName)
		if err != nil {
			return p, err
		}
		p.OutputFormat = &f
	}
	var u SessionUpdate
	if err := u.voice(voice, vName); err != nil {
		return p, err
	}
	p.Voice = u.Voice
	if len(metadata) > maxMetadataKeys {
		return p, Invalid(CodeInvalidValue, "response.metadata", "'response.metadata' holds %d keys; the limit is %d.", len(metadata), maxMetadataKeys)
	}
	for k, v := range metadata {
		if len(k) > maxMetadataKeyBytes || len(v) > maxMetadataValueBytes {
			return p, Invalid(CodeInvalidValue, "response.metadata", "Metadata keys are at most %d bytes, values %d.", maxMetadataKeyBytes, maxMetadataValueBytes)
		}
	}
	p.Metadata = metadata
	return p, nil
}
