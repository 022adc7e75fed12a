package vad

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// event is one event as a test sees it.
type event struct {
	ev Event
	// For SpeechStart, StartPosition; for SpeechEnd, where speech stopped
	// (Position - TrailingSilence).
	at time.Duration
	// Position when it was reported.
	reported time.Duration
}

func (e event) String() string { return fmt.Sprintf("%v@%v", e.ev, e.at) }

// run feeds pcm to d in frames of frame samples and collects the events.
func run(d *Detector, pcm []int16, frame int) []event {
	var evs []event
	for len(pcm) > 0 {
		n := min(frame, len(pcm))
		switch ev := d.Process(pcm[:n]); ev {
		case SpeechStart:
			evs = append(evs, event{ev, d.StartPosition(), d.Position()})
		case SpeechEnd:
			evs = append(evs, event{ev, d.Position() - d.TrailingSilence(), d.Position()})
		}
		pcm = pcm[n:]
	}
	return evs
}

func at(rate int, d time.Duration) int { return samples(rate, d) }

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// checkSpans checks that evs are one start/end pair per span, each within
// tol of where the speech really is, and returns the largest error.
func checkSpans(t *testing.T, evs []event, want []span, tol time.Duration) time.Duration {
	t.Helper()
	if len(evs) != 2*len(want) {
		t.Fatalf("events %v, want %d utterances %v", evs, len(want), want)
	}
	var worst time.Duration
	for i, w := range want {
		start, end := evs[2*i], evs[2*i+1]
		if start.ev != SpeechStart || end.ev != SpeechEnd {
			t.Fatalf("events %v do not alternate start/end", evs)
		}
		for _, c := range []struct {
			name      string
			got, want time.Duration
		}{{"start", start.at, w.start}, {"end", end.at, w.end}} {
			err := c.got - c.want
			worst = max(worst, err.Abs())
			if err.Abs() > tol {
				t.Errorf("utterance %d: %s at %v, want %v ± %v", i, c.name, c.got, c.want, tol)
			}
		}
	}
	return worst
}

func TestNoSpeech(t *testing.T) {
	const rate = 16000
	tests := []struct {
		name string
		gen  func(rng *rand.Rand, n int) []float64
	}{
		{"digital silence", func(_ *rand.Rand, n int) []float64 { return make([]float64, n) }},
		{"white -70 dBFS", func(r *rand.Rand, n int) []float64 { return white(r, n, -70) }},
		{"white -50 dBFS", func(r *rand.Rand, n int) []float64 { return white(r, n, -50) }},
		{"white -30 dBFS", func(r *rand.Rand, n int) []float64 { return white(r, n, -30) }},
		{"white -12 dBFS", func(r *rand.Rand, n int) []float64 { return white(r, n, -12) }},
		{"pink -50 dBFS", func(r *rand.Rand, n int) []float64 { return pink(r, n, -50) }},
		{"pink -25 dBFS", func(r *rand.Rand, n int) []float64 { return pink(r, n, -25) }},
		{"silence then noise below MinLevel", func(r *rand.Rand, n int) []float64 {
			return mix(make([]float64, n), n/2, white(r, n/2, -62))
		}},
		{"hum and DC offset", func(r *rand.Rand, n int) []float64 {
			x := white(r, n, -60)
			for i := range x {
				x[i] += 3000 + amplitude(-25)*math.Sqrt2*math.Sin(2*math.Pi*50*float64(i)/rate)
			}
			return x
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 7))
			pcm := toPCM(tt.gen(rng, 8*rate))
			d := New(Config{}, rate)
			if evs := run(d, pcm, 320); len(evs) != 0 {
				t.Fatalf("events in %s: %v (floor %.1f dBFS)", tt.name, evs, d.NoiseFloor())
			}
		})
	}
}

