package gateway_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/gateway/redisstore"
	"github.com/voicegate/voicegate/gateway/redisstore/redistest"
)

// watchStore is a SessionStore that notes what it saved.
type watchStore struct {
	gateway.SessionStore
	mu    sync.Mutex
	turns map[string]uint64 // by session id: the turns of its last save
}

func (w *watchStore) Save(ctx context.Context, key [sha256.Size]byte, rec *gateway.SessionRecord, ttl time.Duration) error {
	err := w.SessionStore.Save(ctx, key, rec, ttl)
	if err == nil {
		w.mu.Lock()
		w.turns[rec.ID] = rec.Turns
		w.mu.Unlock()
	}
	return err
}

// saved waits until the session id has been saved after n turns.
func (w *watchStore) saved(t *testing.T, id string, n uint64) {
	t.Helper()
	eventually(t, fmt.Sprintf("session saved after %d turns", n), func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.turns[id] == n
	})
}

// newNode is a gateway on the shared store at url, with a Store of its
// own, as a separate process would have.
func newNode(t *testing.T, url string, mutate ...func(*gateway.Options)) (*testServer, *watchStore) {
	t.Helper()
	// The default timeouts: a claim that timed out on a busy machine
	// would be taken for an outage, and the resume decided by memory.
	store, err := redisstore.New(redisstore.Config{URL: url, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // after the server's Shutdown: cleanups run last first
	w := &watchStore{SessionStore: store, turns: map[string]uint64{}}
	return newServer(t, func(o *gateway.Options) {
		o.Store = w
		o.StoreTimeout = 2 * time.Second
		o.ResumeWindow = time.Minute
		for _, m := range mutate {
			m(o)
		}
	}), w
}

// say types text and waits for the reply, returning its turn number.
func (c *client) say(text string) uint64 {
	c.t.Helper()
	c.sendJSON(map[string]any{"type": "input.text", "text": text})
	return c.awaitTurn().latency.Turn
}

// saves is how many saves node has made to the store.
func saves(t *testing.T, node *testServer) float64 {
	return metric(t, node.reg, "voicegate_store_operations_total", map[string]string{"op": "save", "result": "ok"})
}

// historyText is a resumed session's history as "role: text" lines.
func historyText(st protocol.SessionStarted) string {
	var b strings.Builder
	for _, h := range st.History {
		b.WriteString(h.Role + ": " + h.Text + "\n")
	}
	return b.String()
}

const twoTurns = "user: good morning\nassistant: You said: good morning.\nuser: how are you\nassistant: You said: how are you.\n"

// TestResumeOnAnotherNode: a session started on node A and dropped there
// resumes on node B with its whole history and the next turn number; the
// token A handed out no longer works anywhere, and B's works on A.
func TestResumeOnAnotherNode(t *testing.T) {
	redis := redistest.Start(t)
	a, aStore := newNode(t, redis.URL())
	b, bStore := newNode(t, redis.URL())

	c := a.dial(t, dialOpts{})
	st := c.start(map[string]any{"text_only": true})
	if c.say("good morning") != 1 || c.say("how are you") != 2 {
		t.Fatal("turn numbers on A")
	}
	c.close()
	aStore.saved(t, st.SessionID, 2)

	c = b.dial(t, dialOpts{})
	resumed := c.start(map[string]any{"resume_token": st.ResumeToken})
	if !resumed.Resumed || resumed.SessionID != st.SessionID {
		t.Fatalf("not resumed on B: %+v", resumed)
	}
	if got := historyText(resumed); got != twoTurns {
		t.Errorf("history on B:\n%s", got)
	}
	if n := c.say("and now"); n != 3 {
		t.Errorf("the next turn on B is %d, want 3", n)
	}
	c.close()
	bStore.saved(t, st.SessionID, 3)

	for name, node := range map[string]*testServer{"A": a, "B": b} {
		if node.resumes(t, st.ResumeToken) {
			t.Errorf("A's spent token resumed on %s", name)
		}
	}
	c = a.dial(t, dialOpts{})
	back := c.start(map[string]any{"resume_token": resumed.ResumeToken})
	if !back.Resumed || !strings.HasSuffix(historyText(back), "user: and now\nassistant: You said: and now.\n") {
		t.Errorf("B's token on A: resumed %v, history:\n%s", back.Resumed, historyText(back))
	}
	c.close()
}

// TestResumeAfterNodeDies: a turn completed on A is in the store at its
// end: with A's connection still open and A never shut down (as after
// kill -9), the session resumes on B with that turn. A's client, when A
// next saves, learns it was superseded.
func TestResumeAfterNodeDies(t *testing.T) {
	redis := redistest.Start(t)
	a, aStore := newNode(t, redis.URL())
	b, _ := newNode(t, redis.URL())

	onA := a.dial(t, dialOpts{})
	st := onA.start(map[string]any{"text_only": true})
	onA.say("good morning")
	onA.say("how are you")
	aStore.saved(t, st.SessionID, 2)

	c := b.dial(t, dialOpts{})
	resumed := c.start(map[string]any{"resume_token": st.ResumeToken})
	if !resumed.Resumed {
		t.Fatal("not resumed on B")
	}
	if got := historyText(resumed); got != twoTurns {
		t.Errorf("history on B:\n%s", got)
	}
	if n := c.say("still here"); n != 3 {
		t.Errorf("the next turn on B is %d, want 3", n)
	}
	c.close()

	// A is not dead, in this test: its next save finds the session moved
	// and closes its connection as superseded.
	onA.sendJSON(map[string]any{"type": "input.text", "text": "hello?"})
	onA.expectError(protocol.CodeSuperseded)
	onA.close()
}

// TestResumeRace: one token presented to two nodes at once resumes on
// exactly one of them, every time.
func TestResumeRace(t *testing.T) {
	redis := redistest.Start(t)
	a, aStore := newNode(t, redis.URL())
	b, bStore := newNode(t, redis.URL())
	nodes, stores := []*testServer{a, b}, []*watchStore{aStore, bStore}
	for round := range 15 {
		st := nodes[round%2].closeSession(t)
		stores[round%2].saved(t, st.SessionID, 0)
		var wg sync.WaitGroup
		won := make([]bool, 2)
		for i, node := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				won[i] = node.resumes(t, st.ResumeToken)
			}()
		}
		wg.Wait()
		if won[0] == won[1] {
			t.Fatalf("round %d: resumed on A %v, on B %v; want exactly one", round, won[0], won[1])
		}
	}
}

