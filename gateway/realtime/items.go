package realtime

import (
	"encoding/json"
	"strings"
)

// Item types.
const (
	ItemMessage            = "message"
	ItemFunctionCall       = "function_call"
	ItemFunctionCallOutput = "function_call_output"
)

// Item statuses.
const (
	StatusCompleted  = "completed"
	StatusIncomplete = "incomplete"
	StatusInProgress = "in_progress"
)

// Content part types, by their GA names (the beta calls the assistant's
// "text" and "audio").
const (
	ContentInputText   = "input_text"
	ContentInputAudio  = "input_audio"
	ContentOutputText  = "output_text"
	ContentOutputAudio = "output_audio"
)

// Item is one entry of a Realtime conversation: a message, a function call
// or a function call's output.
type Item struct {
	ID     string
	Type   string // ItemMessage, ItemFunctionCall or ItemFunctionCallOutput
	Status string
	Role   string // messages: "user", "assistant" or "system"
	// Content of a message.
	Content []Content
	// Function calls and their outputs.
	CallID    string
	Name      string // function_call
	Arguments string // function_call
	Output    string // function_call_output
}

// Content is one part of a message.
type Content struct {
	Type string // a Content* constant (GA name)
	Text string // input_text, output_text
	// Transcript of audio content; nil while it is not known yet.
	Transcript *string
}

// Text returns the message's words: its text parts and the transcripts of
// its audio parts, joined.
func (it Item) Text() string {
	var parts []string
	for _, c := range it.Content {
		switch {
		case c.Type == ContentInputText || c.Type == ContentOutputText:
			parts = append(parts, c.Text)
		case c.Transcript != nil:
			parts = append(parts, *c.Transcript)
		}
	}
	return strings.Join(parts, " ")
}

type itemJSON struct {
	ID        string         `json:"id"`
	Object    string         `json:"object"`
	Type      string         `json:"type"`
	Status    string         `json:"status,omitempty"`
	Role      string         `json:"role,omitempty"`
	Content   *[]contentJSON `json:"content,omitempty"` // messages only; [] while in progress
	CallID    string         `json:"call_id,omitempty"`
	Name      string         `json:"name,omitempty"`
	Arguments *string        `json:"arguments,omitempty"`
	Output    *string        `json:"output,omitempty"`
}

type contentJSON struct {
	Type string  `json:"type"`
	Text *string `json:"text,omitempty"`
	// Transcript of an audio part: always present, null while not known
	// (clients' schemas require the key).
	Transcript json.RawMessage `json:"transcript,omitempty"`
}

// contentType returns a GA content type as d names it.
func contentType(t string, d Dialect) string {
	if d == Beta {
		switch t {
		case ContentOutputText:
			return "text"
		case ContentOutputAudio:
			return "audio"
		}
	}
	return t
}

func (c Content) encode(d Dialect) contentJSON {
	j := contentJSON{Type: contentType(c.Type, d)}
	switch c.Type {
	case ContentInputText, ContentOutputText:
		j.Text = &c.Text
	default:
		j.Transcript = jsonNull
		if c.Transcript != nil {
			j.Transcript = appendString(nil, *c.Transcript)
		}
	}
	return j
}

func (it Item) encode(d Dialect) itemJSON {
	j := itemJSON{ID: it.ID, Object: "realtime.item", Type: it.Type, Status: it.Status}
	switch it.Type {
	case ItemMessage:
		j.Role = it.Role
		content := make([]contentJSON, 0, len(it.Content))
		for _, c := range it.Content {
			content = append(content, c.encode(d))
		}
		j.Content = &content
	case ItemFunctionCall:
		j.CallID, j.Name, j.Arguments = it.CallID, it.Name, &it.Arguments
	case ItemFunctionCallOutput:
		j.CallID, j.Output = it.CallID, &it.Output
	}
	return j
}

// itemIn is conversation.item.create's item.
type itemIn struct {
	ID        *string     `json:"id"`
	Object    *string     `json:"object"`
	Type      *string     `json:"type"`
	Status    *string     `json:"status"`
	Role      *string     `json:"role"`
	Content   []contentIn `json:"content"`
	CallID    *string     `json:"call_id"`
	Name      *string     `json:"name"`
	Arguments *string     `json:"arguments"`
	Output    *string     `json:"output"`
}

type contentIn struct {
	Type       *string `json:"type"`
	Text       *string `json:"text"`
	Audio      *string `json:"audio"`
	Transcript *string `json:"transcript"`
	ImageURL   *string `json:"image_url"`
	Detail     *string `json:"detail"`
	ID         *string `json:"id"`
}

