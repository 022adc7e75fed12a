package twilio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// payload is 20 ms of μ-law (160 bytes) as Twilio sends it: base64.
var (
	audio20ms = bytes.Repeat([]byte{0xFF, 0x7F, 0x80, 0x00, 0x55}, 32)
	payload   = base64.StdEncoding.EncodeToString(audio20ms)
)

// Twilio's published example messages (docs: Media Streams - WebSocket
// Messages), with a payload that is really base64 where the docs
// abbreviate it.
var (
	exConnected = `{
  "event": "connected",
  "protocol": "Call",
  "version": "1.0.0"
}`
	exStart = `{
  "event": "start",
  "sequenceNumber": "1",
  "start": {
    "accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "tracks": ["inbound"],
    "mediaFormat": {
      "encoding": "audio/x-mulaw",
      "sampleRate": 8000,
      "channels": 1
    },
    "customParameters": {
      "FirstName": "Jane",
      "LastName": "Doe",
      "RemoteParty": "Bob"
    }
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}`
	exMediaInbound = `{
  "event": "media",
  "sequenceNumber": "4",
  "media": {
    "track": "inbound",
    "chunk": "2",
    "timestamp": "5",
    "payload": "` + payload + `"
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}`
	exMediaOutbound = `{
  "event": "media",
  "sequenceNumber": "3",
  "media": {
    "track": "outbound",
    "chunk": "1",
    "timestamp": "5",
    "payload": "` + payload + `"
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}`
	exStop = `{
  "event": "stop",
  "sequenceNumber": "5",
  "stop": {
    "accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}`
	exDTMF = `{
  "event": "dtmf",
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
  "sequenceNumber": "5",
  "dtmf": {
    "track": "inbound_track",
    "digit": "1"
  }
}`
	exMark = `{
  "event": "mark",
  "sequenceNumber": "4",
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
  "mark": {
    "name": "my label"
  }
}`
)

const (
	sidStream  = "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
	sidAccount = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
	sidCall    = "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
)

func TestDecodePublishedExamples(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"connected", exConnected, &Connected{Event: "connected", Protocol: "Call", Version: "1.0.0"}},
		{"start", exStart, &Start{Event: "start", SequenceNumber: "1", StreamSid: sidStream, Start: StartInfo{
			AccountSid: sidAccount, StreamSid: sidStream, CallSid: sidCall, Tracks: []string{"inbound"},
			MediaFormat:      MediaFormat{Encoding: "audio/x-mulaw", SampleRate: 8000, Channels: 1},
			CustomParameters: map[string]string{"FirstName": "Jane", "LastName": "Doe", "RemoteParty": "Bob"},
		}}},
		{"media inbound", exMediaInbound, &Media{Event: "media", SequenceNumber: "4", StreamSid: sidStream,
			Media: MediaChunk{Track: "inbound", Chunk: "2", Timestamp: "5", Payload: payload}, Audio: audio20ms}},
		{"media outbound", exMediaOutbound, &Media{Event: "media", SequenceNumber: "3", StreamSid: sidStream,
			Media: MediaChunk{Track: "outbound", Chunk: "1", Timestamp: "5", Payload: payload}, Audio: audio20ms}},
		{"stop", exStop, &Stop{Event: "stop", SequenceNumber: "5", StreamSid: sidStream, Stop: StopInfo{AccountSid: sidAccount, CallSid: sidCall}}},
		{"dtmf", exDTMF, &DTMF{Event: "dtmf", SequenceNumber: "5", StreamSid: sidStream, DTMF: DTMFDigit{Track: "inbound_track", Digit: "1"}}},
		{"mark", exMark, &Mark{Event: "mark", SequenceNumber: "4", StreamSid: sidStream, Mark: MarkName{Name: "my label"}}},
		{"unknown fields are ignored", `{"event":"mark","sequenceNumber":"9","streamSid":"MZ1","mark":{"name":"a","extra":1},"future":true}`,
			&Mark{Event: "mark", SequenceNumber: "9", StreamSid: "MZ1", Mark: MarkName{Name: "a"}}},
		{"start without custom parameters", strings.Replace(exStart, `"customParameters": {
      "FirstName": "Jane",
      "LastName": "Doe",
      "RemoteParty": "Bob"
    }`, `"customParameters": {}`, 1), &Start{Event: "start", SequenceNumber: "1", StreamSid: sidStream, Start: StartInfo{
			AccountSid: sidAccount, StreamSid: sidStream, CallSid: sidCall, Tracks: []string{"inbound"},
			MediaFormat: MediaFormat{Encoding: "audio/x-mulaw", SampleRate: 8000, Channels: 1}, CustomParameters: map[string]string{},
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			got, err := d.Decode([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode = %#v\nwant     %#v", got, tc.want)
			}
		})
	}
}

