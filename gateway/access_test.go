package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
)

const (
	keyA = "vg-key-of-alice-0123456789"
	keyB = "vg-key-of-bob-0123456789ab"
)

func bearer(key string) http.Header { return http.Header{"Authorization": {"Bearer " + key}} }

func withKeys(keys ...string) func(*gateway.Options) {
	return func(o *gateway.Options) { o.APIKeys = keys }
}

// talk starts a text-only session, has one turn of text and drops the
// socket without a close handshake, as a lost network would. It returns
// session.started.
func talk(t *testing.T, s *testServer, o dialOpts, text string) protocol.SessionStarted {
	t.Helper()
	c := s.dial(t, o)
	st := c.start(map[string]any{"text_only": true})
	c.sendJSON(map[string]any{"type": "input.text", "text": text})
	c.expect(protocol.TypeTurnLatency)
	c.ws.CloseNow()
	<-c.done
	return st
}

// resumeFails starts with token on a connection made with o and expects
// resume_failed and a new, empty session.
func resumeFails(t *testing.T, s *testServer, o dialOpts, token string, victim protocol.SessionStarted) {
	t.Helper()
	c := s.dial(t, o)
	defer c.close()
	c.sendJSON(map[string]any{"type": "session.start", "resume_token": token})
	c.expectError(protocol.CodeResumeFailed)
	m, _ := c.expect(protocol.TypeSessionStarted)
	var st protocol.SessionStarted
	if err := m.decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Resumed || st.SessionID == victim.SessionID || len(st.History) > 0 {
		t.Fatalf("another principal resumed the session: %s", m.Raw)
	}
}

// TestResumeBoundToPrincipal: a resume token is no use to another key; the
// attempt neither resumes the session nor spends its owner's token.
func TestResumeBoundToPrincipal(t *testing.T) {
	s := newServer(t, withKeys(keyA, keyB))
	st := talk(t, s, dialOpts{header: bearer(keyA)}, "my secret is 4921")

	resumeFails(t, s, dialOpts{header: bearer(keyB)}, st.ResumeToken, st)
	resumeFails(t, s, dialOpts{query: "token=" + keyB}, st.ResumeToken, st)

	// The owner's token still works.
	checkHistoryWith(t, s, dialOpts{header: http.Header{"X-Api-Key": {keyA}}}, st.ResumeToken, st.SessionID)
}

// checkHistoryWith resumes token on a connection made with o and expects
// the session sid with the turn talk had.
func checkHistoryWith(t *testing.T, s *testServer, o dialOpts, token, sid string) protocol.SessionStarted {
	t.Helper()
	c := s.dial(t, o)
	defer c.close()
	st := c.start(map[string]any{"resume_token": token})
	if !st.Resumed || st.SessionID != sid || len(st.History) != 2 {
		t.Fatalf("the owner could not resume: %+v", st)
	}
	return st
}

// TestResumeBoundAcrossRestart: the session file keeps each session's
// principal, so after a restart the owner alone resumes it.
func TestResumeBoundAcrossRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sessions.json")
	opts := func(o *gateway.Options) { o.SessionFile, o.APIKeys = file, []string{keyA, keyB} }
	first := newServer(t, opts)
	st := talk(t, first, dialOpts{header: bearer(keyA)}, "remember me")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := first.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	second := newServer(t, opts)
	resumeFails(t, second, dialOpts{header: bearer(keyB)}, st.ResumeToken, st)
	checkHistoryWith(t, second, dialOpts{header: bearer(keyA)}, st.ResumeToken, st.SessionID)
}

// refusal reads the error event of a refused request.
func refusal(t *testing.T, resp *http.Response) protocol.Error {
	t.Helper()
	if resp == nil {
		t.Fatal("no response")
	}
	defer resp.Body.Close()
	var e protocol.Error
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("HTTP %d, body %q: %v", resp.StatusCode, b, err)
	}
	return e
}

// TestHostCheck: without keys, a browser page whose name was rebound to
// this server (Host and Origin both the attacker's) is refused; loopback
// names and the configured hosts are served. With keys, the key guards,
// and allowed_hosts restricts only when given.
func TestHostCheck(t *testing.T) {
	open := newServer(t, nil)
	listed := newServer(t, func(o *gateway.Options) { o.AllowedHosts = []string{"voice.lan", "*.example.com"} })
	keyed := newServer(t, withKeys(keyA))
	keyedListed := newServer(t, func(o *gateway.Options) { o.APIKeys, o.AllowedHosts = []string{keyA}, []string{"voice.lan"} })
	port := func(s *testServer) string { return s.ts.URL[strings.LastIndexByte(s.ts.URL, ':'):] }
	tests := []struct {
		name string
		s    *testServer
		host string
		key  string
		ok   bool
	}{
		{"rebound name", open, "rebind.attacker.com", "", false},
		{"rebound name, no port", open, "rebind.attacker.com", "", false},
		{"localhost", open, "localhost", "", true},
		{"LOCALHOST.", open, "LOCALHOST.", "", true},
		{"127.0.0.0/8", open, "127.8.9.10", "", true},
		{"::1", open, "[::1]", "", true},
		{"a name under localhost's", open, "localhost.attacker.com", "", false},
		{"private address", open, "192.168.1.10", "", false},
		{"unspecified", open, "0.0.0.0", "", false},
		{"listed", listed, "voice.lan", "", true},
		{"listed pattern", listed, "eu.example.com", "", true},
		{"not under the pattern", listed, "example.com", "", false},
		{"loopback beside a list", listed, "127.0.0.1", "", true},
		{"keyed, any host", keyed, "rebind.attacker.com", keyA, true},
		{"keyed and listed", keyedListed, "voice.lan", keyA, true},
		{"keyed, not listed", keyedListed, "rebind.attacker.com", keyA, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.host
			if !strings.HasSuffix(tt.name, "no port") {
				host += port(tt.s)
			}
			h := http.Header{"Origin": {"http://" + host}}
			if tt.key != "" {
				h.Set("Authorization", "Bearer "+tt.key)
			}
			c, resp, err := tt.s.tryDial(dialOpts{host: host, header: h})
			if tt.ok {
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
				t.Fatalf("upgrade with Host %s allowed", host)
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %v, want 403", resp)
			}
			if e := refusal(t, resp); e.Code != protocol.CodeForbiddenHost || !e.Fatal || e.Retryable {
				t.Errorf("refusal %+v", e)
			}
		})
	}
}
