package cache

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Store is a shared tier: a key-value store with expiry, such as Redis.
// Its methods may be called concurrently.
type Store interface {
	// Get returns the value stored under key, or ok false when there is
	// none. The caller owns the returned slice.
	Get(ctx context.Context, key string) (val []byte, ok bool, err error)
	// Set stores val under key for ttl. It must not retain val.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
}

const (
	// restAfterError is how long the shared tier is left alone after a
	// failed read or write: a store that is down or unreachable costs a
	// turn one timeout, not one per sentence.
	restAfterError = time.Second
	// logEvery spaces the warnings about a failing store.
	logEvery = time.Minute
	// maxPendingBytes bounds the writes on their way to the store; more
	// are dropped, counted as op=queue.
	maxPendingBytes = 16 << 20
)

// Remote is the shared tier as the caches use it: every failure is a miss
// (counted, logged at most once a minute) and never fails a turn; writes
// happen in the background, bounded, so that a slow store never delays the
// audio. Close waits for them. Its methods may be called concurrently.
type Remote struct {
	store   Store
	timeout time.Duration
	log     *zap.Logger
	metrics *Metrics
	now     func() time.Time

	mu        sync.Mutex
	restUntil time.Time // no reads or writes before this
	lastLog   time.Time
	quiet     int // failures not logged since lastLog
	pending   int64
	closed    bool
	writes    sync.WaitGroup
}

// RemoteOptions are what a Remote needs besides its store.
type RemoteOptions struct {
	// Timeout bounds each read and write. Default 100ms.
	Timeout time.Duration
	Log     *zap.Logger      // nil logs nothing
	Metrics *Metrics         // nil counts nothing
	Now     func() time.Time // nil: time.Now
}

// NewRemote returns the shared tier over store.
func NewRemote(store Store, o RemoteOptions) *Remote {
	r := &Remote{store: store, timeout: o.Timeout, log: o.Log, metrics: o.Metrics, now: o.Now}
	if r.timeout <= 0 {
		r.timeout = 100 * time.Millisecond
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// get reads key, for cache; any failure is a miss.
func (r *Remote) get(ctx context.Context, cache, key string) ([]byte, bool) {
	if r.resting() {
		return nil, false
	}
	tctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	val, ok, err := r.store.Get(tctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false // the turn was cut: not the store's fault
		}
		r.failed(cache, "get", err)
		return nil, false
	}
	return val, ok
}

// set writes val under key in the background. It keeps val until then:
// the caller must not modify it.
func (r *Remote) set(cache, key string, val []byte, ttl time.Duration) {
	n := int64(len(val))
	r.mu.Lock()
	if r.closed || r.now().Before(r.restUntil) {
		r.mu.Unlock()
		return
	}
	if r.pending+n > maxPendingBytes {
		r.mu.Unlock()
		r.metrics.redisError(cache, "queue")
		return
	}
	r.pending += n
	r.writes.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.writes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		err := r.store.Set(ctx, key, val, ttl)
		cancel()
		r.mu.Lock()
		r.pending -= n
		r.mu.Unlock()
		if err != nil {
			r.failed(cache, "set", err)
			return
		}
		r.metrics.store(cache, tierRedis)
	}()
}

func (r *Remote) resting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed || r.now().Before(r.restUntil)
}

// failed counts a failure, rests the tier and logs, at most once every
// logEvery, with how many failures went unlogged since.
func (r *Remote) failed(cache, op string, err error) {
	r.metrics.redisError(cache, op)
	r.mu.Lock()
	now := r.now()
	r.restUntil = now.Add(restAfterError)
	if !r.lastLog.IsZero() && now.Sub(r.lastLog) < logEvery {
		r.quiet++
		r.mu.Unlock()
		return
	}
	quiet := r.quiet
	r.lastLog, r.quiet = now, 0
	r.mu.Unlock()
	r.log.Warn("cache: the shared tier failed; serving misses from the providers",
		zap.String("cache", cache), zap.String("op", op), zap.Error(err),
		zap.Int("unlogged_failures", quiet), zap.Duration("logged_at_most_every", logEvery))
}

// Close waits for the writes under way, then closes the store when it is
// an io.Closer. Later writes are dropped and reads miss. It is idempotent.
func (r *Remote) Close() error {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	r.mu.Unlock()
	if already {
		return nil
	}
	r.writes.Wait()
	if c, ok := r.store.(io.Closer); ok {
		if err := c.Close(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}
