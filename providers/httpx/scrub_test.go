package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/voicegate/voicegate/pipeline"
)

// leak returns the first fragment of secret, of at least n characters, that
// s contains, or "".
func leak(s, secret string, n int) string {
	for i := 0; i+n <= len(secret); i++ {
		if f := secret[i : i+n]; strings.Contains(s, f) {
			return f
		}
	}
	return ""
}

func TestScrubMasksFragments(t *testing.T) {
	const key = "sk-proj-Xq7RtY2pLm9NvB4cZw8KdF3gHj6Se1Ua"
	const org = "org-4d3c2b1a0f9e" // 16 characters: fragments of 8
	const short = "tnt-9f2c8a71"   // 12 characters: fragments of 6
	const tiny = "v2"              // not a secret
	c := newClient(t, Config{BaseURL: "http://h", APIKey: key, Headers: map[string]Secret{
		"OpenAI-Organization": org, "X-Tenant": short, "OpenAI-Beta": tiny,
	}}, nil)
	tests := []struct {
		name, text string
		secret     string // none of whose fragments may be left
		n          int
	}{
		{"whole key", "Incorrect API key provided: " + key + ".", key, 8},
		{"key short of its last 2", "Incorrect API key provided: " + key[:len(key)-2], key, 8},
		{"key without its first 3", "key " + key[3:] + " is invalid", key, 8},
		{"first 8 of the key", "key starts " + key[:8] + "…", key, 8},
		{"last 8 of the key", "…" + key[len(key)-8:], key, 8},
		{"middle of the key", "got " + key[11:25] + " there", key, 8},
		{"key quoted to 80", fmt.Sprintf("%.80q", `{"error":{"message":"bad key `+key+`"}}`), key, 8},
		{"key twice, no gap", key + key, key, 8},
		{"bearer header echoed", "Authorization: Bearer " + key[:30], key, 8},
		{"header value", "organization " + org + " not found", org, 8},
		{"header value cut short", "organization " + org[:12], org, 8},
		{"short secret, half of it", "tenant " + short[:6] + "?", short, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.scrub(tt.text)
			if f := leak(got, tt.secret, tt.n); f != "" {
				t.Fatalf("scrub(%q) = %q: %q left", tt.text, got, f)
			}
			if !strings.Contains(got, redacted) {
				t.Fatalf("scrub(%q) = %q: nothing masked", tt.text, got)
			}
		})
	}

	// What is not a long enough fragment of a secret stays: messages must
	// remain readable.
	for _, s := range []string{
		"The server had an error while processing your request.",
		"model \"gpt-4o-mini\" not found; header OpenAI-Beta: v2",
		"key prefix " + key[:7] + " is all we say", // 7 < 8: too short to mask
		"",
	} {
		if got := c.scrub(s); got != s {
			t.Errorf("scrub(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestScrubError(t *testing.T) {
	const key = "sk-test-4f9a8b7c6d5e4f3a2b1c"
	c := newClient(t, Config{BaseURL: "http://h", APIKey: key}, nil)
	if c.Scrub(nil) != nil {
		t.Fatal("Scrub(nil) != nil")
	}
	clean := fmt.Errorf("llm: %w", &Error{Provider: "p", Kind: pipeline.ErrRejected, StatusCode: 401})
	if c.Scrub(clean) != clean {
		t.Fatal("an error without a secret was replaced")
	}

	// An error from outside httpx (go-openai's APIError, say) whose own
	// field holds the key.
	inner := &apiErrorT{msg: "Incorrect API key provided: " + key[:len(key)-2]}
	dirty := fmt.Errorf("llm: reading stream: %w: %w", pipeline.ErrUnavailable, fmt.Errorf("%w (%w)", inner, context.Canceled))
	got := c.Scrub(dirty)
	if f := leak(got.Error(), key, 8); f != "" {
		t.Fatalf("Scrub kept %q: %v", f, got)
	}
	if !errors.Is(got, pipeline.ErrUnavailable) || !errors.Is(got, context.Canceled) {
		t.Fatalf("Scrub lost the kinds: %v", got)
	}
	var ae *apiErrorT
	if errors.As(got, &ae) {
		t.Fatalf("the original error, key and all, is still reachable: %q", ae.msg)
	}
	if errors.Is(got, pipeline.ErrRejected) {
		t.Fatal("Scrub added a kind")
	}
}

type apiErrorT struct{ msg string }

func (e *apiErrorT) Error() string { return e.msg }

// TestOAuth2SecretsScrubbed: a token endpoint that echoes the client secret
// in a 5xx, and an API that echoes the bearer token, leak neither into the
// error or the retry log.
func TestOAuth2SecretsScrubbed(t *testing.T) {
	const clientSecret = "cs-0a1b2c3d4e5f6a7b8c9d"
	const token = "at-9z8y7x6w5v4u3t2s1r0q"
	var tokenCalls atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			// The first fetch fails: both of its tries (the client
			// detects how the endpoint wants the secret sent).
			if tokenCalls.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"error":"temporarily_unavailable","error_description":"secret `+clientSecret[:len(clientSecret)-2]+` not checked"}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"`+token+`","token_type":"Bearer","expires_in":3600}`)
			return
		}
		openAIError(w, http.StatusUnauthorized, "token "+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")[:20]+"… is revoked")
	})
	log, logs := newLogger()
	c := newClient(t, Config{BaseURL: srv.URL, OAuth2: &OAuth2Config{
		TokenURL: srv.URL + "/oauth/token", ClientID: "gateway", ClientSecret: clientSecret,
	}}, log, WithClock(newFakeClock()))
	_, err := post(t, context.Background(), c, "/x", `{}`)
	if !errors.Is(err, pipeline.ErrRejected) || tokenCalls.Load() < 3 {
		t.Fatalf("err = %v after %d token calls; want a rejection after a retried token fetch", err, tokenCalls.Load())
	}
	out := logs.String()
	if !strings.Contains(out, "retrying provider call") {
		t.Fatalf("the token fetch was not retried:\n%s", out)
	}
	for _, s := range []string{clientSecret, token} {
		if f := leak(out+err.Error(), s, 8); f != "" {
			t.Errorf("%q leaked:\n%s\n%v", f, out, err)
		}
	}
}
