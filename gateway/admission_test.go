package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
)

// expectRateLimited dials with o and checks the refusal before the upgrade:
// HTTP 429, Retry-After, and the error event rate_limited, retryable.
func (s *testServer) expectRateLimited(t *testing.T, o dialOpts) {
	t.Helper()
	c, resp, err := s.tryDial(o)
	if err == nil {
		c.close()
		t.Fatal("upgraded over the client's limit")
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("refusal %v (%v), want 429 with Retry-After", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	var e protocol.Error
	if err := json.Unmarshal(body, &e); err != nil || e.Code != protocol.CodeRateLimited || !e.Fatal || !e.Retryable {
		t.Fatalf("refusal body %s", body)
	}
}

// TestPerIPLimit: one address cannot hold more than MaxSessionsPerIP
// connections, started or not; a place freed is usable again.
func TestPerIPLimit(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.MaxSessionsPerIP = 2 })
	started := s.dial(t, dialOpts{})
	started.start(nil)
	idle := s.dial(t, dialOpts{}) // no session.start yet: counts all the same
	s.expectRateLimited(t, dialOpts{})
	if n := metric(t, s.reg, "voicegate_rate_limited_total", map[string]string{"limit": "max_sessions_per_ip"}); n != 1 {
		t.Errorf("rate_limited_total{max_sessions_per_ip} = %v", n)
	}
	if n := metric(t, s.reg, "voicegate_connections_rejected_total", map[string]string{"reason": "rate_limited"}); n != 1 {
		t.Errorf("connections_rejected_total{rate_limited} = %v", n)
	}
	started.ping()
	idle.close()
	eventually(t, "a place freed", func() bool {
		c, _, err := s.tryDial(dialOpts{})
		if err != nil {
			return false
		}
		c.t = t
		c.close()
		return true
	})
	started.close()
}

// TestPerKeyLimit: one API key cannot hold more than MaxSessionsPerKey
// connections; another key from the same address can.
func TestPerKeyLimit(t *testing.T) {
	const keyA, keyB = "key-a-0123456789abcdef", "key-b-0123456789abcdef"
	s := newServer(t, func(o *gateway.Options) { o.APIKeys = []string{keyA, keyB}; o.MaxSessionsPerKey = 1 })
	bearer := func(k string) dialOpts { return dialOpts{header: http.Header{"Authorization": {"Bearer " + k}}} }
	a := s.dial(t, bearer(keyA))
	defer a.close()
	s.expectRateLimited(t, dialOpts{query: "token=" + keyA}) // however the key is presented
	b := s.dial(t, bearer(keyB))
	defer b.close()
	b.start(nil)
	if n := metric(t, s.reg, "voicegate_rate_limited_total", map[string]string{"limit": "max_sessions_per_key"}); n != 1 {
		t.Errorf("rate_limited_total{max_sessions_per_key} = %v", n)
	}
}

// TestSessionRate: session starts beyond the burst are refused with
// rate_limited and close 1013 — per address without keys, per key with
// them.
func TestSessionRate(t *testing.T) {
	refused := func(t *testing.T, s *testServer, o dialOpts) {
		t.Helper()
		c := s.dial(t, o)
		c.sendJSON(map[string]any{"type": "session.start"})
		if e := c.expectError(protocol.CodeRateLimited); !e.flag("fatal") || !e.flag("retryable") {
			t.Errorf("error %s", e.Raw)
		}
		if st := c.closed(); st != websocket.StatusTryAgainLater {
			t.Errorf("closed with %v, want 1013", st)
		}
	}
	t.Run("anonymous", func(t *testing.T) {
		s := newServer(t, func(o *gateway.Options) { o.SessionRate = 0.001; o.SessionBurst = 2 })
		for range 2 {
			s.closeSession(t)
		}
		refused(t, s, dialOpts{})
		if n := metric(t, s.reg, "voicegate_rate_limited_total", map[string]string{"limit": "session_rate"}); n != 1 {
			t.Errorf("rate_limited_total{session_rate} = %v", n)
		}
	})
	t.Run("per key", func(t *testing.T) {
		const keyA, keyB = "key-a-0123456789abcdef", "key-b-0123456789abcdef"
		s := newServer(t, func(o *gateway.Options) {
			o.APIKeys = []string{keyA, keyB}
			o.SessionRate, o.SessionBurst = 0.001, 1
		})
		a := dialOpts{query: "token=" + keyA}
		c := s.dial(t, a)
		c.start(nil)
		c.close()
		refused(t, s, a)
		b := s.dial(t, dialOpts{query: "token=" + keyB})
		defer b.close()
		b.start(nil)
	})
}

// TestTrustedProxies: behind a trusted proxy each client counts by the
// address X-Forwarded-For gives; from anywhere else the header is ignored.
func TestTrustedProxies(t *testing.T) {
	xff := func(v string) dialOpts { return dialOpts{header: http.Header{"X-Forwarded-For": {v}}} }
	t.Run("trusted", func(t *testing.T) {
		s := newServer(t, func(o *gateway.Options) { o.MaxSessionsPerIP = 1; o.TrustedProxies = []string{"127.0.0.0/8"} })
		one := s.dial(t, xff("203.0.113.1"))
		defer one.close()
		two := s.dial(t, xff("198.51.100.7, 203.0.113.2")) // the client wrote the first entry
		defer two.close()
		s.expectRateLimited(t, xff("203.0.113.1"))
		s.expectRateLimited(t, xff("203.0.113.9, 203.0.113.2")) // forging more on the left does not help
	})
	t.Run("untrusted", func(t *testing.T) {
		s := newServer(t, func(o *gateway.Options) { o.MaxSessionsPerIP = 1 })
		one := s.dial(t, xff("203.0.113.1"))
		defer one.close()
		s.expectRateLimited(t, xff("203.0.113.2"))
	})
}
