package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/pipeline"
)

// The credentials of TestProviderErrorsCarryNoSecret. Each is 16
// characters or more, so no fragment of 8 of them may be left anywhere.
const (
	testKey          = "sk-proj-Xq7RtY2pLm9NvB4cZw8KdF3gHj6Se1Ua"
	testOrg          = "org-4d3c2b1a0f9e8d7c"
	testClientSecret = "cs-0a1b2c3d4e5f6a7b8c9d0e1f"
	testToken        = "at-9z8y7x6w5v4u3t2s1r0q9p8o"
)

// fragmentOf returns the first 8-character fragment of secret that s
// contains, or "".
func fragmentOf(s, secret string) string {
	for i := 0; i+8 <= len(secret); i++ {
		if f := secret[i : i+8]; strings.Contains(s, f) {
			return f
		}
	}
	return ""
}

// upstream is how a failing OpenAI-compatible server answers one stage
// ("asr", "llm" or "tts"). echo is an error message quoting the credentials
// the request carried, cut short as servers that echo them often do.
type upstream func(w http.ResponseWriter, stage, echo string)

func openAIError(echo, typ string) string {
	m, _ := json.Marshal(echo)
	return `{"error":{"message":` + string(m) + `,"type":"` + typ + `","param":null,"code":"invalid_api_key"}}`
}

func chunk(content string) string {
	return `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"` +
		content + `"},"logprobs":null,"finish_reason":null}]}` + "\n\n"
}

// partial is what a stage's server sends before it fails mid-way: deltas,
// part of a transcript, audio.
func partial(stage string) (contentType, body string) {
	switch stage {
	case "llm":
		return "text/event-stream", chunk("Hel") + chunk("lo")
	case "asr":
		return "application/json", `{"text":"Hel`
	}
	return "application/octet-stream", string(make([]byte, 4800))
}

func flush(w http.ResponseWriter) { w.(http.Flusher).Flush() }

// hangUp drops the connection without ending the response.
func hangUp(w http.ResponseWriter) {
	flush(w)
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

var failures = []struct {
	name  string
	write upstream
	// kind is the error kind per stage; masked, the stages whose error
	// keeps the server's words (with the credentials masked): the others
	// drop them.
	kind   map[string]error
	masked string
}{
	{"401 echoing the key", func(w http.ResponseWriter, _, echo string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, openAIError(echo, "invalid_request_error"))
	}, map[string]error{"asr": pipeline.ErrRejected, "llm": pipeline.ErrRejected, "tts": pipeline.ErrRejected}, "asr llm tts"},
	{"503 echoing the key, retried", func(w http.ResponseWriter, _, echo string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, openAIError(echo, "server_error"))
	}, map[string]error{"asr": pipeline.ErrUnavailable, "llm": pipeline.ErrUnavailable, "tts": pipeline.ErrUnavailable}, "asr llm tts"},
	{"200 with an error body echoing the key", func(w http.ResponseWriter, _, echo string) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, openAIError(echo, "invalid_request_error")+"\n")
	}, map[string]error{"asr": pipeline.ErrBadResponse, "llm": pipeline.ErrUnavailable, "tts": pipeline.ErrBadResponse}, "llm"},
	{"SSE error event", func(w http.ResponseWriter, _, echo string) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: "+openAIError(echo, "server_error")+"\n\n")
	}, map[string]error{"asr": pipeline.ErrBadResponse, "llm": pipeline.ErrUnavailable, "tts": pipeline.ErrBadResponse}, "llm"},
	{"SSE typed error event", func(w http.ResponseWriter, _, echo string) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: error\ndata: "+openAIError(echo, "server_error")+"\n\n")
	}, map[string]error{"asr": pipeline.ErrBadResponse, "llm": pipeline.ErrBadResponse, "tts": pipeline.ErrBadResponse}, ""},
	{"error event after some output", func(w http.ResponseWriter, stage, echo string) {
		ct, body := partial(stage)
		w.Header().Set("Content-Type", ct)
		io.WriteString(w, body)
		flush(w)
		io.WriteString(w, "data: "+openAIError(echo, "server_error")+"\n\n")
		if stage == "tts" {
			hangUp(w) // raw PCM has no way to say it failed
		}
	}, map[string]error{"asr": pipeline.ErrBadResponse, "llm": pipeline.ErrUnavailable, "tts": pipeline.ErrBadResponse}, "llm"},
	{"disconnect after some output, mid-echo", func(w http.ResponseWriter, stage, echo string) {
		ct, body := partial(stage)
		w.Header().Set("Content-Type", ct)
		io.WriteString(w, body)
		flush(w)
		e := "data: " + openAIError(echo, "server_error")
		io.WriteString(w, e[:len(e)*2/3])
		hangUp(w)
	}, map[string]error{"asr": pipeline.ErrBadResponse, "llm": pipeline.ErrBadResponse, "tts": pipeline.ErrBadResponse}, ""},
}

