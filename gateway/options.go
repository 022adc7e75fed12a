package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// Options configures a Server: the parts a program supplies (logger,
// metrics registry, providers, clock) beside the operator's settings in
// Config, SessionConfig and VAD, which voicegate's configuration file
// decodes into directly. The zero value of every field selects its
// default. Only Stages.LLM is required.
type Options struct {
	// Logger receives connection and session logs. Default: zap.NewNop().
	// Transcripts, prompts and credentials are never logged in clear unless
	// LogContent is set (credentials never are).
	Logger *zap.Logger

	// Registry is where the gateway registers its metrics. If it is also a
	// prometheus.Gatherer (a *prometheus.Registry is), MetricsHandler
	// serves it. Default: a private *prometheus.Registry. The gateway never
	// touches the global default registry.
	Registry prometheus.Registerer
	// Gatherer is what MetricsHandler serves. Default: Registry, if it is a
	// Gatherer. When neither is, MetricsHandler answers 404.
	Gatherer prometheus.Gatherer

	// Stages are the providers, shared by every session: a Recognizer
	// starts one Utterance per turn, so one instance serves all sessions.
	// Stages.LLM is required; without Stages.TTS every session is text-only.
	Stages pipeline.Stages
	// Languages are the languages sessions may speak besides
	// SessionConfig.Language (the language of Stages and SystemPrompt),
	// each with its own stages and prompt, keyed by BCP 47 tag ("zh",
	// "zh-tw"; compared in lower case). A session.start's language picks
	// one: the tag, or the nearest by dropping subtags ("zh-CN" gets "zh");
	// another is refused with unsupported_language. At most MaxLanguages.
	// Default nil: only SessionConfig.Language.
	Languages map[string]Language
	// langs is every language by its key, the default's included; made by
	// setDefaults.
	langs map[string]Language
	// VADName is the name session.started reports for voice activity
	// detection. Default "energy".
	VADName string
	// VAD tunes endpointing (vad.DefaultConfig gives its defaults).
	VAD vad.Config
	// Tools are the operator's own tools, run by the gateway when the
	// model calls them (each has a Call), offered in every session beside
	// the client's (tools in session.start, tools.set); the client is
	// told with tool.done. They need a Stages.LLM that is a
	// pipeline.ToolGenerator. At most MaxServerTools; a client tool may
	// not take one's name.
	Tools []pipeline.Tool

	Config        // connections, limits, access (server: in the file)
	SessionConfig // every conversation (session: in the file)

	// LogContent logs transcripts and typed text in clear. Default false:
	// they are logged as their length and ContentHasher's fingerprint.
	LogContent bool
	// ContentHasher fingerprints content in the logs. Give the providers the
	// same one, so that their fingerprints match the gateway's. Default: one
	// with a random key, which matches nothing outside this Server.
	ContentHasher *pipeline.ContentHasher
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// TurnTracer, when set, is told of every finished turn, on every
	// protocol (package telemetry records them as OpenTelemetry traces).
	// Default nil: none, at no cost.
	TurnTracer TurnTracer

	// Store, when set, is the session store this gateway shares with the
	// other nodes behind the same load balancer (SessionStore says when
	// it is written and read), so a client resumes on any of them.
	// Default nil: sessions live in this node's memory (and SessionFile).
	// Realtime sessions stay in the node's memory either way.
	Store SessionStore
	// StoreTimeout bounds each call to Store and Cluster. Default 2s.
	StoreTimeout time.Duration
	// Cluster, when set, makes MaxSessionsPerKey and SessionRate hold
	// across the nodes sharing it (ClusterCounter says how stale they may
	// be). Default nil: each node counts alone.
	Cluster ClusterCounter
	// ClusterInterval is how often the counts are exchanged. Default 1s.
	ClusterInterval time.Duration
}

