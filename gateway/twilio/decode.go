package twilio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on what Decode accepts, beyond the media payload's (MaxAudio).
const (
	MaxSidBytes            = 64   // streamSid, callSid, accountSid
	MaxParameters          = 32   // entries of start.customParameters
	MaxParameterNameBytes  = 128  // a custom parameter's name
	MaxParameterValueBytes = 1024 // a custom parameter's value
	MaxMarkNameBytes       = 256
	maxCounterDigits       = 20 // sequenceNumber, chunk, timestamp: a uint64 at most
	maxTokenBytes          = 64 // protocol, version, encoding, a DTMF track
)

// strictBase64 is standard base64 that refuses non-zero padding bits, so
// that a payload has one spelling.
var strictBase64 = base64.StdEncoding.Strict()

// DefaultMaxAudio is the largest media payload, in decoded bytes, that a
// zero Decoder takes: one second of 8 kHz μ-law. Twilio sends 20 ms (160
// bytes) a message.
const DefaultMaxAudio = SampleRate

// MessageLimit is the largest text message worth reading for a Decoder
// whose media payloads may hold maxAudio bytes: such a media message with
// room for its envelope, and never less than a start message with its
// custom parameters at their limits needs. A larger message is refused
// before decoding.
func MessageLimit(maxAudio int) int {
	return max(base64.StdEncoding.EncodedLen(maxAudio)+1024, 64<<10)
}

// DecodeError says why a message was refused. Twilio has no message to
// receive errors with: the server logs it.
type DecodeError struct {
	Event  string // the message's event, when it was read
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Event == "" {
		return "twilio: " + e.Reason
	}
	return "twilio: " + e.Event + ": " + e.Reason
}

func errorf(event, format string, args ...any) *DecodeError {
	return &DecodeError{Event: event, Reason: fmt.Sprintf(format, args...)}
}

// Decoder decodes the messages of one stream. Its zero value is ready to
// use; it is not safe for concurrent use.
type Decoder struct {
	// MaxAudio caps a media payload, in decoded bytes. 0 means
	// DefaultMaxAudio.
	MaxAudio int

	audio []byte // Media.Audio of the last media message
}

