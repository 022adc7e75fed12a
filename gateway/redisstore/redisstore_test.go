package redisstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/redisstore"
	"github.com/voicegate/voicegate/gateway/redisstore/redistest"
	"github.com/voicegate/voicegate/gateway/storetest"
	"github.com/voicegate/voicegate/pipeline"
)

var (
	digest = storetest.Digest
	record = storetest.Record
)

func newStore(t *testing.T, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract: the SessionStore contract against a real redis-server,
// two clients on it as two nodes would have.
func TestContract(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) (gateway.SessionStore, gateway.SessionStore) {
		return newStore(t, redisstore.Config{URL: srv.URL()}), newStore(t, redisstore.Config{URL: srv.URL()})
	})
}

// TestKeyPrefix: stores of two prefixes do not see each other's sessions.
func TestKeyPrefix(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newStore(t, redisstore.Config{URL: srv.URL()})
	other := newStore(t, redisstore.Config{URL: srv.URL(), KeyPrefix: "other:"})
	k := digest()
	if err := s.Save(ctx, k, record("alice", 1), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Owner(ctx, k); !errors.Is(err, gateway.ErrNoSession) {
		t.Errorf("another prefix sees the session: %v", err)
	}
	if owner, err := s.Owner(ctx, k); err != nil || owner != "alice" {
		t.Errorf("its own prefix: %q, %v", owner, err)
	}
}

// TestRestart: with Redis killed, calls fail fast (within the timeout)
// with an error that is neither sentinel; restarted, the same Store works
// again without being made anew.
func TestRestart(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, redisstore.Config{URL: srv.URL(), Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	k := digest()
	if err := s.Save(ctx, k, record("alice", 1), time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	start := time.Now()
	for _, err := range []error{s.Save(ctx, k, record("alice", 2), time.Minute), s.Ping(ctx), func() error { _, err := s.Owner(ctx, k); return err }()} {
		if err == nil || errors.Is(err, gateway.ErrNoSession) || errors.Is(err, gateway.ErrSessionMoved) {
			t.Errorf("with Redis down: %v", err)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("three calls to a dead Redis took %s", d)
	}
	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no recovery after the restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The restarted server is empty, and takes new saves (the scripts
	// sent again).
	if _, err := s.Owner(ctx, k); !errors.Is(err, gateway.ErrNoSession) {
		t.Errorf("owner after the restart: %v", err)
	}
	if err := s.Save(ctx, k, record("alice", 3), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Claim(ctx, k, digest(), "alice", time.Minute); err != nil || got.Turns != 3 {
		t.Errorf("claim after the restart: %+v, %v", got, err)
	}
}

// TestAuth: a password in the URL is sent; a wrong one fails without
// showing it.
func TestAuth(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "s3cret-pass")
	ctx := context.Background()
	good := newStore(t, redisstore.Config{URL: "redis://:s3cret-pass@" + srv.Addr()})
	if err := good.Ping(ctx); err != nil {
		t.Fatalf("with the password: %v", err)
	}
	bad := newStore(t, redisstore.Config{URL: "redis://:wrong-pass@" + srv.Addr()})
	err := bad.Ping(ctx)
	if err == nil {
		t.Fatal("a wrong password answered")
	}
	if strings.Contains(err.Error(), "wrong-pass") {
		t.Errorf("the error shows the password: %v", err)
	}
	none := newStore(t, redisstore.Config{URL: srv.URL()})
	if err := none.Save(ctx, digest(), record("alice", 1), time.Minute); err == nil {
		t.Error("a save without the password succeeded")
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg  redisstore.Config
		want string // "" for valid
	}{
		{redisstore.Config{URL: "redis://127.0.0.1:6379/0"}, ""},
		{redisstore.Config{URL: "rediss://u:p@redis.example:6380", CAFile: "ca.pem"}, ""},
		{redisstore.Config{}, "store.redis.url is required"},
		{redisstore.Config{URL: "http://x"}, "scheme"},
		{redisstore.Config{URL: "redis://x", CAFile: "ca.pem"}, "ca_file"},
		{redisstore.Config{URL: "redis://:pa ss@x:bad"}, "not a URL"},
		{redisstore.Config{URL: "redis://x", Timeout: -time.Second}, "negative"},
	} {
		err := tt.cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		case err != nil && strings.Contains(err.Error(), "pa ss"):
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// TestTLS: rediss:// with the server's CA in ca_file works, with a
// password too; without the CA the server's certificate is refused.
func TestTLS(t *testing.T) {
	srv, ca := redistest.StartTLS(t, "--requirepass", "tls-pass")
	ctx := context.Background()
	url := "rediss://:tls-pass@" + srv.Addr()
	s := newStore(t, redisstore.Config{URL: url, CAFile: ca})
	k := digest()
	if err := s.Save(ctx, k, record("alice", 1), time.Minute); err != nil {
		t.Fatalf("save over TLS: %v", err)
	}
	if got, err := s.Claim(ctx, k, digest(), "alice", time.Minute); err != nil || got.Turns != 1 {
		t.Errorf("claim over TLS: %+v, %v", got, err)
	}
	untrusted := newStore(t, redisstore.Config{URL: url})
	if err := untrusted.Ping(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA: %v, want a certificate error", err)
	}
	if _, err := redisstore.New(redisstore.Config{URL: url, CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Error("a missing ca_file was accepted")
	}
}

// BenchmarkSave: one session save of a 40-message conversation (the
// default session.max_history) to a loopback Redis; and a claim.
func BenchmarkSave(b *testing.B) {
	srv := redistest.Start(b)
	s, err := redisstore.New(redisstore.Config{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rec := record("alice", 20)
	for len(rec.History) < 40 {
		rec.History = append(rec.History, pipeline.Message{Role: pipeline.RoleUser, Content: strings.Repeat("a few words of speech ", 4)},
			pipeline.Message{Role: pipeline.RoleAssistant, Content: strings.Repeat("a reply of a sentence or two ", 4)})
	}
	ctx, k := context.Background(), digest()
	b.Run("save", func(b *testing.B) {
		for b.Loop() {
			if err := s.Save(ctx, k, rec, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("claim", func(b *testing.B) {
		for b.Loop() {
			next := digest()
			if _, err := s.Claim(ctx, k, next, "alice", time.Minute); err != nil {
				b.Fatal(err)
			}
			k = next
		}
	})
}

// TestExchange: nodes' open connections add up while they exchange, and
// a node that stops is forgotten after its ttl; session starts add up to
// running totals, which a node may ask for without adding to them.
func TestExchange(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newStore(t, redisstore.Config{URL: srv.URL()}), newStore(t, redisstore.Config{URL: srv.URL()})
	ctx := context.Background()
	const ttl = 2 * time.Second // between A's exchanges, on a busy machine, with room
	open, totals, err := a.Exchange(ctx, "node-a", map[string]int{"key x": 2, "key y": 1}, map[string]int64{"key x": 3}, nil, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if open["key x"] != 2 || open["key y"] != 1 || totals["key x"] != 3 {
		t.Errorf("first exchange: %v %v", open, totals)
	}
	open, totals, err = b.Exchange(ctx, "node-b", map[string]int{"key x": 5}, map[string]int64{"key x": 1, "key z": 4}, []string{"key y", "key x"}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if open["key x"] != 7 || open["key y"] != 1 || totals["key x"] != 4 || totals["key z"] != 4 || totals["key y"] != 0 {
		t.Errorf("second exchange: %v %v", open, totals)
	}
	// A exchanges again with nothing open: its counts are replaced.
	if open, _, err = a.Exchange(ctx, "node-a", nil, nil, nil, ttl); err != nil || open["key x"] != 5 || open["key y"] != 0 {
		t.Errorf("after A closed its connections: %v, %v", open, err)
	}
	time.Sleep(ttl + 100*time.Millisecond) // B stops exchanging: it died
	if open, totals, err = a.Exchange(ctx, "node-a", nil, nil, []string{"key x"}, ttl); err != nil || len(open) != 0 || totals["key x"] != 4 {
		t.Errorf("after B's ttl: %v %v, %v", open, totals, err)
	}
}
