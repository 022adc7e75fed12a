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

	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/redisstore"
	"github.com/voicegate/voicegate/providers/cache"
)

// Example is the annotated example configuration.
//
//go:embed voicegate.example.yaml
var Example []byte

// Config is the whole configuration. Its sections are the option structs
// of the packages that use them, so each setting is declared, documented
// and given its default once, beside the code it tunes: gateway.Config
// (server:), gateway.SessionConfig (session:), vad.Config (vad:),
// gateway.TurnConfig (turn:, handed to the gateway as Session.Turn),
// cache.Config (cache:).
// Durations are written as Go durations: "300ms", "15s", "2m".
type Config struct {
	Server    Server                `yaml:"server"`
	Log       Log                   `yaml:"log"`
	Session   gateway.SessionConfig `yaml:"session"`
	Store     Store                 `yaml:"store"`
	VAD       vad.Config            `yaml:"vad"`
	Turn      gateway.TurnConfig    `yaml:"turn"`
	Providers Providers             `yaml:"providers"`
	Languages map[string]Language   `yaml:"languages"`
	Cache     cache.Config          `yaml:"cache"`
}

// Language is one language's section under languages: (keyed by its BCP 47
// tag, e.g. zh): what a session in it runs on besides the main providers.
// A stage left empty is served by providers:; system_prompt "" is
// session.system_prompt. session.language names the main providers' own
// language.
type Language struct {
	SystemPrompt string     `yaml:"system_prompt"`
	ASR          []Provider `yaml:"asr"`
	LLM          []Provider `yaml:"llm"`
	TTS          []Provider `yaml:"tts"`
}

// Store is where resumable sessions are kept (store:).
type Store struct {
	// Kind is memory (this process only), file (this process, and across
	// its restarts: File) or redis (shared by every node behind one load
	// balancer: Redis).
	Kind  string            `yaml:"kind"`
	File  StoreFile         `yaml:"file"`
	Redis redisstore.Config `yaml:"redis"`
}

// The kinds of store.
const (
	StoreKindMemory = "memory"
	StoreKindFile   = "file"
	StoreKindRedis  = "redis"
)

// StoreFile is store.file:.
type StoreFile struct {
	// Path is the session file (gateway.Config.SessionFile says how it is
	// kept).
	Path string `yaml:"path"`
}

// SessionFile is the session file the configuration asks for: store.file.path
// with store.kind file, else the deprecated server.session_file, else "".
func (c Config) SessionFile() string {
	if c.Store.Kind == StoreKindFile {
		return c.Store.File.Path
	}
	return c.Server.SessionFile
}

// Deprecated lists the settings in use that are kept for compatibility,
// each with what replaces it, for the start-up log.
func (c Config) Deprecated() []string {
	if c.Server.SessionFile != "" {
		return []string{"server.session_file: use store.kind file with store.file.path"}
	}
	return nil
}

// Server is the listener and process settings beside the gateway's own.
type Server struct {
	Addr string `yaml:"addr"` // env VOICEGATE_ADDR
	// AllowUnauthenticated lets the server listen on an address other than
	// loopback without api_keys, serving anyone who can reach it. Without
	// it, such a configuration is refused at start-up.
	AllowUnauthenticated bool `yaml:"allow_unauthenticated"`
	// AdminAddr is the operators' listener: /metrics, and /debug/pprof with
	// Pprof. It has no authentication. "off": none. Env VOICEGATE_ADMIN_ADDR.
	AdminAddr    string        `yaml:"admin_addr"`
	DrainTimeout time.Duration `yaml:"drain_timeout"` // on SIGTERM, how long sessions get to finish
	Pprof        bool          `yaml:"pprof"`         // serve /debug/pprof on the admin listener
	// TLSCert and TLSKey are the paths of a PEM certificate (chain first,
	// leaf on top) and its private key: with both set, the public listener
	// serves HTTPS and wss:// only, TLS 1.2 or newer, and reads both files
	// again on SIGHUP. Default "" (plain HTTP: on loopback, or behind a
	// proxy that terminates TLS). The admin listener stays plain HTTP.
	TLSCert        string `yaml:"tls_cert"`
	TLSKey         string `yaml:"tls_key"`
	gateway.Config `yaml:",inline"`
}

// AdminOff is the AdminAddr that disables the admin listener.
const AdminOff = "off"

// Log configures logging.
type Log struct {
	Level      string `yaml:"level"`       // debug, info, warn, error; env VOICEGATE_LOG_LEVEL
	Format     string `yaml:"format"`      // console or json
	LogContent bool   `yaml:"log_content"` // log transcripts and replies in clear (default: their keyed fingerprints)
	// ContentKeyFile is the path of a file holding the key (16 bytes or
	// more, whitespace trimmed) of the fingerprints, so that they match
	// across restarts and instances. Empty: a random key per process.
	ContentKeyFile string `yaml:"content_key_file"`
}

