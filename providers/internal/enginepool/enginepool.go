// Package enginepool keeps a provider's engines (speech models, decoders,
// streams): at most a fixed number in use at once, idle ones kept for the
// next caller, new ones made on demand, all freed once the pool is closed.
package enginepool

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is what Get returns after Close when New was given no error of
// the provider's own.
var ErrClosed = errors.New("enginepool: closed")

// Pool holds engines of type E. Its methods may be called concurrently.
type Pool[E any] struct {
	newEngine func() (E, error)
	free      func(E)
	errClosed error

	// slots holds a token per engine taken or being made, so at most
	// cap(slots) are.
	slots chan struct{}
	// done is closed by Close, to wake the Gets waiting for a slot.
	done chan struct{}
	// taken counts the slots held, which Wait waits for.
	taken sync.WaitGroup

	mu     sync.Mutex
	idle   []E
	closed bool
}

// New returns a pool of at most size engines in use at once; size below 1
// is a programming error (New panics): callers validate it. newEngine
// makes one when none is idle; free releases one (nil: there is nothing to
// release). Get returns errClosed after Close (nil: ErrClosed), so that a
// provider's callers can match its own sentinel with errors.Is.
func New[E any](size int, newEngine func() (E, error), free func(E), errClosed error) *Pool[E] {
	if size < 1 {
		panic("enginepool: size below 1")
	}
	if free == nil {
		free = func(E) {}
	}
	if errClosed == nil {
		errClosed = ErrClosed
	}
	return &Pool[E]{
		newEngine: newEngine,
		free:      free,
		errClosed: errClosed,
		slots:     make(chan struct{}, size),
		done:      make(chan struct{}),
	}
}

// Add keeps e, made by the caller (to preload the pool, or after probing
// it), as an idle engine; after Close it frees e instead. It takes no slot:
// the caller keeps the idle engines to at most the pool's size.
func (p *Pool[E]) Add(e E) {
	p.mu.Lock()
	closed := p.closed
	if !closed {
		p.idle = append(p.idle, e)
	}
	p.mu.Unlock()
	if closed {
		p.free(e)
	}
}

// Get takes an idle engine, or makes one while fewer than the pool's size
// are in use; otherwise it waits until one is given back, ctx is done
// (returning ctx.Err()) or the pool is closed (returning the closed error).
// Making an engine is not cut short by ctx. Give the engine back with Put
// or Discard.
func (p *Pool[E]) Get(ctx context.Context) (E, error) {
	var zero E
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-p.done:
		return zero, p.errClosed
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return zero, p.errClosed
	}
	p.taken.Add(1)
	if n := len(p.idle); n > 0 {
		e := p.idle[n-1]
		p.idle[n-1] = zero
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return e, nil
	}
	p.mu.Unlock()
	e, err := p.newEngine()
	if err != nil {
		p.release()
		return zero, err
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		p.free(e)
		p.release()
		return zero, p.errClosed
	}
	return e, nil
}

// Put gives back e, taken with Get and fit for the next caller, and
// releases its slot; after Close it frees e instead.
func (p *Pool[E]) Put(e E) {
	p.Add(e)
	p.release()
}

// Discard frees e, taken with Get and not to be used again, and releases
// its slot.
func (p *Pool[E]) Discard(e E) {
	p.free(e)
	p.release()
}

func (p *Pool[E]) release() {
	<-p.slots
	p.taken.Done()
}

// Close frees the idle engines and makes Get fail with the closed error.
// Engines still taken are freed when they are given back (see Wait). Close
// is idempotent.
func (p *Pool[E]) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, e := range idle {
		p.free(e)
	}
}

// Wait returns once every engine taken has been given back and every Get
// making one has returned. Call it after Close, before freeing what the
// engines use.
func (p *Pool[E]) Wait() { p.taken.Wait() }
