package resample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/voicegate/voicegate/audio"
)

var rates = audio.SupportedRates

// tone returns n samples of a sine at freq Hz sampled at rate, peak amp.
func tone(n, rate int, freq, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = audio.Clamp16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// convert runs a whole stream through a fresh Resampler.
func convert(t testing.TB, from, to int, in []int16) []int16 {
	t.Helper()
	r, err := New(from, to)
	if err != nil {
		t.Fatal(err)
	}
	out := r.Process(nil, in)
	return r.Flush(out)
}

// steady trims the samples near either end of a converted stream, where the
// filter saw the silence before and after the input.
func steady(out []int16, rate int) []int16 {
	skip := rate / 50 // 20 ms: longer than any filter here
	return out[skip : len(out)-skip]
}

// goertzel returns the peak amplitude of the component of x at freq (Hz),
// Hann windowed so neighbouring components leak little into it.
func goertzel(x []int16, rate int, freq float64) float64 {
	var re, im, wsum float64
	n := len(x)
	for i, s := range x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		ph := 2 * math.Pi * freq * float64(i) / float64(rate)
		re += w * float64(s) * math.Cos(ph)
		im += w * float64(s) * math.Sin(ph)
		wsum += w
	}
	return 2 * math.Hypot(re, im) / wsum
}

// zeroCrossingFreq estimates the frequency of a tone from the time between its
// first and last rising zero crossings, interpolated between samples.
func zeroCrossingFreq(x []int16, rate int) float64 {
	first, last := -1.0, -1.0
	cycles := 0
	for i := 1; i < len(x); i++ {
		if x[i-1] < 0 && x[i] >= 0 {
			at := float64(i-1) + float64(-x[i-1])/float64(int(x[i])-int(x[i-1]))
			if first < 0 {
				first = at
			} else {
				cycles++
			}
			last = at
		}
	}
	return float64(cycles) * float64(rate) / (last - first)
}

func rms(x []int16) float64 { return audio.RMS(x) }

func db(ratio float64) float64 { return 20 * math.Log10(ratio) }

// TestTones sends passband tones through every rate pair and compares the
// output with the ideal tone at the output rate: frequency, amplitude and
// timing (the output is aligned with the input) must survive.
func TestTones(t *testing.T) {
	const amp = 16000.0
	worstGain, worstSNR := 0.0, math.Inf(1)
	for _, from := range rates {
		for _, to := range rates {
			lower := float64(min(from, to))
			for _, rel := range []float64{0.05, 0.2, 0.4} {
				freq := rel * lower
				t.Run(fmt.Sprintf("%d-%d/%.0fHz", from, to, freq), func(t *testing.T) {
					in := tone(from*3/10, from, freq, amp)
					out := convert(t, from, to, in)
					if want := (len(in)*to + from - 1) / from; len(out) != want {
						t.Fatalf("len(out) = %d, want %d", len(out), want)
					}
					ss := steady(out, to)

					if got := zeroCrossingFreq(ss, to); math.Abs(got-freq) > 1e-3*freq {
						t.Errorf("frequency %.2f Hz, want %.2f", got, freq)
					}
					gain := db(rms(ss) * math.Sqrt2 / amp)
					worstGain = max(worstGain, math.Abs(gain))
					if math.Abs(gain) > 0.5 {
						t.Errorf("gain %.2f dB, want within ±0.5", gain)
					}
					// Error against the ideal tone, sample by sample.
					skip := to / 50
					var errPow float64
					for i, s := range ss {
						ideal := amp * math.Sin(2*math.Pi*freq*float64(i+skip)/float64(to))
						d := float64(s) - ideal
						errPow += d * d
					}
					snr := db(amp / math.Sqrt2 / math.Sqrt(errPow/float64(len(ss))))
					worstSNR = min(worstSNR, snr)
					if snr < 60 {
						t.Errorf("SNR against the ideal tone %.1f dB, want ≥ 60", snr)
					}
				})
			}
		}
	}
	t.Logf("worst passband gain error %.3f dB, worst SNR against the ideal tone %.1f dB", worstGain, worstSNR)
}

// TestAliasing sends tones above the output Nyquist frequency through every
// decimating pair: they must vanish rather than fold back into the band.
// Measured here: the worst pair rejects such tones by 82 dB, against the
// input's level (the floor is partly int16 rounding).
func TestAliasing(t *testing.T) {
	const amp = 16000.0
	worst := math.Inf(1)
	for _, from := range rates {
		for _, to := range rates {
			if to >= from {
				continue
			}
			// Between the output's Nyquist frequency and the input's.
			for _, rel := range []float64{0.1, 0.5, 0.9} {
				freq := float64(to)/2 + rel*float64(from-to)/2
				t.Run(fmt.Sprintf("%d-%d/%.0fHz", from, to, freq), func(t *testing.T) {
					in := tone(from/5, from, freq, amp)
					out := steady(convert(t, from, to, in), to)
					att := db(amp / math.Sqrt2 / max(rms(out), 1e-9))
					worst = min(worst, att)
					if att < 50 {
						t.Errorf("%.0f Hz folded back at -%.1f dB, want ≤ -50", freq, att)
					}
				})
			}
		}
	}
	t.Logf("worst alias rejection: %.1f dB", worst)
}

