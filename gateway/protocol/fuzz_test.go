package protocol

import (
	"encoding/json"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every failure is a typed
// *ProtocolError, and that every success re-encodes to a message that decodes
// to the same thing.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"session.start","input_audio":{"sample_rate":16000}}`,
		`{"type":"session.start","version":1,"resume_token":"t","text_only":true}`,
		`{"type":"session.start","language":"zh-Hans-CN"}`,
		`{"type":"session.start","language":"en_US","text_only":true}`,
		`{"type":"session.start","language":"zh--"}`,
		`{"type":"input.text","text":"héllo 你好"}`,
		`{"type":"interrupt"}`,
		`{"type":"ping","id":"1","client_time":1.5}`,
		`{"type":"session.start","tools":[{"name":"get_weather","description":"d","parameters":{"type":"object"}},{"name":"b","parameters":null}]}`,
		`{"type":"tools.set","tools":[]}`,
		`{"type":"tools.set","tools":[{"name":"a"},{"name":"a"}]}`,
		`{"type":"tool.result","call_id":"call_1","output":"{\"ok\":true}"}`,
		`{"type":`, `[]`, `null`, `{}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := Decode(data, 64)
		if err != nil {
			if _, ok := CodeOf(err); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		b, err := json.Marshal(msg)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := Decode(b, 64)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		b2, _ := json.Marshal(again)
		if string(b) != string(b2) {
			t.Fatalf("round trip changed %s to %s", b, b2)
		}
	})
}
