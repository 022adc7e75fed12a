package gateway

import (
	"time"

	"github.com/voicegate/voicegate/pipeline"
)

// TurnTracer records finished turns, for example as distributed traces
// (package telemetry records them with OpenTelemetry). TraceTurn is
// called once per turn that sent turn.latency (or would have: every
// protocol), from the goroutines of many connections at once, so it must
// be safe for concurrent use; it runs on a connection's output path, so it
// must not block.
type TurnTracer interface {
	TraceTurn(t FinishedTurn)
}

// TurnTracerFunc adapts a function to TurnTracer.
type TurnTracerFunc func(FinishedTurn)

// TraceTurn calls f(t).
func (f TurnTracerFunc) TraceTurn(t FinishedTurn) { f(t) }

// FinishedTurn is what a TurnTracer learns of a turn: its timing, who
// answered and how it ended; never what was said.
type FinishedTurn struct {
	// Session is the session's ID as the gateway's logs name it: on /ws
	// session.started's session_id, on /v1/realtime the session's id less
	// its "sess_", on /v1/twilio the media stream's streamSid.
	Session  string
	Protocol string // ProtocolNative, ProtocolRealtime or ProtocolTwilio
	VAD      string // Options.VADName: what declared the end of speech
	// Trace is the turn's latency record, complete; it is shared, so
	// only to be read. Its Turn numbers the turn in its session, its Err
	// is the stage failure that ended it, if one did.
	Trace *pipeline.Trace
	// FirstAudioSent is when the reply's first audio went on the wire;
	// zero if none did (text only, or cut before).
	FirstAudioSent time.Time
	// Reason is why the turn was cut; zero if it completed.
	Reason pipeline.CancelReason
}

// The protocols of FinishedTurn.Protocol.
const (
	ProtocolNative   = "native"   // PathWS
	ProtocolRealtime = "realtime" // PathRealtime
	ProtocolTwilio   = "twilio"   // PathTwilio
)

// traceTurn hands ev, an EventTurnLatency, to Options.TurnTracer. Without
// one it does nothing, and allocates nothing.
func (c *connection) traceTurn(ev pipeline.Event) {
	tt := c.srv.opts.TurnTracer
	if tt == nil || ev.Trace == nil {
		return
	}
	ft := FinishedTurn{Protocol: c.protocol(), VAD: c.srv.opts.VADName, Trace: ev.Trace, Reason: ev.Reason}
	if id := c.sessionID.Load(); id != nil {
		ft.Session = *id
	}
	if ev.Handle != nil {
		ft.FirstAudioSent = ev.Handle.FirstAudioSent()
	}
	tt.TraceTurn(ft)
}

// protocol names the protocol the connection speaks.
func (c *connection) protocol() string {
	switch c.adapter.(type) {
	case *rtConn:
		return ProtocolRealtime
	case *twilioCall:
		return ProtocolTwilio
	default:
		return ProtocolNative
	}
}
