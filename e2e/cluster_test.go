//go:build e2e && cluster

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/voicegate/voicegate/client"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/gateway/redisstore/redistest"
)

// The scale of TestCluster, sized for two shared cores.
const (
	clusterSessions   = 150                    // sessions talking through nginx
	clusterTurnEvery  = time.Second            // a typed turn about this often, per session (±25 %)
	clusterWarmTurns  = 2                      // turns each session completes before the first fault
	clusterAfterTurns = 1                      // turns each resumed session completes after its resume
	clusterOutage     = 2                      // turns each session completes while Redis is down
	clusterRaceRounds = 10                     // one token presented to two nodes at once, this many times
	clusterDialBatch  = 25                     // sessions dialled at once while ramping up
	clusterTurnWait   = 15 * time.Second       // a turn sent and not answered this long is a failure
	clusterPhaseWait  = 40 * time.Second       // each phase must be over within this
	clusterStoreWait  = 10 * time.Second       // /readyz must show the store's state within this
	clusterFirstToken = 30 * time.Millisecond  // the echo model's time to first token
	clusterBackoffMin = 100 * time.Millisecond // the clients' reconnect backoff
	clusterBackoffMax = time.Second
	// clusterSaveWindow: a turn is saved to Redis just after its
	// response.done is sent, off the connection's path, so a SIGKILL at
	// that moment loses a turn the client saw completed. A resume after
	// SIGKILL may lack its last completed turn only if that turn's reply
	// arrived this close to the kill; those are counted and logged.
	clusterSaveWindow = 200 * time.Millisecond
)

// clusterConfig is each gateway's: the load generator's zero-cost
// providers, the shared Redis, limits above the test's load, and a history
// long enough to hold every turn of the run.
func clusterConfig(redisURL string) string {
	return fmt.Sprintf(`server:
  trusted_proxies: [127.0.0.1]
  drain_timeout: 5s
  max_sessions: 1000
  max_sessions_per_ip: 1000
  max_sessions_per_key: 1000
  session_rate: 100000
  session_burst: 1000
session: {max_history: 1000, max_history_bytes: 1000000}
cache: {tts: {enabled: false}}
store: {kind: redis, redis: {url: %s/0}}
providers:
  vad: [{name: energy}]
  asr: [{name: scripted, transcripts: ["hello there"]}]
  llm: [{name: echo, first_token: %s}]
  tts: [{name: tone, rate: 16000}]
`, redisURL, clusterFirstToken)
}

