package main

import (
	"context"
	"sync"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
)

// Player is the playback jitter buffer. Reply audio goes in by turn (Start,
// Push, End, Flush) and comes out through Read as one continuous PCM16LE
// stream, paced by whoever reads it: the audio device (oto), or a clock
// when there is no device. Read never blocks: it hands out queued audio
// when a turn is playing and silence otherwise, so the device never
// starves and a reply can start at any time.
//
// A turn starts playing once Prebuffer of it has arrived (or its end has),
// which absorbs network jitter; an underrun mid-turn plays silence and
// gathers Prebuffer again.
//
// All methods are safe for concurrent use.
type Player struct {
	rate      int
	prebuffer int // samples

	// OnPlayed, if set before the first Read, sees everything handed to the
	// device, silence included, in order (the echo canceller's far end).
	// It must not retain the slice. It runs inside Read.
	OnPlayed func(samples []int16)
	// OnFirstSound, if set before the first Read, is called when a turn's
	// first audio is handed to the device, at the end of that Read.
	OnFirstSound func(turn uint64, at time.Time)

	mu        sync.Mutex
	q         []int16 // queued samples are q[head:]
	head      int
	turn      uint64
	inTurn    bool // from Start until the turn has played out (or Flush)
	primed    bool // playing from q (prebuffer reached, or the turn ended)
	ended     bool // End seen for the current turn
	heard     bool // the current turn's first sound was handed out
	lastSound time.Time
	underruns int
	rec       *wav.Writer
	scratch   []int16
}

// NewPlayer returns a Player of mono audio at rate that gathers prebuffer
// of a turn before playing it.
func NewPlayer(rate int, prebuffer time.Duration) *Player {
	return &Player{rate: rate, prebuffer: max(audio.Format{SampleRate: rate, Channels: 1}.Samples(prebuffer), 1)}
}

// Rate returns the sample rate of the stream.
func (p *Player) Rate() int { return p.rate }

// Record writes everything played from now on within turns (reply audio,
// and the silence of an underrun inside a reply) to w. The Player owns w
// until StopRecording.
func (p *Player) Record(w *wav.Writer) {
	p.mu.Lock()
	p.rec = w
	p.mu.Unlock()
}

// StopRecording stops writing and finalises the recording.
func (p *Player) StopRecording() error {
	p.mu.Lock()
	w := p.rec
	p.rec = nil
	p.mu.Unlock()
	if w == nil {
		return nil
	}
	return w.Close()
}

// Start begins turn: its audio follows with Push.
func (p *Player) Start(turn uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inTurn && len(p.q) > p.head && p.primed {
		// The previous turn is still playing out: the new one queues
		// behind it without a gap.
		p.turn, p.ended, p.heard = turn, false, true
		return
	}
	p.turn, p.inTurn, p.primed, p.ended, p.heard = turn, true, false, false, false
}

// Push queues samples of the current turn. It does not retain samples.
func (p *Player) Push(samples []int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.inTurn {
		return // a cancelled turn's stragglers
	}
	if p.head > 0 && p.head >= len(p.q)/2 {
		p.q = p.q[:copy(p.q, p.q[p.head:])]
		p.head = 0
	}
	p.q = append(p.q, samples...)
	if len(p.q)-p.head >= p.prebuffer {
		p.primed = true
	}
}

// End marks the end of the current turn's audio: what is queued plays out.
func (p *Player) End() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inTurn {
		p.ended, p.primed = true, true
	}
}

// Flush drops everything queued and ends the turn at once (barge-in,
// response.cancelled).
func (p *Player) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.q, p.head = p.q[:0], 0
	p.inTurn, p.primed, p.ended = false, false, false
}

// Busy reports whether a turn is queued or playing.
func (p *Player) Busy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inTurn
}

// LastSound returns when reply audio was last handed to the device (zero
// if never) and whether some is queued to play now.
func (p *Player) LastSound() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastSound, p.inTurn && p.primed && len(p.q) > p.head
}

// Underruns returns how often a playing turn ran dry.
func (p *Player) Underruns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.underruns
}

// Drain waits until the current turn has played out, or ctx ends.
func (p *Player) Drain(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for p.Busy() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Read fills b with the next len(b)/2 samples of the stream, little-endian
// PCM16. It always fills b (rounded down to whole samples) and never
// returns an error: the stream does not end.
func (p *Player) Read(b []byte) (int, error) {
	n := len(b) / 2
	var firstTurn uint64
	var firstAt time.Time
	p.mu.Lock()
	defer func() {
		p.mu.Unlock()
		// Outside the lock: the callback may take other locks (the
		// status line's), whose holders ask the Player things.
		if !firstAt.IsZero() && p.OnFirstSound != nil {
			p.OnFirstSound(firstTurn, firstAt)
		}
	}()
	if cap(p.scratch) < n {
		p.scratch = make([]int16, n)
	}
	out := p.scratch[:n]
	filled := 0
	wasInTurn := p.inTurn
	if p.inTurn && p.primed {
		filled = copy(out, p.q[p.head:])
		p.head += filled
		if filled > 0 {
			now := time.Now()
			p.lastSound = now
			if !p.heard {
				p.heard = true
				firstTurn, firstAt = p.turn, now
			}
		}
		if p.head == len(p.q) {
			p.q, p.head = p.q[:0], 0
			switch {
			case p.ended:
				p.inTurn = false // played out
			case filled < n:
				p.underruns++
				p.primed = false
			}
		}
	}
	clear(out[filled:])
	if p.rec != nil && wasInTurn {
		rec := out
		if !p.inTurn {
			rec = out[:filled] // the turn ended inside this chunk
		}
		// A failed write is kept by the Writer and returned by Close.
		_ = p.rec.WriteSamples(rec)
	}
	if p.OnPlayed != nil {
		p.OnPlayed(out)
	}
	audio.EncodePCM16(b[:0], out)
	return 2 * n, nil
}
