package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
)

// closeSession opens a text-only session, closes it and waits until the
// server has detached it, so that sessions detach in the order of calls.
func (s *testServer) closeSession(t *testing.T) protocol.SessionStarted {
	t.Helper()
	before := metric(t, s.reg, "voicegate_sessions_total", nil)
	c := s.dial(t, dialOpts{})
	st := c.start(map[string]any{"text_only": true})
	c.close()
	eventually(t, "session detached", func() bool {
		return metric(t, s.reg, "voicegate_sessions_active", nil) == 0 && metric(t, s.reg, "voicegate_sessions_total", nil) == before+1
	})
	return st
}

// resumes reports whether token resumes a session.
func (s *testServer) resumes(t *testing.T, token string) bool {
	t.Helper()
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.sendJSON(map[string]any{"type": "session.start", "resume_token": token})
	for {
		m := c.next()
		switch m.Type {
		case protocol.TypeError:
			if protocol.Code(m.str("code")) != protocol.CodeResumeFailed {
				t.Fatalf("error %s", m.Raw)
			}
		case protocol.TypeSessionStarted:
			return m.flag("resumed")
		}
	}
}

// TestDetachedSessionsCapped: beyond MaxDetachedSessions the session
// detached longest ago is forgotten, counted as an eviction; the newer ones
// still resume.
func TestDetachedSessionsCapped(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.MaxDetachedSessions = 2 })
	var tokens []string
	for range 3 {
		tokens = append(tokens, s.closeSession(t).ResumeToken)
		eventually(t, "detached count", func() bool {
			return metric(t, s.reg, "voicegate_sessions_detached", nil) == float64(min(len(tokens), 2))
		})
	}
	if n := metric(t, s.reg, "voicegate_sessions_evicted_total", nil); n != 1 {
		t.Errorf("evicted %v, want 1", n)
	}
	// Resumed and closed again, each goes back to the cap's two places.
	for _, tok := range tokens[1:] {
		if !s.resumes(t, tok) {
			t.Error("a session within the cap was lost")
		}
	}
	// Last: a failed resume starts a new session, which evicts in turn.
	if s.resumes(t, tokens[0]) {
		t.Error("the oldest detached session was kept past the cap")
	}
}

// TestDetachedSessionsExpireUnattended: once the resume window has passed,
// detached sessions are let go even when no one connects to sweep them.
func TestDetachedSessionsExpireUnattended(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.ResumeWindow = 200 * time.Millisecond })
	for range 5 {
		s.closeSession(t)
	}
	if n := metric(t, s.reg, "voicegate_sessions_detached", nil); n == 0 {
		t.Fatal("no session detached")
	}
	eventually(t, "detached sessions expired", func() bool { return metric(t, s.reg, "voicegate_sessions_detached", nil) == 0 })
}

// TestHistoryByteCap: a conversation keeps no more text than
// MaxHistoryBytes, oldest exchanges first out, and always its newest.
func TestHistoryByteCap(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.MaxHistoryBytes = 64 })
	c := s.dial(t, dialOpts{})
	st := c.start(map[string]any{"text_only": true})
	for i := range 4 {
		c.sendJSON(map[string]any{"type": "input.text", "text": fmt.Sprintf("message %d %s", i, strings.Repeat("x", 10))})
		c.expect(protocol.TypeTurnLatency)
	}
	c.close()
	// One exchange is 22 + 33 bytes; two would be over 64.
	checkHistory(t, s, st.ResumeToken, []protocol.HistoryEntry{
		{Role: "user", Text: "message 3 xxxxxxxxxx"}, {Role: "assistant", Text: "You said: message 3 xxxxxxxxxx."},
	})
}
