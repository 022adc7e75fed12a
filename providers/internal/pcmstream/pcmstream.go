// Package pcmstream hands audio from a synthesis engine running on its own
// goroutine (usually under a process-wide lock, inside a C callback) to the
// goroutine that called Synthesize, so that a slow emit never holds the
// engine. Shared by the cgo speech synthesizers.
package pcmstream

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
)

// Stream carries one synthesis's audio from the goroutine running the engine
// to the goroutine that called Run.
type Stream struct {
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

func newStream() *Stream {
	return &Stream{quit: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// stop asks the engine to stop at its next chunk.
func (s *Stream) stop() {
	s.stopOnce.Do(func() {
		s.stopped.Store(true)
		close(s.quit)
	})
}

// Push copies p in. It reports whether the engine should go on; the engine
// must stop at its next chunk once it returns false.
func (s *Stream) Push(p []int16) bool {
	s.mu.Lock()
	s.buf = append(s.buf, p...)
	s.mu.Unlock()
	s.signal()
	return !s.stopped.Load()
}

// Fail records err as the synthesis's error unless one is recorded.
func (s *Stream) Fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// finish marks the end of the engine's output.
func (s *Stream) finish(err error) {
	s.mu.Lock()
	s.done = true
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.signal()
}

func (s *Stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next takes the audio not yet taken and reports whether the engine has
// finished, and how. The slice it returns is valid until the next call:
// once everything is taken the buffer is reused.
func (s *Stream) next() (pcm []int16, done bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off == len(s.buf) {
		s.buf, s.off = s.buf[:0], 0
	}
	pcm = s.buf[s.off:]
	s.off = len(s.buf)
	return pcm, s.done, s.err
}

// Run runs synth on its own goroutine and emits what it pushes from the
// calling goroutine, until synth ends, emit fails or ctx is done. It always
// waits for synth's goroutine before it returns.
func Run(ctx context.Context, emit func([]int16) error, synth func(*Stream) error) error {
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

// IsBlank reports whether text has nothing to say.
func IsBlank(text string) bool { return strings.TrimSpace(text) == "" }

// Stopped reports whether the engine should stop: the caller is gone, its
// context is done or emit failed. Cheap enough for every chunk.
func (s *Stream) Stopped() bool { return s.stopped.Load() }

// Quit is closed when the stream is stopped, so an engine waiting for its
// lock can give up.
func (s *Stream) Quit() <-chan struct{} { return s.quit }