func TestStartFormat(t *testing.T) {
	var d Decoder
	m, err := d.Decode([]byte(exStart))
	if err != nil {
		t.Fatal(err)
	}
	if !m.(*Start).Start.MediaFormat.IsMuLaw8k() {
		t.Fatal("the published start message is not μ-law 8 kHz mono")
	}
	for _, f := range []MediaFormat{{"audio/x-alaw", 8000, 1}, {Encoding, 16000, 1}, {Encoding, 8000, 2}} {
		if f.IsMuLaw8k() {
			t.Errorf("%+v counts as μ-law 8 kHz mono", f)
		}
	}
}

// TestDecodeRejects holds the decoder to the published shapes: each case
// breaks one rule and must be refused with a *DecodeError naming why.
func TestDecodeRejects(t *testing.T) {
	big := base64.StdEncoding.EncodeToString(make([]byte, DefaultMaxAudio+1))
	params := make([]string, MaxParameters+1)
	for i := range params {
		params[i] = `"p` + strings.Repeat("x", i) + `":"v"`
	}
	tests := []struct {
		name, in, reason string
	}{
		{"empty", ``, "JSON object"},
		{"array", `[]`, "JSON object"},
		{"not UTF-8", "{\"event\":\"mark\xff\"}", "UTF-8"},
		{"truncated", `{"event":"media"`, "invalid JSON"},
		{"no event", `{"streamSid":"MZ1"}`, `missing "event"`},
		{"event not a string", `{"event":1}`, "invalid JSON"},
		{"unknown event", `{"event":"hello"}`, "unknown event"},
		{"connected without version", `{"event":"connected","protocol":"Call"}`, "version"},
		{"sequenceNumber as a number", strings.Replace(exMark, `"sequenceNumber": "4"`, `"sequenceNumber": 4`, 1), "cannot unmarshal"},
		{"sequenceNumber not digits", strings.Replace(exMark, `"sequenceNumber": "4"`, `"sequenceNumber": "4a"`, 1), "sequenceNumber"},
		{"sequenceNumber too long", strings.Replace(exMark, `"sequenceNumber": "4"`, `"sequenceNumber": "`+strings.Repeat("9", 21)+`"`, 1), "sequenceNumber"},
		{"no streamSid", `{"event":"mark","sequenceNumber":"1","mark":{"name":"a"}}`, "streamSid"},
		{"streamSid with a quote", strings.Replace(exMark, sidStream, `MZ\"1`, 1), "streamSid is not"},
		{"streamSid too long", strings.Replace(exMark, sidStream, strings.Repeat("M", MaxSidBytes+1), 1), "streamSid"},
		{"start streamSids differ", strings.Replace(exStart, `"streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}`, `"streamSid": "MZY"
}`, 1), "differs"},
		{"start without callSid", strings.Replace(exStart, `"callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",`, ``, 1), "callSid"},
		{"start without tracks", strings.Replace(exStart, `"tracks": ["inbound"],`, ``, 1), "tracks"},
		{"start with an unknown track", strings.Replace(exStart, `["inbound"]`, `["sideways"]`, 1), "tracks"},
		{"start naming a track twice", strings.Replace(exStart, `["inbound"]`, `["inbound","inbound"]`, 1), "twice"},
		{"start with three tracks", strings.Replace(exStart, `["inbound"]`, `["inbound","outbound","inbound"]`, 1), "tracks"},
		{"start without mediaFormat", strings.Replace(exStart, `"mediaFormat": {
      "encoding": "audio/x-mulaw",
      "sampleRate": 8000,
      "channels": 1
    },`, ``, 1), "encoding"},
		{"start with sampleRate 0", strings.Replace(exStart, `"sampleRate": 8000`, `"sampleRate": 0`, 1), "positive"},
		{"start with sampleRate as a string", strings.Replace(exStart, `"sampleRate": 8000`, `"sampleRate": "8000"`, 1), "cannot unmarshal"},
		{"custom parameter not a string", strings.Replace(exStart, `"Jane"`, `7`, 1), "cannot unmarshal"},
		{"too many custom parameters", strings.Replace(exStart, `"FirstName": "Jane"`, strings.Join(params, ","), 1), "entries"},
		{"custom parameter name too long", strings.Replace(exStart, `"FirstName"`, `"`+strings.Repeat("n", MaxParameterNameBytes+1)+`"`, 1), "name"},
		{"custom parameter value too long", strings.Replace(exStart, `"Jane"`, `"`+strings.Repeat("v", MaxParameterValueBytes+1)+`"`, 1), "value"},
		{"media with an unknown track", strings.Replace(exMediaInbound, `"track": "inbound"`, `"track": "both"`, 1), "media.track"},
		{"media without chunk", strings.Replace(exMediaInbound, `"chunk": "2",`, ``, 1), "media.chunk"},
		{"media timestamp not digits", strings.Replace(exMediaInbound, `"timestamp": "5"`, `"timestamp": "-5"`, 1), "media.timestamp"},
		{"media payload empty", strings.Replace(exMediaInbound, payload, ``, 1), "empty"},
		{"media payload not base64", strings.Replace(exMediaInbound, payload, `no+JhoaJjpzS...`, 1), "base64"},
		{"media payload with bad padding bits", strings.Replace(exMediaInbound, payload, `/x==`, 1), "base64"},
		{"media payload too large", strings.Replace(exMediaInbound, payload, big, 1), "more than"},
		{"mark without name", `{"event":"mark","sequenceNumber":"1","streamSid":"MZ1","mark":{}}`, "mark.name"},
		{"mark name too long", strings.Replace(exMark, "my label", strings.Repeat("m", MaxMarkNameBytes+1), 1), "mark.name"},
		{"dtmf of two digits", strings.Replace(exDTMF, `"digit": "1"`, `"digit": "12"`, 1), "digit"},
		{"dtmf of a letter", strings.Replace(exDTMF, `"digit": "1"`, `"digit": "x"`, 1), "digit"},
		{"dtmf without track", strings.Replace(exDTMF, `"track": "inbound_track",`, ``, 1), "dtmf.track"},
		{"stop without accountSid", strings.Replace(exStop, `"accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",`, ``, 1), "accountSid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			m, err := d.Decode([]byte(tc.in))
			if err == nil {
				t.Fatalf("Decode accepted %s as %#v", tc.in, m)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q does not say %q", err, tc.reason)
			}
		})
	}
}

