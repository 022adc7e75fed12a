package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"

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

// TestRemovedKeyCannotResume: a session whose key was removed from the
// configuration is not resumed with its token as the credential.
func TestRemovedKeyCannotResume(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sessions.json")
	first := newServer(t, func(o *gateway.Options) { o.SessionFile, o.APIKeys = file, []string{keyA, keyB} })
	st := talk(t, first, dialOpts{header: bearer(keyA)}, "remember me")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := first.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	second := newServer(t, func(o *gateway.Options) { o.SessionFile, o.APIKeys = file, []string{keyB} })
	if c, resp, err := second.tryDial(dialOpts{query: "resume=" + st.ResumeToken}); err == nil {
		c.ws.CloseNow()
		t.Fatal("a revoked key's session was resumed")
	} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got %v, want 401", resp)
	}
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

	// Tickets are guarded alike.
	req, _ := http.NewRequest("POST", open.ts.URL+gateway.PathTickets, nil)
	req.Host = "rebind.attacker.com" + port(open)
	resp, err := open.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden || refusal(t, resp).Code != protocol.CodeForbiddenHost {
		t.Errorf("ticket for a rebound name: %d", resp.StatusCode)
	}
}

// mint asks for a ticket with header; it returns the response and, on 200,
// the ticket.
func (s *testServer) mint(t *testing.T, header http.Header, query string) (*http.Response, protocol.Ticket) {
	t.Helper()
	u := s.ts.URL + gateway.PathTickets
	if query != "" {
		u += "?" + query
	}
	req, _ := http.NewRequest("POST", u, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tk protocol.Ticket
	if resp.StatusCode == http.StatusOK {
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&tk); err != nil {
			t.Fatal(err)
		}
	}
	return resp, tk
}

// TestTickets: POST /v1/tickets with a key in a header mints a ticket good
// for one upgrade; the session it opens belongs to that key.
func TestTickets(t *testing.T) {
	s := newServer(t, withKeys(keyA, keyB))

	for name, tt := range map[string]struct {
		header http.Header
		query  string
	}{
		"no key":       {},
		"wrong key":    {header: bearer("vg-not-a-key-0123456789")},
		"key in a URL": {query: "token=" + keyA},
	} {
		resp, _ := s.mint(t, tt.header, tt.query)
		if resp.StatusCode != http.StatusUnauthorized || refusal(t, resp).Code != protocol.CodeUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", name, resp.StatusCode)
		}
	}
	cross := bearer(keyA)
	cross.Set("Origin", "https://evil.example")
	if resp, _ := s.mint(t, cross, ""); resp.StatusCode != http.StatusForbidden || refusal(t, resp).Code != protocol.CodeForbiddenOrigin {
		t.Errorf("a ticket for another site's page: HTTP %d, want 403", resp.StatusCode)
	}
	if code, _ := s.get(t, gateway.PathTickets); code != http.StatusMethodNotAllowed {
		t.Errorf("GET %s: %d, want 405", gateway.PathTickets, code)
	}

	resp, tk := s.mint(t, bearer(keyA), "")
	if resp.StatusCode != http.StatusOK || tk.Ticket == "" || tk.ExpiresIn != 60 {
		t.Fatalf("mint: HTTP %d, %+v", resp.StatusCode, tk)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	st := talk(t, s, dialOpts{query: "ticket=" + tk.Ticket}, "remember me")
	if _, resp, err := s.tryDial(dialOpts{query: "ticket=" + tk.Ticket}); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a spent ticket opened a connection (%v)", err)
	}

	// The session is A's: B's ticket cannot resume it, A's key can.
	_, tkB := s.mint(t, bearer(keyB), "")
	resumeFails(t, s, dialOpts{query: "ticket=" + tkB.Ticket}, st.ResumeToken, st)
	_, tkA := s.mint(t, http.Header{"X-Api-Key": {keyA}}, "")
	checkHistoryWith(t, s, dialOpts{query: "ticket=" + tkA.Ticket}, st.ResumeToken, st.SessionID)
}

