package espeakgate

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const short = 30 * time.Millisecond

// waits reports whether acquire is still waiting after short.
func waits(t *testing.T, acquire func(context.Context) (func(), error)) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), short)
	defer cancel()
	release, err := acquire(ctx)
	if err == nil {
		release()
		return false
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire: %v, want a deadline", err)
	}
	return true
}

func TestExclusion(t *testing.T) {
	a, b := &User{}, &User{}
	excl := func(g *state, u *User) func(context.Context) (func(), error) {
		return func(ctx context.Context) (func(), error) {
			r, _, err := g.exclusive(ctx, u)
			return r, err
		}
	}
	shared := func(g *state, u *User) func(context.Context) (func(), error) {
		return func(ctx context.Context) (func(), error) { return g.share(ctx, u) }
	}
	tests := []struct {
		name     string
		held     func(g *state) func(context.Context) (func(), error)
		next     func(g *state) func(context.Context) (func(), error)
		wantWait bool
	}{
		{"shared beside shared", func(g *state) func(context.Context) (func(), error) { return shared(g, a) },
			func(g *state) func(context.Context) (func(), error) { return shared(g, b) }, false},
		{"exclusive waits for shared", func(g *state) func(context.Context) (func(), error) { return shared(g, a) },
			func(g *state) func(context.Context) (func(), error) { return excl(g, b) }, true},
		{"shared waits for exclusive", func(g *state) func(context.Context) (func(), error) { return excl(g, a) },
			func(g *state) func(context.Context) (func(), error) { return shared(g, b) }, true},
		{"exclusive waits for exclusive", func(g *state) func(context.Context) (func(), error) { return excl(g, a) },
			func(g *state) func(context.Context) (func(), error) { return excl(g, a) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate()
			release, err := tt.held(g)(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := waits(t, tt.next(g)); got != tt.wantWait {
				t.Fatalf("waited %v, want %v", got, tt.wantWait)
			}
			release()
			release() // a second release is a no-op
			if waits(t, tt.next(g)) {
				t.Fatal("still waiting after the release")
			}
		})
	}
}

func TestIntact(t *testing.T) {
	g := newGate()
	a, b := &User{}, &User{}
	turn := func(u *User) bool {
		r, intact, err := g.exclusive(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		r()
		return intact
	}
	if turn(a) {
		t.Error("first turn reported intact")
	}
	if !turn(a) {
		t.Error("second turn in a row not intact")
	}
	r, err := g.share(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	r()
	if turn(a) {
		t.Error("turn after a shared user reported intact")
	}
}

// TestQueuedExclusiveHoldsBackShared: a waiting Exclusive user is served
// before Shared users that come after it, and a cancelled wait lets them in.
func TestQueuedExclusiveHoldsBackShared(t *testing.T) {
	g := newGate()
	a, b := &User{}, &User{}
	first, err := g.share(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var got atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		r, _, err := g.exclusive(ctx, b)
		if err == nil {
			got.Store(true)
			r()
		}
	})
	time.Sleep(short) // the exclusive user is queued
	if !waits(t, func(ctx context.Context) (func(), error) { return g.share(ctx, a) }) {
		t.Error("a shared user overtook a queued exclusive one")
	}
	cancel()
	wg.Wait()
	if got.Load() {
		t.Fatal("exclusive granted while shared held")
	}
	if waits(t, func(ctx context.Context) (func(), error) { return g.share(ctx, a) }) {
		t.Error("shared user still held back after the exclusive wait was cancelled")
	}
	first()
}
