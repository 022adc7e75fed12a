package pipeline

import (
	"context"
	"sync"
	"time"
)

// replyGate holds a reply's audio while the user may be taking the turn:
// while it is paused nothing more of the reply's audio goes to the Output.
// The input loop pauses and resumes it; the responder sends through it.
// The zero replyGate is running.
type replyGate struct {
	mu      sync.Mutex
	paused  bool
	resumed chan struct{} // closed on resume; made by pause
	since   time.Time     // when the pause began
	total   time.Duration // of the pauses that ended
	ended   bool          // the reply has ended: no pause, nor a resume, is announced
}

// pause holds the reply's audio and runs announce (the event that tells
// the Output) before any more of it can be sent. It reports whether the
// reply was running.
func (g *replyGate) pause(now time.Time, announce func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused || g.ended {
		return false
	}
	g.paused, g.resumed, g.since = true, make(chan struct{}), now
	announce()
	return true
}

// resume lets the reply's audio go on, announce told first unless the
// reply has ended. It reports whether the reply was paused.
func (g *replyGate) resume(now time.Time, announce func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		return false
	}
	if !g.ended {
		announce()
	}
	g.paused = false
	g.total += now.Sub(g.since)
	close(g.resumed)
	return true
}

// end marks the reply ended, before its last event goes out: a pause or
// resume announced from here on would come after it.
func (g *replyGate) end() {
	g.mu.Lock()
	g.ended = true
	g.mu.Unlock()
}

// lockRunning locks the gate, so the reply's audio can be sent before any
// pause is announced, and reports true, unless the reply is paused: then
// it reports false, unlocked. The caller unlocks g.mu after sending.
func (g *replyGate) lockRunning() bool {
	g.mu.Lock()
	if g.paused {
		g.mu.Unlock()
		return false
	}
	return true
}

// isPaused reports whether the reply's audio is held.
func (g *replyGate) isPaused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// wait blocks while the reply is paused, until ctx is done.
func (g *replyGate) wait(ctx context.Context) error {
	g.mu.Lock()
	ch, paused := g.resumed, g.paused
	g.mu.Unlock()
	if !paused {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// pausedFor returns how long the reply has been paused in all, the pause
// in progress counted up to now: the time the client's playback stood
// still.
func (g *replyGate) pausedFor(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pausedForLocked(now)
}

// pausedForLocked is pausedFor with g.mu held.
func (g *replyGate) pausedForLocked(now time.Time) time.Duration {
	if g.paused {
		return g.total + now.Sub(g.since)
	}
	return g.total
}
