package pipeline

import (
	"context"
	"slices"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/prosody"
)

// hold is speech over a reply that has not yet proved a barge-in: the
// replies it paused, and the user turns it may become.
type hold struct {
	replies []*job // paused

	// The pending turn (loop.pending) is tentative: its speech events
	// wait in started, and voiced counts its voiced audio.
	pendingHeld bool
	started     Event
	voiced      time.Duration

	// Tentative turns whose speech ended short of a barge-in, their
	// final transcripts awaited (decide), the oldest first.
	deciding []tentative
	timer    *time.Timer // ResumeAfter from the last speech end
}

// tentative is a turn whose speech ended over a paused reply.
type tentative struct {
	t                *job
	started, stopped Event
}

// verdict is the final transcript of a tentative turn.
type verdict struct {
	t    *job
	text string
	err  error
}

// silenceSetter is a detector whose end-of-turn silence can change while
// it listens.
type silenceSetter interface{ SetSilence(time.Duration) }

// turnState is the loop's view of the words and pitch of the pending
// turn, for barge-in and end of turn.
type turnState struct {
	words    words
	pitch    *prosody.Tracker
	partials bool // the recogniser has given a partial in this session
	counted  int  // substantive words in the latest partial
	hesitant bool // the latest partial ends on a hesitation
	open     bool // the latest partial ends on an ambiguous ending
	silence  time.Duration
}

// prepare readies the loop's turn-taking state, before run.
func (l *loop) prepare() {
	l.verdicts = make(chan verdict)
	l.ts = turnState{words: newWords(l.s.cfg.Turn, l.s.cfg.Language), pitch: prosody.New(audio.Mono16k.SampleRate)}
}

// pauseReplies pauses the replies in progress for speech that may take
// the turn. It reports whether any reply is paused.
func (l *loop) pauseReplies() bool {
	l.prune()
	now := l.s.cfg.Now()
	for _, r := range l.replies {
		if r.handle.IsCut() {
			continue
		}
		r.gate.pause(now, func() {
			l.send(Event{Kind: EventReplyPaused, Turn: r.id, Handle: r.handle})
			if l.hold == nil {
				l.hold = &hold{}
			}
			l.hold.replies = append(l.hold.replies, r)
		})
	}
	return l.hold != nil && len(l.hold.replies) > 0
}

// holding reports whether the pending turn is tentative.
func (l *loop) holding() bool { return l.hold != nil && l.hold.pendingHeld }

// heldFrame counts a frame of tentative speech and cuts the replies once
// it proves a barge-in.
func (l *loop) heldFrame() {
	h := l.hold
	frame := audio.Mono16k.Duration(len(l.frame))
	if l.det.TrailingSilence() < frame {
		h.voiced += frame
	}
	cfg := &l.s.cfg.Turn
	if h.voiced < cfg.BargeInMinSpeech || (l.ts.partials && l.ts.counted < cfg.BargeInMinWords) {
		return
	}
	l.releasePending()
	l.cutHeld(CancelBargeIn)
}

// releasePending makes the tentative pending turn an ordinary one: its
// held events go out.
func (l *loop) releasePending() {
	h := l.hold
	if h == nil || !h.pendingHeld {
		return
	}
	h.pendingHeld = false
	l.send(h.started)
	if t := l.pending; t != nil && l.partial != "" {
		l.send(Event{Kind: EventTranscriptPartial, Turn: t.id, Item: t.userItem, Text: l.partial, Handle: t.handle})
	}
}

// cutHeld cuts the paused replies; the hold ends once nothing is
// tentative.
func (l *loop) cutHeld(why CancelReason) {
	h := l.hold
	for _, r := range h.replies {
		r.cancel(why)
	}
	h.replies = nil
	l.prune()
	l.settle()
}

// heldEnd ends the tentative pending turn's speech, short of a barge-in:
// its final transcript decides.
func (l *loop) heldEnd(ctx context.Context, stopped Event) {
	h, t := l.hold, l.pending
	trailing := l.det.TrailingSilence()
	l.pending = nil
	l.swapDetector()
	h.pendingHeld = false
	now := l.s.cfg.Now()
	t.trace.Endpoint = now
	t.trace.SpeechEnd = now.Add(-trailing)
	utt := t.utt
	if utt == nil {
		t.cancel(nil) // its recognition failed: nothing to hear
		t.finish()
		l.settle()
		return
	}
	t.utt = nil
	h.deciding = append(h.deciding, tentative{t: t, started: h.started, stopped: stopped})
	wait := l.s.cfg.Turn.ResumeAfter
	if h.timer == nil {
		h.timer = time.NewTimer(wait)
	} else {
		h.timer.Reset(wait)
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fctx, cancel := context.WithTimeout(t.asrCtx, wait)
		text, err := utt.Finish(fctx)
		cancel()
		utt.Close()
		select {
		case l.verdicts <- verdict{t: t, text: text, err: err}:
		case <-t.ctx.Done():
		case <-ctx.Done():
		}
	}()
}

