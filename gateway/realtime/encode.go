package realtime

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Encode returns ev as a client sends it in dialect d: what a client, a
// test or a proxy writes. Decoding the result gives ev back.
func Encode(ev ClientEvent, d Dialect) ([]byte, error) {
	out := map[string]any{"type": ev.Type()}
	if id := ev.ID(); id != "" {
		out["event_id"] = id
	}
	switch e := ev.(type) {
	case *SessionUpdateEvent:
		out["session"] = e.Session.encode(d)
	case *AppendEvent:
		out["audio"] = base64.StdEncoding.EncodeToString(e.Audio)
	case *CommitEvent, *ClearEvent:
	case *ItemCreateEvent:
		if e.PreviousItemID != nil {
			out["previous_item_id"] = *e.PreviousItemID
		}
		out["item"] = e.Item.encodeIn(d)
	case *ItemRetrieveEvent:
		out["item_id"] = e.ItemID
	case *ItemDeleteEvent:
		out["item_id"] = e.ItemID
	case *ItemTruncateEvent:
		out["item_id"], out["content_index"], out["audio_end_ms"] = e.ItemID, e.ContentIndex, e.AudioEndMS
	case *ResponseCreateEvent:
		out["response"] = e.Response.encode(d)
	case *ResponseCancelEvent:
		if e.ResponseID != "" {
			out["response_id"] = e.ResponseID
		}
	default:
		return nil, fmt.Errorf("realtime: cannot encode %T", ev)
	}
	return json.Marshal(out)
}

// encode returns the session object of a session.update asking for u.
func (u SessionUpdate) encode(d Dialect) map[string]any {
	s := map[string]any{}
	put := func(key string, v any, ok bool) {
		if ok {
			s[key] = v
		}
	}
	if u.Model != nil {
		s["model"] = *u.Model
	}
	if u.Instructions != nil {
		s["instructions"] = *u.Instructions
	}
	if u.Tools != nil {
		s["tools"] = encodeTools(*u.Tools)
	}
	if u.ToolChoice != nil {
		s["tool_choice"] = *u.ToolChoice
	}
	transcription, turns := any(nil), any(nil)
	if u.Transcription.Value != nil {
		transcription = u.Transcription.Value
	}
	if u.TurnDetection.Value != nil {
		turns = u.TurnDetection.Value.encode()
	}
	if d == Beta {
		if u.Audio != nil {
			s["modalities"] = modalities(*u.Audio, d)
		}
		if u.InputFormat != nil {
			s["input_audio_format"] = u.InputFormat.BetaName()
		}
		if u.OutputFormat != nil {
			s["output_audio_format"] = u.OutputFormat.BetaName()
		}
		if u.Voice != nil {
			s["voice"] = *u.Voice
		}
		put("input_audio_transcription", transcription, u.Transcription.Set)
		put("turn_detection", turns, u.TurnDetection.Set)
		return s
	}
	s["type"] = "realtime"
	if u.Audio != nil {
		s["output_modalities"] = modalities(*u.Audio, d)
	}
	in, out := map[string]any{}, map[string]any{}
	if u.InputFormat != nil {
		in["format"] = u.InputFormat.ga()
	}
	if u.Transcription.Set {
		in["transcription"] = transcription
	}
	if u.TurnDetection.Set {
		in["turn_detection"] = turns
	}
	if u.OutputFormat != nil {
		out["format"] = u.OutputFormat.ga()
	}
	if u.Voice != nil {
		out["voice"] = *u.Voice
	}
	audio := map[string]any{}
	if len(in) > 0 {
		audio["input"] = in
	}
	if len(out) > 0 {
		audio["output"] = out
	}
	if len(audio) > 0 {
		s["audio"] = audio
	}
	return s
}

// encodeIn returns it as conversation.item.create carries it.
func (it Item) encodeIn(d Dialect) map[string]any {
	m := map[string]any{"type": it.Type}
	if it.ID != "" {
		m["id"] = it.ID
	}
	switch it.Type {
	case ItemMessage:
		m["role"] = it.Role
		content := make([]map[string]any, 0, len(it.Content))
		for _, c := range it.Content {
			part := map[string]any{"type": contentType(c.Type, d)}
			if c.Type == ContentOutputAudio {
				part["transcript"] = c.Transcript
			} else {
				part["text"] = c.Text
			}
			content = append(content, part)
		}
		m["content"] = content
	case ItemFunctionCall:
		m["call_id"], m["name"], m["arguments"] = it.CallID, it.Name, it.Arguments
	case ItemFunctionCallOutput:
		m["call_id"], m["output"] = it.CallID, it.Output
	}
	return m
}

// encode returns p as response.create's response.
func (p ResponseParams) encode(d Dialect) map[string]any {
	m := map[string]any{}
	if p.Instructions != nil {
		m["instructions"] = *p.Instructions
	}
	if p.Metadata != nil {
		m["metadata"] = p.Metadata
	}
	if d == Beta {
		if p.Audio != nil {
			m["modalities"] = modalities(*p.Audio, d)
		}
		if p.OutputFormat != nil {
			m["output_audio_format"] = p.OutputFormat.BetaName()
		}
		if p.Voice != nil {
			m["voice"] = *p.Voice
		}
		return m
	}
	if p.Audio != nil {
		m["output_modalities"] = modalities(*p.Audio, d)
	}
	out := map[string]any{}
	if p.OutputFormat != nil {
		out["format"] = p.OutputFormat.ga()
	}
	if p.Voice != nil {
		out["voice"] = *p.Voice
	}
	if len(out) > 0 {
		m["audio"] = map[string]any{"output": out}
	}
	return m
}