// Config is the operator's connection, limit and access settings. A zero
// field takes its value from DefaultConfig. The yaml keys are those of the
// server: section of voicegate's configuration file, where every key is
// documented (configs/voicegate.example.yaml).
type Config struct {
	// APIKeys, when not empty, are the credentials a client must present
	// on /ws: "Authorization: Bearer <key>" or "X-API-Key: <key>", or, for
	// browsers, which cannot set headers on a WebSocket, a ticket
	// (?ticket=, from POST /v1/tickets with a key), a resume token
	// (?resume=, to resume that session only) or the key itself
	// (?token=<key>, which puts it in URLs and logs; prefer tickets).
	// Missing or wrong: 401 before the upgrade. A session belongs to the
	// key that created it: another key cannot resume it. Default: no
	// authentication.
	APIKeys []string `yaml:"api_keys"`
	// AllowedHosts lists the Host names, besides loopback ones (localhost,
	// 127.0.0.0/8, ::1), that /ws and /v1/tickets answer: patterns matched
	// with path.Match against the name without its port ("voice.lan",
	// "*.example.com", "*" for any). Others get 403 forbidden_host. Without
	// APIKeys the check always applies, which stops DNS rebinding (a
	// hostile page whose name resolves to this server); with keys, only
	// when the list is given. Default: loopback names only.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowedOrigins lists the browser origins, besides the request's own
	// host, allowed to open /ws: host patterns ("app.example.com",
	// "*.example.com") or scheme://host patterns, matched with path.Match
	// as websocket.AcceptOptions.OriginPatterns are. Others get 403 before
	// the upgrade. Requests without an Origin header (non-browser clients)
	// are allowed. Default: same host only.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxSessions caps concurrent WebSocket connections; one more gets
	// error session_limit and close 1013.
	MaxSessions int `yaml:"max_sessions"`
	// MaxDetachedSessions caps the sessions kept for resume after their
	// connection ended (they do not count toward MaxSessions); beyond it
	// the one detached longest ago is forgotten, and its token gets
	// resume_failed.
	MaxDetachedSessions int `yaml:"max_detached_sessions"`
	// MaxSessionsPerIP caps the connections open from one client address
	// (for IPv6, one /64), and MaxSessionsPerKey those open with one API
	// key, so that one client cannot take every place: one more is
	// refused before the upgrade with HTTP 429, error rate_limited.
	// Connections that have not sent session.start yet count too.
	MaxSessionsPerIP  int `yaml:"max_sessions_per_ip"`
	MaxSessionsPerKey int `yaml:"max_sessions_per_key"`
	// SessionRate is how many session.start (new or resumed) per second
	// one API key may make, or without API keys one client address, over
	// a burst of SessionBurst: a token bucket. One more gets error
	// rate_limited and close 1013. With many clients sharing one key,
	// size them for all of them (a restart has every client resume).
	SessionRate  float64 `yaml:"session_rate"`
	SessionBurst int     `yaml:"session_burst"`
	// TrustedProxies are the addresses or CIDR prefixes of reverse
	// proxies in front of the gateway. A request from one of them is
	// counted to the client address that X-Forwarded-For names: the last
	// hop, from the right, that is not a trusted proxy. Requests from
	// elsewhere are counted to their own address, and their
	// X-Forwarded-For is ignored. Default: none (behind a proxy, every
	// client then shares the proxy's address and its limits).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MaxTickets caps the tickets minted and not yet used or expired (each
	// lives TicketTTL); one more is refused with 429 ticket_limit.
	MaxTickets int `yaml:"max_tickets"`

	// HeartbeatInterval is how often the server sends a WebSocket ping.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// HeartbeatTimeout closes a connection from which nothing (no message,
	// no pong) arrived for this long: error heartbeat_timeout, close 1001.
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
	// StartTimeout closes a connection that has not sent session.start
	// within it: error session_start_timeout, close 1008.
	StartTimeout time.Duration `yaml:"start_timeout"`
	// WriteTimeout bounds each write to a client; a write that takes
	// longer ends the connection as a slow consumer.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ResumeWindow is how long a session outlives its connection, waiting
	// to be resumed with its token.
	ResumeWindow time.Duration `yaml:"resume_window"`
	// SessionFile, when set, is where resumable sessions are kept, so
	// clients resume across a restart or a crash: New restores them and
	// rewrites the file (it fails if the file cannot be written; a file
	// that is not a session file is moved aside to
	// SessionFile.corrupt-TIMESTAMP), the file follows the sessions at
	// most a second behind while the server runs, and Shutdown writes it
	// last. Default "" (sessions live in memory only).
	SessionFile string `yaml:"session_file"`

	// TwilioAuthToken is the auth token of the Twilio account whose calls
	// reach /v1/twilio (Twilio Media Streams) and /v1/twilio/voice (the
	// TwiML for a call). When set, both answer only requests that carry a
	// valid X-Twilio-Signature, and 403 to others. When not, with APIKeys
	// a stream's start message must carry a key as the custom parameter
	// token; without either, the endpoints are as open as /ws. A secret,
	// never logged; voicegate also takes it from VOICEGATE_TWILIO_AUTH_TOKEN.
	TwilioAuthToken string `yaml:"twilio_auth_token"`
	// PublicURL is the URL clients reach this server by, such as
	// https://voice.example.com, when that is not what the server sees: behind
	// a proxy or a tunnel that terminates TLS. Twilio signs the URL it
	// requested, so the signatures are checked against PublicURL followed by
	// the request's path and query (with wss:// for https:// on the
	// WebSocket), and the TwiML's stream URL is built from it. A path in it
	// is a prefix the proxy strips. Default "": the request's own scheme
	// and Host.
	PublicURL string `yaml:"public_url"`

	// MaxFrameBytes caps one binary audio frame. A larger frame is fatal:
	// error frame_too_large, close 1009.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// MaxTextBytes caps input.text (error text_too_long). A text frame
	// larger than 6×MaxTextBytes+1 KiB is fatal (message_too_large, 1009).
	MaxTextBytes int `yaml:"max_text_bytes"`
	// ControlQueue and StreamQueue size a connection's two write lanes:
	// control (pong, error, speech.started, response.cancelled) and stream
	// (everything else, audio included). A full lane closes the connection
	// as a slow consumer. Paced audio keeps about PlayoutLead of audio, a
	// handful of chunks, queued at most.
	ControlQueue int `yaml:"control_queue"`
	StreamQueue  int `yaml:"stream_queue"`

	// Realtime configures /v1/realtime, the OpenAI Realtime-compatible
	// endpoint (docs/realtime.md). Its zero fields take their values from
	// DefaultRealtimeConfig.
	Realtime RealtimeConfig `yaml:"realtime"`
}