// decide takes the verdict on a tentative turn: words make it a barge-in
// and the user's turn; nothing, or only backchannels, drops it.
func (l *loop) decide(ctx context.Context, v verdict) {
	h := l.hold
	if h == nil {
		return
	}
	i := slices.IndexFunc(h.deciding, func(d tentative) bool { return d.t == v.t })
	if i < 0 {
		return // dropped already, at the timeout
	}
	d := h.deciding[i]
	h.deciding = slices.Delete(h.deciding, i, i+1)
	t := d.t
	if v.err != nil || l.ts.words.substantive(v.text) == 0 {
		t.cancel(nil)
		t.finish()
		l.settle()
		return
	}
	l.send(d.started)
	l.send(d.stopped)
	t.heard, t.transcribed = v.text, true
	t.trace.ASRFinal = l.s.cfg.Now()
	l.cutHeld(CancelBargeIn)
	l.send(Event{Kind: EventInputCommitted, Turn: t.id, Item: t.userItem, Handle: t.handle})
	l.enqueue(ctx, t)
}

// expire drops the tentative turns still being decided: the paused
// replies wait no longer.
func (l *loop) expire() {
	h := l.hold
	if h == nil {
		return
	}
	for _, d := range h.deciding {
		d.t.cancel(nil)
		d.t.finish()
	}
	h.deciding = nil
	l.settle()
}

// settle ends the hold once nothing is tentative: the replies still
// paused resume.
func (l *loop) settle() {
	h := l.hold
	if h == nil || h.pendingHeld || len(h.deciding) > 0 {
		return
	}
	now := l.s.cfg.Now()
	for _, r := range h.replies {
		r.gate.resume(now, func() {
			if !r.handle.IsCut() {
				l.send(Event{Kind: EventReplyResumed, Turn: r.id, Handle: r.handle})
			}
		})
	}
	if h.timer != nil {
		h.timer.Stop()
	}
	l.hold = nil
}

// holdTimeout is the channel on which the hold's timer fires, or nil.
func (l *loop) holdTimeout() <-chan time.Time {
	if l.hold == nil || l.hold.timer == nil || len(l.hold.deciding) == 0 {
		return nil
	}
	return l.hold.timer.C
}

// dropTentative drops the speech that is tentative, the pending turn and
// the turns being decided, unheard; the replies still paused resume. The
// detector starts afresh, so speech that goes on begins a turn of its own.
func (l *loop) dropTentative() {
	if l.holding() {
		l.abandonUtterance()
		l.det.Reset()
	}
	l.expire()
}

// interrupt cuts every reply for the client, who took the turn itself
// (Interrupt, a typed turn): speech that paused a reply is dropped, not
// made the user's turn, which would cut the next reply.
func (l *loop) interrupt(why CancelReason) {
	if h := l.hold; h != nil {
		for _, r := range h.replies {
			r.cancel(why)
		}
		h.replies = nil
		l.dropTentative()
	}
	l.cutTurn(why)
}

// endHoldFor ends the hold when turn taking changes to t, under which
// speech cuts no reply (Manual, NoBargeIn): the paused replies resume.
// The tentative pending turn is the user's turn all the same: with
// NoBargeIn its speech_started goes out and its speech end queues it
// after the reply; with Manual it waits for Commit or ClearInput, the
// client owning the turn's end. The turns being decided, whose speech
// ended, are dropped: their end would have committed them only as a
// barge-in.
func (l *loop) endHoldFor(t TurnTaking) {
	h := l.hold
	if h == nil || !t.Manual && !t.NoBargeIn {
		return
	}
	if h.pendingHeld {
		if t.Manual {
			h.pendingHeld = false // no detector tells the client of it
		} else {
			l.releasePending()
		}
	}
	l.expire()
}

// endHold drops whatever is tentative when the session stops.
func (l *loop) endHold() {
	if h := l.hold; h != nil {
		h.pendingHeld = false
		l.expire()
	}
}

// noteWords caches what the pending turn's latest partial says.
func (l *loop) noteWords(partial string) {
	l.ts.partials = true
	l.ts.counted = l.ts.words.substantive(partial)
	l.ts.hesitant = l.ts.words.hesitant(partial)
	l.ts.open = l.ts.words.ambiguousEnd(partial)
}

// adaptSilence sets the silence that ends the pending turn from its words
// and the pitch of its end: longer after a hesitation or a rising tail,
// shorter after words that sound finished, the detector's own otherwise
// and after an ambiguous ending ("I think so").
// A silence the client chose (SetTurnTaking with a VAD.Silence of its own,
// a Realtime silence_duration_ms) is kept as it is.
func (l *loop) adaptSilence() {
	cfg := &l.s.cfg.Turn
	d := l.tt.VAD.Silence
	if d != l.s.cfg.VAD.Silence {
		return
	}
	// Over a paused reply, a backchannel that is also a hesitation (zh
	// "嗯") is a backchannel: the reply waits for no more.
	hesitant := l.ts.hesitant && (l.ts.counted > 0 || !l.holding())
	switch {
	case hesitant || l.ts.pitch.Tail() == prosody.Rising:
		d = cfg.EndSilenceMax
	case l.ts.open: // the detector's own
	case l.partial != "":
		d = cfg.EndSilenceMin
	}
	l.setSilence(d)
}

// setSilence changes the detector's end-of-turn silence.
func (l *loop) setSilence(d time.Duration) {
	if d == l.ts.silence {
		return
	}
	if s, ok := any(l.det).(silenceSetter); ok {
		s.SetSilence(d)
		l.ts.silence = d
	}
}
