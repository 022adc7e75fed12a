package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Turn is the handle of one turn, shared by the Session, its Output and the
// providers: what of the turn reached the wire, whether it has been cut,
// and which provider answered each stage. Every Event of a turn carries it
// (Event.Handle). Its methods may be called from any goroutine. The zero
// Turn is ready to use.
type Turn struct {
	mu        sync.Mutex
	cut       bool
	sentences int       // highest Sentence put on the wire
	first     time.Time // first audio put on the wire
	answered  [3]string // by answerSlot
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

// StageContext returns ctx for a call of stage s (StageASR, StageLLM or
// StageTTS) in this turn: Answered with it, or with a context derived from
// it, records into t. The Session makes one per stage and turn; a test of
// a provider that reports can make its own.
func (t *Turn) StageContext(ctx context.Context, s Stage) context.Context {
	return context.WithValue(ctx, stageKey{}, &stageCall{turn: t, slot: answerSlot(s)})
}

// AnsweredBy returns the provider reported with Answered for stage s, or ""
// if none was.
func (t *Turn) AnsweredBy(s Stage) string {
	i := answerSlot(s)
	if i < 0 {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.answered[i]
}

// Answered reports, from inside a stage call, that the provider named
// provider answered it: a provider that delegates, such as a fallback
// chain, names the member whose output the call returned. It records into
// the turn that ctx's stage call belongs to (see Turn.StageContext) and
// does nothing for any other ctx. The first report of a stage in a turn
// stands: it names the provider behind the stage's first milestone (the
// first sentence's audio, for TTS), and when chains nest, the innermost
// reports first. Answered does not allocate.
func Answered(ctx context.Context, provider string) {
	c, ok := ctx.Value(stageKey{}).(*stageCall)
	if !ok || c.slot < 0 || provider == "" {
		return
	}
	t := c.turn
	t.mu.Lock()
	if t.answered[c.slot] == "" {
		t.answered[c.slot] = provider
	}
	t.mu.Unlock()
}

// stageKey is the context key of a stage call's *stageCall.
type stageKey struct{}

type stageCall struct {
	turn *Turn
	slot int // answerSlot of the stage; -1 for none
}

func answerSlot(s Stage) int {
	switch s {
	case StageASR:
		return 0
	case StageLLM:
		return 1
	case StageTTS:
		return 2
	}
	return -1
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
