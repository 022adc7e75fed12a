// Package configs loads voicegate's configuration: built-in defaults, then a
// YAML file decoded strictly (an unknown key is an error), then environment
// overrides, then Validate. voicegate.example.yaml documents every key.
package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Example is the annotated example configuration.
//
//go:embed voicegate.example.yaml
var Example []byte

// Duration is a time.Duration written as "300ms", "2m".
type Duration time.Duration

// UnmarshalYAML accepts a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as \"500ms\": %w", n.Line, err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use forms like 500ms, 30s, 2m)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is the whole configuration.
type Config struct {
	Server    Server    `yaml:"server"`
	Log       Log       `yaml:"log"`
	Session   Session   `yaml:"session"`
	VAD       VAD       `yaml:"vad"`
	Providers Providers `yaml:"providers"`
}

// Server configures the listener, access control and connection limits.
type Server struct {
	Addr              string   `yaml:"addr"`               // default 127.0.0.1:8080; env VOICEGATE_ADDR
	APIKeys           []string `yaml:"api_keys"`           // empty: no key needed; env VOICEGATE_API_KEYS (comma-separated)
	AllowedOrigins    []string `yaml:"allowed_origins"`    // extra Origins allowed besides the server's own host
	MaxSessions       int      `yaml:"max_sessions"`       // default 1000
	HeartbeatInterval Duration `yaml:"heartbeat_interval"` // default 15s
	HeartbeatTimeout  Duration `yaml:"heartbeat_timeout"`  // default 45s
	ResumeWindow      Duration `yaml:"resume_window"`      // default 2m
	SessionFile       string   `yaml:"session_file"`       // save sessions here on shutdown, resume them after a restart; default none
	DrainTimeout      Duration `yaml:"drain_timeout"`      // default 10s
	MaxFrameBytes     int      `yaml:"max_frame_bytes"`    // default 32768
	MaxTextBytes      int      `yaml:"max_text_bytes"`     // default 4096
	Pprof             bool     `yaml:"pprof"`              // serve /debug/pprof; default false
}

// Log configures logging.
type Log struct {
	Level      string `yaml:"level"`       // debug, info, warn, error; default info; env VOICEGATE_LOG_LEVEL
	Format     string `yaml:"format"`      // console or json; default console
	LogContent bool   `yaml:"log_content"` // log transcripts and replies in clear; default false (hashed)
}

// Session configures every conversation.
type Session struct {
	SystemPrompt     string   `yaml:"system_prompt"`
	MaxHistory       int      `yaml:"max_history"`        // messages kept; default 40
	OutputSampleRate int      `yaml:"output_sample_rate"` // default: the synthesizer's rate
	PlayoutLead      Duration `yaml:"playout_lead"`       // reply audio sent ahead of real time; default 500ms
}

// VAD configures voice activity detection and endpointing.
type VAD struct {
	Silence       Duration `yaml:"silence"`        // default 500ms
	MinSpeech     Duration `yaml:"min_speech"`     // default 100ms
	PrefixPadding Duration `yaml:"prefix_padding"` // default 300ms
	MaxUtterance  Duration `yaml:"max_utterance"`  // default 30s
	ThresholdDB   float64  `yaml:"threshold_db"`   // default 10
}

// Providers lists each stage's providers; more than one is a fallback chain,
// tried in order.
type Providers struct {
	ASR []Provider `yaml:"asr"`
	LLM []Provider `yaml:"llm"`
	TTS []Provider `yaml:"tts"`
}

// Provider is one provider entry: its kind in Name and the kind's own
// settings, which the composition root decodes strictly with Decode.
type Provider struct {
	Name string
	node yaml.Node
}

// UnmarshalYAML keeps the node for Decode.
func (p *Provider) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a provider is a mapping with a name, e.g. {name: openai, model: gpt-4o-mini}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" {
			p.Name = n.Content[i+1].Value
		}
	}
	if p.Name == "" {
		return fmt.Errorf("line %d: provider has no name", n.Line)
	}
	p.node = *n
	return nil
}

// MarshalYAML writes the provider back as it was given.
func (p Provider) MarshalYAML() (any, error) {
	if p.node.Kind == 0 {
		return map[string]string{"name": p.Name}, nil
	}
	return &p.node, nil
}

// Decode decodes the provider's settings (all but name) into v strictly:
// a key v does not have is an error naming the provider.
func (p Provider) Decode(v any) error {
	if p.node.Kind == 0 {
		return nil
	}
	rest := yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(p.node.Content); i += 2 {
		if p.node.Content[i].Value != "name" {
			rest.Content = append(rest.Content, p.node.Content[i], p.node.Content[i+1])
		}
	}
	b, err := yaml.Marshal(&rest)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("provider %q (line %d): %w", p.Name, p.node.Line, err)
	}
	return nil
}

// Line returns the provider's line in the file, or 0.
func (p Provider) Line() int { return p.node.Line }