// Decode parses one text message from Twilio. It returns *Connected,
// *Start, *Media, *Mark, *DTMF or *Stop, or a *DecodeError that says what
// is wrong. Fields beyond those Twilio publishes are ignored; a published
// field that is missing, of another type, malformed or over its limit is
// an error. A *Media's Audio is valid until the next call of Decode.
func (d *Decoder) Decode(data []byte) (any, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errorf("", "a message must be a JSON object")
	}
	if !utf8.Valid(data) {
		return nil, errorf("", "the message is not valid UTF-8")
	}
	var env struct {
		Event *string `json:"event"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, errorf("", "invalid JSON: %v", err)
	}
	if env.Event == nil {
		return nil, errorf("", `missing "event"`)
	}
	switch ev := *env.Event; ev {
	case EventConnected:
		return decodeAs(data, ev, checkConnected)
	case EventStart:
		return decodeAs(data, ev, checkStart)
	case EventMedia:
		return decodeAs(data, ev, d.checkMedia)
	case EventMark:
		return decodeAs(data, ev, checkMark)
	case EventDTMF:
		return decodeAs(data, ev, checkDTMF)
	case EventStop:
		return decodeAs(data, ev, checkStop)
	default:
		if len(ev) > 32 {
			ev = ev[:32] + "…"
		}
		return nil, errorf("", "unknown event %q", ev)
	}
}

// decodeAs unmarshals data into a new T and checks it.
func decodeAs[T any](data []byte, event string, check func(*T) error) (*T, error) {
	m := new(T)
	if err := json.Unmarshal(data, m); err != nil {
		return nil, errorf(event, "%v", err)
	}
	if err := check(m); err != nil {
		de, ok := err.(*DecodeError)
		if !ok {
			de = errorf("", "%v", err)
		}
		de.Event = event
		return nil, de
	}
	return m, nil
}

func checkConnected(m *Connected) error {
	return firstError(token("protocol", m.Protocol), token("version", m.Version))
}

func checkStart(m *Start) error {
	s := &m.Start
	if err := firstError(counter("sequenceNumber", m.SequenceNumber), sid("streamSid", m.StreamSid),
		sid("start.streamSid", s.StreamSid), sid("start.accountSid", s.AccountSid), sid("start.callSid", s.CallSid),
		token("start.mediaFormat.encoding", s.MediaFormat.Encoding)); err != nil {
		return err
	}
	if s.StreamSid != m.StreamSid {
		return errorf("", "start.streamSid differs from streamSid")
	}
	if s.MediaFormat.SampleRate <= 0 || s.MediaFormat.Channels <= 0 {
		return errorf("", "start.mediaFormat: sampleRate and channels must be positive")
	}
	if len(s.Tracks) == 0 || len(s.Tracks) > 2 {
		return errorf("", "start.tracks must name one or two tracks")
	}
	for i, tr := range s.Tracks {
		if tr != TrackInbound && tr != TrackOutbound {
			return errorf("", "start.tracks[%d] is not %q or %q", i, TrackInbound, TrackOutbound)
		}
		if i > 0 && tr == s.Tracks[0] {
			return errorf("", "start.tracks names %q twice", tr)
		}
	}
	if len(s.CustomParameters) > MaxParameters {
		return errorf("", "start.customParameters has %d entries; the limit is %d", len(s.CustomParameters), MaxParameters)
	}
	for name, v := range s.CustomParameters {
		if name == "" || len(name) > MaxParameterNameBytes {
			return errorf("", "start.customParameters: a name is empty or longer than %d bytes", MaxParameterNameBytes)
		}
		if len(v) > MaxParameterValueBytes {
			return errorf("", "start.customParameters: a value is longer than %d bytes", MaxParameterValueBytes)
		}
	}
	return nil
}

func (d *Decoder) checkMedia(m *Media) error {
	c := &m.Media
	if err := firstError(counter("sequenceNumber", m.SequenceNumber), sid("streamSid", m.StreamSid),
		counter("media.chunk", c.Chunk), counter("media.timestamp", c.Timestamp)); err != nil {
		return err
	}
	if c.Track != TrackInbound && c.Track != TrackOutbound {
		return errorf("", "media.track is not %q or %q", TrackInbound, TrackOutbound)
	}
	limit := d.MaxAudio
	if limit <= 0 {
		limit = DefaultMaxAudio
	}
	if c.Payload == "" {
		return errorf("", "media.payload is empty")
	}
	if n := base64.StdEncoding.DecodedLen(len(c.Payload)); n > limit+2 { // padding counts up to 2
		return errorf("", "media.payload holds more than %d bytes", limit)
	}
	d.audio = growTo(d.audio, base64.StdEncoding.DecodedLen(len(c.Payload)))
	n, err := strictBase64.Decode(d.audio, []byte(c.Payload))
	if err != nil {
		return errorf("", "media.payload is not base64: %v", err)
	}
	if n > limit {
		return errorf("", "media.payload holds more than %d bytes", limit)
	}
	m.Audio = d.audio[:n]
	return nil
}

func checkMark(m *Mark) error {
	if err := firstError(counter("sequenceNumber", m.SequenceNumber), sid("streamSid", m.StreamSid)); err != nil {
		return err
	}
	if m.Mark.Name == "" || len(m.Mark.Name) > MaxMarkNameBytes {
		return errorf("", "mark.name is empty or longer than %d bytes", MaxMarkNameBytes)
	}
	return nil
}

func checkDTMF(m *DTMF) error {
	if err := firstError(counter("sequenceNumber", m.SequenceNumber), sid("streamSid", m.StreamSid), token("dtmf.track", m.DTMF.Track)); err != nil {
		return err
	}
	if d := m.DTMF.Digit; len(d) != 1 || !strings.Contains("0123456789*#ABCD", d) {
		return errorf("", "dtmf.digit is not one of 0-9, *, #, A-D")
	}
	return nil
}

func checkStop(m *Stop) error {
	return firstError(counter("sequenceNumber", m.SequenceNumber), sid("streamSid", m.StreamSid),
		sid("stop.accountSid", m.Stop.AccountSid), sid("stop.callSid", m.Stop.CallSid))
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sid checks a Twilio identifier (IsSid).
func sid(field, s string) error {
	if !IsSid(s) {
		return errorf("", "%s is not 1 to %d letters and digits", field, MaxSidBytes)
	}
	return nil
}

// IsSid reports whether s has the form of a Twilio identifier (a
// streamSid, callSid or accountSid): 1 to MaxSidBytes letters and digits
// (Twilio's are two letters and 32 hex digits). Such a value is safe to log
// and to write into JSON as it is.
func IsSid(s string) bool {
	if s == "" || len(s) > MaxSidBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// counter checks a decimal counter written as a string, as Twilio writes
// sequenceNumber, chunk and timestamp.
func counter(field, s string) error {
	if s == "" || len(s) > maxCounterDigits {
		return errorf("", "%s must be a string of 1 to %d digits", field, maxCounterDigits)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return errorf("", "%s must be a string of 1 to %d digits", field, maxCounterDigits)
		}
	}
	return nil
}

// token checks a short printable ASCII value.
func token(field, s string) error {
	if s == "" || len(s) > maxTokenBytes {
		return errorf("", "%s is empty or longer than %d bytes", field, maxTokenBytes)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return errorf("", "%s holds a character that is not printable ASCII", field)
		}
	}
	return nil
}

// growTo returns b with length n, reusing its array when it is large
// enough.
func growTo(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
