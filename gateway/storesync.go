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
// it is saved is saved once, so what waits is bounded by the sessions the
// node holds.
//
// While the store fails, the sessions go on: the first failed save stops
// the round, what is left waits, a ping each storeCheckInterval finds
// when the store answers again, and the waiting sessions are saved then.
// /readyz reports the outage (degraded) and voicegate_store_up is 0.
type storeSync struct {
	srv   *Server
	store SessionStore

	mu      sync.Mutex
	pending map[*sessionState]struct{}
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
	y := &storeSync{srv: s, store: store, pending: make(map[*sessionState]struct{}), wake: make(chan struct{}, 1), stop: make(chan struct{})}
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
	y.mu.Unlock()
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
				y.flush(context.Background())
			}
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), y.srv.opts.StoreTimeout)
			err := y.store.Ping(ctx)
			cancel()
			y.count("ping", err)
			y.setUp(err)
			if err == nil {
				y.flush(context.Background())
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
			y.setUp(err)
			y.remark(st)
		}
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
	y.stopOnce.Do(func() { close(y.stop) })
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
