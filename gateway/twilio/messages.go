package twilio

// The event names: the "event" field of every message.
const (
	EventConnected = "connected" // Twilio → server, first
	EventStart     = "start"     // Twilio → server, once, after connected
	EventMedia     = "media"     // both ways: audio
	EventMark      = "mark"      // both ways: a point in the outbound audio, and its echo once played
	EventDTMF      = "dtmf"      // Twilio → server: a key pressed
	EventStop      = "stop"      // Twilio → server, last
	EventClear     = "clear"     // server → Twilio: drop the audio not played yet
)

// The tracks of a media message and of start.tracks.
const (
	TrackInbound  = "inbound"  // the caller's audio
	TrackOutbound = "outbound" // the audio played to the caller
)

// The one media format Twilio streams, in both directions.
const (
	Encoding   = "audio/x-mulaw"
	SampleRate = 8000
	Channels   = 1
)

// Connected is the first message of a stream: the protocol that follows.
type Connected struct {
	Event    string `json:"event"`
	Protocol string `json:"protocol"`
	Version  string `json:"version"`
}

// Start describes the stream; it comes once, right after Connected.
type Start struct {
	Event          string    `json:"event"`
	SequenceNumber string    `json:"sequenceNumber"`
	Start          StartInfo `json:"start"`
	StreamSid      string    `json:"streamSid"`
}

// StartInfo is the metadata of a stream.
type StartInfo struct {
	AccountSid string   `json:"accountSid"`
	StreamSid  string   `json:"streamSid"`
	CallSid    string   `json:"callSid"`
	Tracks     []string `json:"tracks"`
	// CustomParameters are the <Parameter> elements of the <Stream> that
	// opened the stream, by name.
	CustomParameters map[string]string `json:"customParameters,omitempty"`
	MediaFormat      MediaFormat       `json:"mediaFormat"`
}

// MediaFormat is the format of the media payloads.
type MediaFormat struct {
	Encoding   string `json:"encoding"`
	SampleRate int    `json:"sampleRate"`
	Channels   int    `json:"channels"`
}

// IsMuLaw8k reports whether f is 8 kHz mono μ-law, the format Twilio
// documents as the only one.
func (f MediaFormat) IsMuLaw8k() bool {
	return f.Encoding == Encoding && f.SampleRate == SampleRate && f.Channels == Channels
}

// Media is a chunk of audio from Twilio.
type Media struct {
	Event          string     `json:"event"`
	SequenceNumber string     `json:"sequenceNumber"`
	Media          MediaChunk `json:"media"`
	StreamSid      string     `json:"streamSid"`
	// Audio is Payload decoded: μ-law bytes, one per sample. It is not on
	// the wire, and Decoder.Decode returns it in a buffer it reuses.
	Audio []byte `json:"-"`
}

// MediaChunk is the audio of a Media message and where it belongs.
type MediaChunk struct {
	Track     string `json:"track"`     // TrackInbound or TrackOutbound
	Chunk     string `json:"chunk"`     // counts the track's chunks from "1"
	Timestamp string `json:"timestamp"` // milliseconds since the stream began
	Payload   string `json:"payload"`   // base64 μ-law
}

// Mark names a point in the outbound audio. The server sends one after
// media; Twilio sends it back, with a SequenceNumber, when the audio before
// it has been played, or at once for every mark still pending when the
// server sends Clear.
type Mark struct {
	Event          string   `json:"event"`
	SequenceNumber string   `json:"sequenceNumber,omitempty"` // Twilio's only
	StreamSid      string   `json:"streamSid"`
	Mark           MarkName `json:"mark"`
}

// MarkName is the body of a Mark.
type MarkName struct {
	Name string `json:"name"`
}

// DTMF is a key the caller pressed.
type DTMF struct {
	Event          string    `json:"event"`
	StreamSid      string    `json:"streamSid"`
	SequenceNumber string    `json:"sequenceNumber"`
	DTMF           DTMFDigit `json:"dtmf"`
}

// DTMFDigit is the body of a DTMF message.
type DTMFDigit struct {
	Track string `json:"track"` // "inbound_track"
	Digit string `json:"digit"` // one of 0-9, *, #, A-D
}

// Stop is the last message of a stream: the stream stopped or the call
// ended.
type Stop struct {
	Event          string   `json:"event"`
	SequenceNumber string   `json:"sequenceNumber"`
	Stop           StopInfo `json:"stop"`
	StreamSid      string   `json:"streamSid"`
}

// StopInfo names the stream's account and call.
type StopInfo struct {
	AccountSid string `json:"accountSid"`
	CallSid    string `json:"callSid"`
}

// OutboundMedia is audio for Twilio to play to the caller (AppendMedia
// writes it without this type, for the hot path).
type OutboundMedia struct {
	Event     string          `json:"event"`
	StreamSid string          `json:"streamSid"`
	Media     OutboundPayload `json:"media"`
}

// OutboundPayload is the body of an OutboundMedia.
type OutboundPayload struct {
	Payload string `json:"payload"` // base64 8 kHz μ-law, no file header
}

// Clear tells Twilio to drop the audio it has not played yet; it then
// sends back every pending Mark.
type Clear struct {
	Event     string `json:"event"`
	StreamSid string `json:"streamSid"`
}

// NewMark returns the mark named name for the stream streamSid.
func NewMark(streamSid, name string) *Mark {
	return &Mark{Event: EventMark, StreamSid: streamSid, Mark: MarkName{Name: name}}
}

// NewClear returns the clear message of the stream streamSid.
func NewClear(streamSid string) *Clear {
	return &Clear{Event: EventClear, StreamSid: streamSid}
}
