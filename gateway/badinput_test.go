package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// TestBadInput: every client mistake gets its typed error, which sending it
// again would not cure (retryable:false); the non-fatal ones leave the
// session working, the fatal ones close with their status.
func TestBadInput(t *testing.T) {
	start := `{"type":"session.start"}`
	tests := []struct {
		name   string
		start  string // sent first, if set
		text   string // a text frame to send
		binary []byte // or a binary frame
		code   protocol.Code
		status websocket.StatusCode // 0: not fatal
	}{
		{name: "binary before session.start", binary: make([]byte, 640), code: protocol.CodeNotStarted},
		{name: "text before session.start", text: `{"type":"input.text","text":"hi"}`, code: protocol.CodeNotStarted},
		{name: "odd byte count", start: start, binary: make([]byte, 641), code: protocol.CodeOddFrame},
		{name: "frame over the size limit", start: start, binary: make([]byte, 40000), code: protocol.CodeFrameTooLarge, status: websocket.StatusMessageTooBig},
		{name: "unknown message type", start: start, text: `{"type":"dance"}`, code: protocol.CodeUnknownType},
		{name: "invalid JSON", start: start, text: `{"type":`, code: protocol.CodeInvalidJSON},
		{name: "not an object", text: `hello`, code: protocol.CodeInvalidJSON},
		{name: "missing type", text: `{"text":"hi"}`, code: protocol.CodeInvalidMessage},
		{name: "text over the size limit", start: start, text: `{"type":"input.text","text":"` + strings.Repeat("a", 5000) + `"}`, code: protocol.CodeTextTooLong},
		{name: "text frame over the frame limit", start: start, text: `{"type":"input.text","text":"` + strings.Repeat("a", 40000) + `"}`, code: protocol.CodeMessageTooLarge, status: websocket.StatusMessageTooBig},
		{name: "empty text", start: start, text: `{"type":"input.text","text":"  "}`, code: protocol.CodeInvalidMessage},
		{name: "audio in text-only mode", start: `{"type":"session.start","text_only":true}`, binary: make([]byte, 640), code: protocol.CodeAudioInTextOnly},
		{name: "session.start twice", start: start, text: start, code: protocol.CodeAlreadyStarted},
		{name: "unsupported input rate", text: `{"type":"session.start","input_audio":{"sample_rate":11025}}`, code: protocol.CodeUnsupportedRate, status: websocket.StatusUnsupportedData},
		{name: "unsupported output rate", text: `{"type":"session.start","output_audio":{"sample_rate":12345}}`, code: protocol.CodeUnsupportedRate, status: websocket.StatusUnsupportedData},
		{name: "unsupported version", text: `{"type":"session.start","version":9}`, code: protocol.CodeUnsupportedVersion, status: websocket.StatusUnsupportedData},
	}
	s := newServer(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.dial(t, dialOpts{})
			defer c.ws.CloseNow()
			if tt.start != "" {
				c.sendText(tt.start)
				c.expect(protocol.TypeSessionStarted)
			}
			if tt.binary != nil {
				c.sendBinary(tt.binary)
			} else {
				c.sendText(tt.text)
			}
			e := c.expectError(tt.code)
			if e.flag("fatal") != (tt.status != 0) || e.flag("retryable") || e.str("message") == "" {
				t.Errorf("error event %s", e.Raw)
			}
			if tt.status == 0 {
				c.ping() // the connection goes on
				c.close()
				return
			}
			if got := c.closed(); got != tt.status {
				t.Errorf("closed with %v, want %v", got, tt.status)
			}
		})
	}
}

// TestStartTimeout: a connection that never starts a session is closed; a
// client that was only slow may reconnect.
func TestStartTimeout(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.StartTimeout = 100 * time.Millisecond })
	c := s.dial(t, dialOpts{})
	if e := c.expectError(protocol.CodeStartTimeout); !e.flag("fatal") || !e.flag("retryable") {
		t.Errorf("error event %s", e.Raw)
	}
	if got := c.closed(); got != websocket.StatusPolicyViolation {
		t.Errorf("closed with %v, want 1008", got)
	}
}

// TestOddFramesReportedOnce: a client streaming bad frames is told, not
// flooded.
func TestOddFramesReportedOnce(t *testing.T) {
	s := newServer(t, nil)
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(nil)
	for range 20 {
		c.sendBinary(make([]byte, 3))
	}
	c.expectError(protocol.CodeOddFrame)
	c.ping()
	n := 0
	for _, m := range c.seen {
		if m.Type == protocol.TypeError {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d error events for 20 odd frames, want 1: %v", n, c.recent())
	}
}

func TestAuth(t *testing.T) {
	const key = "vg-test-key-0123456789"
	s := newServer(t, func(o *gateway.Options) { o.APIKeys = []string{"another-key-0123456", key} })
	tests := []struct {
		name   string
		o      dialOpts
		status int
	}{
		{"no key", dialOpts{}, http.StatusUnauthorized},
		{"wrong bearer", dialOpts{header: http.Header{"Authorization": {"Bearer nope"}}}, http.StatusUnauthorized},
		{"wrong query token", dialOpts{query: "token=nope"}, http.StatusUnauthorized},
		{"prefix of the key", dialOpts{header: http.Header{"X-Api-Key": {key[:10]}}}, http.StatusUnauthorized},
		{"bearer", dialOpts{header: http.Header{"Authorization": {"Bearer " + key}}}, 0},
		{"x-api-key", dialOpts{header: http.Header{"X-Api-Key": {key}}}, 0},
		{"query token", dialOpts{query: "token=" + key}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := s.tryDial(tt.o)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.t = t
				c.ping()
				c.close()
				return
			}
			if err == nil {
				c.ws.CloseNow()
				t.Fatal("upgraded without a valid key")
			}
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("got %v, want HTTP %d", resp, tt.status)
			}
		})
	}
}

