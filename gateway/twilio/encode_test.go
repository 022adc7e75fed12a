package twilio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
)

// TestOutboundMessages holds what the server sends to the published shapes:
// exactly the documented fields, for Twilio refuses a message with a
// missing or extra one.
func TestOutboundMessages(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want map[string]any
	}{
		{"media", AppendMedia(nil, sidStream, audio20ms), map[string]any{
			"event": "media", "streamSid": sidStream, "media": map[string]any{"payload": payload}}},
		{"media, streamSid needing escapes", AppendMedia(nil, `M"Z<`, []byte{1}), map[string]any{
			"event": "media", "streamSid": `M"Z<`, "media": map[string]any{"payload": "AQ=="}}},
		{"mark", mustJSON(t, NewMark(sidStream, "3.2")), map[string]any{
			"event": "mark", "streamSid": sidStream, "mark": map[string]any{"name": "3.2"}}},
		{"clear", mustJSON(t, NewClear(sidStream)), map[string]any{"event": "clear", "streamSid": sidStream}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]any
			if err := json.Unmarshal(tc.got, &got); err != nil {
				t.Fatalf("%s: %v", tc.got, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %s\nwant %v", tc.got, tc.want)
			}
		})
	}
}

func TestAppendMediaDecodes(t *testing.T) {
	b := AppendMedia([]byte("prefix"), sidStream, audio20ms)
	if !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatal("dst was not appended to")
	}
	b = b[len("prefix"):]
	if len(b) != MediaBytes(len(sidStream), len(audio20ms)) {
		t.Errorf("len %d, MediaBytes says %d", len(b), MediaBytes(len(sidStream), len(audio20ms)))
	}
	var m OutboundMedia
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	got, err := base64.StdEncoding.DecodeString(m.Media.Payload)
	if err != nil || !bytes.Equal(got, audio20ms) {
		t.Fatalf("payload %q does not decode to the audio (%v)", m.Media.Payload, err)
	}
}

func TestAppendMediaAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = AppendMedia(buf[:0], sidStream, audio20ms) }); n != 0 {
		t.Errorf("AppendMedia allocates %v times with room in dst", n)
	}
}

func BenchmarkAppendMedia(b *testing.B) {
	audio := bytes.Repeat([]byte{0x55}, 800) // 100 ms
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMedia(buf[:0], sidStream, audio)
	}
}

func BenchmarkDecodeMedia(b *testing.B) {
	var d Decoder
	msg := []byte(exMediaInbound)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