// TestStoreRestart: with Redis down the nodes serve their live sessions
// and say degraded on /readyz and voicegate_store_up; with Redis back
// (empty) they recover without a restart, and the turns taken meanwhile
// are saved: the session resumes on the other node with them.
func TestStoreRestart(t *testing.T) {
	redis := redistest.Start(t)
	a, _ := newNode(t, redis.URL())
	b, _ := newNode(t, redis.URL())
	if code, body := a.get(t, gateway.PathReadyz); code != 200 || body != "ready\nstore: ok\n" {
		t.Fatalf("readyz %d %q", code, body)
	}

	c := a.dial(t, dialOpts{})
	st := c.start(map[string]any{"text_only": true})
	c.say("good morning")
	redis.Kill()
	if n := c.say("how are you"); n != 2 {
		t.Errorf("turn %d during the outage, want 2", n)
	}
	eventually(t, "degraded", func() bool {
		code, body := a.get(t, gateway.PathReadyz)
		return code == 200 && body == "ready\nstore: degraded\n" && metric(t, a.reg, "voicegate_store_up", nil) == 0
	})
	if metric(t, a.reg, "voicegate_store_operations_total", map[string]string{"result": "error"}) == 0 {
		t.Error("no failed store call counted")
	}
	// New sessions are served too.
	other := a.dial(t, dialOpts{})
	other.start(map[string]any{"text_only": true})
	other.say("anyone there")
	other.close()
	c.close()
	eventually(t, "both detached", func() bool { return metric(t, a.reg, "voicegate_sessions_detached", nil) == 2 })
	before := saves(t, a)

	redis.Restart()
	eventually(t, "recovered", func() bool {
		_, body := a.get(t, gateway.PathReadyz)
		return body == "ready\nstore: ok\n" && metric(t, a.reg, "voicegate_store_up", nil) == 1
	})
	// What waited is saved: each session once, as it is now.
	eventually(t, "the waiting sessions saved", func() bool { return saves(t, a) == before+2 })
	c = b.dial(t, dialOpts{})
	resumed := c.start(map[string]any{"resume_token": st.ResumeToken})
	if !resumed.Resumed || historyText(resumed) != twoTurns {
		t.Errorf("on B after the restart: resumed %v, history:\n%s", resumed.Resumed, historyText(resumed))
	}
	c.close()
}

