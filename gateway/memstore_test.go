package gateway_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/storetest"
)

func TestMemoryStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) (gateway.SessionStore, gateway.SessionStore) {
		m := gateway.NewMemoryStore(1000, nil)
		return m, m
	})
}

// TestMemoryStoreCapped: a full store refuses a new session until one
// expires; it still takes saves of the sessions it holds.
func TestMemoryStoreCapped(t *testing.T) {
	now := time.Unix(1000, 0)
	m := gateway.NewMemoryStore(2, func() time.Time { return now })
	ctx := context.Background()
	k1, k2, k3 := storetest.Digest(), storetest.Digest(), storetest.Digest()
	m.Save(ctx, k1, storetest.Record("a", 1), time.Second)
	m.Save(ctx, k2, storetest.Record("a", 1), 2*time.Second)
	if err := m.Save(ctx, k3, storetest.Record("a", 1), time.Second); !errors.Is(err, gateway.ErrStoreFull) {
		t.Errorf("third session: %v, want ErrStoreFull", err)
	}
	if err := m.Save(ctx, k2, storetest.Record("a", 2), 2*time.Second); err != nil {
		t.Errorf("a held session: %v", err)
	}
	now = now.Add(time.Second)
	if err := m.Save(ctx, k3, storetest.Record("a", 1), time.Second); err != nil {
		t.Errorf("after one expired: %v", err)
	}
}

// TestServersShareMemoryStore: two Servers in one process on one
// MemoryStore resume each other's sessions.
func TestServersShareMemoryStore(t *testing.T) {
	store := &watchStore{SessionStore: gateway.NewMemoryStore(100, nil), turns: map[string]uint64{}}
	withStore := func(o *gateway.Options) { o.Store = store }
	a, b := newServer(t, withStore), newServer(t, withStore)
	c := a.dial(t, dialOpts{})
	st := c.start(map[string]any{"text_only": true})
	c.say("good morning")
	c.say("how are you")
	c.close()
	store.saved(t, st.SessionID, 2)
	c = b.dial(t, dialOpts{})
	resumed := c.start(map[string]any{"resume_token": st.ResumeToken})
	if !resumed.Resumed || historyText(resumed) != twoTurns {
		t.Errorf("on B: resumed %v, history:\n%s", resumed.Resumed, historyText(resumed))
	}
	c.close()
}