// RealtimeConfig is the settings of /v1/realtime (server.realtime: in the
// file).
type RealtimeConfig struct {
	// Models are the model names a Realtime client may ask for (?model=,
	// or session.model), each with the profile its sessions start from.
	// A name may be a path.Match pattern ("gpt-realtime*"); the first
	// that matches is the profile. A connection without ?model= gets the
	// first profile. Another name is refused: error model_not_found.
	Models []RealtimeModel `yaml:"models"`
	// ClientSecretTTL is how long a key from POST
	// /v1/realtime/client_secrets (ek_…, for a browser) stays valid: the
	// default and the most a request's expires_after may ask for. A key
	// opens one connection.
	ClientSecretTTL time.Duration `yaml:"client_secret_ttl"`
	// MaxClientSecrets caps the keys minted and not yet used or expired;
	// one more is refused with 429 ticket_limit.
	MaxClientSecrets int `yaml:"max_client_secrets"`
	// MaxAppendBytes caps the base64 audio of one
	// input_audio_buffer.append (OpenAI's limit is 15 MiB). A larger one
	// gets error event_too_large; the connection goes on.
	MaxAppendBytes int `yaml:"max_append_bytes"`
	// MaxEventBytes caps every other client event (a session.update with
	// its tools, an item). A larger one gets error event_too_large.
	MaxEventBytes int `yaml:"max_event_bytes"`
}

// RealtimeModel is one model name a Realtime client may ask for and what
// its sessions start with.
type RealtimeModel struct {
	// Name is the model name, or a path.Match pattern of names.
	Name string `yaml:"name"`
	// Instructions open its sessions until session.update sets others.
	// "" means session.system_prompt.
	Instructions string `yaml:"instructions"`
	// Voice is the voice its sessions report (audio.output.voice) until
	// the client names one.
	Voice string `yaml:"voice"`
}

// DefaultRealtimeConfig returns the defaults of RealtimeConfig: the model
// names of OpenAI's Realtime models, so that a client's default model
// works, all with the session's system prompt.
func DefaultRealtimeConfig() RealtimeConfig {
	return RealtimeConfig{
		Models: []RealtimeModel{
			{Name: "gpt-realtime*", Voice: "alloy"},
			{Name: "gpt-4o*realtime*", Voice: "alloy"},
			{Name: "voicegate", Voice: "alloy"},
		},
		ClientSecretTTL:  10 * time.Minute,
		MaxClientSecrets: 1000,
		MaxAppendBytes:   15 << 20,
		MaxEventBytes:    256 << 10,
	}
}

