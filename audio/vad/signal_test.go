package vad

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/voicegate/voicegate/audio"
)

// Test signals, generated so every test knows exactly where speech is.

// amplitude returns the RMS (in sample units) of a level in dBFS.
func amplitude(dbfs float64) float64 { return 32768 * math.Pow(10, dbfs/20) }

// samples returns the number of samples d lasts at rate.
func samples(rate int, d time.Duration) int { return int(int64(rate) * int64(d) / int64(time.Second)) }

// white returns Gaussian white noise of n samples at level dbfs (RMS).
func white(rng *rand.Rand, n int, dbfs float64) []float64 {
	a := amplitude(dbfs)
	out := make([]float64, n)
	for i := range out {
		out[i] = a * rng.NormFloat64()
	}
	return out
}

// pink returns 1/f noise (Paul Kellet's filter over white noise) of n
// samples at level dbfs.
func pink(rng *rand.Rand, n int, dbfs float64) []float64 {
	out := make([]float64, n)
	var b0, b1, b2, b3, b4, b5, b6 float64
	for i := range out {
		w := rng.NormFloat64()
		b0 = 0.99886*b0 + w*0.0555179
		b1 = 0.99332*b1 + w*0.0750759
		b2 = 0.96900*b2 + w*0.1538520
		b3 = 0.86650*b3 + w*0.3104856
		b4 = 0.55000*b4 + w*0.5329522
		b5 = -0.7616*b5 - w*0.0168980
		out[i] = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w*0.5362
		b6 = w * 0.115926
	}
	return scale(out, dbfs)
}

// scale sets the RMS of x to dbfs.
func scale(x []float64, dbfs float64) []float64 {
	var sum float64
	for _, v := range x {
		sum += v * v
	}
	if sum == 0 {
		return x
	}
	k := amplitude(dbfs) / math.Sqrt(sum/float64(len(x)))
	for i := range x {
		x[i] *= k
	}
	return x
}

// span is where speech is in a generated signal.
type span struct{ start, end time.Duration }

// speech returns a speech-like signal: syllables of a harmonic tone (a 100–
// 300 Hz fundamental that glides, harmonics to 3.5 kHz falling 6 dB per
// octave), each with a 25 ms attack and a 50 ms release, 120–280 ms long,
// 40–150 ms apart, grouped in words (pauses 150–300 ms). Its level is dbfs
// RMS over the syllables. It returns the span from the
// first syllable's onset to the last one's end.
func speech(rng *rand.Rand, rate int, length time.Duration, dbfs float64) ([]float64, span) {
	n := samples(rate, length)
	out := make([]float64, n)
	f0 := 100 + 200*rng.Float64()
	phase := make([]float64, 40)
	t := 0
	for t < n {
		syl := samples(rate, time.Duration(120+rng.IntN(160))*time.Millisecond)
		syl = min(syl, n-t)
		attack, release := samples(rate, 25*time.Millisecond), samples(rate, 50*time.Millisecond)
		target := math.Max(100, math.Min(300, f0*(0.8+0.4*rng.Float64())))
		for i := range syl {
			env := 1.0
			switch {
			case i < attack:
				env = 0.5 - 0.5*math.Cos(math.Pi*float64(i)/float64(attack))
			case i >= syl-release:
				env = 0.5 - 0.5*math.Cos(math.Pi*float64(syl-i)/float64(release))
			}
			f := f0 + (target-f0)*float64(i)/float64(syl)
			var v float64
			for k := 1; k < len(phase) && float64(k)*f < 3500; k++ {
				phase[k] += 2 * math.Pi * float64(k) * f / float64(rate)
				v += math.Sin(phase[k]) / float64(k)
			}
			out[t+i] = env * v
		}
		f0 = target
		t += syl
		if rng.IntN(3) == 0 {
			t += samples(rate, time.Duration(150+rng.IntN(150))*time.Millisecond)
		} else {
			t += samples(rate, time.Duration(40+rng.IntN(110))*time.Millisecond)
		}
	}
	// Level over the syllables, the pauses between them left out.
	var sum float64
	var active, last int
	for i, v := range out {
		if v != 0 {
			sum += v * v
			active++
			last = i + 1
		}
	}
	k := amplitude(dbfs) / math.Sqrt(sum/float64(max(active, 1)))
	for i := range out {
		out[i] *= k
	}
	return out, span{0, time.Duration(last) * time.Second / time.Duration(rate)}
}

// mix adds src to dst at offset at (samples), growing dst as needed.
func mix(dst []float64, at int, src []float64) []float64 {
	if need := at + len(src); need > len(dst) {
		dst = append(dst, make([]float64, need-len(dst))...)
	}
	for i, v := range src {
		dst[at+i] += v
	}
	return dst
}

func toPCM(x []float64) []int16 {
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = audio.Clamp16(v)
	}
	return out
}

// click returns a click: an impulse that rings down in about decay, with
// peak amplitude peak.
func click(rate int, decay time.Duration, peak float64) []float64 {
	n := max(1, samples(rate, 4*decay))
	out := make([]float64, n)
	tau := math.Max(1, float64(samples(rate, decay)))
	for i := range out {
		out[i] = peak * math.Exp(-float64(i)/tau) * math.Cos(2*math.Pi*2000*float64(i)/float64(rate))
	}
	return out
}
