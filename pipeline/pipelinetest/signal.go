package pipelinetest

import (
	"math"
	"time"

	"github.com/voicegate/voicegate/audio"
)

// Voice returns d of a speech-like signal at rate: a 140 Hz voice with its
// first harmonics under a syllable-rate (4 Hz) envelope, about -18 dBFS.
// Voice activity detectors take it for speech; it is deterministic.
func Voice(d time.Duration, rate int) []int16 {
	n := audio.Format{SampleRate: rate, Channels: 1}.Samples(d)
	out := make([]int16, n)
	for i := range out {
		t := float64(i) / float64(rate)
		env := 0.6 + 0.4*math.Sin(2*math.Pi*4*t)
		v := 0.0
		for h, a := range []float64{1, 0.6, 0.4, 0.25, 0.15} {
			v += a * math.Sin(2*math.Pi*140*float64(h+1)*t)
		}
		out[i] = audio.Clamp16(2600 * env * v)
	}
	return out
}

// Silence returns d of digital silence at rate.
func Silence(d time.Duration, rate int) []int16 {
	return make([]int16, audio.Format{SampleRate: rate, Channels: 1}.Samples(d))
}

// Concat joins signals.
func Concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