// Validate reports every setting /v1/realtime cannot work with, naming
// its key in the configuration file.
func (c RealtimeConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Models != nil && len(c.Models) == 0 {
		bad("server.realtime.models: give at least one model (leave the key out for the defaults)")
	}
	seen := map[string]bool{}
	for i, m := range c.Models {
		switch _, err := path.Match(m.Name, ""); {
		case m.Name == "":
			bad("server.realtime.models[%d]: a model needs a name", i)
		case err != nil:
			bad("server.realtime.models[%d]: name %q: %v", i, m.Name, err)
		case seen[m.Name]:
			bad("server.realtime.models[%d]: %q is named twice", i, m.Name)
		}
		seen[m.Name] = true
		if len(m.Voice) > 64 {
			bad("server.realtime.models[%d].voice: at most 64 bytes", i)
		}
		if len(m.Instructions) > 64<<10 {
			bad("server.realtime.models[%d].instructions: at most 64 KiB", i)
		}
	}
	if d := c.ClientSecretTTL; d != 0 && (d < 10*time.Second || d > 2*time.Hour) {
		bad("server.realtime.client_secret_ttl %v: use between 10s and 2h", d)
	}
	if c.MaxClientSecrets < 0 {
		bad("server.realtime.max_client_secrets cannot be negative (0 means the default)")
	}
	if n := c.MaxAppendBytes; n != 0 && (n < 4<<10 || n > 64<<20) {
		bad("server.realtime.max_append_bytes must be between 4096 and 67108864 (got %d)", n)
	}
	if n := c.MaxEventBytes; n != 0 && (n < 4<<10 || n > 16<<20) {
		bad("server.realtime.max_event_bytes must be between 4096 and 16777216 (got %d)", n)
	}
	return errors.Join(errs...)
}

// DefaultConfig returns the defaults of Config.
func DefaultConfig() Config {
	return Config{
		MaxSessions:         1000,
		MaxDetachedSessions: 1000,
		MaxSessionsPerIP:    100,
		MaxSessionsPerKey:   1000,
		MaxTickets:          1000,
		SessionRate:         10,
		SessionBurst:        50,
		HeartbeatInterval:   15 * time.Second,
		HeartbeatTimeout:    45 * time.Second,
		StartTimeout:        10 * time.Second,
		WriteTimeout:        10 * time.Second,
		ResumeWindow:        2 * time.Minute,
		MaxFrameBytes:       32 << 10,
		MaxTextBytes:        pipeline.DefaultMaxTextBytes,
		ControlQueue:        32,
		StreamQueue:         128,
		Realtime:            DefaultRealtimeConfig(),
	}
}