// TestTicketLimit: outstanding tickets are capped; a used one frees its slot.
func TestTicketLimit(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.APIKeys, o.MaxTickets = []string{keyA}, 2 })
	_, first := s.mint(t, bearer(keyA), "")
	s.mint(t, bearer(keyA), "")
	resp, _ := s.mint(t, bearer(keyA), "")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third ticket: HTTP %d, want 429", resp.StatusCode)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if e := refusal(t, resp); e.Code != protocol.CodeTicketLimit || !e.Retryable {
		t.Errorf("refusal %+v", e)
	}
	c := s.dial(t, dialOpts{query: "ticket=" + first.Ticket})
	c.close()
	if resp, tk := s.mint(t, bearer(keyA), ""); resp.StatusCode != http.StatusOK || tk.Ticket == "" {
		t.Fatalf("after one was used: HTTP %d", resp.StatusCode)
	}
}

// TestResumeTokenOnUpgrade: a page that opened its session with a ticket
// has no key to reconnect with; the resume token, on the upgrade, is its
// credential for that session and nothing else.
func TestResumeTokenOnUpgrade(t *testing.T) {
	s := newServer(t, withKeys(keyA))
	_, tk := s.mint(t, bearer(keyA), "")
	st := talk(t, s, dialOpts{query: "ticket=" + tk.Ticket}, "remember me")

	// The page reconnects with ?resume= and a session.start that repeats
	// the token (or leaves it out).
	c := s.dial(t, dialOpts{query: "resume=" + st.ResumeToken})
	st2 := c.start(nil)
	if !st2.Resumed || st2.SessionID != st.SessionID || len(st2.History) != 2 {
		t.Fatalf("not resumed: %+v", st2)
	}
	c.ws.CloseNow()
	<-c.done
	c = s.dial(t, dialOpts{query: "resume=" + st2.ResumeToken})
	st3 := c.start(map[string]any{"resume_token": st2.ResumeToken})
	if !st3.Resumed || st3.SessionID != st.SessionID {
		t.Fatalf("not resumed: %+v", st3)
	}
	c.ws.CloseNow()
	<-c.done

	for name, token := range map[string]string{"spent": st.ResumeToken, "made up": "tXp6ZWpQqex9_NdLjDJvqdecmGSR48DKyMUDR0ITR5U"} {
		if c, resp, err := s.tryDial(dialOpts{query: "resume=" + token}); err == nil {
			c.ws.CloseNow()
			t.Errorf("%s resume token opened a connection", name)
		} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s resume token: %v, want 401", name, resp)
		}
	}

	// It cannot start anything else: another token, or a new session when
	// the resume fails after the upgrade (the session was resumed
	// elsewhere meanwhile).
	other := talk(t, s, dialOpts{header: bearer(keyA)}, "a second conversation")
	c = s.dial(t, dialOpts{query: "resume=" + st3.ResumeToken})
	c.sendJSON(map[string]any{"type": "session.start", "resume_token": other.ResumeToken})
	if e := c.expectError(protocol.CodeUnauthorized); !e.flag("fatal") || e.flag("retryable") {
		t.Errorf("error event %s", e.Raw)
	}
	if got := c.closed(); got != websocket.StatusPolicyViolation {
		t.Errorf("closed with %v, want 1008", got)
	}
	checkHistoryWith(t, s, dialOpts{header: bearer(keyA)}, other.ResumeToken, other.SessionID)

	before := metric(t, s.reg, "voicegate_sessions_total", nil)
	late := s.dial(t, dialOpts{query: "resume=" + st3.ResumeToken})
	checkHistoryWith(t, s, dialOpts{header: bearer(keyA)}, st3.ResumeToken, st.SessionID) // spends st3's token
	late.sendJSON(map[string]any{"type": "session.start"})
	late.expectError(protocol.CodeUnauthorized)
	if got := late.closed(); got != websocket.StatusPolicyViolation {
		t.Errorf("closed with %v, want 1008", got)
	}
	for _, m := range late.seen {
		if m.Type == protocol.TypeSessionStarted {
			t.Errorf("a resume token opened a new session: %s", m.Raw)
		}
	}
	if n := metric(t, s.reg, "voicegate_sessions_total", nil); n != before+1 {
		t.Errorf("%v sessions started, want %v", n, before+1)
	}
}

// TestResumeTokenOnUpgradeWithoutKeys: without keys ?resume= changes
// nothing: every connection is anonymous and may start a session.
func TestResumeTokenOnUpgradeWithoutKeys(t *testing.T) {
	s := newServer(t, nil)
	c := s.dial(t, dialOpts{query: "resume=" + strings.Repeat("x", 43)})
	defer c.close()
	if st := c.start(nil); st.Resumed {
		t.Fatalf("%+v", st)
	}
}