// TestDecodeMaxAudio: the payload cap is the Decoder's, and the audio
// buffer is reused from one media message to the next.
func TestDecodeMaxAudio(t *testing.T) {
	d := Decoder{MaxAudio: len(audio20ms)}
	m, err := d.Decode([]byte(exMediaInbound))
	if err != nil {
		t.Fatal(err)
	}
	first := m.(*Media).Audio
	if !bytes.Equal(first, audio20ms) {
		t.Fatal("audio differs")
	}
	other := bytes.Repeat([]byte{0x11}, len(audio20ms)-1)
	m, err = d.Decode([]byte(strings.Replace(exMediaInbound, payload, base64.StdEncoding.EncodeToString(other), 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(*Media).Audio; !bytes.Equal(got, other) || &got[0] != &first[0] {
		t.Fatal("the second payload was not decoded into the same buffer")
	}
	d.MaxAudio = len(audio20ms) - 1
	if _, err := d.Decode([]byte(exMediaInbound)); err == nil {
		t.Fatal("a payload over MaxAudio was accepted")
	}
}

func TestMessageLimit(t *testing.T) {
	if n := MessageLimit(DefaultMaxAudio); n != 64<<10 {
		t.Errorf("MessageLimit(%d) = %d, want the 64 KiB floor", DefaultMaxAudio, n)
	}
	big := 1 << 20
	if n := MessageLimit(big); n < base64.StdEncoding.EncodedLen(big)+len(exMediaInbound)-len(payload) {
		t.Errorf("MessageLimit(%d) = %d leaves no room for the envelope", big, n)
	}
}
