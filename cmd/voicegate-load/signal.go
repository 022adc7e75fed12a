package main

import (
	"math"
	"time"

	"github.com/voicegate/voicegate/audio"
)

// frameDur is the client's frame: 20 ms, as browsers and telephony send.
const frameDur = 20 * time.Millisecond

// frames is the audio every session sends, encoded once and shared: a
// session holds indices into it, never a copy. Its slices are read-only
// (coder/websocket masks into its own write buffer, not into p).
type frames struct {
	voice   [][]byte // consecutive 20 ms frames of one utterance
	silence []byte   // one 20 ms frame of digital silence
}

// newFrames encodes an utterance of the given length at 16 kHz.
func newFrames(voice time.Duration) *frames {
	f := audio.Mono16k
	per := f.Samples(frameDur)
	n := int(voice / frameDur)
	pcm := audio.EncodePCM16(nil, speechLike(n*per, f.SampleRate))
	fr := &frames{voice: make([][]byte, n), silence: make([]byte, 2*per)}
	for i := range fr.voice {
		fr.voice[i] = pcm[i*2*per : (i+1)*2*per : (i+1)*2*per]
	}
	return fr
}

// speechLike returns n samples of a voiced, speech-shaped signal: a 120 Hz
// glottal fundamental with falling-off harmonics, a slow pitch drift, and a
// 4.5 Hz syllable envelope whose troughs stay about 12 dB under its peaks.
// Every 20 ms frame is loud enough for an energy VAD to call it voiced, so
// the end of speech is exactly the end of the last frame.
func speechLike(n, rate int) []int16 {
	out := make([]int16, n)
	phase := 0.0
	for i := range out {
		t := float64(i) / float64(rate)
		f0 := 120 + 15*math.Sin(2*math.Pi*0.7*t) // intonation
		phase += 2 * math.Pi * f0 / float64(rate)
		v := 0.0
		for h := 1; h <= 8; h++ {
			v += math.Sin(float64(h)*phase) / float64(h)
		}
		syl := 0.5 - 0.5*math.Cos(2*math.Pi*4.5*t) // 0..1, one syllable per cycle
		env := 0.25 + 0.75*syl
		out[i] = audio.Clamp16(5000 * env * v)
	}
	return out
}
