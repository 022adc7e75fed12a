package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway/protocol"
)

// storeSync keeps Options.Store current with this node's /ws sessions.
// A session is marked when it starts, when a turn ends and when its
// connection ends; one goroutine saves the marked ones, each as it is
// then, off the connections' goroutines: no store call is made per audio
// frame, and a slow store slows no session. A session marked again before
// it is saved is saved once, and while the store is down the queue is
// pruned of sessions the node no longer holds, so what waits stays within
// twice the sessions the node holds (plus a few).
//
// While the store fails, the sessions go on: the first failed save stops
// the round, what is left waits, a ping each storeCheckInterval finds
// when the store answers again, and the waiting sessions are saved then.
// /readyz reports the outage (degraded) and voicegate_store_up is 0.
type storeSync struct {
	srv   *Server
	store SessionStore

	// ctx is cancelled by close: a round in progress then stops where it
	// is, and close's own flush, bounded by Shutdown's time, takes over.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	pending map[*sessionState]struct{}
	// rotated holds, for a session resumed from this node's memory while
	// the store failed, the digest of the token it was resumed with: the
	// store still has the session under it, and must claim it away (and
	// leave the old token dead) before the session is saved again.
	rotated map[*sessionState][sha256.Size]byte
	pruneAt int       // while down, the queue length at which mark prunes it
	logged  time.Time // of the last outage log line, rate-limiting them
	lastErr error     // the last failure, for /readyz; nil while up

	up       atomic.Bool
	wake     chan struct{} // one slot: a round is due
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// storeCheckInterval is how often the store is pinged, so an outage shows
// on /readyz and a recovery is found without traffic.
const storeCheckInterval = time.Second

// storeOutageLogEvery rate-limits the log lines of a store outage.
const storeOutageLogEvery = 10 * time.Second

func newStoreSync(s *Server, store SessionStore) *storeSync {
	y := &storeSync{srv: s, store: store, pending: make(map[*sessionState]struct{}), rotated: make(map[*sessionState][sha256.Size]byte),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), pruneAt: 64}
	y.ctx, y.cancel = context.WithCancel(context.Background())
	y.up.Store(true)
	s.metrics.storeUp.Set(1)
	y.wg.Add(1)
	go y.run()
	return y
}

// mark queues st to be saved as it will be then. It never blocks.
func (y *storeSync) mark(st *sessionState) {
	y.mu.Lock()
	y.pending[st] = struct{}{}
	prune := !y.up.Load() && len(y.pending) > y.pruneAt
	y.mu.Unlock()
	if prune {
		y.prune() // amortised: the bound doubles with what is held
	}
	select {
	case y.wake <- struct{}{}:
	default:
	}
}

func (y *storeSync) run() {
	defer y.wg.Done()
	tick := time.NewTicker(storeCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-y.stop:
			return
		case <-y.wake:
			if y.up.Load() {
				y.flush(y.ctx)
			}
		case <-tick.C:
			ctx, cancel := context.WithTimeout(y.ctx, y.srv.opts.StoreTimeout)
			err := y.store.Ping(ctx)
			cancel()
			y.count("ping", err)
			y.setUp(err)
			if err == nil {
				y.flush(y.ctx)
			} else {
				y.prune()
			}
		}
	}
}

// flush saves the marked sessions until one save fails for the store, when
// it leaves the rest marked for the next round.
func (y *storeSync) flush(ctx context.Context) {
	y.mu.Lock()
	batch := y.pending
	y.pending = make(map[*sessionState]struct{}, len(batch))
	y.mu.Unlock()
	for st := range batch {
		if ctx.Err() != nil || !y.up.Load() {
			y.remark(st)
			continue
		}
		if err := y.save(ctx, st); err != nil && !errors.Is(err, ErrSessionMoved) {
			if ctx.Err() == nil { // a save stopped by close says nothing of the store
				y.setUp(err)
			}
			y.remark(st)
		}
	}
}

