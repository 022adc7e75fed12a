package gateway

import (
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// Options configures a Server. Every field documents its default; the zero
// value of a field selects it. Only Stages.LLM is required.
type Options struct {
	// Logger receives connection and session logs. Default: zap.NewNop().
	// Transcripts, prompts and credentials are never logged in clear unless
	// LogContent is set (credentials never are).
	Logger *zap.Logger

	// Registry is where the gateway registers its metrics. If it is also a
	// prometheus.Gatherer (a *prometheus.Registry is), /metrics serves it.
	// Default: a private *prometheus.Registry, served on /metrics. The
	// gateway never touches the global default registry.
	Registry prometheus.Registerer
	// Gatherer is what /metrics serves. Default: Registry, if it is a
	// Gatherer. When neither is, /metrics answers 404.
	Gatherer prometheus.Gatherer

	// Stages are the providers, shared by every session: a Recognizer
	// starts one Utterance per turn, so one instance serves all sessions.
	// Stages.LLM is required; without Stages.TTS every session is text-only.
	Stages pipeline.Stages
	// VADName is the name session.started reports for voice activity
	// detection. Default "energy".
	VADName string
	// SystemPrompt and MaxHistory shape each session's Conversation
	// (pipeline.NewConversation; MaxHistory ≤ 0 means its default).
	SystemPrompt string
	MaxHistory   int
	// VAD tunes endpointing (vad.Config documents its defaults).
	VAD vad.Config
	// OutputRate is the reply audio's sample rate when session.start does
	// not ask for one. Default: the synthesizer's rate.
	OutputRate int
	// PlayoutLead is how far reply audio may run ahead of real time
	// (pipeline.Config.PlayoutLead). Default 500ms; < 0 sends unpaced.
	PlayoutLead time.Duration

	// HeartbeatInterval is how often the server sends a WebSocket ping.
	// Default 15s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout closes a connection from which nothing (no message,
	// no pong) arrived for this long: error heartbeat_timeout, close 1001.
	// Default 45s.
	HeartbeatTimeout time.Duration
	// StartTimeout closes a connection that has not sent session.start
	// within it: error session_start_timeout, close 1008. Default 10s.
	StartTimeout time.Duration
	// WriteTimeout bounds each write to a client; a write that takes
	// longer ends the connection as a slow consumer. Default 10s.
	WriteTimeout time.Duration
	// ResumeWindow is how long a session outlives its connection, waiting
	// to be resumed with its token. Default 2m.
	ResumeWindow time.Duration
	// SessionFile, when set, is where resumable sessions are saved on
	// Shutdown and restored by New, so clients resume across a restart.
	// Default "" (sessions live in memory only).
	SessionFile string
	// MaxSessions caps concurrent WebSocket connections; one more gets
	// error session_limit and close 1013. Default 1000.
	MaxSessions int

	// APIKeys, when not empty, are the credentials a client must present,
	// as "Authorization: Bearer <key>", "X-API-Key: <key>" or, for
	// browsers, "?token=<key>" on /ws. Missing or wrong: 401 before the
	// upgrade. Default: no authentication.
	APIKeys []string
	// AllowedOrigins lists the browser origins, besides the request's own
	// host, allowed to open /ws: host patterns ("app.example.com",
	// "*.example.com") or scheme://host patterns, matched with path.Match
	// as websocket.AcceptOptions.OriginPatterns are. Others get 403 before
	// the upgrade. Requests without an Origin header (non-browser clients)
	// are allowed. Default: same host only.
	AllowedOrigins []string

	// MaxFrameBytes caps one binary audio frame. A larger frame is fatal:
	// error frame_too_large, close 1009. Default 32 KiB.
	MaxFrameBytes int
	// MaxTextBytes caps input.text (error text_too_long). A text frame
	// larger than 6×MaxTextBytes+1 KiB is fatal (message_too_large, 1009).
	// Default protocol.DefaultMaxTextBytes (4096).
	MaxTextBytes int
	// ControlQueue and StreamQueue size a connection's two write lanes:
	// control (pong, error, speech.started, response.cancelled) and stream
	// (everything else, audio included). A full lane closes the connection
	// as a slow consumer. Defaults 32 and 128 (paced audio keeps about
	// PlayoutLead of audio, a handful of chunks, queued at most).
	ControlQueue int
	StreamQueue  int

	// LogContent logs transcripts and typed text in clear. Default false:
	// they are logged as a short SHA-256 hash.
	LogContent bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultHeartbeatTimeout  = 45 * time.Second
	DefaultStartTimeout      = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultResumeWindow      = 2 * time.Minute
	DefaultMaxSessions       = 1000
	DefaultMaxFrameBytes     = 32 << 10
	DefaultControlQueue      = 32
	DefaultStreamQueue       = 128
)

func (o *Options) setDefaults() error {
	if o.Stages.LLM == nil {
		return errors.New("gateway: Options.Stages.LLM is required")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.VADName == "" {
		o.VADName = "energy"
	}
	if o.OutputRate == 0 && o.Stages.TTS != nil {
		o.OutputRate = o.Stages.TTS.Format().SampleRate
	}
	if o.OutputRate == 0 {
		o.OutputRate = audio.Mono16k.SampleRate
	}
	if !audio.IsSupportedRate(o.OutputRate) {
		return fmt.Errorf("gateway: OutputRate %d Hz is not supported (supported: %v)", o.OutputRate, audio.SupportedRates)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&o.HeartbeatTimeout, DefaultHeartbeatTimeout)
	def(&o.StartTimeout, DefaultStartTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.ResumeWindow, DefaultResumeWindow)
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	defInt(&o.MaxSessions, DefaultMaxSessions)
	defInt(&o.MaxFrameBytes, DefaultMaxFrameBytes)
	defInt(&o.MaxTextBytes, protocol.DefaultMaxTextBytes)
	defInt(&o.ControlQueue, DefaultControlQueue)
	defInt(&o.StreamQueue, DefaultStreamQueue)
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, p := range o.AllowedOrigins {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("gateway: AllowedOrigins pattern %q: %w", p, err)
		}
	}
	for _, k := range o.APIKeys {
		if k == "" {
			return errors.New("gateway: APIKeys holds an empty key")
		}
	}
	return nil
}

// textFrameLimit is the largest text frame read: input.text at its limit,
// every byte JSON-escaped as \u00XX, plus room for the envelope.
func (o *Options) textFrameLimit() int { return 6*o.MaxTextBytes + 1024 }