// TestCluster is issue 13's scale-out, on loopback: three gateways (the
// load generator's, with zero-cost providers) behind nginx running
// deploy/nginx/voicegate.conf, sharing one redis-server, with
// clusterSessions client sessions taking typed turns through nginx.
//
//   - One token presented to two nodes at once resumes on exactly one.
//   - SIGTERM of a node: its clients are told shutting_down, reconnect
//     through nginx to the other nodes and resume with every turn they
//     saw completed; turn numbers go on.
//   - SIGKILL of another: the same, with the history up to the last
//     completed turn, but for a turn whose reply reached the client
//     within clusterSaveWindow of the kill (its save was still on the
//     way): those are counted and logged.
//   - Redis killed and started again on its port: turns go on, /readyz
//     says "store: degraded" (still 200) and voicegate_store_up is 0;
//     both recover without a restart.
//
// No turn is lost (each one sent is answered, resent if its connection
// was cut) and no session fails. The close→resumed times are logged on
// lines starting "cluster:".
func TestCluster(t *testing.T) {
	start := time.Now()
	redisSrv := redistest.Start(t)
	caPEM, cert, key := newTestCA(t)
	cfg := clusterConfig(redisSrv.URL())
	gws := make([]*gatewayProc, 3)
	addrs := make([]string, len(gws))
	for i := range gws {
		gws[i] = startGatewayProc(t, &gatewayProc{t: t, Addr: freeAddr(t), client: http.DefaultClient,
			program: []string{"voicegate-load", "gateway"}}, cfg)
		addrs[i] = gws[i].Addr
	}
	n := startNginx(t, addrs, caPEM, cert, key)
	t.Logf("cluster: redis, 3 gateways and nginx up in %v", time.Since(start).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	rdb := redis.NewClient(&redis.Options{Addr: redisSrv.Addr()})
	defer rdb.Close()
	t.Run("ResumeRace", func(t *testing.T) {
		for round := range clusterRaceRounds {
			home, a, b := gws[round%3], gws[(round+1)%3], gws[(round+2)%3]
			token := closedSession(t, ctx, home, rdb, fmt.Sprintf("race round %d", round))
			won := make([]raceResult, 2)
			var wg sync.WaitGroup
			ready := make(chan struct{})
			for i, g := range []*gatewayProc{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					won[i] = resumeRaw(ctx, g, token, ready)
				}()
			}
			close(ready)
			wg.Wait()
			var winners int
			for i, r := range won {
				switch {
				case r.err != nil:
					t.Fatalf("round %d: resume on node %d: %v", round, i, r.err)
				case r.resumed:
					winners++
					if !slices.ContainsFunc(r.history, func(h protocol.HistoryEntry) bool { return h.Text == fmt.Sprintf("race round %d", round) }) {
						t.Errorf("round %d: the resumed session's history %v lacks the turn it took", round, r.history)
					}
				case r.code != protocol.CodeResumeFailed:
					t.Errorf("round %d: the node that did not resume answered %q, want %q", round, r.code, protocol.CodeResumeFailed)
				}
			}
			if winners != 1 {
				t.Fatalf("round %d: one token presented to two nodes at once resumed on %d of them (%+v), want exactly 1", round, winners, won)
			}
		}
		t.Logf("cluster: %d racing resumes, each won by exactly one node", clusterRaceRounds)
	})
	if t.Failed() {
		return
	}

	fleet := startFleet(t, ctx, n)
	defer fleet.stop()
	fleet.waitTurns(t, "warm-up", clusterWarmTurns)
	t.Logf("cluster: %d sessions talking through nginx, %d turns each (%v since start)", clusterSessions, clusterWarmTurns, time.Since(start).Round(time.Millisecond))

	fleet.fault(t, "SIGTERM", gws[0], gws, gws[0].Stop, false)
	if t.Failed() {
		return
	}
	// Back in the pool, empty, for the next fault's clients.
	gws[0].start()
	fleet.fault(t, "SIGKILL", gws[1], gws, func() { killGateway(gws[1]) }, true)
	if t.Failed() {
		return
	}

	live := []*gatewayProc{gws[0], gws[2]}
	for _, g := range live {
		expectStore(t, g, "store: ok", 1, 0)
	}
	fleet.mark()
	redisSrv.Kill()
	for _, g := range live {
		expectStore(t, g, "store: degraded", 0, clusterStoreWait)
	}
	fleet.waitTurns(t, "while Redis is down", clusterOutage)
	for _, g := range live {
		expectStore(t, g, "store: degraded", 0, 0)
	}
	down := time.Now()
	redisSrv.StartAgain()
	for _, g := range live {
		expectStore(t, g, "store: ok", 1, clusterStoreWait)
	}
	t.Logf("cluster: Redis down: every session took %d turns meanwhile; store ok again on every node %v after Redis started", clusterOutage, time.Since(down).Round(time.Millisecond))
	// And sessions move between nodes through it again.
	token := closedSession(t, ctx, live[0], rdb, "after the outage")
	if r := resumeRaw(ctx, live[1], token, nil); r.err != nil || !r.resumed {
		t.Fatalf("a session closed on one node after Redis came back: resume on the other: resumed %v, code %q, err %v; want resumed", r.resumed, r.code, r.err)
	}

	fleet.finish(t)
	done, resent := fleet.turns()
	t.Logf("cluster: %d sessions, %d turns completed (%d of them sent again after their connection was cut), 0 lost but %d to the kill -9 save window, 0 sessions failed, in %v",
		clusterSessions, done, resent, fleet.unsaved, time.Since(start).Round(time.Millisecond))
}

// killGateway ends a gateway with SIGKILL and waits for its exit.
func killGateway(g *gatewayProc) {
	g.cmd.Process.Kill()
	<-g.done
}

