package vad

import "time"

// SetSilence changes, from now on, the silence that ends an utterance,
// which New set to Config.Silence; Reset keeps it. A caller that knows
// more than the level (the words so far, their pitch) lengthens it after a
// hesitation and shortens it after a finished phrase. It takes effect at
// the next 10 ms window: an utterance already silent for longer ends
// there. d is kept between one window and MaxUtterance. Config still
// returns the configured Silence.
func (d *Detector) SetSilence(silence time.Duration) {
	n := int64(d.format.Samples(silence))
	d.silence = min(max(n, int64(d.win)), max(d.maxUtterance, int64(d.win)))
}

// Silence returns the silence that ends an utterance now (SetSilence).
func (d *Detector) Silence() time.Duration { return d.duration(d.silence) }
