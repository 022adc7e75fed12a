package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

type downStore struct{}

var errDown = errors.New("connection refused")

func (downStore) Save(context.Context, [sha256.Size]byte, *SessionRecord, time.Duration) error {
	return errDown
}
func (downStore) Claim(context.Context, [sha256.Size]byte, [sha256.Size]byte, string, time.Duration) (*SessionRecord, error) {
	return nil, errDown
}
func (downStore) Owner(context.Context, [sha256.Size]byte) (string, error) { return "", errDown }
func (downStore) Ping(context.Context) error                               { return errDown }

// TestStoreQueueBoundedInOutage: while the store is down, the save queue
// is pruned of the sessions the node evicted (MaxDetachedSessions): what
// waits grows with the sessions held, not with the sessions started.
func TestStoreQueueBoundedInOutage(t *testing.T) {
	srv, err := New(Options{Stages: pipeline.Stages{LLM: echo.New(echo.Config{})}, Store: downStore{}, Config: Config{MaxDetachedSessions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	srv.sync.setUp(errDown)
	now := time.Now()
	for i := range 1000 {
		c := &connection{}
		st := &sessionState{id: strconv.Itoa(i), owner: anonymous, conv: srv.newConversation()}
		srv.sessions.create(st, c, now)
		srv.sync.mark(st)
		srv.sessions.detach(st, c, now)
		srv.sync.mark(st)
	}
	time.Sleep(50 * time.Millisecond)
	srv.sync.mu.Lock()
	n := len(srv.sync.pending)
	srv.sync.mu.Unlock()
	if held := srv.sessions.len(); n > 2*held+64 {
		t.Errorf("the save queue holds %d sessions (their conversations); the node holds %d", n, held)
	}
}

type slowStore struct{ downStore }

func (slowStore) Save(ctx context.Context, _ [sha256.Size]byte, _ *SessionRecord, _ time.Duration) error {
	select {
	case <-time.After(100 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (slowStore) Ping(context.Context) error { return nil }

// TestStoreShutdownWithinBudget: a slow (not failing) store does not hold
// Shutdown beyond its store budget (5×StoreTimeout) for the whole backlog:
// the round in progress stops where Shutdown's own flush takes over.
func TestStoreShutdownWithinBudget(t *testing.T) {
	srv, err := New(Options{Stages: pipeline.Stages{LLM: echo.New(echo.Config{})}, Store: slowStore{}, StoreTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 40 {
		c := &connection{}
		st := &sessionState{id: strconv.Itoa(i), owner: anonymous, conv: srv.newConversation()}
		srv.sessions.create(st, c, now)
		srv.sync.mark(st)
	}
	time.Sleep(20 * time.Millisecond) // the round has begun
	start := time.Now()
	srv.Shutdown(context.Background())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %s; its store budget is 5*StoreTimeout = 1s", d)
	}
}

func TestCouldBeResumeToken(t *testing.T) {
	for tok, want := range map[string]bool{
		randomToken(resumeTokenBytes):       true,
		"":                                  false,
		randomToken(resumeTokenBytes) + "x": false,
		strings.Repeat("a", resumeTokenLen-1) + "=": false,
		strings.Repeat("é", resumeTokenLen/2):       false,
	} {
		if got := couldBeResumeToken(tok); got != want {
			t.Errorf("couldBeResumeToken(%q) = %v, want %v", tok, got, want)
		}
	}
}
