package realtime

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// seeds are client events as real clients send them, in both dialects.
var seeds = []string{
	`{"type":"session.update","session":{"type":"realtime","instructions":"be brief","model":"gpt-realtime","output_modalities":["audio"],"audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"noise_reduction":null,"transcription":{"model":"gpt-4o-mini-transcribe"},"turn_detection":{"type":"semantic_vad"}},"output":{"format":{"type":"audio/pcm","rate":24000},"voice":"alloy","speed":1}},"tools":[{"type":"function","name":"get_weather","description":"weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]}}`,
	`{"type":"session.update","event_id":"e1","session":{"type":"realtime","tracing":"auto"}}`,
	`{"type":"session.update","session":{"audio":{"input":{"turn_detection":null,"format":{"type":"audio/pcmu"}},"output":{"format":{"type":"audio/pcma"}}}}}`,
	`{"type":"session.update","session":{"audio":{"input":{"turn_detection":{"type":"server_vad","threshold":0.7,"prefix_padding_ms":200,"silence_duration_ms":300,"create_response":false,"interrupt_response":false}}}}}`,
	`{"type":"input_audio_buffer.append","audio":"AAABAAIA","event_id":"a1"}`,
	`{"type":"input_audio_buffer.append","audio":""}`,
	`{"type":"input_audio_buffer.commit"}`,
	`{"type":"input_audio_buffer.clear","event_id":"c"}`,
	`{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_text","text":"hello"}]}}`,
	`{"type":"conversation.item.create","previous_item_id":"item_2","item":{"id":"mine","type":"message","role":"assistant","content":[{"type":"output_audio","transcript":"hi"}]}}`,
	`{"type":"conversation.item.create","item":{"type":"function_call_output","call_id":"call_1","output":"{\"t\":21}"}}`,
	`{"type":"conversation.item.create","item":{"type":"function_call","call_id":"call_1","name":"f","arguments":"{}"}}`,
	`{"type":"conversation.item.retrieve","item_id":"item_1"}`,
	`{"type":"conversation.item.truncate","item_id":"item_3","content_index":0,"audio_end_ms":1500}`,
	`{"type":"conversation.item.delete","item_id":"item_3","event_id":"agents_delete_1"}`,
	`{"type":"response.create","event_id":"agents_js_response_create_1"}`,
	`{"type":"response.create","response":{"instructions":"say goodbye","output_modalities":["text"],"metadata":{"k":"v"}}}`,
	`{"type":"response.cancel","response_id":"resp_1"}`,
	`{"type":"nope"}`, `{"type":`, `[]`, `null`, `{}`, "\xff", `{"type":"input_audio_buffer.append","audio":"!!"}`,
}

var betaSeeds = []string{
	`{"type":"session.update","session":{"modalities":["audio","text"],"voice":"verse","input_audio_format":"g711_ulaw","output_audio_format":"pcm16","input_audio_transcription":{"model":"whisper-1"},"turn_detection":{"type":"server_vad","silence_duration_ms":500}}}`,
	`{"type":"session.update","session":{"turn_detection":null,"tools":[]}}`,
	`{"type":"conversation.item.create","item":{"type":"message","role":"assistant","content":[{"type":"text","text":"ok"}]}}`,
	`{"type":"response.create","response":{"modalities":["text"],"instructions":"x"}}`,
}

// FuzzDecode checks that Decode never panics, that every failure is an
// *Error with a type and a code (and the client's event_id when it is a
// valid one), and that every success encodes back (Encode) to an event
// that decodes to the same thing.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	for _, s := range betaSeeds {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, beta bool) {
		d := GA
		if beta {
			d = Beta
		}
		lim := Limits{MaxAudioBytes: 1 << 16, MaxEventBytes: 1 << 16, MaxTextBytes: 256}
		dec := &Decoder{Dialect: d, Limits: lim}
		ev, err := dec.Decode(data)
		if err != nil {
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if re.Type == "" || re.Code == "" || re.Message == "" {
				t.Fatalf("incomplete error %+v", re)
			}
			if re.EventID != "" && !validID(re.EventID) {
				t.Fatalf("error echoes an invalid event_id %q", re.EventID)
			}
			return
		}
		if id := ev.ID(); id != "" && !validID(id) {
			t.Fatalf("accepted event_id %q", id)
		}
		if a, ok := ev.(*AppendEvent); ok {
			ev = &AppendEvent{Base: a.Base, Audio: bytes.Clone(a.Audio)} // the Decoder's own until its next Decode
		}
		b, err := Encode(ev, d)
		if err != nil {
			t.Fatalf("encode %T: %v", ev, err)
		}
		again, err := (&Decoder{Dialect: d, Limits: lim}).Decode(b)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		if !reflect.DeepEqual(normal(ev), normal(again)) {
			t.Fatalf("round trip changed\n%#v\nto\n%#v\nvia %s", ev, again, b)
		}
	})
}

// normal makes an empty audio buffer compare equal to a nil one.
func normal(ev ClientEvent) ClientEvent {
	if a, ok := ev.(*AppendEvent); ok && len(a.Audio) == 0 {
		return &AppendEvent{Base: a.Base}
	}
	return ev
}
