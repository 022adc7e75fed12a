package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The scheduler's grid: every session sends one frame per period, in one of
// slotsPerPeriod slots, so a shard wakes once a millisecond and writes a
// twentieth of its sessions' frames each time.
const (
	slotDur        = time.Millisecond
	slotsPerPeriod = int(frameDur / slotDur)
)

// What the sessions send.
const (
	modeIdle    int32 = iota // nothing: sessions are open but quiet
	modeSilence              // silence frames only: the per-frame path with no turns
	modeSpeech               // utterances and pauses
	modeFinish               // finish the utterance in progress, then silence
)

// scheduler paces every session's audio at real time from a handful of
// goroutines (shards) instead of a timer per session. Each shard sleeps
// until its next slot is due and writes that slot's frames. A shard that
// falls behind sends late, and its lateness is what lag reports; one that
// falls more than maxLag behind (the client itself is starved of CPU)
// skips whole periods rather than catch up in a burst the gateway would
// have to absorb, and counts the frames it skipped.
type scheduler struct {
	l      *load
	shards []*shard
	stop   atomic.Bool
	wg     sync.WaitGroup
}

type shard struct {
	slots    [slotsPerPeriod][]*session
	sessions int
	sent     atomic.Int64
	// Written by the shard's goroutine only; read after stop.
	lag     lagHist
	skipped int64
}

// newScheduler spreads sessions over n shards and their slots.
func newScheduler(l *load, sessions []*session, n int) *scheduler {
	sc := &scheduler{l: l, shards: make([]*shard, n)}
	for i := range sc.shards {
		sc.shards[i] = &shard{}
	}
	for i, s := range sessions {
		sh := sc.shards[i%n]
		slot := (i / n) % slotsPerPeriod
		sh.slots[slot] = append(sh.slots[slot], s)
		sh.sessions++
	}
	return sc
}

// start launches the shards; the first slot is due now.
func (sc *scheduler) start() {
	t0 := sc.l.clk.now()
	for _, sh := range sc.shards {
		sc.wg.Add(1)
		go func() {
			defer sc.wg.Done()
			sh.run(sc, t0)
		}()
	}
}

// halt stops the shards and waits for them.
func (sc *scheduler) halt() {
	sc.stop.Store(true)
	sc.wg.Wait()
}

// sent returns how many frames the shards have written so far.
func (sc *scheduler) sent() int64 {
	var n int64
	for _, sh := range sc.shards {
		n += sh.sent.Load()
	}
	return n
}

// lag merges the shards' lateness histograms and sums the frames they
// skipped; call it after halt.
func (sc *scheduler) lag() (*lagHist, int64) {
	var h lagHist
	var skipped int64
	for _, sh := range sc.shards {
		h.merge(&sh.lag)
		skipped += sh.skipped
	}
	return &h, skipped
}

func (sh *shard) run(sc *scheduler, t0 time.Duration) {
	l := sc.l
	ctx := context.Background() // a Done channel would cost an AfterFunc per write
	for k := time.Duration(0); ; k++ {
		due := t0 + k*slotDur
		if d := due - l.clk.now(); d > 0 {
			time.Sleep(d)
		} else if -d > l.maxLag {
			periods := -d / frameDur
			k += periods * time.Duration(slotsPerPeriod)
			due = t0 + k*slotDur
			if l.measuring.Load() && l.mode.Load() != modeIdle {
				sh.skipped += int64(periods) * int64(sh.sessions)
			}
		}
		if sc.stop.Load() {
			return
		}
		mode := l.mode.Load()
		measuring := l.measuring.Load()
		for _, s := range sh.slots[int(k)%slotsPerPeriod] {
			if mode == modeIdle || s.dead.Load() {
				continue
			}
			frame, last := s.next(l, mode)
			if measuring {
				sh.lag.add(l.clk.now() - due)
			}
			if err := s.conn.Write(ctx, websocket.MessageBinary, frame); err != nil {
				l.lost(s, err, &l.writeErrs)
				continue
			}
			sh.sent.Add(1)
			if s.sentN++; !l.protocol && l.echoEvery > 0 && s.sentN%l.echoEvery == 0 {
				s.echoAt.Store(int64(l.clk.now()))
			}
			if last {
				s.lastVoiceEnd.Store(int64(l.clk.now()))
				s.utterances.Add(1)
			}
		}
	}
}

// next returns the session's next frame and whether it ends an utterance.
// In modeSilence the pattern does not advance, so speech starts staggered
// when modeSpeech begins; modeFinish lets utterances end whole.
func (s *session) next(l *load, mode int32) (frame []byte, last bool) {
	if mode == modeSilence || mode == modeFinish && (!s.voicing || s.left == 0) {
		return l.fr.silence, false
	}
	if s.left == 0 {
		s.voicing = !s.voicing
		if s.voicing {
			s.left, s.vi = len(l.fr.voice), 0
		} else {
			s.left = l.pat.pause(&s.rng)
		}
	}
	s.left--
	if !s.voicing {
		return l.fr.silence, false
	}
	f := l.fr.voice[s.vi]
	s.vi++
	return f, s.left == 0
}

// pattern is the speech/silence rhythm, in frames.
type pattern struct {
	pauseMin, pauseMax int
}

// pause draws a pause length from [pauseMin, pauseMax].
func (p pattern) pause(rng *uint64) int {
	return p.pauseMin + int(xorshift(rng)%uint64(p.pauseMax-p.pauseMin+1))
}

func xorshift(s *uint64) uint64 {
	x := *s
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	*s = x
	return x
}
