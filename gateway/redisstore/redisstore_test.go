package redisstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/redisstore"
	"github.com/voicegate/voicegate/gateway/redisstore/redistest"
	"github.com/voicegate/voicegate/pipeline"
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

func digest() [sha256.Size]byte {
	var b [32]byte
	rand.Read(b[:])
	return sha256.Sum256(b[:])
}

func record(owner string, turns uint64) *gateway.SessionRecord {
	return &gateway.SessionRecord{
		ID: "sess1", Owner: owner, Input: 16000, Output: 24000, Detached: time.Now().UTC().Truncate(time.Millisecond), Turns: turns,
		History: []pipeline.Message{{Role: pipeline.RoleUser, Content: "hello"}, {Role: pipeline.RoleAssistant, Content: "hi there"}},
	}
}

// TestContract: what the gateway relies on, against a real redis-server.
func TestContract(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	const ttl = time.Minute
	tests := []struct {
		name string
		run  func(t *testing.T, s *redisstore.Store)
	}{
		{"save then claim returns the record and rotates", func(t *testing.T, s *redisstore.Store) {
			k, next := digest(), digest()
			if err := s.Save(ctx, k, record("alice", 3), ttl); err != nil {
				t.Fatal(err)
			}
			got, err := s.Claim(ctx, k, next, "alice", ttl)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "sess1" || got.Turns != 3 || got.Output != 24000 || len(got.History) != 2 || got.History[1].Content != "hi there" {
				t.Errorf("claimed %+v", got)
			}
			if _, err := s.Claim(ctx, k, digest(), "alice", ttl); !errors.Is(err, gateway.ErrSessionMoved) {
				t.Errorf("old key claimed again: %v, want ErrSessionMoved", err)
			}
			if owner, err := s.Owner(ctx, next); err != nil || owner != "alice" {
				t.Errorf("Owner(next) = %q, %v", owner, err)
			}
			if _, err := s.Owner(ctx, k); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("Owner(old) = %v, want ErrNoSession", err)
			}
			if got, err := s.Claim(ctx, next, digest(), "alice", ttl); err != nil || got.Turns != 3 {
				t.Errorf("rotated key: %+v, %v", got, err)
			}
		}},
		{"a save under a claimed key is refused", func(t *testing.T, s *redisstore.Store) {
			k, next := digest(), digest()
			s.Save(ctx, k, record("alice", 1), ttl)
			if _, err := s.Claim(ctx, k, next, "alice", ttl); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, k, record("alice", 2), ttl); !errors.Is(err, gateway.ErrSessionMoved) {
				t.Errorf("save under the old key: %v, want ErrSessionMoved", err)
			}
			if got, err := s.Claim(ctx, next, digest(), "alice", ttl); err != nil || got.Turns != 1 {
				t.Errorf("the stale save changed the session: %+v, %v", got, err)
			}
		}},
		{"another principal's claim leaves the session", func(t *testing.T, s *redisstore.Store) {
			k := digest()
			s.Save(ctx, k, record("alice", 1), ttl)
			if _, err := s.Claim(ctx, k, digest(), "mallory", ttl); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("claim by another principal: %v, want ErrNoSession", err)
			}
			if _, err := s.Claim(ctx, k, digest(), "alice", ttl); err != nil {
				t.Errorf("the owner's claim after it: %v", err)
			}
		}},
		{"unknown key", func(t *testing.T, s *redisstore.Store) {
			if _, err := s.Claim(ctx, digest(), digest(), "alice", ttl); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("claim: %v, want ErrNoSession", err)
			}
			if _, err := s.Owner(ctx, digest()); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("owner: %v, want ErrNoSession", err)
			}
		}},
		{"a save replaces and extends", func(t *testing.T, s *redisstore.Store) {
			k := digest()
			s.Save(ctx, k, record("alice", 1), 300*time.Millisecond)
			time.Sleep(200 * time.Millisecond)
			s.Save(ctx, k, record("alice", 2), 300*time.Millisecond)
			time.Sleep(200 * time.Millisecond)
			if got, err := s.Claim(ctx, k, digest(), "alice", ttl); err != nil || got.Turns != 2 {
				t.Errorf("claim: %+v, %v", got, err)
			}
		}},
		{"expires a ttl after the last save", func(t *testing.T, s *redisstore.Store) {
			k := digest()
			s.Save(ctx, k, record("alice", 1), 150*time.Millisecond)
			time.Sleep(300 * time.Millisecond)
			if _, err := s.Claim(ctx, k, digest(), "alice", ttl); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("claim after the ttl: %v, want ErrNoSession", err)
			}
		}},
		{"keys under the prefix", func(t *testing.T, s *redisstore.Store) {
			other := newStore(t, redisstore.Config{URL: srv.URL(), KeyPrefix: "other:"})
			k := digest()
			s.Save(ctx, k, record("alice", 1), ttl)
			if _, err := other.Owner(ctx, k); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("another prefix sees the session: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newStore(t, redisstore.Config{URL: srv.URL()}))
		})
	}
}

// TestClaimRace: two stores (two nodes) claim one key at once, many
// times; exactly one wins each time, and the loser is told the session
// moved.
func TestClaimRace(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newStore(t, redisstore.Config{URL: srv.URL()}), newStore(t, redisstore.Config{URL: srv.URL()})
	ctx := context.Background()
	const rounds = 300
	for i := range rounds {
		k := digest()
		if err := a.Save(ctx, k, record("alice", uint64(i)), time.Minute); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for j, s := range []*redisstore.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[j] = s.Claim(ctx, k, digest(), "alice", time.Minute)
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, gateway.ErrSessionMoved):
				t.Fatalf("round %d: loser got %v, want ErrSessionMoved", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d claims won, want 1 (%v)", i, won, errs)
		}
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
