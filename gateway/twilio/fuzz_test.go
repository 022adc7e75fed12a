package twilio

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every failure is a
// *DecodeError, that a media message's audio stays within MaxAudio, and
// that every message it accepts re-encodes to one that decodes to the same
// thing.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		exConnected, exStart, exMediaInbound, exMediaOutbound, exStop, exDTMF, exMark,
		`{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"/w=="}}`,
		`{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"streamSid":"MZ1","accountSid":"AC1","callSid":"CA1","tracks":["inbound","outbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"token":"x"}}}`,
		`{"event":`, `[]`, `null`, `{}`, "\xff", `{"event":"clear","streamSid":"MZ1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := Decoder{MaxAudio: 512}
		msg, err := d.Decode(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			return
		}
		var audio []byte
		if m, ok := msg.(*Media); ok {
			if len(m.Audio) == 0 || len(m.Audio) > d.MaxAudio {
				t.Fatalf("media audio of %d bytes, limit %d", len(m.Audio), d.MaxAudio)
			}
			audio = bytes.Clone(m.Audio)
		}
		b, err := json.Marshal(msg)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := d.Decode(b)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		if m, ok := again.(*Media); ok && !bytes.Equal(m.Audio, audio) {
			t.Fatalf("audio changed in the round trip of %s", b)
		}
		b2, _ := json.Marshal(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed %s to %s", b, b2)
		}
	})
}
