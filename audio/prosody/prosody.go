// Package prosody follows the pitch of a voice, to tell whether an
// utterance ends rising (a question, a list not finished) or falling.
//
// A Tracker downsamples the audio to about 8 kHz and, every 20 ms, finds
// the pitch of the last 40 ms by normalised autocorrelation: the lag,
// between 2.5 ms (400 Hz) and 16.7 ms (60 Hz), at which the window best
// matches itself. A window whose best match is weak is unvoiced. Tail fits
// a line through the pitch, in semitones, of the last 300 ms of voiced
// windows.
package prosody

import (
	"math"
	"time"
)

// Tuning.
const (
	analysisRate = 8000 // Hz, about: the input is decimated by a whole factor
	window       = 40 * time.Millisecond
	hop          = 20 * time.Millisecond
	minPitch     = 60.0  // Hz
	maxPitch     = 400.0 // Hz
	// voicedCorr is the normalised autocorrelation a window must reach to
	// have a pitch; speech's voiced frames reach 0.8–0.99, noise stays
	// under 0.4.
	voicedCorr = 0.6
	// A lag whose match is within octaveShare of the best is preferred
	// when it is shorter: the best match of a periodic signal repeats at
	// every multiple of its period.
	octaveShare = 0.9
	// TailLength is the voiced speech Tail looks at.
	TailLength = 300 * time.Millisecond
	tailPoints = int(TailLength / hop)
	minPoints  = 5   // fewer voiced windows tell nothing
	riseST     = 2.0 // semitones over the tail that make it rising (falling, negative)
	outlierST  = 7.0 // a pitch this far from the tail's median is a tracking error
)

// Tail is how the pitch moves at the end of the speech.
type Tail uint8

// The tails.
const (
	Unknown Tail = iota // too little voiced speech
	Flat
	Rising
	Falling
)

// String returns the tail's name.
func (t Tail) String() string {
	switch t {
	case Flat:
		return "flat"
	case Rising:
		return "rising"
	case Falling:
		return "falling"
	}
	return "unknown"
}

// Tracker estimates pitch window by window. It is not safe for concurrent
// use. Write allocates nothing: its buffers are made by New.
type Tracker struct {
	rate           float64 // after decimation
	dec            int     // decimation factor
	win, hop       int     // decimated samples
	minLag, maxLag int

	acc  float64 // decimation: sum of the samples so far
	accN int
	buf  []float64 // the window being filled, decimated
	work []float64 // the window analysed, less its mean
	n    int
	sq   []float64 // prefix sums of squares, for the normalisation
	corr []float64 // by lag

	pitch  float64 // last window's, Hz; 0 when unvoiced
	points [tailPoints]float64
	next   int
	count  int
}

// New returns a Tracker for mono audio at sampleRate (8 kHz or more).
func New(sampleRate int) *Tracker {
	dec := max(1, sampleRate/analysisRate)
	rate := float64(sampleRate) / float64(dec)
	t := &Tracker{
		rate:   rate,
		dec:    dec,
		win:    int(rate * window.Seconds()),
		hop:    int(rate * hop.Seconds()),
		minLag: int(math.Floor(rate / maxPitch)),
		maxLag: int(math.Ceil(rate / minPitch)),
	}
	t.buf = make([]float64, t.win)
	t.work = make([]float64, t.win)
	t.sq = make([]float64, t.win+1)
	t.corr = make([]float64, t.maxLag+2)
	return t
}

// Reset forgets the audio and the pitch so far.
func (t *Tracker) Reset() {
	t.acc, t.accN, t.n = 0, 0, 0
	t.pitch, t.next, t.count = 0, 0, 0
}

// Write analyses samples (any length). It does not retain them.
func (t *Tracker) Write(samples []int16) {
	// The state in locals, not through t, for the per-sample loop.
	acc, accN, n, dec := t.acc, t.accN, t.n, t.dec
	fdec := float64(dec)
	buf := t.buf
	for _, s := range samples {
		acc += float64(s)
		if accN++; accN < dec {
			continue
		}
		buf[n] = acc / fdec
		acc, accN = 0, 0
		if n++; n == len(buf) {
			t.analyse()
			n = copy(buf, buf[t.hop:])
		}
	}
	t.acc, t.accN, t.n = acc, accN, n
}