// expectStore checks a node's /readyz (200, with line want) and its
// voicegate_store_up (up), waiting up to wait for both.
func expectStore(t *testing.T, g *gatewayProc, want string, up float64, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		code, body := readyz(g)
		gotUp := metricValue(t, g, "voicegate_store_up")
		if code == http.StatusOK && strings.Contains(body, want+"\n") && gotUp == up {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s after %v: /readyz %d %q and voicegate_store_up %v, want 200 with %q and %v", g.Addr, wait, code, body, gotUp, want, up)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readyz(g *gatewayProc) (int, string) {
	resp, err := g.client.Get(g.URL("/readyz"))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

// closedSession starts a session on g directly, takes one typed turn,
// closes it and returns its resume token once the session is in Redis.
func closedSession(t *testing.T, ctx context.Context, g *gatewayProc, rdb *redis.Client, text string) string {
	t.Helper()
	c, _, err := websocket.Dial(ctx, g.WS(), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", g.Addr, err)
	}
	defer c.CloseNow()
	writeJSON(t, ctx, c, protocol.SessionStart{Type: protocol.TypeSessionStart, TextOnly: true})
	var token string
	for {
		typ, raw := readEvent(t, ctx, c)
		switch typ {
		case protocol.TypeSessionStarted:
			var st protocol.SessionStarted
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			token = st.ResumeToken
			writeJSON(t, ctx, c, protocol.InputText{Type: protocol.TypeInputText, Text: text})
		case protocol.TypeResponseDone:
			c.Close(websocket.StatusNormalClosure, "")
			digest := sha256.Sum256([]byte(token))
			key := "voicegate:session:" + base64.RawURLEncoding.EncodeToString(digest[:])
			deadline := time.Now().Add(5 * time.Second)
			for {
				data, err := rdb.HGet(ctx, key, "data").Result()
				if err == nil && strings.Contains(data, text) {
					return token
				}
				if time.Now().After(deadline) {
					t.Fatalf("the closed session is not in Redis under %s with its turn %q after 5s (%q, %v)", key, text, data, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		case protocol.TypeError:
			t.Fatalf("session on %s: %s", g.Addr, raw)
		}
	}
}

// readEvent reads one event and returns its type and the raw message.
func readEvent(t *testing.T, ctx context.Context, c *websocket.Conn) (string, []byte) {
	t.Helper()
	_, raw, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return head.Type, raw
}

type raceResult struct {
	resumed bool
	history []protocol.HistoryEntry
	code    protocol.Code
	err     error
}

// resumeRaw dials g directly and, once ready is closed, presents token in
// session.start (at once if ready is nil); it reports whether the session resumed or the error code
// the node answered.
func resumeRaw(ctx context.Context, g *gatewayProc, token string, ready <-chan struct{}) raceResult {
	c, _, err := websocket.Dial(ctx, g.WS(), nil)
	if err != nil {
		return raceResult{err: err}
	}
	defer c.CloseNow()
	b, _ := json.Marshal(protocol.SessionStart{Type: protocol.TypeSessionStart, TextOnly: true, ResumeToken: token})
	if ready != nil {
		<-ready
	}
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		return raceResult{err: err}
	}
	for {
		_, raw, err := c.Read(ctx)
		if err != nil {
			return raceResult{err: fmt.Errorf("node %s: no session.started nor error: %w", g.Addr, err)}
		}
		var m struct {
			Type    string                  `json:"type"`
			Resumed bool                    `json:"resumed"`
			History []protocol.HistoryEntry `json:"history"`
			Code    protocol.Code           `json:"code"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return raceResult{err: err}
		}
		switch m.Type {
		case protocol.TypeSessionStarted:
			if !m.Resumed {
				return raceResult{err: fmt.Errorf("node %s started a new session instead of resuming or refusing: %s", g.Addr, raw)}
			}
			c.Close(websocket.StatusNormalClosure, "")
			return raceResult{resumed: true, history: m.History}
		case protocol.TypeError:
			return raceResult{code: m.Code}
		}
	}
}

// clusterTurn is a turn a client saw completed.
type clusterTurn struct {
	turn        uint64
	user, reply string
}

// clusterResume is one reconnection of a client.
type clusterResume struct {
	phase string
	wait  time.Duration // from the connection's close to the resumed session.started
	cause error
	turns int // turns the client had completed then
}

// clusterClient is one session of the fleet: its Handler records what
// the gateway said, its driver takes a turn every clusterTurnEvery.
type clusterClient struct {
	id    int
	sess  *client.Session
	phase *atomic.Pointer[string]
	// killAt is when the node was killed in the phase that tolerates the
	// save window (UnixNano), 0 in the others.
	killAt *atomic.Int64
	wake   chan struct{}

	mu         sync.Mutex
	completed  []clusterTurn
	pending    string    // the turn in flight, "" if none
	doneAt     time.Time // the last reply, until the driver schedules the next turn
	doneAtLast time.Time // the last reply
	gen        int       // connections started
	connected  bool
	closedAt   time.Time
	cause      error
	resumes    []clusterResume
	resent     int             // turns sent again on a new connection, their first cut
	unsaved    []time.Duration // turns lost to the save window: the kill's time after their reply
	failures   []string
}

func (c *clusterClient) failf(format string, args ...any) {
	c.failures = append(c.failures, fmt.Sprintf("session %d: ", c.id)+fmt.Sprintf(format, args...))
}

func (c *clusterClient) handle(ev client.Event) {
	c.mu.Lock()
	switch m := ev.(type) {
	case *protocol.ResponseDone:
		if c.pending == "" || !strings.Contains(m.Text, c.pending) {
			break
		}
		if n := len(c.completed); n > 0 && m.Turn <= c.completed[n-1].turn {
			c.failf("turn %d completed after turn %d: turn numbers must go on", m.Turn, c.completed[n-1].turn)
		}
		c.completed = append(c.completed, clusterTurn{turn: m.Turn, user: c.pending, reply: m.Text})
		c.pending, c.doneAt = "", time.Now()
		c.doneAtLast = c.doneAt
	case *client.Disconnected:
		if c.connected {
			c.connected, c.closedAt, c.cause = false, time.Now(), m.Err
		}
	case *client.Connected:
		c.gen++
		c.connected = true
		if !m.Reconnect {
			break
		}
		r := clusterResume{phase: *c.phase.Load(), wait: time.Since(c.closedAt), cause: c.cause, turns: len(c.completed)}
		c.resumes = append(c.resumes, r)
		switch {
		case m.ResumeFailed || !m.Started.Resumed:
			c.failf("reconnected in phase %s with a new session (resume_failed %v): its conversation is lost", r.phase, m.ResumeFailed)
		default:
			miss := missingTurns(m.Started.History, c.completed)
			if len(miss) == 1 && c.killAt.Load() != 0 {
				last := c.completed[len(c.completed)-1]
				gap := time.Unix(0, c.killAt.Load()).Sub(c.doneAtLast)
				if miss[0] == last.user && gap.Abs() <= clusterSaveWindow {
					// Its reply beat its save: the client's view follows
					// the history it got back.
					c.completed = c.completed[:len(c.completed)-1]
					c.unsaved = append(c.unsaved, gap)
					miss = nil
				}
			}
			if len(miss) > 0 {
				c.failf("resumed in phase %s without %d of its %d completed turns (first missing %q); history %d entries", r.phase, len(miss), len(c.completed), miss[0], len(m.Started.History))
			}
		}
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// missingTurns returns the completed turns that are not, in order, a user
// message and its reply in history.
func missingTurns(history []protocol.HistoryEntry, done []clusterTurn) []string {
	var miss []string
	i := 0
	for _, d := range done {
		found, from := false, i
		for ; i+1 < len(history); i++ {
			if history[i].Role == "user" && history[i].Text == d.user && history[i+1].Role == "assistant" && history[i+1].Text == d.reply {
				found = true
				i += 2
				break
			}
		}
		if !found {
			miss = append(miss, d.user)
			i = from
		}
	}
	return miss
}

// drive takes turns until stop is closed and no turn is in flight: a new
// one about every clusterTurnEvery after the last reply, sent again on
// each new connection until answered.
func (c *clusterClient) drive(stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var (
		n       int
		sentGen = -1
		sentAt  time.Time
		next    = time.Now().Add(time.Duration(rand.Int64N(int64(clusterTurnEvery))))
		stopped bool
	)
	for {
		select {
		case <-stop:
			stopped, stop = true, nil
		case <-tick.C:
		case <-c.wake:
		}
		now := time.Now()
		c.mu.Lock()
		if c.pending == "" && !c.doneAt.IsZero() && sentGen >= 0 {
			next = c.doneAt.Add(clusterTurnEvery*3/4 + time.Duration(rand.Int64N(int64(clusterTurnEvery/2))))
			sentGen, c.doneAt = -1, time.Time{}
		}
		switch {
		case c.pending == "" && stopped:
			c.mu.Unlock()
			return
		case c.pending == "" && !now.Before(next):
			n++
			c.pending = fmt.Sprintf("turn %d of session %d", n, c.id)
			sentGen = -1
		}
		pending, gen, connected := c.pending, c.gen, c.connected
		if pending != "" && sentGen == gen && now.Sub(sentAt) > clusterTurnWait {
			c.failf("%q sent %v ago, no reply", pending, now.Sub(sentAt).Round(time.Millisecond))
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if pending != "" && connected && sentGen != gen {
			if err := c.sess.SendText(pending); err == nil {
				if sentGen >= 0 {
					c.mu.Lock()
					c.resent++
					c.mu.Unlock()
				}
				sentGen, sentAt = gen, now
			}
		}
	}
}

// fleet is the clients talking through nginx.
type fleet struct {
	clients []*clusterClient
	phase   atomic.Pointer[string]
	killAt  atomic.Int64
	unsaved int // turns lost to the save window, over the faults
	stopc   chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	marks   []int // completed turns per client at the last mark
}

func startFleet(t *testing.T, ctx context.Context, n *nginxProc) *fleet {
	t.Helper()
	f := &fleet{stopc: make(chan struct{})}
	phase := "start"
	f.phase.Store(&phase)
	f.clients = make([]*clusterClient, clusterSessions)
	for lo := 0; lo < clusterSessions; lo += clusterDialBatch {
		hi := min(lo+clusterDialBatch, clusterSessions)
		errs := make([]error, hi-lo)
		var wg sync.WaitGroup
		for i := lo; i < hi; i++ {
			c := &clusterClient{id: i, phase: &f.phase, killAt: &f.killAt, wake: make(chan struct{}, 1)}
			f.clients[i] = c
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.sess, errs[i-lo] = client.Dial(ctx, client.Config{
					URL: "wss://" + n.HTTPSAddr + "/ws", HTTPClient: n.client, TextOnly: true, Handler: c.handle,
					Backoff: client.Backoff{Min: clusterBackoffMin, Max: clusterBackoffMax},
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				f.stop()
				t.Fatalf("session %d: dial through nginx: %v\n%s", lo+i, err, n.errorLog())
			}
		}
		for _, c := range f.clients[lo:hi] {
			f.wg.Add(1)
			go func() { defer f.wg.Done(); c.drive(f.stopc) }()
		}
	}
	t.Cleanup(f.stop)
	return f
}

// stop ends the drivers (at once) and closes the sessions.
func (f *fleet) stop() {
	f.once.Do(func() { close(f.stopc) })
	f.wg.Wait()
	for _, c := range f.clients {
		if c != nil && c.sess != nil {
			c.sess.Close()
		}
	}
}

// failures returns every client's failures so far.
func (f *fleet) failures() []string {
	var out []string
	for _, c := range f.clients {
		c.mu.Lock()
		out = append(out, c.failures...)
		c.mu.Unlock()
	}
	return out
}

// turns returns the turns completed and those sent again after a cut.
func (f *fleet) turns() (completed, resent int) {
	for _, c := range f.clients {
		c.mu.Lock()
		completed += len(c.completed)
		resent += c.resent
		c.mu.Unlock()
	}
	return completed, resent
}

// mark notes each client's completed turns, for waitTurns.
func (f *fleet) mark() {
	f.marks = make([]int, len(f.clients))
	for i, c := range f.clients {
		c.mu.Lock()
		f.marks[i] = len(c.completed)
		c.mu.Unlock()
	}
}

// waitTurns waits until every client has completed k turns since the
// last mark (or since the start), failing on any client's failure.
func (f *fleet) waitTurns(t *testing.T, what string, k int) {
	t.Helper()
	deadline := time.Now().Add(clusterPhaseWait)
	for {
		if fs := f.failures(); len(fs) > 0 {
			t.Fatalf("%s: %d failures, first: %s", what, len(fs), strings.Join(fs[:min(5, len(fs))], "; "))
		}
		behind, first := 0, ""
		for i, c := range f.clients {
			base := 0
			if f.marks != nil {
				base = f.marks[i]
			}
			c.mu.Lock()
			got := len(c.completed) - base
			c.mu.Unlock()
			if got < k {
				if behind == 0 {
					first = fmt.Sprintf("session %d: %d", c.id, got)
				}
				behind++
			}
		}
		if behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after %v, %d sessions have completed fewer than the %d turns expected (%s)", what, clusterPhaseWait, behind, k, first)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fault ends victim with end and checks that exactly the sessions it held
// reconnect, through nginx, resume on the other nodes with their history
// and complete clusterAfterTurns more turns each; it logs the close→resumed
// times.
func (f *fleet) fault(t *testing.T, name string, victim *gatewayProc, all []*gatewayProc, end func(), saveWindow bool) {
	t.Helper()
	held := sessionsActive(t, victim)
	if held == 0 {
		t.Fatalf("%s: the node to end holds no session, want some of the %d", name, clusterSessions)
	}
	f.phase.Store(&name)
	before := make([]int, len(f.clients))
	for i, c := range f.clients {
		c.mu.Lock()
		before[i] = len(c.resumes)
		c.mu.Unlock()
	}
	if saveWindow {
		f.killAt.Store(time.Now().UnixNano())
		defer f.killAt.Store(0)
	}
	end()

	deadline := time.Now().Add(clusterPhaseWait)
	var waits []time.Duration
	for {
		if fs := f.failures(); len(fs) > 0 {
			t.Fatalf("%s: %d failures, first: %s", name, len(fs), strings.Join(fs[:min(5, len(fs))], "; "))
		}
		waits = waits[:0]
		var pendingTurns, disconnected int
		var badCause error
		for i, c := range f.clients {
			c.mu.Lock()
			for _, r := range c.resumes[before[i]:] {
				waits = append(waits, r.wait)
				if code, _ := client.CodeOf(r.cause); name == "SIGTERM" && code != protocol.CodeShuttingDown && badCause == nil {
					badCause = fmt.Errorf("session %d: %v", c.id, r.cause)
				}
			}
			if !c.connected {
				disconnected++
			}
			if n := len(c.resumes); n > before[i] && len(c.completed)-c.resumes[n-1].turns < clusterAfterTurns {
				pendingTurns++
			}
			c.mu.Unlock()
		}
		if badCause != nil {
			t.Fatalf("%s: a client was disconnected with %v, want %s", name, badCause, protocol.CodeShuttingDown)
		}
		if len(waits) > held {
			t.Fatalf("%s: %d reconnections, but the node held %d sessions: sessions on the other nodes were disturbed", name, len(waits), held)
		}
		if len(waits) == held && disconnected == 0 && pendingTurns == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after %v, %d of the node's %d sessions resumed, %d clients disconnected, %d resumed ones without %d turn after", name, clusterPhaseWait, len(waits), held, disconnected, pendingTurns, clusterAfterTurns)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var active int
	for _, g := range all {
		if g != victim {
			active += sessionsActive(t, g)
		}
	}
	if active != clusterSessions {
		t.Errorf("%s: the other nodes hold %d sessions after the resumes, want all %d", name, active, clusterSessions)
	}
	var unsaved []time.Duration
	for _, c := range f.clients {
		c.mu.Lock()
		unsaved = append(unsaved, c.unsaved...)
		c.unsaved = nil
		c.mu.Unlock()
	}
	f.unsaved += len(unsaved)
	if len(unsaved) > 0 {
		t.Logf("cluster: %s: %d sessions resumed without their last completed turn, its reply %v before the kill (not yet in Redis)", name, len(unsaved), unsaved)
	}
	slices.Sort(waits)
	t.Logf("cluster: %s of a node holding %d sessions: all resumed elsewhere with their history, close→resumed p50 %v p99 %v max %v",
		name, held, pct(waits, 50), pct(waits, 99), waits[len(waits)-1].Round(time.Millisecond))
}

// finish lets every turn in flight complete, stops the drivers and checks
// that no session failed or ended.
func (f *fleet) finish(t *testing.T) {
	t.Helper()
	f.once.Do(func() { close(f.stopc) })
	f.wg.Wait()
	if fs := f.failures(); len(fs) > 0 {
		t.Fatalf("%d failures, first: %s", len(fs), strings.Join(fs[:min(5, len(fs))], "; "))
	}
	for _, c := range f.clients {
		select {
		case <-c.sess.Done():
			t.Errorf("session %d ended before it was closed: %v", c.id, c.sess.Err())
		default:
		}
		c.mu.Lock()
		if c.pending != "" {
			t.Errorf("session %d: turn %q never answered", c.id, c.pending)
		}
		c.mu.Unlock()
	}
}

// pct returns the p-th percentile of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)].Round(time.Millisecond)
}
