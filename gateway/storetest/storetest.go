// Package storetest is the contract every gateway.SessionStore keeps, as
// one table of tests: a store's own tests call Run with a way to open two
// handles on one empty store (two nodes).
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/pipeline"
)

// Open returns two handles on one store, empty or holding only keys no
// test here makes (they are random).
type Open func(t *testing.T) (a, b gateway.SessionStore)

// Digest returns a random key.
func Digest() [sha256.Size]byte {
	var b [32]byte
	rand.Read(b[:])
	return sha256.Sum256(b[:])
}

// Record returns a session of owner after turns turns.
func Record(owner string, turns uint64) *gateway.SessionRecord {
	return &gateway.SessionRecord{
		ID: "sess1", Owner: owner, Input: 16000, Output: 24000, Detached: time.Now().UTC().Truncate(time.Millisecond), Turns: turns,
		History: []pipeline.Message{{Role: pipeline.RoleUser, Content: "hello"}, {Role: pipeline.RoleAssistant, Content: "hi there"}},
	}
}

// Run runs the contract against the store open gives.
func Run(t *testing.T, open Open) {
	ctx := context.Background()
	const ttl = time.Minute
	tests := []struct {
		name string
		run  func(t *testing.T, s, other gateway.SessionStore)
	}{
		{"save then claim returns the record and rotates", func(t *testing.T, s, other gateway.SessionStore) {
			k, next := Digest(), Digest()
			if err := s.Save(ctx, k, Record("alice", 3), ttl); err != nil {
				t.Fatal(err)
			}
			got, err := other.Claim(ctx, k, next, "alice", ttl)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "sess1" || got.Turns != 3 || got.Output != 24000 || len(got.History) != 2 || got.History[1].Content != "hi there" {
				t.Errorf("claimed %+v", got)
			}
			if _, err := s.Claim(ctx, k, Digest(), "alice", ttl); !errors.Is(err, gateway.ErrSessionMoved) {
				t.Errorf("old key claimed again: %v, want ErrSessionMoved", err)
			}
			if owner, err := s.Owner(ctx, next); err != nil || owner != "alice" {
				t.Errorf("Owner(next) = %q, %v", owner, err)
			}
			if _, err := s.Owner(ctx, k); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("Owner(old) = %v, want ErrNoSession", err)
			}
			if got, err := s.Claim(ctx, next, Digest(), "alice", ttl); err != nil || got.Turns != 3 {
				t.Errorf("rotated key: %+v, %v", got, err)
			}
		}},
		{"a save under a claimed key is refused", func(t *testing.T, s, other gateway.SessionStore) {
			k, next := Digest(), Digest()
			s.Save(ctx, k, Record("alice", 1), ttl)
			if _, err := other.Claim(ctx, k, next, "alice", ttl); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, k, Record("alice", 2), ttl); !errors.Is(err, gateway.ErrSessionMoved) {
				t.Errorf("save under the old key: %v, want ErrSessionMoved", err)
			}
			if got, err := other.Claim(ctx, next, Digest(), "alice", ttl); err != nil || got.Turns != 1 {
				t.Errorf("the stale save changed the session: %+v, %v", got, err)
			}
		}},
		{"another principal's claim leaves the session", func(t *testing.T, s, other gateway.SessionStore) {
			k := Digest()
			s.Save(ctx, k, Record("alice", 1), ttl)
			if _, err := other.Claim(ctx, k, Digest(), "mallory", ttl); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("claim by another principal: %v, want ErrNoSession", err)
			}
			if _, err := other.Claim(ctx, k, Digest(), "alice", ttl); err != nil {
				t.Errorf("the owner's claim after it: %v", err)
			}
		}},
		{"unknown key", func(t *testing.T, s, _ gateway.SessionStore) {
			if _, err := s.Claim(ctx, Digest(), Digest(), "alice", ttl); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("claim: %v, want ErrNoSession", err)
			}
			if _, err := s.Owner(ctx, Digest()); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("owner: %v, want ErrNoSession", err)
			}
		}},
		{"a save replaces and extends", func(t *testing.T, s, other gateway.SessionStore) {
			k := Digest()
			// Margins wide enough for a busy machine: each sleep is
			// well inside the ttl, the two together well beyond it.
			s.Save(ctx, k, Record("alice", 1), 2*time.Second)
			time.Sleep(1200 * time.Millisecond)
			s.Save(ctx, k, Record("alice", 2), 2*time.Second)
			time.Sleep(1200 * time.Millisecond)
			if got, err := other.Claim(ctx, k, Digest(), "alice", ttl); err != nil || got.Turns != 2 {
				t.Errorf("claim: %+v, %v", got, err)
			}
		}},
		{"expires a ttl after the last save", func(t *testing.T, s, other gateway.SessionStore) {
			k := Digest()
			s.Save(ctx, k, Record("alice", 1), 150*time.Millisecond)
			time.Sleep(300 * time.Millisecond)
			if _, err := other.Claim(ctx, k, Digest(), "alice", ttl); !errors.Is(err, gateway.ErrNoSession) {
				t.Errorf("claim after the ttl: %v, want ErrNoSession", err)
			}
		}},
		{"the caller's record is not retained", func(t *testing.T, s, other gateway.SessionStore) {
			k := Digest()
			rec := Record("alice", 1)
			s.Save(ctx, k, rec, ttl)
			rec.History[0].Content = "changed after the save"
			if got, err := other.Claim(ctx, k, Digest(), "alice", ttl); err != nil || got.History[0].Content != "hello" {
				t.Errorf("claim: %+v, %v", got, err)
			}
		}},
		{"racing claims: exactly one wins", func(t *testing.T, s, other gateway.SessionStore) {
			for round := range 200 {
				k := Digest()
				if err := s.Save(ctx, k, Record("alice", uint64(round)), ttl); err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				errs := make([]error, 2)
				start := make(chan struct{})
				for i, store := range []gateway.SessionStore{s, other} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, errs[i] = store.Claim(ctx, k, Digest(), "alice", ttl)
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
						t.Fatalf("round %d: the loser got %v, want ErrSessionMoved", round, err)
					}
				}
				if won != 1 {
					t.Fatalf("round %d: %d claims won, want 1 (%v)", round, won, errs)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tt.run(t, a, b)
		})
	}
}
