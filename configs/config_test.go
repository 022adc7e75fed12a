package configs

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestExampleLoads(t *testing.T) {
	cfg := Default()
	if err := Parse(Example, &cfg); err != nil {
		t.Fatalf("example config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example config invalid: %v", err)
	}
	def := Default()
	if cfg.Server.Addr != def.Server.Addr || cfg.VAD.Silence != def.VAD.Silence || cfg.Providers.ASR[0].Name != "pocketsphinx" {
		t.Fatalf("example disagrees with the defaults: %+v", cfg)
	}
	if zh, ok := cfg.Languages["zh"]; !ok || len(zh.ASR) != 0 || len(zh.TTS) != 1 || zh.TTS[0].Name != "espeakng" || zh.SystemPrompt == "" {
		t.Fatalf("example's languages.zh: %+v", cfg.Languages)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "empty keeps defaults", yaml: "", check: func(t *testing.T, c Config) {
			if c.Server.MaxSessions != 1000 {
				t.Fatal(c.Server.MaxSessions)
			}
		}},
		{name: "durations", yaml: "vad: {silence: 300ms}\nserver: {resume_window: 1m}", check: func(t *testing.T, c Config) {
			if c.VAD.Silence != 300*time.Millisecond || c.Server.ResumeWindow != time.Minute {
				t.Fatal(c.VAD.Silence, c.Server.ResumeWindow)
			}
		}},
		{name: "unknown key", yaml: "server: {adress: x}", wantErr: "field adress not found"},
		{name: "bad duration", yaml: "vad: {silence: 5}", wantErr: "into time.Duration"},
		{name: "duration typo", yaml: "vad: {silence: 5 ms}", wantErr: "time.Duration"},
		{name: "provider without name", yaml: "providers: {llm: [{model: x}]}", wantErr: "no name"},
		{name: "provider list replaces stage", yaml: "providers: {llm: [{name: openai, model: m}, {name: echo}]}", check: func(t *testing.T, c Config) {
			if len(c.Providers.LLM) != 2 || c.Providers.LLM[0].Name != "openai" || c.Providers.ASR[0].Name != "pocketsphinx" {
				t.Fatalf("%+v", c.Providers)
			}
			var s struct {
				Model string `yaml:"model"`
			}
			if err := c.Providers.LLM[0].Decode(&s); err != nil || s.Model != "m" {
				t.Fatal(s, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := Parse([]byte(tt.yaml), &c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestProviderDecodeStrict(t *testing.T) {
	c := Default()
	if err := Parse([]byte("providers: {tts: [{name: tone, latncy: 1s}]}"), &c); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Latency time.Duration `yaml:"latency"`
	}
	err := c.Providers.TTS[0].Decode(&s)
	if err == nil || !strings.Contains(err.Error(), `provider "tone"`) || !strings.Contains(err.Error(), "latncy") {
		t.Fatalf("error %v, want one naming the provider and the key", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"short api key", func(c *Config) { c.Server.APIKeys = []string{"abc"} }, "at least 16"},
		{"heartbeat", func(c *Config) { c.Server.HeartbeatTimeout = c.Server.HeartbeatInterval }, "heartbeat_timeout"},
		{"rate", func(c *Config) { c.Session.OutputRate = 11025 }, "output_sample_rate 11025"},
		{"level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"no llm", func(c *Config) { c.Providers.LLM = nil }, "providers.llm is empty"},
		{"two vads", func(c *Config) { c.Providers.VAD = []Provider{{Name: "energy"}, {Name: "silero"}} }, "providers.vad lists 2 providers"},
		{"silence", func(c *Config) { c.VAD.Silence = 10 * time.Millisecond }, "vad.silence"},
		{"trusted proxy", func(c *Config) { c.Server.TrustedProxies = []string{"10.0.0.0/33"} }, "server.trusted_proxies"},
		{"per-ip cap", func(c *Config) { c.Server.MaxSessionsPerIP = -1 }, "server.max_sessions_per_ip"},
		{"session rate", func(c *Config) { c.Server.SessionRate = -1 }, "server.session_rate"},
		{"history bytes", func(c *Config) { c.Session.MaxHistoryBytes = -1 }, "session.max_history_bytes"},
		{"no admin address", func(c *Config) { c.Server.AdminAddr = "" }, `"off" for no admin listener`},
		{"pprof without admin", func(c *Config) { c.Server.AdminAddr, c.Server.Pprof = AdminOff, true }, "server.pprof"},
		{"host with a port", func(c *Config) { c.Server.AllowedHosts = []string{"voice.lan:8080"} }, "server.allowed_hosts"},
		{"negative tickets", func(c *Config) { c.Server.MaxTickets = -1 }, "server.max_tickets"},
		{"tls cert without key", func(c *Config) { c.Server.TLSCert = "/etc/voicegate/cert.pem" }, "server.tls_cert and server.tls_key go together"},
		{"tls key without cert", func(c *Config) { c.Server.TLSKey = "/etc/voicegate/key.pem" }, "server.tls_cert and server.tls_key go together"},
		{"store kind", func(c *Config) { c.Store.Kind = "etcd" }, "store.kind"},
		{"file store without path", func(c *Config) { c.Store.Kind = StoreKindFile }, "store.file.path"},
		{"two session files", func(c *Config) {
			c.Store.Kind, c.Store.File.Path, c.Server.SessionFile = StoreKindFile, "/var/lib/a.json", "/var/lib/b.json"
		}, "name different files"},
		{"redis without url", func(c *Config) { c.Store.Kind = StoreKindRedis }, "store.redis.url is required"},
		{"redis and a session file", func(c *Config) {
			c.Store.Kind, c.Store.Redis.URL, c.Server.SessionFile = StoreKindRedis, "redis://127.0.0.1:6379", "/var/lib/a.json"
		}, "remove server.session_file"},
		{"default language in languages", func(c *Config) {
			c.Languages = map[string]Language{"EN_us": {}, "zh": {}}
			c.Session.Language = "en-US"
		}, "languages.EN_us: EN_us is session.language"},
		{"session language", func(c *Config) { c.Session.Language = "english please" }, "session.language"},
		{"language prompt", func(c *Config) {
			c.Languages = map[string]Language{"zh": {SystemPrompt: strings.Repeat("长", 22<<10)}}
		}, "languages.zh.system_prompt"},
		{"redis scheme", func(c *Config) { c.Store.Kind, c.Store.Redis.URL = StoreKindRedis, "tcp://127.0.0.1:6379" }, "store.redis.url: scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestSessionFileAlias: the deprecated server.session_file still selects
// the session file, and says so; store.file.path does with store.kind
// file.
func TestSessionFileAlias(t *testing.T) {
	for _, tt := range []struct {
		name       string
		change     func(c *Config)
		file       string
		deprecated bool
	}{
		{"default", func(*Config) {}, "", false},
		{"server.session_file", func(c *Config) { c.Server.SessionFile = "/var/lib/old.json" }, "/var/lib/old.json", true},
		{"store.file", func(c *Config) { c.Store.Kind, c.Store.File.Path = StoreKindFile, "/var/lib/new.json" }, "/var/lib/new.json", false},
		{"both, the same", func(c *Config) {
			c.Store.Kind, c.Store.File.Path, c.Server.SessionFile = StoreKindFile, "/var/lib/new.json", "/var/lib/new.json"
		}, "/var/lib/new.json", true},
		{"redis", func(c *Config) { c.Store.Kind, c.Store.Redis.URL = StoreKindRedis, "redis://127.0.0.1:6379" }, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := c.SessionFile(); got != tt.file {
				t.Errorf("SessionFile() = %q, want %q", got, tt.file)
			}
			if got := len(c.Deprecated()) > 0; got != tt.deprecated {
				t.Errorf("Deprecated() = %v", c.Deprecated())
			}
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	env := map[string]string{"VOICEGATE_ADDR": "0.0.0.0:9000", "VOICEGATE_ADMIN_ADDR": "off", "VOICEGATE_API_KEYS": "0123456789abcdef, fedcba9876543210", "VOICEGATE_LOG_LEVEL": "debug", "VOICEGATE_REDIS_URL": "redis://:pw@10.0.0.5:6379/2"}
	c, err := Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "0.0.0.0:9000" || c.Server.AdminAddr != AdminOff || len(c.Server.APIKeys) != 2 || c.Server.APIKeys[1] != "fedcba9876543210" || c.Log.Level != "debug" {
		t.Fatalf("%+v %+v", c.Server, c.Log)
	}
	if c.Store.Redis.URL != "redis://:pw@10.0.0.5:6379/2" {
		t.Errorf("store.redis.url not taken from VOICEGATE_REDIS_URL")
	}
}

// TestExampleMatchesDefault keeps the annotated example and Default() in
// step key by key: every setting Default() has is documented in the
// example, the example has no key Default() lacks, and every value the
// example shows is the default.
func TestExampleMatchesDefault(t *testing.T) {
	keys := func(t *testing.T, doc []byte) map[string]bool {
		var root yaml.Node
		if err := yaml.Unmarshal(doc, &root); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		var walk func(prefix string, n *yaml.Node)
		walk = func(prefix string, n *yaml.Node) {
			if n.Kind == yaml.DocumentNode {
				walk(prefix, n.Content[0])
				return
			}
			for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
				k := prefix + n.Content[i].Value
				if k == "providers" || k == "languages" {
					continue // lists of kinds, each with its own settings; languages by tag
				}
				out[k] = true
				walk(k+".", n.Content[i+1])
			}
		}
		walk("", &root)
		return out
	}
	def, err := yaml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	inDefault, inExample := keys(t, def), keys(t, Example)
	for k := range inDefault {
		if !inExample[k] {
			t.Errorf("%s has a default but no line in voicegate.example.yaml", k)
		}
	}
	for k := range inExample {
		if !inDefault[k] {
			t.Errorf("voicegate.example.yaml documents %s, which Config does not have", k)
		}
	}

	var fromExample Config // decoded over zero values: only what the example says
	if err := Parse(Example, &fromExample); err != nil {
		t.Fatal(err)
	}
	want := Default()
	fromExample.Providers, want.Providers = Providers{}, Providers{}
	fromExample.Languages, want.Languages = nil, nil // the example's are an example, not defaults
	got, _ := yaml.Marshal(fromExample)
	wantYAML, _ := yaml.Marshal(want) // nil and empty lists both read as []
	if string(got) != string(wantYAML) {
		t.Errorf("the example's values differ from Default():\nexample:\n%s\ndefault:\n%s", got, wantYAML)
	}
}

// FuzzParse checks the loader on any file: no panic, an error or a config;
// and a config that validates survives a round trip through YAML unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte("server: {addr: 127.0.0.1:8080}\nvad: {silence: 500ms}\nproviders: {asr: [{name: pocketsphinx}]}\n"))
	for _, s := range []string{
		"", "server: {addr: ':8080', max_sessions: 5}", "vad: {silence: 300ms}", "vad: {silence: 5}",
		"providers: {llm: [{name: openai, model: m, base_url: 'http://x/v1'}, {name: echo}]}",
		"providers: {llm: [{model: x}]}", "session: {playout_lead: -1s}", "[1, 2]", "server: &a {addr: *a}",
		"log: {level: debug, format: json}", "server:\n  api_keys: [0123456789abcdef]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		cfg := Default()
		if err := Parse(doc, &cfg); err != nil || cfg.Validate() != nil {
			return
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("a valid config does not marshal: %v", err)
		}
		again := Default()
		if err := Parse(out, &again); err != nil {
			t.Fatalf("re-parsing\n%s\nfailed: %v", out, err)
		}
		if err := again.Validate(); err != nil {
			t.Fatalf("re-parsed config invalid: %v\n%s", err, out)
		}
		if out2, _ := yaml.Marshal(again); string(out2) != string(out) {
			t.Fatalf("round trip changed the config:\n%s\n---\n%s", out, out2)
		}
	})
}