// TestProviderErrorsCarryNoSecret sends credentials from every source
// (api_key, api_key_env, api_key_file, OAuth2 with a client_secret_file, and
// a header) through each OpenAI-compatible stage, built as the server builds
// them (a fallback chain of two), against servers that fail in every way
// and echo the credentials back. No fragment of 8 characters of any of
// them may be in a log line, in the error a stage returns, or in any error
// that one wraps.
func TestProviderErrorsCarryNoSecret(t *testing.T) {
	dir := t.TempDir()
	keyFile, secretFile := filepath.Join(dir, "key"), filepath.Join(dir, "client-secret")
	for f, v := range map[string]string{keyFile: testKey, secretFile: testClientSecret} {
		if err := os.WriteFile(f, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("VOICEGATE_TEST_PROVIDER_KEY", testKey)

	var current upstream
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, testToken)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		org := r.Header.Get("OpenAI-Organization")
		// Echoed cut short: the key without its last two characters,
		// the organization without its last three.
		echo := fmt.Sprintf("Incorrect API key provided: %s. Organization %s…", bearer[:len(bearer)-2], org[:len(org)-3])
		if bearer == testToken {
			// A server that knows the client secret too.
			echo += " Client secret " + testClientSecret[:12] + "…"
		}
		stage := map[string]string{"/v1/audio/transcriptions": "asr", "/v1/chat/completions": "llm", "/v1/audio/speech": "tts"}[r.URL.Path]
		if stage == "" { // prewarm's GET /models
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, openAIError(echo, "invalid_request_error"))
			return
		}
		current(w, stage, echo)
	}))
	defer srv.Close()

	keyed := []string{testKey, testOrg}
	auths := []struct {
		name, yaml string
		secrets    []string
	}{
		{"api_key", "api_key: " + testKey, keyed},
		{"api_key_env", "api_key_env: VOICEGATE_TEST_PROVIDER_KEY", keyed},
		{"api_key_file", "api_key_file: " + keyFile, keyed},
		{"oauth2", fmt.Sprintf("oauth2: {token_url: %s/oauth/token, client_id: gateway, client_secret_file: %s}", srv.URL, secretFile),
			[]string{testToken, testClientSecret, testOrg}},
	}
	calls := map[string]func(context.Context, pipeline.Stages) error{
		"asr": func(ctx context.Context, st pipeline.Stages) error {
			u, err := st.ASR.Start(ctx)
			if err != nil {
				return err
			}
			defer u.Close()
			if _, err := u.Write(make([]int16, 8000)); err != nil {
				return err
			}
			_, err = u.Finish(ctx)
			return err
		},
		"llm": func(ctx context.Context, st pipeline.Stages) error {
			msgs := []pipeline.Message{{Role: pipeline.RoleUser, Content: "Say hello."}}
			return st.LLM.Generate(ctx, msgs, func(string) error { return nil })
		},
		"tts": func(ctx context.Context, st pipeline.Stages) error {
			return st.TTS.Synthesize(ctx, "Hello there.", func([]int16) error { return nil })
		},
	}

	for _, auth := range auths {
		entry := func(model string, more string) string {
			return fmt.Sprintf("{name: openai, base_url: %s/v1, model: %s, %s, max_retries: 1, headers: {OpenAI-Organization: %s}%s}",
				srv.URL, model, auth.yaml, testOrg, more)
		}
		doc := fmt.Sprintf("providers: {asr: [%s, %s], llm: [%s, %s], tts: [%s, %s]}",
			entry("whisper-1", ""), entry("whisper-2", ""),
			entry("gpt-a", ""), entry("gpt-b", ""),
			entry("tts-1", ", voice: alloy"), entry("tts-2", ", voice: alloy"))
		cfg := configs.Default()
		if err := configs.Parse([]byte(doc), &cfg); err != nil {
			t.Fatal(err)
		}
		for _, f := range failures {
			for _, stage := range []string{"asr", "llm", "tts"} {
				t.Run(auth.name+"/"+f.name+"/"+stage, func(t *testing.T) {
					core, logs := observer.New(zapcore.DebugLevel)
					log := zap.New(core)
					current = f.write
					b, err := buildStages(cfg.Providers, Builtin(), Deps{Log: log})
					if err != nil {
						t.Fatal(err)
					}
					defer b.Close()
					prewarm(context.Background(), log, b.stages.ASR, b.stages.LLM, b.stages.TTS)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					err = calls[stage](ctx, b.stages)
					if err == nil {
						t.Fatal("the call succeeded")
					}
					if want := f.kind[stage]; !errors.Is(err, want) {
						t.Errorf("err = %v, want %v", err, want)
					}
					// As the gateway logs a failed stage.
					log.Warn("stage failed", zap.Error(&pipeline.StageError{Stage: pipeline.Stage(stage), Err: err}))

					var texts []string
					for _, e := range logs.All() {
						texts = append(texts, fmt.Sprintf("log %q %v", e.Message, e.ContextMap()))
					}
					walk(err, func(e error) { texts = append(texts, fmt.Sprintf("error %T %v", e, e)) })
					for _, s := range auth.secrets {
						for _, text := range texts {
							if frag := fragmentOf(text, s); frag != "" {
								t.Errorf("%q (of %q) leaked: %s", frag, s, text)
							}
						}
					}
					if strings.Contains(f.masked, stage) && !strings.Contains(err.Error(), "[REDACTED]") {
						t.Errorf("the server's words are gone, want them masked: %v", err)
					}
				})
			}
		}
	}
}

// walk calls fn with err and every error it wraps.
func walk(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), fn)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, fn)
		}
	}
}