// Validate reports every setting the gateway cannot work with, naming its
// key in the configuration file's server: section.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, n := range []struct {
		key string
		v   int
	}{
		{"max_sessions", c.MaxSessions}, {"max_detached_sessions", c.MaxDetachedSessions},
		{"max_sessions_per_ip", c.MaxSessionsPerIP}, {"max_sessions_per_key", c.MaxSessionsPerKey},
		{"session_burst", c.SessionBurst}, {"max_tickets", c.MaxTickets},
	} {
		if n.v < 0 {
			bad("server.%s cannot be negative (got %d; 0 means the default)", n.key, n.v)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"heartbeat_interval", c.HeartbeatInterval}, {"heartbeat_timeout", c.HeartbeatTimeout},
		{"start_timeout", c.StartTimeout}, {"write_timeout", c.WriteTimeout}, {"resume_window", c.ResumeWindow},
	} {
		if d.v < 0 {
			bad("server.%s cannot be negative (got %v)", d.key, d.v)
		}
	}
	if c.SessionRate < 0 {
		bad("server.session_rate cannot be negative (got %v; 0 means the default)", c.SessionRate)
	}
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		bad("server.trusted_proxies: %v", err)
	}
	if c.HeartbeatInterval > 0 && c.HeartbeatTimeout > 0 && c.HeartbeatTimeout <= c.HeartbeatInterval {
		bad("server.heartbeat_timeout (%v) must be longer than server.heartbeat_interval (%v)", c.HeartbeatTimeout, c.HeartbeatInterval)
	}
	if n := c.MaxFrameBytes; n != 0 && (n < 640 || n > 1<<20) {
		bad("server.max_frame_bytes must be between 640 (20 ms at 16 kHz) and 1048576 (got %d)", n)
	}
	if n := c.MaxTextBytes; n != 0 && (n < 16 || n > 1<<20) {
		bad("server.max_text_bytes must be between 16 and 1048576 (got %d)", n)
	}
	if c.ControlQueue < 0 || c.StreamQueue < 0 {
		bad("server.control_queue and server.stream_queue cannot be negative")
	}
	if err := c.Realtime.Validate(); err != nil {
		errs = append(errs, err)
	}
	if t := c.TwilioAuthToken; t != "" && (len(t) < 16 || strings.TrimSpace(t) != t) {
		bad("server.twilio_auth_token: give the account's auth token as the Twilio console shows it (32 characters, no spaces)")
	}
	if err := checkPublicURL(c.PublicURL); err != nil {
		bad("server.public_url: %v", err)
	}
	for _, k := range c.APIKeys {
		if len(k) < 16 {
			bad("server.api_keys: a key has %d characters; use at least 16 (e.g. openssl rand -hex 24)", len(k))
		}
	}
	for _, p := range c.AllowedOrigins {
		if _, err := path.Match(p, ""); err != nil {
			bad("server.allowed_origins: pattern %q: %v", p, err)
		}
	}
	for _, p := range c.AllowedHosts {
		if _, err := path.Match(p, ""); err != nil {
			bad("server.allowed_hosts: pattern %q: %v", p, err)
		} else if strings.ContainsAny(p, ":/") && net.ParseIP(p) == nil {
			bad("server.allowed_hosts: %q: give a host name pattern without scheme or port, e.g. voice.example.com", p)
		}
	}
	return errors.Join(errs...)
}

// checkPublicURL accepts "" or an http(s) URL with a host and at most a
// path, which the request's path follows.
func checkPublicURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q: give an https:// (or http://) URL, e.g. https://voice.example.com", raw)
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q: give the scheme, the host and at most a path prefix, e.g. https://voice.example.com", raw)
	}
	return nil
}

// SessionConfig shapes every conversation. A zero field takes its value
// from DefaultSessionConfig. The yaml keys are those of the session:
// section of voicegate's configuration file.
type SessionConfig struct {
	// SystemPrompt opens every conversation.
	SystemPrompt string `yaml:"system_prompt"`
	// MaxHistory is how many messages a conversation remembers.
	MaxHistory int `yaml:"max_history"`
	// MaxHistoryBytes caps the text a conversation remembers (the
	// messages' contents, not the system prompt); the oldest messages go
	// first. The newest exchange is always kept, even over the cap.
	MaxHistoryBytes int `yaml:"max_history_bytes"`
	// OutputRate is the reply audio's sample rate when session.start does
	// not ask for one. Default 0: the synthesizer's rate.
	OutputRate int `yaml:"output_sample_rate"`
	// PlayoutLead is how far reply audio may run ahead of real time
	// (pipeline.Config.PlayoutLead); < 0 sends unpaced.
	PlayoutLead time.Duration `yaml:"playout_lead"`
	// Language is the BCP 47 tag of the language the main providers and
	// SystemPrompt serve: a session.start without a language gets it.
	// Options.Languages adds others.
	Language string `yaml:"language"`
	// Turn tunes barge-in and the end of the user's turn in every
	// session (pipeline.TurnConfig); the configuration file's turn:
	// section, not session:.
	Turn TurnConfig `yaml:"-"`
}

// TurnConfig is pipeline.TurnConfig: how sessions forgive speech over a
// reply and find the end of the user's turn (the turn: section of
// voicegate's configuration file).
type TurnConfig = pipeline.TurnConfig

