package realtime

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func decode(t *testing.T, d Dialect, s string) (ClientEvent, *Error) {
	t.Helper()
	dec := &Decoder{Dialect: d, Limits: Limits{MaxAudioBytes: 64, MaxEventBytes: 4096, MaxTextBytes: 32}}
	ev, err := dec.Decode([]byte(s))
	if err == nil {
		return ev, nil
	}
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("untyped error %T", err)
	}
	return nil, re
}

func TestDecodeRefuses(t *testing.T) {
	big := base64.StdEncoding.EncodeToString(make([]byte, 65)) // the limit is 64 bytes of audio
	for _, tc := range []struct {
		name    string
		dialect Dialect
		in      string
		code    string
		param   string
		eventID string // echoed
	}{
		{"not json", GA, `{"type":`, CodeInvalidJSON, "", ""},
		{"not an object", GA, `["x"]`, CodeInvalidJSON, "", ""},
		{"no type", GA, `{"event_id":"e1"}`, CodeMissingParameter, "type", "e1"},
		{"unknown type", GA, `{"type":"session.delete","event_id":"e2"}`, CodeUnknownEvent, "type", "e2"},
		{"type not a string", GA, `{"type":5,"event_id":"e3"}`, CodeInvalidType, "type", "e3"},
		{"event_id too long", GA, `{"type":"input_audio_buffer.commit","event_id":"` + strings.Repeat("x", 200) + `"}`, CodeInvalidValue, "event_id", ""},
		{"unknown field", GA, `{"type":"input_audio_buffer.commit","event_id":"e4","x":1}`, CodeUnknownParameter, "x", "e4"},
		{"unknown session field", GA, `{"type":"session.update","event_id":"e5","session":{"foo":1}}`, CodeUnknownParameter, "session.foo", "e5"},
		{"beta field in GA", GA, `{"type":"session.update","session":{"modalities":["text"]}}`, CodeUnknownParameter, "session.modalities", ""},
		{"GA field in beta", Beta, `{"type":"session.update","session":{"audio":{}}}`, CodeUnknownParameter, "session.audio", ""},
		{"pcm at 16k", GA, `{"type":"session.update","session":{"audio":{"input":{"format":{"type":"audio/pcm","rate":16000}}}}}`, CodeInvalidValue, "session.audio.input.format.rate", ""},
		{"unknown format", GA, `{"type":"session.update","session":{"audio":{"output":{"format":{"type":"audio/opus"}}}}}`, CodeInvalidValue, "session.audio.output.format.type", ""},
		{"beta unknown format", Beta, `{"type":"session.update","session":{"input_audio_format":"opus"}}`, CodeInvalidValue, "session.input_audio_format", ""},
		{"threshold range", GA, `{"type":"session.update","session":{"audio":{"input":{"turn_detection":{"type":"server_vad","threshold":1.5}}}}}`, CodeInvalidValue, "session.audio.input.turn_detection.threshold", ""},
		{"silence range", Beta, `{"type":"session.update","session":{"turn_detection":{"silence_duration_ms":20}}}`, CodeInvalidValue, "session.turn_detection.silence_duration_ms", ""},
		{"semantic with threshold", GA, `{"type":"session.update","session":{"audio":{"input":{"turn_detection":{"type":"semantic_vad","threshold":0.5}}}}}`, CodeUnknownParameter, "session.audio.input.turn_detection.threshold", ""},
		{"idle timeout", GA, `{"type":"session.update","session":{"audio":{"input":{"turn_detection":{"type":"server_vad","idle_timeout_ms":5000}}}}}`, CodeUnsupported, "session.audio.input.turn_detection.idle_timeout_ms", ""},
		{"mcp tool", GA, `{"type":"session.update","session":{"tools":[{"type":"mcp","server_label":"x"}]}}`, CodeUnsupported, "session.tools[0].type", ""},
		{"bad tool name", GA, `{"type":"session.update","session":{"tools":[{"type":"function","name":"a b"}]}}`, CodeInvalidValue, "session.tools[0].name", ""},
		{"tool choice required", GA, `{"type":"session.update","session":{"tool_choice":"required"}}`, CodeUnsupported, "session.tool_choice", ""},
		{"transcription session", GA, `{"type":"session.update","session":{"type":"transcription"}}`, CodeUnsupported, "session.type", ""},
		{"wrong type", GA, `{"type":"session.update","session":{"instructions":5}}`, CodeInvalidType, "session.instructions", ""},
		{"append too large", GA, `{"type":"input_audio_buffer.append","event_id":"big","audio":"` + big + `"}`, CodeEventTooLarge, "audio", "big"},
		{"append not base64", GA, `{"type":"input_audio_buffer.append","event_id":"b64","audio":"$$$$"}`, CodeInvalidAudio, "audio", "b64"},
		{"append no audio", GA, `{"type":"input_audio_buffer.append"}`, CodeMissingParameter, "audio", ""},
		{"append audio not a string", GA, `{"type":"input_audio_buffer.append","audio":[1]}`, CodeInvalidType, "audio", ""},
		{"append extra field", GA, `{"type":"input_audio_buffer.append","audio":"","format":"x"}`, CodeUnknownParameter, "format", ""},
		{"event too large", GA, `{"type":"session.update","event_id":"huge","session":{"instructions":"` + strings.Repeat("x", 5000) + `"}}`, CodeEventTooLarge, "", "huge"},
		{"image", GA, `{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_image","image_url":"x"}]}}`, CodeUnsupported, "item.content[0].type", ""},
		{"user audio item", GA, `{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_audio","audio":"AAAA"}]}}`, CodeUnsupported, "item.content[0].type", ""},
		{"text too long", GA, `{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_text","text":"` + strings.Repeat("x", 40) + `"}]}}`, CodeInvalidValue, "item", ""},
		{"no role", GA, `{"type":"conversation.item.create","item":{"type":"message","content":[{"type":"input_text","text":"x"}]}}`, CodeMissingParameter, "item.role", ""},
		{"output without call", GA, `{"type":"conversation.item.create","item":{"type":"function_call_output","output":"x"}}`, CodeMissingParameter, "item.call_id", ""},
		{"GA text part in beta assistant", Beta, `{"type":"conversation.item.create","item":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"x"}]}}`, CodeInvalidValue, "item.content[0].type", ""},
		{"truncate without end", GA, `{"type":"conversation.item.truncate","item_id":"i","content_index":0}`, CodeMissingParameter, "audio_end_ms", ""},
		{"truncate negative", GA, `{"type":"conversation.item.truncate","item_id":"i","content_index":0,"audio_end_ms":-1}`, CodeInvalidValue, "audio_end_ms", ""},
		{"retrieve without id", GA, `{"type":"conversation.item.retrieve","event_id":"r"}`, CodeMissingParameter, "item_id", "r"},
		{"response out of band", GA, `{"type":"response.create","event_id":"oob","response":{"conversation":"none"}}`, CodeUnsupported, "response.conversation", "oob"},
		{"response tools", GA, `{"type":"response.create","response":{"tools":[]}}`, CodeUnsupported, "response.tools", ""},
		{"response input", GA, `{"type":"response.create","response":{"input":[{"type":"message"}]}}`, CodeUnsupported, "response.input", ""},
		{"response beta field", GA, `{"type":"response.create","response":{"modalities":["text"]}}`, CodeUnknownParameter, "response.modalities", ""},
		{"webrtc clear", GA, `{"type":"output_audio_buffer.clear"}`, CodeUnsupported, "type", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := decode(t, tc.dialect, tc.in)
			if err == nil {
				t.Fatalf("accepted as %#v", ev)
			}
			if err.Code != tc.code || err.Param != tc.param || err.EventID != tc.eventID {
				t.Errorf("got code %q param %q event_id %q (%s); want %q %q %q", err.Code, err.Param, err.EventID, err.Message, tc.code, tc.param, tc.eventID)
			}
			if err.Type != TypeInvalidRequest {
				t.Errorf("type %q", err.Type)
			}
			if len(err.Message) > 600 {
				t.Errorf("message of %d bytes echoes too much", len(err.Message))
			}
		})
	}
}

