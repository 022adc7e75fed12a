package gateway_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
)

// flakyClaim fails Claim while fail is set, as a Redis timeout would.
type flakyClaim struct {
	gateway.SessionStore
	fail atomic.Bool
}

func (f *flakyClaim) Claim(ctx context.Context, key, next [sha256.Size]byte, who string, ttl time.Duration) (*gateway.SessionRecord, error) {
	if f.fail.Load() {
		return nil, errors.New("i/o timeout")
	}
	return f.SessionStore.Claim(ctx, key, next, who, ttl)
}

// TestStoreOutageResumeKillsOldToken: a resume on node A while the store's
// claim fails is decided by A's memory; once the store answers, the
// session is claimed to its new token there too, so the old token resumes
// no fork of it on node B.
func TestStoreOutageResumeKillsOldToken(t *testing.T) {
	mem := gateway.NewMemoryStore(1000, nil)
	wa := &watchStore{SessionStore: mem, turns: map[string]uint64{}}
	fa := &flakyClaim{SessionStore: wa}
	a := newServer(t, func(o *gateway.Options) { o.Store = fa; o.ResumeWindow = time.Minute })
	b := newServer(t, func(o *gateway.Options) { o.Store = mem; o.ResumeWindow = time.Minute })

	c := a.dial(t, dialOpts{})
	st := c.start(map[string]any{"text_only": true})
	c.say("good morning")
	c.close()
	wa.saved(t, st.SessionID, 1)

	fa.fail.Store(true)
	c = a.dial(t, dialOpts{})
	r := c.start(map[string]any{"resume_token": st.ResumeToken})
	if !r.Resumed || r.ResumeToken == st.ResumeToken {
		t.Fatalf("local resume: %+v", r)
	}
	fa.fail.Store(false)
	c.say("secret turn")
	wa.saved(t, st.SessionID, 2)
	if b.resumes(t, st.ResumeToken) {
		t.Errorf("the rotated-away token %q still resumes the session on B", "T")
	}
	c.close()
}