// TestSpeech places generated speech in silence or noise and checks where
// the detector finds it.
// Measured here: starts and ends within 21 ms of the truth.
func TestSpeech(t *testing.T) {
	type scene struct {
		rate  int
		pcm   []int16
		spans []span
	}
	// build lays utterances of the given lengths at the given times over a
	// background, speech at speechDB.
	build := func(rate int, total time.Duration, bg func(*rand.Rand, int) []float64, speechDB float64, utt ...[2]float64) scene {
		rng := rand.New(rand.NewPCG(uint64(rate), uint64(len(utt))))
		x := bg(rng, at(rate, total))
		var spans []span
		for _, u := range utt {
			s, sp := speech(rng, rate, sec(u[1]), speechDB)
			x = mix(x, at(rate, sec(u[0])), s)
			spans = append(spans, span{sec(u[0]) + sp.start, sec(u[0]) + sp.end})
		}
		return scene{rate, toPCM(x), spans}
	}
	quiet := func(_ *rand.Rand, n int) []float64 { return make([]float64, n) }
	noise := func(dbfs float64) func(*rand.Rand, int) []float64 {
		return func(r *rand.Rand, n int) []float64 { return white(r, n, dbfs) }
	}
	pinkNoise := func(dbfs float64) func(*rand.Rand, int) []float64 {
		return func(r *rand.Rand, n int) []float64 { return pink(r, n, dbfs) }
	}
	tests := []struct {
		name  string
		scene scene
	}{
		{"silence 16k", build(16000, 5*time.Second, quiet, -20, [2]float64{1, 2.5})},
		{"silence 8k", build(8000, 5*time.Second, quiet, -20, [2]float64{1, 2.5})},
		{"silence 22.05k", build(22050, 5*time.Second, quiet, -20, [2]float64{1, 2.5})},
		{"silence 48k", build(48000, 5*time.Second, quiet, -20, [2]float64{1, 2.5})},
		{"quiet talker -40 dBFS", build(16000, 5*time.Second, quiet, -40, [2]float64{1, 2.5})},
		{"loud talker -6 dBFS", build(16000, 5*time.Second, noise(-60), -6, [2]float64{1, 2.5})},
		{"white noise SNR 25", build(16000, 6*time.Second, noise(-50), -25, [2]float64{2, 2.5})},
		{"white noise SNR 15", build(16000, 6*time.Second, noise(-40), -25, [2]float64{2, 2.5})},
		{"pink noise SNR 20", build(16000, 6*time.Second, pinkNoise(-45), -25, [2]float64{2, 2.5})},
		{"three utterances", build(16000, 10*time.Second, noise(-55), -25,
			[2]float64{1, 1.2}, [2]float64{3.5, 2}, [2]float64{7, 1.5})},
	}
	var worst time.Duration
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Config{}, tt.scene.rate)
			evs := run(d, tt.scene.pcm, tt.scene.rate/50)
			worst = max(worst, checkSpans(t, evs, tt.scene.spans, 60*time.Millisecond))
		})
	}
	t.Logf("worst start/end error: %v", worst)
}

// TestClicks checks that clicks, alone, in a burst like typing, or as a
// train of spikes, never start speech.
func TestClicks(t *testing.T) {
	const rate = 16000
	tests := []struct {
		name   string
		decay  time.Duration
		peak   float64
		every  time.Duration
		noise  float64 // dBFS, or 0 for silence
		jitter bool
	}{
		{"impulses full scale in silence", 0, 32000, 300 * time.Millisecond, 0, false},
		{"impulses in noise", 0, 20000, 250 * time.Millisecond, -55, false},
		{"1 ms knocks", time.Millisecond, 20000, 400 * time.Millisecond, -60, true},
		{"3 ms knocks", 3 * time.Millisecond, 12000, 500 * time.Millisecond, -50, true},
		{"typing, 8 keys/s", time.Millisecond, 8000, 125 * time.Millisecond, -55, true},
		{"typing, 12 keys/s", 500 * time.Microsecond, 8000, 83 * time.Millisecond, -55, true},
		{"glitch buzz: a spike every 10 ms", 0, 16000, 10 * time.Millisecond, -60, false},
		{"glitch buzz: a spike every 15 ms", 0, 16000, 15 * time.Millisecond, -60, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			n := at(rate, 6*time.Second)
			x := make([]float64, n)
			if tt.noise != 0 {
				x = white(rng, n, tt.noise)
			}
			c := click(rate, tt.decay, tt.peak)
			for pos := at(rate, 500*time.Millisecond); pos < n-len(c); pos += at(rate, tt.every) {
				p := pos
				if tt.jitter {
					p += rng.IntN(at(rate, tt.every/4) + 1)
				}
				x = mix(x, p, c)
			}
			if evs := run(New(Config{}, rate), toPCM(x), 320); len(evs) != 0 {
				t.Fatalf("clicks started speech: %v", evs)
			}
		})
	}
}