func TestDecodeSessionUpdate(t *testing.T) {
	ga := `{"type":"session.update","event_id":"u1","session":{"type":"realtime","instructions":"be brief","output_modalities":["text"],
		"audio":{"input":{"format":{"type":"audio/pcmu"},"transcription":null,"turn_detection":{"type":"server_vad","threshold":0.8,"silence_duration_ms":300,"interrupt_response":false}},
		"output":{"format":{"type":"audio/pcma"},"voice":"marin","speed":1.1}},
		"tools":[{"type":"function","name":"lookup","description":"d","parameters":{ "type" : "object" }}],"tool_choice":"auto","tracing":"auto","truncation":"auto"}}`
	beta := `{"type":"session.update","event_id":"u1","session":{"instructions":"be brief","modalities":["text"],"input_audio_format":"g711_ulaw",
		"output_audio_format":"g711_alaw","voice":"marin","input_audio_transcription":null,
		"turn_detection":{"type":"server_vad","threshold":0.8,"silence_duration_ms":300,"interrupt_response":false},
		"tools":[{"type":"function","name":"lookup","description":"d","parameters":{"type":"object"}}],"tool_choice":"auto","temperature":0.7}}`
	for _, tc := range []struct {
		d  Dialect
		in string
	}{{GA, ga}, {Beta, beta}} {
		t.Run(tc.d.String(), func(t *testing.T) {
			ev, err := decode(t, tc.d, strings.ReplaceAll(tc.in, "\n\t\t", ""))
			if err != nil {
				t.Fatal(err)
			}
			u := ev.(*SessionUpdateEvent)
			s := Session{Audio: true, InputFormat: FormatPCM, OutputFormat: FormatPCM, Transcription: &Transcription{Model: "x"}}
			s.Apply(u.Session)
			td := s.TurnDetection
			switch {
			case u.ID() != "u1":
				t.Errorf("event_id %q", u.ID())
			case s.Instructions != "be brief" || s.Audio || s.InputFormat != FormatPCMU || s.OutputFormat != FormatPCMA || s.Voice != "marin":
				t.Errorf("session %+v", s)
			case s.Transcription != nil:
				t.Errorf("transcription null not applied: %+v", s.Transcription)
			case td == nil || td.Type != ServerVAD || td.Threshold != 0.8 || td.SilenceDurationMS != 300 || td.PrefixPaddingMS != 300 || !td.CreateResponse || td.InterruptResponse:
				t.Errorf("turn detection %+v", td)
			case len(s.Tools) != 1 || s.Tools[0].Name != "lookup" || string(s.Tools[0].Parameters) != `{"type":"object"}` || s.ToolChoice != "auto":
				t.Errorf("tools %+v choice %q", s.Tools, s.ToolChoice)
			}
		})
	}
	// turn_detection null is push-to-talk; absent leaves it as it was.
	s := Session{TurnDetection: &TurnDetection{Type: ServerVAD}}
	ev, _ := decode(t, GA, `{"type":"session.update","session":{"instructions":"x"}}`)
	s.Apply(ev.(*SessionUpdateEvent).Session)
	if s.TurnDetection == nil {
		t.Error("an update without turn_detection removed it")
	}
	ev, _ = decode(t, GA, `{"type":"session.update","session":{"audio":{"input":{"turn_detection":null}}}}`)
	s.Apply(ev.(*SessionUpdateEvent).Session)
	if s.TurnDetection != nil {
		t.Error("turn_detection null did not turn detection off")
	}
}

