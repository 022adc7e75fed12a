package gateway_test

import (
	"context"
	"net/http"
	"path/filepath"
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
