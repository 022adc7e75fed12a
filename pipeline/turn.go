package pipeline

import (
	"errors"
	"sync"
	"time"
)

// Turn is the handle of one turn, shared by the Session and its Output:
// what of the turn reached the wire and whether it has been cut. Every
// Event of a turn carries it (Event.Handle). Its methods may be called from
// any goroutine. The zero Turn is ready to use.
type Turn struct {
	mu        sync.Mutex
	cut       bool
	sentences int       // highest Sentence put on the wire
	first     time.Time // first audio put on the wire
}

// AudioOnWire is called by an Output just before it puts an EventAudio of
// this turn on the wire. It records the sentence and, the first time, at as
// the moment the reply's audio started. It returns false once the turn has
// been cut: the audio must then be dropped. Together with Cut, it makes the
// history hold exactly the sentences the client received.
func (t *Turn) AudioOnWire(sentence int, at time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return false
	}
	if t.first.IsZero() {
		t.first = at
	}
	t.sentences = max(t.sentences, sentence)
	return true
}

// Cut stops the turn's audio from reaching the wire and returns how many of
// its sentences (counted from the first) already had audio on it.
func (t *Turn) Cut() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cut = true
	return t.sentences
}

// IsCut reports whether the turn has been cut: its queued audio and text
// are stale.
func (t *Turn) IsCut() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cut
}

// FirstAudioSent returns when the turn's first audio reached the wire, or
// zero.
func (t *Turn) FirstAudioSent() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.first
}

// CancelReason is why a turn was cut short. It is the cause its context is
// cancelled with (an error, so context.Cause returns it) and reaches the
// Output as Event.Reason. The zero CancelReason means the turn was not cut.
type CancelReason uint8

// The reasons a turn is cut.
const (
	CancelBargeIn   CancelReason = iota + 1 // the user started speaking over the reply
	CancelInterrupt                         // the client asked (Session.Interrupt), or typed a new turn
	CancelError                             // a stage failed, or the session ended
)

var cancelNames = [...]string{
	CancelBargeIn:   "barge_in",
	CancelInterrupt: "interrupt",
	CancelError:     "error",
}

// String returns the reason as the wire names it ("barge_in", "interrupt",
// "error"), or "" for the zero CancelReason.
func (r CancelReason) String() string {
	if int(r) < len(cancelNames) {
		return cancelNames[r]
	}
	return "unknown"
}

// Error returns String: a CancelReason is the cause a turn's context is
// cancelled with.
func (r CancelReason) Error() string { return r.String() }

// reasonOf returns why a turn whose context ended with cause was cut: the
// CancelReason it was cancelled with, else CancelError (a failed stage, the
// session ending).
func reasonOf(cause error) CancelReason {
	var r CancelReason
	if errors.As(cause, &r) && r != 0 {
		return r
	}
	return CancelError
}
