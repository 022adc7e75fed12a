package httpx

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is how one HTTP provider is reached. The zero value of every field
// but BaseURL means its documented default. Providers embed it inline, so in
// YAML its keys sit beside the provider's own (model, voice, ...).
//
// Sizing: MaxConcurrency ≈ target QPS × typical call latency (seconds) × 1.3.
// A gateway that starts 20 LLM replies a second, each streaming for 1.5 s,
// wants about 20 × 1.5 × 1.3 ≈ 40. MaxIdleConnsPerHost defaults to the same
// number so that the pool keeps every connection a burst opened.
type Config struct {
	// Name labels the provider in logs and errors, e.g. "openai" or "groq".
	Name string `yaml:"name"`
	// BaseURL is the API root including the version, e.g.
	// https://api.openai.com/v1 or http://localhost:11434/v1. Required.
	BaseURL string `yaml:"base_url"`

	// At most one of APIKey, APIKeyEnv, APIKeyFile and OAuth2 may be set; with
	// none, requests carry no Authorization header (a local server).
	APIKey     Secret `yaml:"api_key"`      // the key itself; prefer the two below
	APIKeyEnv  string `yaml:"api_key_env"`  // name of an environment variable holding the key
	APIKeyFile string `yaml:"api_key_file"` // path of a file holding the key (whitespace trimmed)
	// OAuth2 fetches bearer tokens with the client-credentials grant.
	OAuth2 *OAuth2Config `yaml:"oauth2"`
	// Headers are added to every request, e.g. OpenAI-Organization. Their
	// values are secrets: never logged, and masked in errors.
	Headers map[string]Secret `yaml:"headers"`

	// Timeout bounds a whole call: queueing, retries and reading the body.
	// Default: the provider's own (30 s unless it says otherwise).
	Timeout time.Duration `yaml:"timeout"`
	// TTFB bounds each attempt from sending the request to the first byte of
	// the response body. A stalled upstream fails with pipeline.ErrTimeout
	// and is not retried. Default 10 s; a local server that loads its model
	// on the first request may need more.
	TTFB time.Duration `yaml:"ttfb"`
	// ConnectTimeout bounds dialing and the TLS handshake. Default 5 s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxRetries is how many times a failed attempt is retried. Default 2;
	// negative disables retries.
	MaxRetries int `yaml:"max_retries"`
	// MaxRetryAfter caps how long a Retry-After header is honoured: a 429 or
	// 503 that asks for a longer wait fails at once so that a fallback
	// provider can answer instead. Default 5 s.
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`

	// MaxConcurrency is the most calls in flight to this provider (a call
	// holds its slot until its body is closed). Default 16.
	MaxConcurrency int `yaml:"max_concurrency"`
	// MaxIdleConnsPerHost sizes the keep-alive pool. Default MaxConcurrency.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host"`
	// FailureThreshold consecutive 5xx, connect failures or TTFB timeouts
	// halve the concurrency limit and open the circuit breaker for
	// BreakerCoolDown. Default 3.
	FailureThreshold int `yaml:"failure_threshold"`
	// BreakerCoolDown is how long an open breaker fails calls fast with
	// pipeline.ErrUnavailable before it lets one probe through. Default 5 s.
	BreakerCoolDown time.Duration `yaml:"breaker_cooldown"`
	// PrewarmConns is how many connections Prewarm opens. Default 2.
	PrewarmConns int `yaml:"prewarm_conns"`
}