// TestNoiseFloorAdapts checks the floor through changes of background
// noise: down at once, up without holding speech open, and speech found
// correctly afterwards.
func TestNoiseFloorAdapts(t *testing.T) {
	const rate = 16000
	rng := rand.New(rand.NewPCG(5, 6))

	t.Run("down", func(t *testing.T) {
		// Loud noise, then quiet, then a talker who would be buried in the
		// loud noise.
		x := white(rng, at(rate, 3*time.Second), -30)
		x = append(x, white(rng, at(rate, 4*time.Second), -65)...)
		s, sp := speech(rng, rate, 1500*time.Millisecond, -45)
		x = mix(x, at(rate, 4*time.Second), s)
		d := New(Config{}, rate)
		pcm := toPCM(x)
		run(d, pcm[:at(rate, 3500*time.Millisecond)], 320)
		if f := d.NoiseFloor(); f > -60 {
			t.Errorf("floor %.1f dBFS 0.5 s after the noise fell to -65", f)
		}
		evs := run(d, pcm[at(rate, 3500*time.Millisecond):], 320)
		checkSpans(t, evs, []span{{4*time.Second + sp.start, 4*time.Second + sp.end}}, 60*time.Millisecond)
	})

	t.Run("up", func(t *testing.T) {
		// Quiet room; a fan starts 20 dB louder; later someone speaks.
		x := white(rng, at(rate, 3*time.Second), -60)
		x = append(x, pink(rng, at(rate, 9*time.Second), -40)...)
		s, sp := speech(rng, rate, 1500*time.Millisecond, -20)
		x = mix(x, at(rate, 9*time.Second), s)
		d := New(Config{}, rate)
		evs := run(d, toPCM(x), 320)
		// The step itself may read as speech at first, but the floor must
		// take it as noise within 3 s and end that utterance.
		if len(evs) == 4 {
			if evs[0].at < 3*time.Second-50*time.Millisecond || evs[1].reported > 6*time.Second {
				t.Errorf("the noise step held an utterance %v–%v", evs[0].at, evs[1].reported)
			}
			t.Logf("noise step read as speech from %v until %v", evs[0].at, evs[1].reported)
			evs = evs[2:]
		}
		checkSpans(t, evs, []span{{9*time.Second + sp.start, 9*time.Second + sp.end}}, 60*time.Millisecond)
		if f := d.NoiseFloor(); f < -45 || f > -38 {
			t.Errorf("floor %.1f dBFS in -40 dBFS noise", f)
		}
	})

	t.Run("gradual rise", func(t *testing.T) {
		// Noise that grows 25 dB over 10 s is followed, not mistaken for
		// speech.
		n := at(rate, 10*time.Second)
		x := white(rng, n, -65)
		for i := range x {
			x[i] *= math.Pow(10, 25.0/20*float64(i)/float64(n))
		}
		d := New(Config{}, rate)
		if evs := run(d, toPCM(x), 320); len(evs) != 0 {
			t.Fatalf("rising noise read as speech: %v", evs)
		}
		if f := d.NoiseFloor(); f < -44 {
			t.Errorf("floor %.1f dBFS in -40 dBFS noise", f)
		}
	})
}

// TestFraming checks that the cut of the stream into frames does not move
// the utterances.
func TestFraming(t *testing.T) {
	const rate = 16000
	rng := rand.New(rand.NewPCG(8, 9))
	x := white(rng, at(rate, 8*time.Second), -50)
	for _, o := range []float64{0.5, 3, 5.5} {
		s, _ := speech(rng, rate, 1500*time.Millisecond, -25)
		x = mix(x, at(rate, sec(o)), s)
	}
	pcm := toPCM(x)
	// Frame sizes stop at 500 ms; positions are what may not change.
	positions := func(evs []event) []event {
		for i := range evs {
			evs[i].reported = 0
		}
		return evs
	}
	want := positions(run(New(Config{}, rate), pcm, 320))
	if len(want) != 6 {
		t.Fatalf("reference run found %v", want)
	}
	for _, frame := range []int{1, 7, 160, 441, 480, 1000, 8000} {
		got := positions(run(New(Config{}, rate), pcm, frame))
		if !slices.Equal(got, want) {
			t.Errorf("frames of %d: %v, want %v", frame, got, want)
		}
	}
	// Random frame sizes.
	d := New(Config{}, rate)
	var got []event
	for rest := pcm; len(rest) > 0; {
		n := min(1+rng.IntN(700), len(rest))
		got = append(got, run(d, rest[:n], n)...)
		rest = rest[n:]
	}
	if got = positions(got); !slices.Equal(got, want) {
		t.Errorf("random frames: %v, want %v", got, want)
	}
}

