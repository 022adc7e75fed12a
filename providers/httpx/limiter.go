package httpx

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/pipeline"
)

// limiter is an AIMD concurrency limit with a circuit breaker in front.
//
// Every FailureThreshold consecutive failures halve the limit (never below 1)
// and open the breaker: calls fail fast for the cool-down, then one probe
// goes through. A failed probe halves again and reopens; a healthy answer
// closes the breaker, and each healthy answer raises the limit by 1/limit,
// about one slot per limit's worth of calls, back up to the maximum.
type limiter struct {
	name      string
	log       *zap.Logger
	now       func() time.Time
	max       float64
	threshold int
	coolDown  time.Duration

	mu        sync.Mutex
	limit     float64
	inFlight  int
	failures  int // consecutive
	state     breakerState
	openUntil time.Time
	probing   bool          // half-open: the one probe is out
	wake      chan struct{} // closed and replaced when a slot frees or the state changes

	// onRecover, if set, is called when a healthy probe closes the
	// breaker, without l.mu held. It must not block.
	onRecover func()
}

type breakerState uint8

const (
	closed breakerState = iota
	open
	halfOpen
)

func newLimiter(name string, max, threshold int, coolDown time.Duration, now func() time.Time, log *zap.Logger) *limiter {
	return &limiter{
		name: name, log: log, now: now,
		max: float64(max), limit: float64(max),
		threshold: threshold, coolDown: coolDown,
		wake: make(chan struct{}),
	}
}

// slot is one admitted call.
type slot struct {
	l     *limiter
	probe bool
	once  sync.Once
	rec   sync.Once
}

// acquire waits for a slot. It fails fast with ErrUnavailable while the
// breaker is open, and returns ctx's error if ctx ends first.
func (l *limiter) acquire(ctx context.Context) (*slot, error) {
	for {
		l.mu.Lock()
		if l.state == open {
			if wait := l.openUntil.Sub(l.now()); wait > 0 {
				l.mu.Unlock()
				return nil, &Error{Provider: l.name, Kind: pipeline.ErrUnavailable, Message: "circuit breaker open", RetryAfter: wait}
			}
			l.state, l.probing = halfOpen, false
		}
		if l.state == halfOpen {
			if l.probing {
				l.mu.Unlock()
				return nil, &Error{Provider: l.name, Kind: pipeline.ErrUnavailable, Message: "circuit breaker half-open, probe in flight"}
			}
			l.probing = true
			l.inFlight++
			l.mu.Unlock()
			return &slot{l: l, probe: true}, nil
		}
		if l.inFlight < int(l.limit) {
			l.inFlight++
			l.mu.Unlock()
			return &slot{l: l}, nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// broadcast wakes waiters; l.mu is held.
func (l *limiter) broadcast() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// record reports the provider's health as seen by this call; only the first
// report of a slot counts.
func (s *slot) record(o outcome) {
	s.rec.Do(func() { s.l.record(o, s.probe) })
}

// done frees the slot. It is idempotent.
func (s *slot) done() {
	s.once.Do(func() {
		s.record(neutral)
		l := s.l
		l.mu.Lock()
		l.inFlight--
		l.broadcast()
		l.mu.Unlock()
	})
}

func (l *limiter) record(o outcome, probe bool) {
	l.mu.Lock()
	recovered := l.update(o, probe)
	l.mu.Unlock()
	if recovered && l.onRecover != nil {
		l.onRecover()
	}
}

// update applies an outcome; l.mu is held. It reports whether the breaker
// closed.
func (l *limiter) update(o outcome, probe bool) (recovered bool) {
	switch o {
	case healthy:
		l.failures = 0
		if l.state == halfOpen && probe {
			l.state, l.probing = closed, false
			l.log.Info("circuit breaker closed", zap.Int("concurrency", int(l.limit)))
			l.broadcast()
			recovered = true
		}
		if l.limit < l.max {
			before := int(l.limit)
			l.limit = min(l.max, l.limit+1/l.limit)
			if int(l.limit) > before {
				l.log.Debug("concurrency limit raised", zap.Int("concurrency", int(l.limit)))
				l.broadcast()
			}
		}
	case failed:
		l.failures++
		if l.state == halfOpen && probe || l.state == closed && l.failures >= l.threshold {
			l.failures = 0
			l.limit = max(1, float64(int(l.limit/2)))
			l.state, l.probing = open, false
			l.openUntil = l.now().Add(l.coolDown)
			l.log.Warn("circuit breaker open",
				zap.Bool("probe_failed", probe),
				zap.Int("concurrency", int(l.limit)),
				zap.Duration("cool_down", l.coolDown))
			l.broadcast()
		}
	case neutral:
		if l.state == halfOpen && probe {
			// The probe told us nothing (our cancel, a 429): let the next
			// call probe at once.
			l.state, l.probing = open, false
			l.openUntil = l.now()
			l.broadcast()
		}
	}
	return recovered
}

// Stats is a snapshot of a Client's limiter.
type Stats struct {
	Limit       int  // current concurrency limit
	InFlight    int  // calls holding a slot
	BreakerOpen bool // calls fail fast (half-open counts as open)
}

func (l *limiter) stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Limit: int(l.limit), InFlight: l.inFlight, BreakerOpen: l.state != closed}
}