// Default returns the built-in configuration: the offline voice loop.
func Default() Config {
	return Config{
		Server: Server{
			Addr: "127.0.0.1:8080", MaxSessions: 1000,
			HeartbeatInterval: Duration(15 * time.Second), HeartbeatTimeout: Duration(45 * time.Second),
			ResumeWindow: Duration(2 * time.Minute), DrainTimeout: Duration(10 * time.Second),
			MaxFrameBytes: 32768, MaxTextBytes: 4096,
		},
		Log: Log{Level: "info", Format: "console"},
		Session: Session{
			SystemPrompt: "You are a helpful voice assistant. Answer in one to three short, spoken sentences. Do not use markdown, lists or emoji.",
			MaxHistory:   40,
			PlayoutLead:  Duration(500 * time.Millisecond),
		},
		VAD: VAD{
			Silence: Duration(500 * time.Millisecond), MinSpeech: Duration(100 * time.Millisecond),
			PrefixPadding: Duration(300 * time.Millisecond), MaxUtterance: Duration(30 * time.Second), ThresholdDB: 10,
		},
		Providers: Providers{
			ASR: []Provider{{Name: "pocketsphinx"}},
			LLM: []Provider{{Name: "echo"}},
			TTS: []Provider{{Name: "flite"}},
		},
	}
}

// Load returns the configuration from path ("" for none) over the defaults,
// with environment overrides from getenv (nil for os.Getenv), validated.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := Parse(b, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	applyEnv(&cfg, getenv)
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// Parse decodes YAML b over cfg strictly. Stages a file names replace the
// defaults' providers for that stage; stages it leaves out keep them.
func Parse(b []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func applyEnv(cfg *Config, getenv func(string) string) {
	if v := getenv("VOICEGATE_ADDR"); v != "" {
		cfg.Server.Addr = v
	}
	if v := getenv("VOICEGATE_API_KEYS"); v != "" {
		cfg.Server.APIKeys = nil
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				cfg.Server.APIKeys = append(cfg.Server.APIKeys, k)
			}
		}
	}
	if v := getenv("VOICEGATE_LOG_LEVEL"); v != "" {
		cfg.Log.Level = v
	}
}

// Validate reports every problem at once, each with what to change.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Server.Addr == "" {
		bad("server.addr is empty; set it like 127.0.0.1:8080 or :8080")
	}
	if c.Server.MaxSessions < 1 {
		bad("server.max_sessions must be at least 1 (got %d)", c.Server.MaxSessions)
	}
	if c.Server.HeartbeatInterval.D() <= 0 || c.Server.HeartbeatTimeout.D() <= c.Server.HeartbeatInterval.D() {
		bad("server.heartbeat_timeout (%v) must be longer than server.heartbeat_interval (%v), both positive",
			c.Server.HeartbeatTimeout.D(), c.Server.HeartbeatInterval.D())
	}
	if c.Server.ResumeWindow.D() < 0 || c.Server.DrainTimeout.D() < 0 {
		bad("server.resume_window and server.drain_timeout cannot be negative")
	}
	if c.Server.MaxFrameBytes < 640 || c.Server.MaxFrameBytes > 1<<20 {
		bad("server.max_frame_bytes must be between 640 (20 ms at 16 kHz) and 1048576 (got %d)", c.Server.MaxFrameBytes)
	}
	if c.Server.MaxTextBytes < 16 || c.Server.MaxTextBytes > 1<<20 {
		bad("server.max_text_bytes must be between 16 and 1048576 (got %d)", c.Server.MaxTextBytes)
	}
	for _, k := range c.Server.APIKeys {
		if len(k) < 16 {
			bad("server.api_keys: a key has %d characters; use at least 16 (e.g. openssl rand -hex 24)", len(k))
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: use debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "console", "json":
	default:
		bad("log.format %q: use console or json", c.Log.Format)
	}
	if r := c.Session.OutputSampleRate; r != 0 && !supportedRate(r) {
		bad("session.output_sample_rate %d: use 0 (the synthesizer's rate) or one of 8000, 16000, 22050, 24000, 44100, 48000", r)
	}
	if c.Session.MaxHistory < 0 {
		bad("session.max_history cannot be negative")
	}
	v := c.VAD
	if v.Silence.D() < 100*time.Millisecond || v.Silence.D() > 5*time.Second {
		bad("vad.silence %v: use between 100ms and 5s (500ms suits conversation)", v.Silence.D())
	}
	if v.MinSpeech.D() < 0 || v.PrefixPadding.D() < 0 || v.MaxUtterance.D() < 0 || v.ThresholdDB < 0 {
		bad("vad: durations and threshold_db cannot be negative")
	}
	for stage, list := range map[string][]Provider{"asr": c.Providers.ASR, "llm": c.Providers.LLM, "tts": c.Providers.TTS} {
		if len(list) == 0 {
			bad("providers.%s is empty; list at least one provider", stage)
		}
	}
	return errors.Join(errs...)
}

func supportedRate(r int) bool {
	switch r {
	case 8000, 16000, 22050, 24000, 44100, 48000:
		return true
	}
	return false
}