// TestPrefix checks what Prefix returns: PrefixPadding of lead-in and the
// audio up to the end of the frame that started speech, no more, and never
// audio from before the stream or the previous utterance.
func TestPrefix(t *testing.T) {
	const rate = 16000
	rng := rand.New(rand.NewPCG(10, 11))
	tests := []struct {
		name     string
		cfg      Config
		speechAt []float64 // seconds
	}{
		{"default", Config{}, []float64{1}},
		{"long padding", Config{PrefixPadding: 800 * time.Millisecond}, []float64{2}},
		{"speech at stream start", Config{}, []float64{0.1}},
		{"padding longer than the pause", Config{Silence: 400 * time.Millisecond, PrefixPadding: time.Second}, []float64{0.5, 2.4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := white(rng, at(rate, 4*time.Second), -55)
			for _, s := range tt.speechAt {
				sp, _ := speech(rng, rate, 1200*time.Millisecond, -25)
				x = mix(x, at(rate, sec(s)), sp)
			}
			pcm := toPCM(x)
			d := New(tt.cfg, rate)
			cfg := d.Config()
			var prefix []int16
			var lastEnd time.Duration
			starts := 0
			for pos := 0; pos < len(pcm); pos += 320 {
				switch d.Process(pcm[pos : pos+320]) {
				case SpeechStart:
					starts++
					prefix = d.Prefix(prefix[:0])
					from := max(d.StartPosition()-cfg.PrefixPadding, lastEnd, 0)
					want := pcm[at(rate, from) : pos+320]
					if !slices.Equal(prefix, want) {
						t.Errorf("prefix of %v (%d samples), want %v from %v (%d samples)",
							d.StartPosition(), len(prefix), d.Position(), from, len(want))
					}
				case SpeechEnd:
					lastEnd = d.Position() // frames here end where windows do
				}
			}
			if starts != len(tt.speechAt) {
				t.Fatalf("%d starts, want %d", starts, len(tt.speechAt))
			}
		})
	}
}

func TestMaxUtterance(t *testing.T) {
	const rate = 16000
	rng := rand.New(rand.NewPCG(12, 13))
	// A monologue with no pause long enough to end it.
	x := white(rng, at(rate, 8*time.Second), -55)
	s, _ := speech(rng, rate, 6500*time.Millisecond, -25)
	x = mix(x, at(rate, time.Second), s)
	d := New(Config{MaxUtterance: 2 * time.Second, Silence: time.Second}, rate)
	evs := run(d, toPCM(x), 320)
	if len(evs) < 6 {
		t.Fatalf("events %v: want the monologue cut into at least three utterances", evs)
	}
	for i := 0; i+1 < len(evs); i += 2 {
		start, end := evs[i], evs[i+1]
		if start.ev != SpeechStart || end.ev != SpeechEnd {
			t.Fatalf("events %v do not alternate", evs)
		}
		if long := end.reported - start.at; long > 2*time.Second+20*time.Millisecond {
			t.Errorf("utterance from %v ended at %v: longer than MaxUtterance", start.at, end.reported)
		}
	}
	// Cut utterances follow each other closely: little speech is lost.
	for i := 2; i < len(evs)-1 && evs[i].at < 7*time.Second; i += 2 {
		if gap := evs[i].reported - evs[i-1].reported; gap > 300*time.Millisecond {
			t.Errorf("%v between a forced end and the next start", gap)
		}
	}
}

