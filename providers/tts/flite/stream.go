//go:build cgo && linux

package flite

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
)

// stream carries one synthesis's audio from the goroutine running the engine
// to the goroutine that called Synthesize, so that a slow emit never holds
// the engine lock.
type stream struct {
	stopped  atomic.Bool   // read by the engine's callback at every chunk
	quit     chan struct{} // closed when stopped is set
	stopOnce sync.Once
	wake     chan struct{} // one slot: audio or the end arrived

	mu   sync.Mutex
	buf  []int16 // audio pushed; buf[off:] is not yet taken
	off  int
	done bool
	err  error
}

func newStream() *stream {
	return &stream{quit: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// stop asks the engine to stop at its next chunk.
func (s *stream) stop() {
	s.stopOnce.Do(func() {
		s.stopped.Store(true)
		close(s.quit)
	})
}

// push copies p in. It reports whether the engine should go on.
func (s *stream) push(p []int16) bool {
	s.mu.Lock()
	s.buf = append(s.buf, p...)
	s.mu.Unlock()
	s.signal()
	return !s.stopped.Load()
}

// fail records err as the synthesis's error unless one is recorded.
func (s *stream) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// finish marks the end of the engine's output.
func (s *stream) finish(err error) {
	s.mu.Lock()
	s.done = true
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.signal()
}

func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next takes the audio not yet taken and reports whether the engine has
// finished, and how. The slice it returns is valid until the next call:
// once everything is taken the buffer is reused.
func (s *stream) next() (pcm []int16, done bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off == len(s.buf) {
		s.buf, s.off = s.buf[:0], 0
	}
	pcm = s.buf[s.off:]
	s.off = len(s.buf)
	return pcm, s.done, s.err
}

// run runs synth on its own goroutine and emits what it pushes from the
// calling goroutine, until synth ends, emit fails or ctx is done. It always
// waits for synth's goroutine before it returns.
func run(ctx context.Context, emit func([]int16) error, synth func(*stream) error) error {
	s := newStream()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.finish(synth(s))
	}()
	defer func() {
		s.stop()
		<-done
	}()
	defer context.AfterFunc(ctx, s.stop)()

	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		pcm, finished, err := s.next()
		if len(pcm) > 0 {
			if err := emit(pcm); err != nil {
				return err
			}
			continue
		}
		if finished {
			return err
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
		}
	}
}

func isBlank(text string) bool { return strings.TrimSpace(text) == "" }