func TestDecodeAppend(t *testing.T) {
	pcm := []byte{1, 0, 2, 0, 3, 0, 0xff, 0x7f}
	for _, tc := range []struct{ name, in string }{
		{"padded", `{"type":"input_audio_buffer.append","audio":"` + base64.StdEncoding.EncodeToString(pcm) + `"}`},
		{"unpadded", `{"audio":"` + base64.RawStdEncoding.EncodeToString(pcm) + `","type":"input_audio_buffer.append"}`},
		{"escaped slash", `{"type":"input_audio_buffer.append","audio":"` + strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte{0xff, 0xff, 0xff}), "/", `\/`) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := decode(t, GA, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got := ev.(*AppendEvent).Audio
			want := pcm
			if tc.name == "escaped slash" {
				want = []byte{0xff, 0xff, 0xff}
			}
			if string(got) != string(want) {
				t.Errorf("audio % x, want % x", got, want)
			}
		})
	}
}

// TestDecodeAppendAllocs holds the per-chunk path to no allocation: an
// append of 20 ms at 24 kHz, decoded over and over.
func TestDecodeAppendAllocs(t *testing.T) {
	msg := []byte(`{"type":"input_audio_buffer.append","event_id":"a","audio":"` + base64.StdEncoding.EncodeToString(make([]byte, 960)) + `"}`)
	dec := &Decoder{Limits: Limits{MaxAudioBytes: 1 << 20}}
	if _, err := dec.Decode(msg); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := dec.Decode(msg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per append", allocs)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ ga, beta string }{
		{EventAudioDelta, "response.audio.delta"},
		{EventAudioTranscriptDone, "response.audio_transcript.done"},
		{EventTextDelta, "response.text.delta"},
		{EventItemAdded, "conversation.item.created"},
		{EventItemDone, ""},
		{EventResponseDone, EventResponseDone},
		{EventFunctionArgumentsDone, EventFunctionArgumentsDone},
	} {
		if got := Beta.Name(tc.ga); got != tc.beta {
			t.Errorf("Beta.Name(%s) = %q, want %q", tc.ga, got, tc.beta)
		}
		if got := GA.Name(tc.ga); got != tc.ga {
			t.Errorf("GA.Name(%s) = %q", tc.ga, got)
		}
		if tc.beta != "" && Beta.GAName(tc.beta) != tc.ga {
			t.Errorf("Beta.GAName(%s) = %q", tc.beta, Beta.GAName(tc.beta))
		}
	}
	if GA.Name(EventConversationCreated) != "" || Beta.Name(EventConversationCreated) != EventConversationCreated {
		t.Error("conversation.created is the beta's only")
	}
}

