//go:build cgo && linux

package pocketsphinx

import (
	"context"
	"sync"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/internal/enginepool"
)

var _ pipeline.Recognizer = (*Recognizer)(nil)

// Available reports whether this build includes the PocketSphinx engine. It
// does not check that the model files are installed; New does.
func Available() bool { return true }

// Recognizer is a pool of PocketSphinx decoders. Its methods may be called
// concurrently.
type Recognizer struct {
	cfg Config
	// decoders holds at most PoolSize; an open Utterance owns one.
	decoders *enginepool.Pool[*decoder]
}

// New loads cfg.Preload decoders and returns a Recognizer. Close it to free
// the decoders.
func New(cfg Config) (*Recognizer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Recognizer{cfg: cfg}
	r.decoders = enginepool.New(cfg.PoolSize, func() (*decoder, error) { return newDecoder(cfg) }, (*decoder).free, ErrClosed)
	for range cfg.Preload {
		d, err := newDecoder(cfg)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.decoders.Add(d)
	}
	return r, nil
}

// Name is "pocketsphinx".
func (r *Recognizer) Name() string { return "pocketsphinx" }

// Start takes a decoder from the pool and starts an utterance on it. When
// PoolSize utterances are open it waits until one is closed, ctx is done
// (returning ctx.Err()) or the Recognizer is closed (returning ErrClosed).
// Creating a decoder, when the pool has none idle, takes 0.2–0.5 s and is
// not interrupted by ctx.
func (r *Recognizer) Start(ctx context.Context) (pipeline.Utterance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := r.decoders.Get(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.start(); err != nil {
		r.decoders.Put(d)
		return nil, err
	}
	return &Utterance{r: r, dec: d}, nil
}

// Close frees the idle decoders and makes Start fail with ErrClosed. A
// decoder still owned by an open Utterance is freed when that Utterance is
// closed. Close is idempotent.
func (r *Recognizer) Close() error {
	r.decoders.Close()
	return nil
}

// Utterance is one stretch of speech being recognised on a decoder it owns
// until Close. It is meant for one goroutine at a time; its methods are
// nonetheless serialised, so a stray concurrent Close cannot free the decoder
// under a Write.
type Utterance struct {
	r *Recognizer

	mu       sync.Mutex
	dec      *decoder // nil once closed
	partial  string
	final    string
	finished bool
}

// Write decodes 16 kHz mono samples, which it reads only during the call,
// and returns the current partial transcript: "" until there is one, then
// the best hypothesis so far on every call, the same string value as long as
// it has not changed (compare with the previous value to spot news). In the
// steady state Write allocates only when the hypothesis changes.
func (u *Utterance) Write(samples []int16) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.dec == nil:
		return "", ErrClosed
	case u.finished:
		return "", errFinished
	}
	p, err := u.dec.process(samples, u.partial)
	if err != nil {
		return u.partial, err
	}
	u.partial = p
	return p, nil
}

// Finish ends the utterance and returns the final transcript, "" when no
// words were recognised. It takes some tens of milliseconds and is not
// interrupted by ctx, which is only checked first. Calling it again returns
// the same transcript.
func (u *Utterance) Finish(ctx context.Context) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.dec == nil:
		return "", ErrClosed
	case u.finished:
		return u.final, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	final, err := u.dec.end()
	u.finished = true
	u.final = final
	return final, err
}

// Close returns the decoder to the pool, ending the utterance first if
// Finish was not called. It is idempotent and always returns nil.
func (u *Utterance) Close() error {
	u.mu.Lock()
	d := u.dec
	u.dec = nil
	u.mu.Unlock()
	if d == nil {
		return nil
	}
	if d.inUtt {
		if _, err := d.end(); err != nil {
			// A decoder that cannot end its utterance cannot start another.
			u.r.decoders.Discard(d)
			return nil
		}
	}
	u.r.decoders.Put(d)
	return nil
}

var _ pipeline.Utterance = (*Utterance)(nil)
