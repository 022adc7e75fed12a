package client

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway/protocol"
)

// Config configures Dial. Only URL is required; every other field says its
// default.
type Config struct {
	// URL is the gateway's WebSocket endpoint, e.g. ws://127.0.0.1:8080/ws.
	URL string
	// APIKey, if set, is sent as "Authorization: Bearer <key>".
	APIKey string
	// InputRate is the sample rate of the audio given to SendAudio.
	// Default 16000.
	InputRate int
	// OutputRate asks for reply audio at this rate. 0: the gateway's
	// configured rate (announced in session.started and each
	// response.audio.start).
	OutputRate int
	// TextOnly asks for replies as text only, and makes SendAudio an error.
	TextOnly bool
	// Tools are the client's tools, which the model may call: the Handler
	// gets a *protocol.ToolCall, and SendToolResult answers it. They are
	// sent with every session.start, a resume's included; SetTools
	// replaces them. At most protocol.MaxTools.
	Tools []protocol.Tool

	// Handler receives the session's events; nil discards them.
	Handler Handler

	// Backoff paces reconnection.
	Backoff Backoff
	// PingInterval is how often an app-level ping measures the round trip
	// and checks the connection is alive. 0: the gateway's heartbeat
	// interval from session.started, or 5s if it sends none. Negative
	// disables pings (and the liveness check).
	PingInterval time.Duration
	// PingTimeout: a connection that answered no ping for this long is
	// dropped and redialled. Default 3×PingInterval.
	PingTimeout time.Duration
	// HandshakeTimeout bounds one attempt to dial and start the session.
	// Default 10s.
	HandshakeTimeout time.Duration
	// AudioQueue bounds the audio waiting to be written; when it is full
	// the oldest is dropped. Default 1s of audio.
	AudioQueue time.Duration

	// HTTPClient dials; nil uses http.DefaultClient.
	HTTPClient *http.Client
	// Logger; nil logs nothing.
	Logger *zap.Logger
}

// Backoff is exponential backoff with full jitter: before attempt n (from
// 1) the Session waits a uniformly random time in [0, min(Max, Min·2ⁿ⁻¹)),
// so clients that lost the same gateway do not return in lockstep.
type Backoff struct {
	// Min is the first attempt's ceiling. Default 250ms.
	Min time.Duration
	// Max caps the ceiling. Default 5s.
	Max time.Duration
	// MaxAttempts is how many consecutive failed attempts end the session.
	// 0 never gives up (until Close).
	MaxAttempts int
}

// Delay returns the wait before attempt n (from 1), drawing from rnd
// (which returns a value in [0, n)); nil uses math/rand/v2.
func (b Backoff) Delay(n int, rnd func(int64) int64) time.Duration {
	if rnd == nil {
		rnd = rand.Int64N
	}
	ceiling := b.Min
	for i := 1; i < n && ceiling < b.Max; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, b.Max)
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rnd(int64(ceiling)))
}

func (c *Config) setDefaults() error {
	if c.URL == "" {
		return errors.New("client: Config.URL is required")
	}
	if c.InputRate == 0 {
		c.InputRate = 16000
	}
	if c.Handler == nil {
		c.Handler = func(Event) {}
	}
	if c.Backoff.Min <= 0 {
		c.Backoff.Min = 250 * time.Millisecond
	}
	if c.Backoff.Max <= 0 {
		c.Backoff.Max = 5 * time.Second
	}
	if c.Backoff.Max < c.Backoff.Min {
		c.Backoff.Max = c.Backoff.Min
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.AudioQueue <= 0 {
		c.AudioQueue = time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}