// parseItem reads the item of a conversation.item.create. maxText caps the
// text it may carry.
func parseItem(raw json.RawMessage, d Dialect, maxText int) (Item, *Error) {
	const p = "item"
	if len(raw) == 0 || isNull(raw) {
		return Item{}, Invalid(CodeMissingParameter, p, "Missing required parameter: 'item'.")
	}
	var in itemIn
	if err := strictUnmarshal(raw, &in, p); err != nil {
		return Item{}, err
	}
	var it Item
	if in.ID != nil {
		if !validID(*in.ID) {
			return it, Invalid(CodeInvalidValue, p+".id", "'item.id' must be 1 to %d printable ASCII characters.", maxIDBytes)
		}
		it.ID = *in.ID
	}
	if in.Type == nil {
		it.Type = ItemMessage
	} else {
		it.Type = *in.Type
	}
	if in.Status != nil {
		switch *in.Status {
		case StatusCompleted, StatusIncomplete, StatusInProgress:
		default:
			return it, Invalid(CodeInvalidValue, p+".status", "Invalid value: '%s'. Supported values are: 'completed', 'incomplete', and 'in_progress'.", clip(*in.Status))
		}
	}
	it.Status = StatusCompleted
	size := 0
	switch it.Type {
	case ItemMessage:
		if in.Role == nil {
			return it, Invalid(CodeMissingParameter, p+".role", "Missing required parameter: 'item.role'.")
		}
		it.Role = *in.Role
		if it.Role != "user" && it.Role != "assistant" && it.Role != "system" {
			return it, Invalid(CodeInvalidValue, p+".role", "Invalid value: '%s'. Supported values are: 'user', 'assistant', and 'system'.", clip(it.Role))
		}
		if len(in.Content) == 0 {
			return it, Invalid(CodeMissingParameter, p+".content", "Missing required parameter: 'item.content'.")
		}
		for i, c := range in.Content {
			content, err := parseContent(c, it.Role, d, p+".content["+itoa(i)+"]")
			if err != nil {
				return it, err
			}
			size += len(content.Text)
			if content.Transcript != nil {
				size += len(*content.Transcript)
			}
			it.Content = append(it.Content, content)
		}
	case ItemFunctionCall:
		if in.Name == nil || !validToolName(*in.Name) {
			return it, Invalid(CodeInvalidValue, p+".name", "'item.name' must name a function (1 to %d letters, digits, '_' or '-').", maxToolNameBytes)
		}
		if in.CallID == nil || !validID(*in.CallID) {
			return it, Invalid(CodeMissingParameter, p+".call_id", "Missing required parameter: 'item.call_id'.")
		}
		it.Name, it.CallID = *in.Name, *in.CallID
		if in.Arguments != nil {
			it.Arguments = *in.Arguments
		}
		size = len(it.Arguments)
	case ItemFunctionCallOutput:
		if in.CallID == nil || !validID(*in.CallID) {
			return it, Invalid(CodeMissingParameter, p+".call_id", "Missing required parameter: 'item.call_id'.")
		}
		if in.Output == nil {
			return it, Invalid(CodeMissingParameter, p+".output", "Missing required parameter: 'item.output'.")
		}
		it.CallID, it.Output = *in.CallID, *in.Output
		size = len(it.Output)
	case "item_reference", "mcp_approval_response", "mcp_call", "mcp_list_tools", "mcp_approval_request":
		return it, Invalid(CodeUnsupported, p+".type", "Items of type '%s' are not offered here.", it.Type)
	default:
		return it, Invalid(CodeInvalidValue, p+".type", "Invalid value: '%s'. Supported values are: 'message', 'function_call', and 'function_call_output'.", clip(it.Type))
	}
	if it.Type != ItemMessage && (in.Role != nil || in.Content != nil) {
		return it, Invalid(CodeUnknownParameter, p+".content", "Unknown parameter for a %s item: 'role' or 'content'.", it.Type)
	}
	if maxText > 0 && size > maxText {
		return it, Invalid(CodeInvalidValue, p, "The item holds %d bytes of text; the limit is %d.", size, maxText)
	}
	return it, nil
}

func parseContent(c contentIn, role string, d Dialect, p string) (Content, *Error) {
	if c.Type == nil {
		return Content{}, Invalid(CodeMissingParameter, p+".type", "Missing required parameter: '%s.type'.", p)
	}
	typ := *c.Type
	if d == Beta {
		switch typ {
		case "text":
			typ = ContentOutputText
		case "audio":
			typ = ContentOutputAudio
		case ContentOutputText, ContentOutputAudio:
			typ = "ga:" + typ // the beta has no such part
		}
	}
	switch typ {
	case "input_image":
		return Content{}, Invalid(CodeUnsupported, p+".type", "Images are not offered here: the model hears and speaks only.")
	case ContentInputAudio:
		return Content{}, Invalid(CodeUnsupported, p+".type", "Audio in conversation.item.create is not offered here; send it with input_audio_buffer.append.")
	case "item_reference":
		return Content{}, Invalid(CodeUnsupported, p+".type", "Item references are not offered here.")
	}
	want := ContentInputText
	if role == "assistant" {
		want = ContentOutputText
		if typ == ContentOutputAudio {
			if c.Transcript == nil {
				return Content{}, Invalid(CodeMissingParameter, p+".transcript", "Missing required parameter: '%s.transcript' (the words of the audio).", p)
			}
			if c.Audio != nil {
				return Content{}, Invalid(CodeUnsupported, p+".audio", "Assistant audio is not kept here; send its transcript only.")
			}
			return Content{Type: ContentOutputAudio, Transcript: c.Transcript}, nil
		}
	}
	if typ != want {
		return Content{}, Invalid(CodeInvalidValue, p+".type", "Invalid value: '%s'. A %s message holds '%s' parts.", clip(*c.Type), role, contentType(want, d))
	}
	if c.Text == nil {
		return Content{}, Invalid(CodeMissingParameter, p+".text", "Missing required parameter: '%s.text'.", p)
	}
	if c.Audio != nil || c.Transcript != nil || c.ImageURL != nil || c.Detail != nil {
		return Content{}, Invalid(CodeUnknownParameter, p, "A %s part holds 'text' only.", contentType(typ, d))
	}
	return Content{Type: typ, Text: *c.Text}, nil
}