// Providers lists each stage's providers; more than one is a fallback chain,
// tried in order.
type Providers struct {
	ASR []Provider `yaml:"asr"`
	LLM []Provider `yaml:"llm"`
	TTS []Provider `yaml:"tts"`
	// VAD is the voice activity model, one entry: energy (the default,
	// the level detector) or silero; vad: tunes the endpointing of either.
	VAD []Provider `yaml:"vad"`
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
			Addr:         "127.0.0.1:8080",
			AdminAddr:    "127.0.0.1:9090",
			DrainTimeout: 10 * time.Second,
			Config:       gateway.DefaultConfig(),
		},
		Log:     Log{Level: "info", Format: "console"},
		Session: gateway.DefaultSessionConfig(),
		Store:   Store{Kind: StoreKindMemory, Redis: redisstore.DefaultConfig()},
		VAD:     vad.DefaultConfig(),
		Turn:    gateway.DefaultSessionConfig().Turn,
		Providers: Providers{
			ASR: []Provider{{Name: "pocketsphinx"}},
			LLM: []Provider{{Name: "echo"}},
			TTS: []Provider{{Name: "piper"}},
			VAD: []Provider{{Name: "silero"}},
		},
		Cache: cache.DefaultConfig(),
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
	cfg.Session.Turn = cfg.Turn // the sessions' settings, from their own section
	return nil
}

func applyEnv(cfg *Config, getenv func(string) string) {
	if v := getenv("VOICEGATE_ADDR"); v != "" {
		cfg.Server.Addr = v
	}
	if v := getenv("VOICEGATE_ADMIN_ADDR"); v != "" {
		cfg.Server.AdminAddr = v
	}
	if v := getenv("VOICEGATE_API_KEYS"); v != "" {
		cfg.Server.APIKeys = nil
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				cfg.Server.APIKeys = append(cfg.Server.APIKeys, k)
			}
		}
	}
	if v := getenv("VOICEGATE_TWILIO_AUTH_TOKEN"); v != "" {
		cfg.Server.TwilioAuthToken = strings.TrimSpace(v)
	}
	if v := getenv("VOICEGATE_CACHE_REDIS_URL"); v != "" {
		cfg.Cache.Redis.URL = strings.TrimSpace(v)
	}
	if v := getenv("VOICEGATE_REDIS_URL"); v != "" {
		cfg.Store.Redis.URL = strings.TrimSpace(v)
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
	if c.Server.AdminAddr == "" {
		bad("server.admin_addr is empty; set it like 127.0.0.1:9090, or %q for no admin listener", AdminOff)
	}
	if c.Server.Pprof && c.Server.AdminAddr == AdminOff {
		bad("server.pprof is served on the admin listener, which server.admin_addr turns off")
	}
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		bad("server.tls_cert and server.tls_key go together: set both (HTTPS) or neither (plain HTTP)")
	}
	if c.Server.DrainTimeout < 0 {
		bad("server.drain_timeout cannot be negative")
	}
	errs = append(errs, c.Server.Config.Validate(), c.Session.Validate(), c.VAD.Validate(), c.Cache.Validate())
	switch c.Store.Kind {
	case StoreKindMemory:
	case StoreKindFile:
		if c.Store.File.Path == "" {
			bad("store.kind file needs store.file.path, e.g. /var/lib/voicegate/sessions.json")
		}
		if c.Server.SessionFile != "" && c.Server.SessionFile != c.Store.File.Path {
			bad("server.session_file (deprecated) and store.file.path name different files; keep store.file.path only")
		}
	case StoreKindRedis:
		if c.Server.SessionFile != "" {
			bad("server.session_file keeps one node's sessions; with store.kind redis they are in Redis: remove server.session_file")
		}
		if err := c.Store.Redis.Validate(); err != nil {
			errs = append(errs, err)
		}
	default:
		bad("store.kind %q: use memory, file or redis", c.Store.Kind)
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
	for stage, list := range map[string][]Provider{"asr": c.Providers.ASR, "llm": c.Providers.LLM, "tts": c.Providers.TTS} {
		if len(list) == 0 {
			bad("providers.%s is empty; list at least one provider", stage)
		}
	}
	if len(c.Providers.VAD) > 1 {
		bad("providers.vad lists %d providers; it takes one (energy or silero), with no fallback", len(c.Providers.VAD))
	}
	if len(c.Languages) > gateway.MaxLanguages {
		bad("languages: %d languages; at most %d", len(c.Languages), gateway.MaxLanguages)
	}
	for tag, l := range c.Languages {
		if strings.EqualFold(strings.ReplaceAll(tag, "_", "-"), strings.ReplaceAll(c.Session.Language, "_", "-")) {
			bad("languages.%s: %s is session.language, which providers: and session.system_prompt serve; remove the section or change session.language", tag, tag)
		}
		if len(l.SystemPrompt) > 64<<10 {
			bad("languages.%s.system_prompt: at most 64 KiB", tag)
		}
	}
	return errors.Join(errs...)
}