func TestSessionEncoding(t *testing.T) {
	s := &Session{
		ID: "sess_1", Model: "gpt-realtime", Instructions: "hi", Audio: true, InputFormat: FormatPCMU, OutputFormat: FormatPCM, Voice: "alloy",
		TurnDetection: &TurnDetection{Type: SemanticVAD, Eagerness: "low", CreateResponse: true}, ToolChoice: "auto",
	}
	var ga, beta map[string]any
	for _, x := range []struct {
		d   Dialect
		dst *map[string]any
	}{{GA, &ga}, {Beta, &beta}} {
		b, err := s.MarshalDialect(x.d)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, x.dst); err != nil {
			t.Fatal(err)
		}
	}
	in := ga["audio"].(map[string]any)["input"].(map[string]any)
	out := ga["audio"].(map[string]any)["output"].(map[string]any)
	td := in["turn_detection"].(map[string]any)
	switch {
	case ga["type"] != "realtime" || ga["object"] != "realtime.session" || ga["id"] != "sess_1":
		t.Errorf("GA header %v", ga)
	case in["format"].(map[string]any)["type"] != "audio/pcmu" || out["format"].(map[string]any)["rate"] != 24000.0 || out["voice"] != "alloy":
		t.Errorf("GA audio %v", ga["audio"])
	case td["type"] != SemanticVAD || td["eagerness"] != "low" || td["interrupt_response"] != false || td["threshold"] != nil:
		t.Errorf("GA turn detection %v", td)
	case in["transcription"] != nil:
		t.Errorf("transcription off is null: %v", in["transcription"])
	case strings.Join(strs(ga["output_modalities"]), ",") != "audio":
		t.Errorf("GA modalities %v", ga["output_modalities"])
	}
	switch {
	case beta["input_audio_format"] != "g711_ulaw" || beta["output_audio_format"] != "pcm16" || beta["voice"] != "alloy":
		t.Errorf("beta formats %v", beta)
	case strings.Join(strs(beta["modalities"]), ",") != "audio,text":
		t.Errorf("beta modalities %v", beta["modalities"])
	case beta["audio"] != nil || beta["type"] != nil:
		t.Errorf("beta has GA fields: %v", beta)
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestAudioDelta(t *testing.T) {
	for _, d := range []Dialect{GA, Beta} {
		e := NewEvents(d, "c1_")
		ref := Ref{ResponseID: "resp_1", ItemID: `it"em`, OutputIndex: 1, ContentIndex: 0}
		b := e.AppendAudioDelta(nil, ref, []byte{1, 2, 3})
		var got struct {
			Type         string `json:"type"`
			EventID      string `json:"event_id"`
			ResponseID   string `json:"response_id"`
			ItemID       string `json:"item_id"`
			Delta        string `json:"delta"`
			OutputIndex  int    `json:"output_index"`
			ContentIndex int    `json:"content_index"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		dec, _ := base64.StdEncoding.DecodeString(got.Delta)
		if got.Type != d.Name(EventAudioDelta) || !strings.HasPrefix(got.EventID, "event_c1_") || got.ResponseID != "resp_1" ||
			got.ItemID != `it"em` || got.OutputIndex != 1 || string(dec) != "\x01\x02\x03" {
			t.Errorf("%s: %+v", d, got)
		}
		buf := make([]byte, 0, 4096)
		if a := testing.AllocsPerRun(50, func() { buf = e.AppendAudioDelta(buf[:0], ref, make([]byte, 0)) }); a != 0 {
			t.Errorf("%v allocations per audio delta", a)
		}
	}
}

func TestEventIDsUnique(t *testing.T) {
	e := NewEvents(GA, "x")
	seen := map[string]bool{}
	for range 1000 {
		id := e.EventID()
		if seen[id] {
			t.Fatalf("event_id %s twice", id)
		}
		seen[id] = true
	}
}

func TestDecodedLen(t *testing.T) {
	for n := range 20 {
		b := make([]byte, n)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			if got := decodedLen([]byte(enc.EncodeToString(b))); got != n {
				t.Errorf("decodedLen of %d bytes = %d", n, got)
			}
		}
	}
}

func TestUserAudioItemHasTranscriptKey(t *testing.T) {
	e := NewEvents(GA, "")
	it := Item{ID: "item_1", Type: ItemMessage, Role: "user", Status: StatusCompleted, Content: []Content{{Type: ContentInputAudio}}}
	b, _ := json.Marshal(e.ItemAdded(it, ""))
	if !strings.Contains(string(b), `"transcript":null`) || !strings.Contains(string(b), `"previous_item_id":null`) {
		t.Errorf("%s", b)
	}
	words := "hello"
	it.Content[0].Transcript = &words
	b, _ = json.Marshal(e.ItemDone(it, "item_0"))
	if !strings.Contains(string(b), `"transcript":"hello"`) || !strings.Contains(string(b), `"previous_item_id":"item_0"`) {
		t.Errorf("%s", b)
	}
	if NewEvents(Beta, "").ItemDone(it, "") != nil {
		t.Error("the beta has no conversation.item.done")
	}
}