// TestImaging checks the other direction: interpolating must not leave the
// spectral image of a tone (at from-f) in the output.
// Measured here: images are at least 85 dB down.
func TestImaging(t *testing.T) {
	const amp = 16000.0
	worst := math.Inf(1)
	for _, from := range rates {
		for _, to := range rates {
			if to <= from {
				continue
			}
			freq := passEdge * float64(from)
			image := float64(from) - freq
			t.Run(fmt.Sprintf("%d-%d/%.0fHz", from, to, freq), func(t *testing.T) {
				in := tone(from/5, from, freq, amp)
				out := steady(convert(t, from, to, in), to)
				att := db(amp / max(goertzel(out, to, image), 1e-9))
				worst = min(worst, att)
				if att < 50 {
					t.Errorf("image at %.0f Hz is -%.1f dB, want ≤ -50", image, att)
				}
			})
		}
	}
	t.Logf("worst image rejection: %.1f dB", worst)
}

// TestChunking checks that how the input is cut into calls changes nothing:
// random chunk sizes, including empty and single-sample calls and calls larger
// than the working buffer, give the one-shot output sample for sample.
func TestChunking(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]int16, 20000)
	for i := range in {
		in[i] = int16(rng.IntN(20000) - 10000)
	}
	sizes := []int{0, 1, 2, 3, 7, 80, 160, 320, 441, 960, 1023, 1024, 1025, 3000}
	for _, pair := range [][2]int{{48000, 16000}, {16000, 24000}, {44100, 16000}, {8000, 44100}, {22050, 48000}, {48000, 8000}, {16000, 16000}} {
		from, to := pair[0], pair[1]
		t.Run(fmt.Sprintf("%d-%d", from, to), func(t *testing.T) {
			want := convert(t, from, to, in)
			r, _ := New(from, to)
			for range 2 { // the second stream proves Flush reset the state
				var got []int16
				for rest := in; len(rest) > 0; {
					n := min(sizes[rng.IntN(len(sizes))], len(rest))
					got = r.Process(got, rest[:n])
					rest = rest[n:]
				}
				got = r.Flush(got)
				if len(got) != len(want) {
					t.Fatalf("chunked len %d, one-shot %d", len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("sample %d: chunked %d, one-shot %d", i, got[i], want[i])
					}
				}
			}
		})
	}
}

func TestLength(t *testing.T) {
	for _, from := range rates {
		for _, to := range rates {
			for _, n := range []int{0, 1, 2, 7, 160, 441, 12345} {
				r, _ := New(from, to)
				out := r.Flush(r.Process(nil, make([]int16, n)))
				if want := (n*to + from - 1) / from; len(out) != want {
					t.Errorf("%d→%d, %d in: %d out, want %d", from, to, n, len(out), want)
				}
			}
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		from, to int
		ok       bool
	}{
		{16000, 48000, true},
		{44100, 8000, true},
		{16000, 16000, true},
		{11025, 16000, true},
		{0, 16000, false},
		{16000, -1, false},
	}
	for _, tt := range tests {
		r, err := New(tt.from, tt.to)
		if (err == nil) != tt.ok {
			t.Errorf("New(%d, %d) error = %v, want ok=%v", tt.from, tt.to, err, tt.ok)
			continue
		}
		if err == nil {
			if f, to := r.Rates(); f != tt.from || to != tt.to {
				t.Errorf("Rates() = %d, %d", f, to)
			}
		}
	}
}

// TestDC checks that a constant stays constant: every phase has unit gain.
func TestDC(t *testing.T) {
	for _, pair := range [][2]int{{44100, 48000}, {8000, 22050}, {48000, 22050}} {
		in := make([]int16, pair[0]/10)
		for i := range in {
			in[i] = 12345
		}
		out := steady(convert(t, pair[0], pair[1], in), pair[1])
		for i, s := range out {
			if s < 12344 || s > 12346 {
				t.Fatalf("%v: sample %d = %d, want 12345±1", pair, i, s)
			}
		}
	}
}

func TestSaturation(t *testing.T) {
	// A full-scale square wave overshoots (Gibbs); the output must clip,
	// not wrap around.
	in := make([]int16, 4800)
	for i := range in {
		in[i] = math.MaxInt16
		if i/40%2 == 1 {
			in[i] = math.MinInt16
		}
	}
	out := convert(t, 48000, 16000, in)
	for i := 1; i < len(out)-1; i++ {
		if d := int(out[i]) - int(out[i-1]); d > 60000 || d < -60000 {
			t.Fatalf("sample %d jumps %d → %d: wrapped", i, out[i-1], out[i])
		}
	}
}

func benchmarkFrames(b *testing.B, from, to int) {
	r, err := New(from, to)
	if err != nil {
		b.Fatal(err)
	}
	frame := tone(from/50, from, 440, 8000) // 20 ms
	dst := make([]int16, 0, to/50+16)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dst = r.Process(dst[:0], frame)
	}
}

// Benchmarks process one 20 ms frame per op.
func Benchmark48kTo16k(b *testing.B)  { benchmarkFrames(b, 48000, 16000) }
func Benchmark16kTo24k(b *testing.B)  { benchmarkFrames(b, 16000, 24000) }
func Benchmark44k1To16k(b *testing.B) { benchmarkFrames(b, 44100, 16000) }
func Benchmark24kTo48k(b *testing.B)  { benchmarkFrames(b, 24000, 48000) }
