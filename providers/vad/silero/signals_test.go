//go:build cgo && linux

package silero

import (
	"math"
	"math/rand/v2"
	"os/exec"
	"sync"
	"testing"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/internal/speechtest"
)

// The test signals of the comparison: real synthesized speech, whose
// clean track says where the speech is, and three kinds of interference.

const rate = 16000

// voices synthesizes sentences with flite once per test binary.
type voices struct {
	mu    sync.Mutex
	cache map[string][]float64
}

func newVoices(t testing.TB) *voices {
	t.Helper()
	if _, err := exec.LookPath("flite"); err != nil {
		t.Fatal("flite is not installed: apt-get install flite (make test installs it)")
	}
	return &voices{cache: map[string][]float64{}}
}

// say returns text spoken by a flite voice at 16 kHz, full scale ±1.
func (v *voices) say(t testing.TB, voice, text string) []float64 {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	key := voice + "\x00" + text
	if x, ok := v.cache[key]; ok {
		return x
	}
	pcm := speechtest.Flite(t, voice, text)
	x := make([]float64, len(pcm))
	for i, s := range pcm {
		x[i] = float64(s) / 32768
	}
	v.cache[key] = x
	return x
}

// span is a stretch of a stream, in samples.
type span struct{ start, end int }

// voicedSpan finds the speech in clean synthesized audio: from the first
// to the last 10 ms block within 40 dB of the loudest block.
func voicedSpan(x []float64) span {
	const block = rate / 100
	energy := make([]float64, len(x)/block)
	var loudest float64
	for i := range energy {
		for _, v := range x[i*block : (i+1)*block] {
			energy[i] += v * v
		}
		loudest = max(loudest, energy[i])
	}
	floor := loudest * 1e-4 // -40 dB
	s := span{-1, -1}
	for i, e := range energy {
		if e > floor {
			if s.start < 0 {
				s.start = i * block
			}
			s.end = (i + 1) * block
		}
	}
	return s
}

// power is the mean square of x over spans (all of x when spans is nil).
func power(x []float64, spans []span) float64 {
	if spans == nil {
		spans = []span{{0, len(x)}}
	}
	var sum float64
	var n int
	for _, s := range spans {
		for _, v := range x[s.start:s.end] {
			sum += v * v
		}
		n += s.end - s.start
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// gain scales x by k in place.
func gain(x []float64, k float64) {
	for i := range x {
		x[i] *= k
	}
}

// pinkNoise is 1/f noise by the Voss–McCartney method: 16 random rows,
// row k renewed every 2^k samples, summed with a white term.
func pinkNoise(rng *rand.Rand, n int) []float64 {
	var rows [16]float64
	var sum float64
	for k := range rows {
		rows[k] = rng.NormFloat64()
		sum += rows[k]
	}
	out := make([]float64, n)
	for i := range out {
		if i > 0 {
			// The row whose bit flips: the trailing zeros of i.
			k := 0
			for j := i; j&1 == 0 && k < len(rows)-1; j >>= 1 {
				k++
			}
			sum -= rows[k]
			rows[k] = rng.NormFloat64()
			sum += rows[k]
		}
		out[i] = sum + rng.NormFloat64()
	}
	return out
}

// babbleTalkers are the other speakers of the babble: flite voices
// saying other sentences than the target's.
var babbleTalkers = []struct{ voice, text string }{
	{"rms", "The committee will meet again next week to discuss the budget for the new library building."},
	{"awb", "I think we should take the early train, because the roads are always busy on Friday afternoons."},
	{"kal16", "She bought three kilos of apples at the market and made a pie for the whole family."},
	{"rms", "Nobody expected the match to go into extra time, but the home team scored in the final minute."},
	{"awb", "Remember to water the plants on the balcony while we are away on holiday in the mountains."},
	{"kal16", "The museum opens at nine, and the guided tour of the ancient collection starts half an hour later."},
}

// babble is several other talkers at once: each talker speaks its
// sentence over and over with short pauses, from a random point, and the
// talkers are summed at equal level.
func babble(t testing.TB, v *voices, rng *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	for _, tk := range babbleTalkers {
		x := v.say(t, tk.voice, tk.text)
		k := 1 / math.Sqrt(power(x, nil))
		pos := -rng.IntN(len(x))
		for pos < n {
			for i, s := range x {
				if j := pos + i; j >= 0 && j < n {
					out[j] += k * s
				}
			}
			pos += len(x) + rate/10 + rng.IntN(rate/5)
		}
	}
	return out
}

// music is a synthesized band at 120 beats a minute: a I–V–vi–IV chord
// progression in C (a bar each, harmonic-rich tones), a pentatonic
// melody in plucked eighth notes, kick on beats 1 and 3, snare on 2 and 4,
// hi-hat on the eighths.
func music(rng *rand.Rand, n int) []float64 {
	const beat = rate / 2 // 500 ms
	chords := [][]float64{{261.63, 329.63, 392.00}, {196.00, 246.94, 293.66}, {220.00, 261.63, 329.63}, {174.61, 220.00, 261.63}}
	scale := []float64{523.25, 587.33, 659.25, 783.99, 880.00}
	out := make([]float64, n)
	tone := func(at, length int, f, amp, decay float64, harmonics int) {
		for i := 0; i < length && at+i < n; i++ {
			tt := float64(i) / rate
			env := math.Min(1, tt/0.01) * math.Exp(-tt*decay)
			var v float64
			for h := 1; h <= harmonics; h++ {
				v += math.Sin(2*math.Pi*f*float64(h)*tt) / float64(h)
			}
			out[at+i] += amp * env * v
		}
	}
	burst := func(at, length int, amp, decay float64, bright bool) {
		var prev float64
		for i := 0; i < length && at+i < n; i++ {
			w := rng.NormFloat64()
			v := w
			if bright {
				v, prev = w-prev, w // a first difference: the high end
			}
			out[at+i] += amp * math.Exp(-float64(i)/rate*decay) * v
		}
	}
	for b := 0; b*beat < n; b++ {
		at := b * beat
		if b%4 == 0 {
			for _, f := range chords[(b/4)%len(chords)] {
				tone(at, 4*beat, f, 0.12, 0.6, 6)
			}
		}
		for e := range 2 {
			tone(at+e*beat/2, beat/2, scale[rng.IntN(len(scale))], 0.2, 6, 4)
			burst(at+e*beat/2, rate/20, 0.05, 60, true)
		}
		if b%2 == 0 {
			tone(at, rate/5, 55, 0.6, 18, 2)
		} else {
			burst(at, rate/6, 0.25, 25, false)
		}
	}
	return out
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }

// pcm16 converts a clean signal to samples.
func pcm16(x []float64) []int16 {
	pcm := make([]int16, len(x))
	for i, v := range x {
		pcm[i] = audio.Clamp16(v * 32768)
	}
	return pcm
}