// TestTrailingSilence checks that SpeechEnd comes Silence after the speech
// stopped, and that TrailingSilence says so.
func TestTrailingSilence(t *testing.T) {
	const rate = 16000
	for _, silence := range []time.Duration{200 * time.Millisecond, 500 * time.Millisecond, 1200 * time.Millisecond} {
		t.Run(silence.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(14, 15))
			x := white(rng, at(rate, 5*time.Second), -55)
			s, sp := speech(rng, rate, 1500*time.Millisecond, -25)
			// Syllables are at most 150 ms apart within words and 300 ms
			// between; a 200 ms Silence may split the utterance.
			x = mix(x, at(rate, time.Second), s)
			d := New(Config{Silence: silence}, rate)
			evs := run(d, toPCM(x), 320)
			if len(evs) < 2 {
				t.Fatalf("events %v", evs)
			}
			end := evs[len(evs)-1]
			trailing := end.reported - end.at
			if trailing < silence || trailing > silence+30*time.Millisecond {
				t.Errorf("TrailingSilence at SpeechEnd = %v, want %v…%v", trailing, silence, silence+30*time.Millisecond)
			}
			if err := end.at - (time.Second + sp.end); err.Abs() > 60*time.Millisecond {
				t.Errorf("speech ended at %v, want %v", end.at, time.Second+sp.end)
			}
		})
	}
}

func TestReset(t *testing.T) {
	const rate = 16000
	rng := rand.New(rand.NewPCG(16, 17))
	x := white(rng, at(rate, 3*time.Second), -50)
	s, _ := speech(rng, rate, time.Second, -25)
	pcm := toPCM(mix(x, at(rate, time.Second), s))
	d := New(Config{}, rate)
	want := run(d, pcm, 320)
	run(d, pcm[:at(rate, 1500*time.Millisecond)], 320) // stop mid-utterance
	d.Reset()
	if d.Speaking() || d.Position() != 0 || d.TrailingSilence() != 0 {
		t.Fatalf("after Reset: speaking %v, position %v", d.Speaking(), d.Position())
	}
	if got := run(d, pcm, 320); !slices.Equal(got, want) {
		t.Fatalf("after Reset: %v, want %v", got, want)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	want := Config{
		Silence: 500 * time.Millisecond, MinSpeech: 100 * time.Millisecond, PrefixPadding: 300 * time.Millisecond,
		MaxUtterance: 30 * time.Second, ThresholdDB: 10, MinLevelDB: -55,
	}
	if c != want {
		t.Fatalf("defaults %+v, want %+v", c, want)
	}
	if got := New(Config{ThresholdDB: 6}, 16000).Config().ThresholdDB; got != 6 {
		t.Fatalf("ThresholdDB %v, want 6", got)
	}
}

func TestProcessAllocatesNothing(t *testing.T) {
	const rate = 16000
	rng := rand.New(rand.NewPCG(1, 1))
	x := white(rng, at(rate, 4*time.Second), -50)
	s, _ := speech(rng, rate, 2*time.Second, -25)
	pcm := toPCM(mix(x, at(rate, time.Second), s))
	d := New(Config{}, rate)
	prefix := make([]int16, 0, rate)
	pos := 0
	allocs := testing.AllocsPerRun(len(pcm)/320-1, func() {
		if d.Process(pcm[pos:pos+320]) == SpeechStart {
			prefix = d.Prefix(prefix[:0])
		}
		pos += 320
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}

func benchmarkProcess(b *testing.B, rate int) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := white(rng, at(rate, 4*time.Second), -50)
	s, _ := speech(rng, rate, 2*time.Second, -25)
	pcm := toPCM(mix(x, at(rate, time.Second), s))
	frame := rate / 50
	d := New(Config{}, rate)
	prefix := make([]int16, 0, rate)
	pos := 0
	b.ReportAllocs()
	for b.Loop() {
		if pos+frame > len(pcm) {
			pos = 0
		}
		if d.Process(pcm[pos:pos+frame]) == SpeechStart {
			prefix = d.Prefix(prefix[:0])
		}
		pos += frame
	}
}

// Benchmarks process one 20 ms frame of speech in noise per op.
func BenchmarkProcess16k(b *testing.B) { benchmarkProcess(b, 16000) }
func BenchmarkProcess48k(b *testing.B) { benchmarkProcess(b, 48000) }