// prune drops from the queue the sessions this node no longer holds
// (expired, evicted), which would not be saved anyway.
func (y *storeSync) prune() {
	y.mu.Lock()
	queued := make([]*sessionState, 0, len(y.pending))
	for st := range y.pending {
		queued = append(queued, st)
	}
	y.mu.Unlock()
	var gone []*sessionState // asked of the sessions without holding y.mu
	for _, st := range queued {
		if !y.srv.sessions.holds(st) {
			gone = append(gone, st)
		}
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	for _, st := range gone {
		delete(y.pending, st)
		delete(y.rotated, st)
	}
	y.pruneAt = 2*len(y.pending) + 64
}

// rotate records that st, held under the token whose digest is old in the
// store, was resumed here while the store failed.
func (y *storeSync) rotate(st *sessionState, old [sha256.Size]byte) {
	y.mu.Lock()
	defer y.mu.Unlock()
	if _, ok := y.rotated[st]; !ok { // the oldest token is the one the store has
		y.rotated[st] = old
	}
}

// remark puts st back unless it was marked again meanwhile (then it is
// there already).
func (y *storeSync) remark(st *sessionState) {
	y.mu.Lock()
	y.pending[st] = struct{}{}
	y.mu.Unlock()
}

// save writes st as it is now. A session no longer held here (expired,
// evicted) is not written. A session claimed on another node since is
// given up here: its connection, if it has one, is closed as superseded.
func (y *storeSync) save(ctx context.Context, st *sessionState) error {
	s := y.srv
	key, rec, ok := s.sessions.record(st, s.opts.Now())
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StoreTimeout)
	defer cancel()
	y.mu.Lock()
	old, moved := y.rotated[st]
	y.mu.Unlock()
	if moved {
		// The store still has it under the token it was resumed with:
		// claim it to the new one first, which leaves the old one dead.
		_, err := y.store.Claim(ctx, old, key, rec.Owner, s.opts.ResumeWindow)
		y.count("claim", err)
		switch {
		case err == nil, errors.Is(err, ErrNoSession):
			y.mu.Lock()
			delete(y.rotated, st)
			y.mu.Unlock()
		case errors.Is(err, ErrSessionMoved):
			y.mu.Lock()
			delete(y.rotated, st)
			y.mu.Unlock()
			if c := s.sessions.forget(st, key); c != nil {
				c.failCode(protocol.CodeSuperseded, "the session was resumed on another connection")
			}
			return err
		default:
			return err
		}
	}
	err := y.store.Save(ctx, key, &rec, s.opts.ResumeWindow)
	y.count("save", err)
	if errors.Is(err, ErrSessionMoved) {
		if c := s.sessions.forget(st, key); c != nil {
			c.failCode(protocol.CodeSuperseded, "the session was resumed on another connection")
		}
	}
	return err
}

// claim takes the session under token's digest from the store for a
// resume, rotating it to fresh's.
func (y *storeSync) claim(token, fresh string, who principal) (*SessionRecord, error) {
	ctx, cancel := context.WithTimeout(context.Background(), y.srv.opts.StoreTimeout)
	defer cancel()
	rec, err := y.store.Claim(ctx, sha256.Sum256([]byte(token)), sha256.Sum256([]byte(fresh)), string(who), y.srv.opts.ResumeWindow)
	y.count("claim", err)
	y.noteCall(err)
	return rec, err
}

// owner returns the principal of the session under token's digest in the
// store.
func (y *storeSync) owner(token string) (principal, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), y.srv.opts.StoreTimeout)
	defer cancel()
	who, err := y.store.Owner(ctx, sha256.Sum256([]byte(token)))
	y.count("owner", err)
	y.noteCall(err)
	return principal(who), err == nil
}

// noteCall marks the store down after a call that failed for it; only a
// ping (or a save) marks it up again.
func (y *storeSync) noteCall(err error) {
	if err != nil && !errors.Is(err, ErrNoSession) && !errors.Is(err, ErrSessionMoved) {
		y.setUp(err)
	}
}

// setUp records whether the store answered: err is the call's result.
func (y *storeSync) setUp(err error) {
	up := err == nil || errors.Is(err, ErrNoSession) || errors.Is(err, ErrSessionMoved)
	was := y.up.Swap(up)
	y.mu.Lock()
	if up {
		y.lastErr = nil
	} else {
		y.lastErr = err
	}
	logNow := !up && (was || y.srv.opts.Now().Sub(y.logged) >= storeOutageLogEvery)
	if logNow {
		y.logged = y.srv.opts.Now()
	}
	y.mu.Unlock()
	switch {
	case up && !was:
		y.srv.metrics.storeUp.Set(1)
		y.srv.log.Info("session store answers again")
	case !up:
		y.srv.metrics.storeUp.Set(0)
		if logNow {
			y.srv.log.Error("session store failing: sessions go on, saves wait, resumes fall back to this node", zap.Error(err))
		}
	}
}

// status is the store's line on /readyz.
func (y *storeSync) status() string {
	if y.up.Load() {
		return "store: ok"
	}
	return "store: degraded"
}

func (y *storeSync) count(op string, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, ErrNoSession), errors.Is(err, ErrSessionMoved):
		result = "miss"
	default:
		result = "error"
	}
	y.srv.metrics.storeOps.WithLabelValues(op, result).Inc()
}

// close stops the goroutine and saves what is marked, until ctx is done.
// Sessions it could not save are counted as dropped. It may be called
// more than once (each Shutdown calls it).
func (y *storeSync) close(ctx context.Context) {
	y.stopOnce.Do(func() {
		close(y.stop)
		y.cancel()
	})
	y.wg.Wait()
	y.flush(ctx)
	y.mu.Lock()
	n := len(y.pending)
	y.pending = map[*sessionState]struct{}{}
	y.mu.Unlock()
	if n > 0 {
		y.srv.metrics.storeOps.WithLabelValues("save", "dropped").Add(float64(n))
		y.srv.log.Warn("sessions not saved to the store at shutdown", zap.Int("sessions", n))
	}
}
