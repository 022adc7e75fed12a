// Package vad detects voice activity in a PCM stream and decides where an
// utterance starts and ends (endpointing).
package vad

import (
	"time"

	"github.com/voicegate/voicegate/audio"
)

// Config tunes a Detector. The zero value of each field selects its default.
type Config struct {
	Silence       time.Duration // silence that ends an utterance; default 500ms
	MinSpeech     time.Duration // voiced audio needed before speech counts as started; default 100ms
	PrefixPadding time.Duration // audio before the detected start that belongs to the utterance; default 300ms
	MaxUtterance  time.Duration // an utterance is cut after this long; default 30s
	ThresholdDB   float64       // how far above the noise floor a frame must be to count as voiced; default 10
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Silence <= 0 {
		c.Silence = 500 * time.Millisecond
	}
	if c.MinSpeech <= 0 {
		c.MinSpeech = 100 * time.Millisecond
	}
	if c.PrefixPadding <= 0 {
		c.PrefixPadding = 300 * time.Millisecond
	}
	if c.MaxUtterance <= 0 {
		c.MaxUtterance = 30 * time.Second
	}
	if c.ThresholdDB <= 0 {
		c.ThresholdDB = 10
	}
	return c
}

// Event is what Process saw in a frame.
type Event uint8

// The events.
const (
	None        Event = iota
	SpeechStart       // speech has started; Prefix holds the audio that led up to it
	SpeechEnd         // speech has ended (silence, or MaxUtterance reached)
)

// Detector finds utterances in one mono stream. It is not safe for
// concurrent use. Process allocates nothing.
type Detector struct {
	cfg    Config
	format audio.Format
	// TODO(vad): adaptive noise floor; this placeholder uses a fixed level.
	speaking bool
	voiced   int // samples of consecutive voiced audio
	silent   int // samples of consecutive silence while speaking
	uttLen   int
	pos      int
	ring     []int16
	ringLen  int
	ringPos  int
}

// New returns a Detector for mono audio at sampleRate.
func New(cfg Config, sampleRate int) *Detector {
	cfg = cfg.WithDefaults()
	f := audio.Format{SampleRate: sampleRate, Channels: 1}
	return &Detector{cfg: cfg, format: f, ring: make([]int16, f.Samples(cfg.PrefixPadding+cfg.MinSpeech+100*time.Millisecond))}
}

// Config returns the detector's configuration with defaults applied.
func (d *Detector) Config() Config { return d.cfg }

// Process analyses the next frame of samples (any length; 10–30 ms frames
// give the best timing) and reports whether speech started or ended in it.
// Process does not retain samples.
func (d *Detector) Process(samples []int16) Event {
	d.pos += len(samples)
	voiced := audio.DBFS(audio.RMS(samples)) > -45
	ev := None
	if !d.speaking {
		d.remember(samples)
		if voiced {
			d.voiced += len(samples)
		} else {
			d.voiced = 0
		}
		if d.voiced >= d.format.Samples(d.cfg.MinSpeech) {
			d.speaking, d.silent, d.uttLen = true, 0, d.voiced
			ev = SpeechStart
		}
		return ev
	}
	d.uttLen += len(samples)
	if voiced {
		d.silent = 0
	} else {
		d.silent += len(samples)
	}
	if d.silent >= d.format.Samples(d.cfg.Silence) || d.uttLen >= d.format.Samples(d.cfg.MaxUtterance) {
		d.speaking, d.voiced, d.ringLen = false, 0, 0
		return SpeechEnd
	}
	return None
}

func (d *Detector) remember(samples []int16) {
	for _, s := range samples {
		d.ring[d.ringPos] = s
		d.ringPos = (d.ringPos + 1) % len(d.ring)
		if d.ringLen < len(d.ring) {
			d.ringLen++
		}
	}
}

// Prefix appends to dst the audio that belongs to the utterance but came
// before the SpeechStart event returned it: PrefixPadding of lead-in plus the
// voiced audio that confirmed the start, including the frame just processed.
// Call it right after Process returns SpeechStart.
func (d *Detector) Prefix(dst []int16) []int16 {
	n := min(d.ringLen, d.format.Samples(d.cfg.PrefixPadding)+d.voiced)
	start := (d.ringPos - n + len(d.ring)) % len(d.ring)
	for i := range n {
		dst = append(dst, d.ring[(start+i)%len(d.ring)])
	}
	return dst
}

// Speaking reports whether the detector is inside an utterance.
func (d *Detector) Speaking() bool { return d.speaking }

// Position returns how much audio Process has seen.
func (d *Detector) Position() time.Duration { return d.format.Duration(d.pos) }

// TrailingSilence returns how much silence has followed the last voiced frame
// of the current or just-ended utterance. After SpeechEnd it tells how long ago
// the user actually stopped speaking.
func (d *Detector) TrailingSilence() time.Duration { return d.format.Duration(d.silent) }

// Reset forgets all state but the configuration, e.g. after a barge-in.
func (d *Detector) Reset() {
	*d = Detector{cfg: d.cfg, format: d.format, ring: d.ring}
}