// TestResumeOnAnotherNodeWithKeys: with API keys, a browser's reconnect
// to another node with the token as its only credential (?resume=)
// resumes; another key's connection cannot take the session, and leaves
// it resumable by its owner.
func TestResumeOnAnotherNodeWithKeys(t *testing.T) {
	redis := redistest.Start(t)
	withKeys := func(o *gateway.Options) { o.APIKeys = []string{keyA, keyB} }
	a, aStore := newNode(t, redis.URL(), withKeys)
	b, _ := newNode(t, redis.URL(), withKeys)

	c := a.dial(t, dialOpts{header: bearer(keyA)})
	st := c.start(map[string]any{"text_only": true})
	c.say("good morning")
	c.say("how are you")
	c.close()
	aStore.saved(t, st.SessionID, 2)

	other := b.dial(t, dialOpts{header: bearer(keyB)})
	other.sendJSON(map[string]any{"type": "session.start", "resume_token": st.ResumeToken})
	other.expectError(protocol.CodeResumeFailed)
	if s, _ := other.expect(protocol.TypeSessionStarted); s.flag("resumed") {
		t.Fatal("another key resumed the session on B")
	}
	other.close()
	c = b.dial(t, dialOpts{query: "resume=" + st.ResumeToken})
	resumed := c.start(nil)
	if !resumed.Resumed || historyText(resumed) != twoTurns {
		t.Errorf("?resume= on B: resumed %v, history:\n%s", resumed.Resumed, historyText(resumed))
	}
	c.close()
}

// TestClusterLimits: with a ClusterCounter, max_sessions_per_key counts a
// key's connections on every node, and session starts on one node are
// taken from the key's session_rate on the others, an exchange or two
// later.
func TestClusterLimits(t *testing.T) {
	redis := redistest.Start(t)
	node := func() *testServer {
		store, err := redisstore.New(redisstore.Config{URL: redis.URL(), Timeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		return newServer(t, func(o *gateway.Options) {
			o.Store, o.Cluster, o.ClusterInterval = store, store, 250*time.Millisecond
			o.APIKeys = []string{keyA, keyB}
			o.MaxSessionsPerKey = 2
			o.SessionRate, o.SessionBurst = 0.001, 3
		})
	}
	a, b := node(), node()
	exchanged := func(s *testServer) float64 {
		return metric(t, s.reg, "voicegate_store_operations_total", map[string]string{"op": "limits", "result": "ok"})
	}
	// waitExchanges waits until both nodes have exchanged twice more:
	// each has seen what the other published after now.
	waitExchanges := func() {
		t.Helper()
		ea, eb := exchanged(a), exchanged(b)
		eventually(t, "two exchanges each", func() bool { return exchanged(a) >= ea+2 && exchanged(b) >= eb+2 })
	}

	// Connections: two of key A on node A fill the key's share on B too.
	c1, c2 := a.dial(t, dialOpts{header: bearer(keyA)}), a.dial(t, dialOpts{header: bearer(keyA)})
	waitExchanges()
	if c, resp, err := b.tryDial(dialOpts{header: bearer(keyA)}); err == nil {
		c.close()
		t.Fatal("a third connection of key A was accepted on B")
	} else if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection on B: %v, want 429", resp)
	}
	if n := metric(t, b.reg, "voicegate_rate_limited_total", map[string]string{"limit": "max_sessions_per_key"}); n != 1 {
		t.Errorf("B counted %v refusals for max_sessions_per_key", n)
	}
	other := b.dial(t, dialOpts{header: bearer(keyB)}) // another key is not affected
	other.close()
	c1.close()
	waitExchanges()
	c3 := b.dial(t, dialOpts{header: bearer(keyA)}) // a place is free again
	c3.close()
	c2.close()

	// Session starts: one of key B on B, two on A: B's bucket of three
	// is empty once it has heard of A's.
	start := func(s *testServer) (started bool) {
		c := s.dial(t, dialOpts{header: bearer(keyB)})
		defer c.close()
		c.sendJSON(map[string]any{"type": "session.start", "text_only": true})
		for {
			m := c.next()
			switch {
			case m.Type == protocol.TypeSessionStarted:
				return true
			case m.Type == protocol.TypeError && protocol.Code(m.str("code")) == protocol.CodeRateLimited:
				return false
			case m.Type == protocol.TypeError:
				t.Fatalf("error %s", m.Raw)
			}
		}
	}
	if !start(b) {
		t.Fatal("the first start on B refused")
	}
	waitExchanges() // B now follows key B's total
	for i := range 2 {
		if !start(a) {
			t.Fatalf("start %d on A refused", i+1)
		}
	}
	waitExchanges()
	if start(b) {
		t.Error("B started a fourth session of key B: the starts on A were not counted")
	}
}

// TestShutdownTwiceWithStore: a second Shutdown (the test's cleanup after
// the test's own) returns at once.
func TestShutdownTwiceWithStore(t *testing.T) {
	redis := redistest.Start(t)
	store, err := redisstore.New(redisstore.Config{URL: redis.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := newServer(t, func(o *gateway.Options) { o.Store, o.Cluster = store, store })
	st := s.closeSession(t)
	shutdown(t, s)
	shutdown(t, s)
	if owner, err := store.Owner(context.Background(), sha256.Sum256([]byte(st.ResumeToken))); err != nil || owner != "anonymous" {
		t.Errorf("the session after the drain: %q, %v", owner, err)
	}
}