// Pitch returns the pitch of the last window in Hz, or 0 if it was
// unvoiced.
func (t *Tracker) Pitch() float64 { return t.pitch }

// analyse finds the pitch of the full window. It works on a copy: the
// window's second half, kept for the next one, must stay as it came.
func (t *Tracker) analyse() {
	x := t.work[:copy(t.work, t.buf)]
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	sq := t.sq[:len(x)+1]
	sq[0] = 0
	e := 0.0
	for i, v := range x {
		v -= mean
		x[i] = v
		e += v * v
		sq[i+1] = e
	}
	t.pitch = 0
	if t.sq[len(x)] < float64(len(x))*1 { // under -90 dBFS: silence
		return
	}
	best, bestLag := 0.0, 0
	for lag := t.minLag; lag <= t.maxLag+1; lag++ {
		sum := dot(x[:len(x)-lag], x[lag:])
		e1, e2 := t.sq[len(x)-lag], t.sq[len(x)]-t.sq[lag]
		c := 0.0
		if e1 > 0 && e2 > 0 {
			c = sum / math.Sqrt(e1*e2)
		}
		t.corr[lag] = c
		if lag <= t.maxLag && c > best {
			best, bestLag = c, lag
		}
	}
	if best < voicedCorr {
		return
	}
	// The shortest lag at a peak nearly as good as the best: its period,
	// not a multiple of it.
	for lag := t.minLag + 1; lag < bestLag; lag++ {
		c := t.corr[lag]
		if c >= octaveShare*best && c >= t.corr[lag-1] && c >= t.corr[lag+1] {
			bestLag = lag
			break
		}
	}
	lag := float64(bestLag)
	if bestLag > t.minLag {
		// The peak between samples, by a parabola through three.
		a, b, c := t.corr[bestLag-1], t.corr[bestLag], t.corr[bestLag+1]
		if d := a - 2*b + c; d < 0 {
			lag += 0.5 * (a - c) / d
		}
	}
	t.pitch = t.rate / lag
	t.points[t.next] = 12 * math.Log2(t.pitch)
	t.next = (t.next + 1) % tailPoints
	t.count = min(t.count+1, tailPoints)
}

// Tail tells how the pitch moved over the last TailLength of voiced
// windows: a line through them, tracking errors (octave jumps) left out,
// rising or falling by 2 semitones or more, or flat. It allocates nothing.
func (t *Tracker) Tail() Tail {
	if t.count < minPoints {
		return Unknown
	}
	// In order, oldest first.
	var st, sorted [tailPoints]float64
	n := t.count
	for i := range n {
		st[i] = t.points[(t.next-n+i+tailPoints)%tailPoints]
	}
	sorted = st
	for i := 1; i < n; i++ { // insertion sort: a handful of points
		for j := i; j > 0 && sorted[j] < sorted[j-1]; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	median := sorted[n/2]
	var sx, sy, sxx, sxy, m float64
	for i := range n {
		if math.Abs(st[i]-median) > outlierST {
			continue
		}
		x := float64(i)
		sx, sy, sxx, sxy, m = sx+x, sy+st[i], sxx+x*x, sxy+x*st[i], m+1
	}
	den := m*sxx - sx*sx
	if m < minPoints || den == 0 {
		return Unknown
	}
	slope := (m*sxy - sx*sy) / den // semitones per window
	switch change := slope * float64(n-1); {
	case change >= riseST:
		return Rising
	case change <= -riseST:
		return Falling
	}
	return Flat
}

// dot returns the dot product of a and b[:len(a)]. Four sums in flight
// instead of one chain: the autocorrelation is nearly all of a Tracker's
// work, about a hundred of these over a window per 20 ms of speech.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		a4, b4 := a[i:i+4:i+4], b[i:i+4:i+4]
		s0 += a4[0] * b4[0]
		s1 += a4[1] * b4[1]
		s2 += a4[2] * b4[2]
		s3 += a4[3] * b4[3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