// OAuth2Config is the OAuth2 client-credentials grant (RFC 6749 §4.4).
type OAuth2Config struct {
	TokenURL         string   `yaml:"token_url"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     Secret   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Scopes           []string `yaml:"scopes"`
	// ExpiryDelta refreshes a token this long before it expires, so that no
	// request leaves with a token about to die in flight. Default 30 s.
	ExpiryDelta time.Duration `yaml:"expiry_delta"`
}

// Secret is a credential. It prints, marshals and logs as "[REDACTED]"; use
// Reveal for the value itself.
type Secret string

const redacted = "[REDACTED]"

// String returns "[REDACTED]" (or "" when s is empty).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `httpx.Secret("` + s.String() + `")` }

// MarshalText keeps encoders (JSON, YAML, zap.Reflect) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// Defaults used when a Config field is zero.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultTTFB             = 10 * time.Second
	DefaultConnectTimeout   = 5 * time.Second
	DefaultMaxRetries       = 2
	DefaultMaxRetryAfter    = 5 * time.Second
	DefaultMaxConcurrency   = 16
	DefaultFailureThreshold = 3
	DefaultBreakerCoolDown  = 5 * time.Second
	DefaultPrewarmConns     = 2
	DefaultExpiryDelta      = 30 * time.Second
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Name == "" {
		c.Name = "http"
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	setDur(&c.Timeout, DefaultTimeout)
	setDur(&c.TTFB, DefaultTTFB)
	setDur(&c.ConnectTimeout, DefaultConnectTimeout)
	setDur(&c.MaxRetryAfter, DefaultMaxRetryAfter)
	setDur(&c.BreakerCoolDown, DefaultBreakerCoolDown)
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	setInt(&c.MaxConcurrency, DefaultMaxConcurrency)
	setInt(&c.MaxIdleConnsPerHost, c.MaxConcurrency)
	setInt(&c.FailureThreshold, DefaultFailureThreshold)
	setInt(&c.PrewarmConns, DefaultPrewarmConns)
	if c.OAuth2 != nil {
		o := *c.OAuth2
		setDur(&o.ExpiryDelta, DefaultExpiryDelta)
		c.OAuth2 = &o
	}
	return c
}

func setDur(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func setInt(n *int, def int) {
	if *n == 0 {
		*n = def
	}
}

// Validate reports what is wrong with c. It does not read the environment or
// files; New does.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		errs = append(errs, errors.New("base_url is required"))
	case err != nil:
		errs = append(errs, fmt.Errorf("base_url: %w", err))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		errs = append(errs, fmt.Errorf("base_url %q: want http(s)://host/path", c.BaseURL))
	}
	n := 0
	for _, set := range []bool{c.APIKey != "", c.APIKeyEnv != "", c.APIKeyFile != "", c.OAuth2 != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, errors.New("set at most one of api_key, api_key_env, api_key_file and oauth2"))
	}
	if o := c.OAuth2; o != nil {
		if o.TokenURL == "" || o.ClientID == "" {
			errs = append(errs, errors.New("oauth2: token_url and client_id are required"))
		}
		if (o.ClientSecret == "") == (o.ClientSecretFile == "") {
			errs = append(errs, errors.New("oauth2: set exactly one of client_secret and client_secret_file"))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", c.Timeout}, {"ttfb", c.TTFB}, {"connect_timeout", c.ConnectTimeout}, {"max_retry_after", c.MaxRetryAfter}, {"breaker_cooldown", c.BreakerCoolDown}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", d.name))
		}
	}
	if c.MaxConcurrency < 0 || c.MaxIdleConnsPerHost < 0 || c.FailureThreshold < 0 || c.PrewarmConns < 0 {
		errs = append(errs, errors.New("max_concurrency, max_idle_conns_per_host, failure_threshold and prewarm_conns must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("provider %s: %w", c.Name, err)
	}
	return nil
}

// apiKey resolves the key from wherever c says it lives.
func (c Config) apiKey() (Secret, error) {
	switch {
	case c.APIKey != "":
		return c.APIKey, nil
	case c.APIKeyEnv != "":
		v := strings.TrimSpace(os.Getenv(c.APIKeyEnv))
		if v == "" {
			return "", fmt.Errorf("provider %s: environment variable %s (api_key_env) is empty", c.Name, c.APIKeyEnv)
		}
		return Secret(v), nil
	case c.APIKeyFile != "":
		return readSecretFile(c.Name, "api_key_file", c.APIKeyFile)
	}
	return "", nil
}

func readSecretFile(provider, key, path string) (Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("provider %s: %s: %w", provider, key, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("provider %s: %s %s is empty", provider, key, path)
	}
	return Secret(v), nil
}
