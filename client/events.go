package client

import (
	"time"

	"github.com/voicegate/voicegate/gateway/protocol"
)

// Event is what a Handler receives: one of
//
//   - *Connected, *Disconnected: the connection's life;
//   - *Audio: a piece of reply audio;
//   - *Heartbeat: a measured round trip;
//   - *Error: an error event from the gateway;
//   - the gateway's events as decoded from the wire: *protocol.Speech
//     (speech.started / speech.stopped), *protocol.Transcript
//     (transcript.partial / .final), *protocol.TextDelta,
//     *protocol.AudioStart, *protocol.AudioDone, *protocol.ResponseDone,
//     *protocol.ResponseCancelled, *protocol.ResponsePause
//     (response.paused / response.resumed: hold playback, then go on),
//     *protocol.TurnLatency, *protocol.ToolCall
//     (run the tool, then Session.SendToolResult), *protocol.ToolDone.
//
// Unknown message types from a newer gateway are skipped.
type Event any

// A Handler receives events. It is called from one goroutine at a time, in
// order (the first Connected from Dial's own goroutine, before Dial
// returns), and must return quickly: while it runs nothing is read from the
// connection. It must not call Session.Close.
type Handler func(Event)

// Connected reports a started session: the first one, or one after a
// reconnect.
type Connected struct {
	Started *protocol.SessionStarted
	// Reconnect is false for the connection Dial made.
	Reconnect bool
	// ResumeFailed reports that the gateway no longer knew the session
	// (e.g. it restarted, or the resume window passed): this is a new
	// session and the conversation starts over.
	ResumeFailed bool
}

// Disconnected reports a lost connection, or a failed attempt to reconnect.
type Disconnected struct {
	Err     error         // why the connection ended or the attempt failed
	Attempt int           // consecutive failures, from 1
	Retry   time.Duration // how long the Session waits before dialling again
}

// Audio is a piece of reply audio: PCM16 mono at SampleRate.
type Audio struct {
	Turn       uint64
	SampleRate int
	// Samples is valid only until the Handler returns: the Session reuses
	// it (and the Audio value) for the next frame. Copy what you keep.
	Samples []int16
}

// Heartbeat reports the round trip of an app-level ping.
type Heartbeat struct {
	RTT time.Duration
}