// DefaultSessionConfig returns the defaults of SessionConfig.
func DefaultSessionConfig() SessionConfig {
	return SessionConfig{
		SystemPrompt: "You are a helpful voice assistant. Answer in one to three short, spoken sentences. " +
			"Do not use markdown, lists or emoji.",
		MaxHistory:      pipeline.DefaultMaxHistory,
		MaxHistoryBytes: pipeline.DefaultMaxHistoryBytes,
		PlayoutLead:     pipeline.DefaultPlayoutLead,
		Language:        "en",
		Turn:            pipeline.DefaultTurnConfig(),
	}
}

// Validate reports settings no session can work with, naming the key in
// the configuration file's session: section.
func (c SessionConfig) Validate() error {
	var errs []error
	if r := c.OutputRate; r != 0 && !audio.IsSupportedRate(r) {
		errs = append(errs, fmt.Errorf("session.output_sample_rate %d: use 0 (the synthesizer's rate) or one of %v", r, audio.SupportedRates))
	}
	if c.MaxHistory < 0 {
		errs = append(errs, errors.New("session.max_history cannot be negative"))
	}
	if c.MaxHistoryBytes < 0 {
		errs = append(errs, errors.New("session.max_history_bytes cannot be negative"))
	}
	if l := normalizeLanguage(c.Language); l != "" && !validLanguage(l) {
		errs = append(errs, fmt.Errorf("session.language %q: give a BCP 47 language tag such as en or zh", c.Language))
	}
	errs = append(errs, c.Turn.Validate())
	return errors.Join(errs...)
}

// MaxServerTools caps Options.Tools: with the client's (at most
// protocol.MaxTools) they stay within what a session offers the model
// (pipeline.MaxTools).
const MaxServerTools = pipeline.MaxTools - protocol.MaxTools

// checkTools checks the operator's tools once, rather than in every
// session.
func checkTools(tools []pipeline.Tool) error {
	if len(tools) > MaxServerTools {
		return fmt.Errorf("gateway: %d tools, limit %d", len(tools), MaxServerTools)
	}
	seen := make(map[string]bool, len(tools))
	for _, t := range tools {
		switch {
		case t.Name == "" || t.Call == nil:
			return fmt.Errorf("gateway: tool %q needs a name and a Call", t.Name)
		case seen[t.Name]:
			return fmt.Errorf("gateway: two tools named %q", t.Name)
		}
		seen[t.Name] = true
	}
	return nil
}

func (o *Options) setDefaults() error {
	if o.Stages.LLM == nil {
		return errors.New("gateway: Options.Stages.LLM is required")
	}
	if err := errors.Join(o.Config.Validate(), o.SessionConfig.Validate(), o.VAD.Validate()); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if err := checkTools(o.Tools); err != nil {
		return err
	}
	if _, ok := o.Stages.LLM.(pipeline.ToolGenerator); len(o.Tools) > 0 && !ok {
		o.Logger.Warn("the language model cannot call tools: Options.Tools will not be offered", zap.String("llm", pipeline.NameOf(o.Stages.LLM)))
	}
	if o.VADName == "" {
		o.VADName = "energy"
	}
	fillZero(&o.Realtime, DefaultRealtimeConfig()) // field by field, before Config's own
	fillZero(&o.Config, DefaultConfig())
	fillZero(&o.SessionConfig, DefaultSessionConfig())
	o.VAD = o.VAD.WithDefaults()
	if err := o.buildLanguages(); err != nil {
		return err
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
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = 2 * time.Second
	}
	if o.ClusterInterval <= 0 {
		o.ClusterInterval = time.Second
	}
	if o.ContentHasher == nil {
		o.ContentHasher = pipeline.NewRandomContentHasher()
	}
	for _, k := range o.APIKeys {
		if k == "" {
			return errors.New("gateway: APIKeys holds an empty key")
		}
	}
	return nil
}

// fillZero sets every zero field of the struct *dst to that field of def,
// so that a settings struct states each default once, in its Default
// function.
func fillZero[T any](dst *T, def T) {
	d, v := reflect.ValueOf(dst).Elem(), reflect.ValueOf(def)
	for i := range d.NumField() {
		if f := d.Field(i); f.IsZero() {
			f.Set(v.Field(i))
		}
	}
}

// textFrameLimit is the largest text frame read: input.text at its limit,
// every byte JSON-escaped as \u00XX, plus room for the envelope.
func (o *Options) textFrameLimit() int { return 6*o.MaxTextBytes + 1024 }