func TestOrigin(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.AllowedOrigins = []string{"app.example.com", "https://*.trusted.test"} })
	host := strings.TrimPrefix(s.ts.URL, "http://")
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{"http://" + host, true},
		{"https://app.example.com", true},
		{"https://eu.trusted.test", true},
		{"http://eu.trusted.test", false}, // scheme pattern
		{"https://evil.example", false},
		{"https://app.example.com.evil.example", false},
		{"null", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			c, resp, err := s.tryDial(dialOpts{header: h})
			if tt.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.t = t
				c.close()
				return
			}
			if err == nil {
				c.ws.CloseNow()
				t.Fatal("cross-site upgrade allowed")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %v, want 403", resp)
			}
		})
	}
}

func TestSessionLimit(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.MaxSessions = 1 })
	c := s.dial(t, dialOpts{})
	c.start(nil)
	over := s.dial(t, dialOpts{})
	over.expectError(protocol.CodeSessionLimit)
	if got := over.closed(); got != websocket.StatusTryAgainLater {
		t.Errorf("closed with %v, want 1013", got)
	}
	c.ping()
	c.close()
	eventually(t, "slot freed", func() bool { return metric(t, s.reg, "voicegate_sessions_active", nil) == 0 })
	again := s.dial(t, dialOpts{})
	again.start(nil)
	again.close()
}

// TestSlowConsumer: a client that stops reading is closed; a healthy session
// beside it completes its turn.
func TestSlowConsumer(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) {
		o.PlayoutLead = -1 // unpaced: a long reply floods at once
		o.WriteTimeout = 500 * time.Millisecond
		o.Stages.TTS = &pipelinetest.Tone{Rate: 16000, PerRune: 60 * time.Millisecond} // 7.5 MB of reply
	})
	// A small receive buffer makes the client's TCP window fill quickly.
	tr := &http.Transport{DialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}).DialContext}
	defer tr.CloseIdleConnections()
	slow := s.dial(t, dialOpts{hc: &http.Client{Transport: tr}, noRead: true})
	slow.t = t
	slow.sendJSON(map[string]any{"type": "session.start"})
	slow.sendJSON(map[string]any{"type": "input.text", "text": strings.Repeat("la la la la. ", 300)})

	healthy := s.dial(t, dialOpts{})
	defer healthy.close()
	healthy.start(nil)
	healthy.sendJSON(map[string]any{"type": "input.text", "text": "are you still there?"})
	if m, _ := healthy.expect(protocol.TypeResponseDone); m.str("text") != "You said: are you still there?" {
		t.Fatalf("healthy turn: %s", m.Raw)
	}

	eventually(t, "slow consumer closed", func() bool {
		return metric(t, s.reg, "voicegate_slow_consumer_closes_total", nil) == 1 &&
			metric(t, s.reg, "voicegate_sessions_active", nil) == 1
	})
	slow.startReading()
	slow.closed() // drains what was buffered, then the end
	healthy.ping()
}

// TestSecretsNotLogged: API keys and user text never reach the log, even at
// Debug, unless LogContent is set.
func TestSecretsNotLogged(t *testing.T) {
	const key = "vg-secret-key-must-not-appear"
	const words = "my bank pin is 4921"
	core, logs := observer.New(zapcore.DebugLevel)
	hasher, err := pipeline.NewContentHasher([]byte("operator-content-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, func(o *gateway.Options) {
		o.APIKeys = []string{key}
		o.Logger = zap.New(core)
		o.Stages = fastStages(words)
		o.ContentHasher = hasher
	})
	for _, o := range []dialOpts{{header: http.Header{"Authorization": {"Bearer " + key}}}, {query: "token=" + key}} {
		c := s.dial(t, o)
		c.start(nil)
		c.sendJSON(map[string]any{"type": "input.text", "text": words})
		c.expect(protocol.TypeTurnLatency)
		c.speak(16000, 600*time.Millisecond)
		c.expect(protocol.TypeTurnLatency)
		c.close()
	}
	if _, _, err := s.tryDial(dialOpts{header: http.Header{"X-Api-Key": {key + "x"}}}); err == nil {
		t.Fatal("bad key accepted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	s.srv.Shutdown(ctx) // flush the close logs

	if logs.Len() == 0 {
		t.Fatal("nothing logged")
	}
	sawHash := false
	for _, e := range logs.All() {
		line := e.Message + " " + strings.Join(fieldStrings(e.Context), " ")
		for _, secret := range []string{key, words, "4921"} {
			if strings.Contains(line, secret) {
				t.Errorf("log leaks %q: %s", secret, line)
			}
		}
		if v, ok := e.ContextMap()["text_hmac"]; ok {
			sawHash = true
			// The fingerprint is the configured keyed one, so that it
			// matches the providers' and survives a restart; a plain
			// hash of a short text would give the text away.
			if want := hasher.Sum(words) + " len=" + strconv.Itoa(len(words)); v != want {
				t.Errorf("%s: text_hmac %q, want %q", e.Message, v, want)
			}
		}
	}
	if !sawHash {
		t.Errorf("no hashed text in the debug log")
	}
}

func fieldStrings(fs []zapcore.Field) []string {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fs {
		f.AddTo(enc)
	}
	var out []string
	for k, v := range enc.Fields {
		out = append(out, k+"="+toString(v))
	}
	return out
}

func toString(v any) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	return fmt.Sprint(v)
}
