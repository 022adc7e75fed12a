// Package vad detects voice activity in a PCM stream and decides where an
// utterance starts and ends (endpointing).
//
// A Detector cuts the stream into 10 ms analysis windows, whatever the size
// of the frames it is given, and measures each window's energy after a
// 60 Hz high-pass (which removes DC offset and rumble). A window is voiced
// when its energy is ThresholdDB above an adaptive noise floor and above the
// absolute MinLevelDB, and is not concentrated in one sample (a spike or a
// glitch). Speech starts once MinSpeech of voiced windows arrive with at
// most short gaps between them (30 ms at the default MinSpeech), and ends
// after Silence without voiced audio or when the utterance reaches
// MaxUtterance. An isolated click therefore never starts speech: it voices
// one window, not ten.
//
// The noise floor follows the quiet between sounds: it drops quickly when
// the level drops, rises slowly (time constant 1.5 s) through windows that
// are not voiced, and does not rise during speech. One exception keeps a
// sudden, lasting rise in background noise (a fan switched on) from holding
// an utterance open forever: the step first reads as speech, but once the
// level has stayed within 6 dB for 2 s, no speech being that steady, the
// floor jumps to it and the utterance ends Silence later.
//
// A Detector built with NewWith leaves the per-window decision to a
// Classifier (a neural model, in voicegate's silero provider) and keeps
// the rest: its windows are the Classifier's, and the endpointing above
// counts them in the same way.
package vad

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/voicegate/voicegate/audio"
)

// Config tunes a Detector. The zero value of each field selects its
// default, the value DefaultConfig gives it. The yaml keys are those of
// voicegate's configuration file (vad: section).
type Config struct {
	Silence       time.Duration `yaml:"silence"`        // silence that ends an utterance
	MinSpeech     time.Duration `yaml:"min_speech"`     // voiced audio needed before speech counts as started
	PrefixPadding time.Duration `yaml:"prefix_padding"` // audio before the detected start that belongs to the utterance
	MaxUtterance  time.Duration `yaml:"max_utterance"`  // an utterance is cut after this long
	ThresholdDB   float64       `yaml:"threshold_db"`   // how far above the noise floor a frame must be to count as voiced
	MinLevelDB    float64       `yaml:"min_level_db"`   // level (dBFS) below which nothing counts as voiced, however quiet the room
}

// DefaultConfig returns the defaults: tuned for conversation in a room.
func DefaultConfig() Config {
	return Config{
		Silence:       500 * time.Millisecond,
		MinSpeech:     100 * time.Millisecond,
		PrefixPadding: 300 * time.Millisecond,
		MaxUtterance:  30 * time.Second,
		ThresholdDB:   10,
		MinLevelDB:    -55,
	}
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config { return c.Or(DefaultConfig()) }

// Or returns c with its zero fields taken from d.
func (c Config) Or(d Config) Config {
	orDefault(&c.Silence, d.Silence)
	orDefault(&c.MinSpeech, d.MinSpeech)
	orDefault(&c.PrefixPadding, d.PrefixPadding)
	orDefault(&c.MaxUtterance, d.MaxUtterance)
	orDefault(&c.ThresholdDB, d.ThresholdDB)
	orDefault(&c.MinLevelDB, d.MinLevelDB)
	return c
}

// Validate reports settings a Detector cannot work with, naming the yaml key.
func (c Config) Validate() error {
	var errs []error
	if c.Silence != 0 && (c.Silence < 100*time.Millisecond || c.Silence > 5*time.Second) {
		errs = append(errs, fmt.Errorf("vad.silence %v: use between 100ms and 5s (500ms suits conversation)", c.Silence))
	}
	if c.MinSpeech < 0 || c.PrefixPadding < 0 || c.MaxUtterance < 0 || c.ThresholdDB < 0 {
		errs = append(errs, errors.New("vad: durations and threshold_db cannot be negative"))
	}
	if c.MinLevelDB > 0 {
		errs = append(errs, fmt.Errorf("vad.min_level_db %v: a level in dBFS is 0 or below", c.MinLevelDB))
	}
	return errors.Join(errs...)
}

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Event is what Process saw in a frame.
type Event uint8

// The events.
const (
	None        Event = iota
	SpeechStart       // speech has started; Prefix holds the audio that led up to it
	SpeechEnd         // speech has ended (silence, or MaxUtterance reached)
)

// String returns the event's name.
func (e Event) String() string {
	switch e {
	case None:
		return "none"
	case SpeechStart:
		return "speech-start"
	case SpeechEnd:
		return "speech-end"
	}
	return "event(" + strconv.Itoa(int(e)) + ")"
}

// Tuning that Config does not expose.
const (
	window     = 10 * time.Millisecond // analysis window
	highPassHz = 60                    // below this is hum, rumble and DC, not speech
	// hpFlush: the high-pass state decays toward 0 in digital silence and,
	// left alone, settles on a subnormal float that rounds to itself, where
	// every sample costs an order of magnitude more (12 µs a 20 ms frame
	// instead of 0.6). Far below one LSB, it is flushed to 0 instead.
	hpFlush = 1e-20

	// The noise floor follows a falling level with the first time constant
	// and a rising one, outside speech, with the second.
	floorDownTau = 40 * time.Millisecond
	floorUpTau   = 1500 * time.Millisecond

	// Once speaking, a window this much quieter than ThresholdDB (at most
	// half of it) still counts as voiced, so weak endings are kept.
	holdDB = 3

	// A window with this share of its energy in one sample is a spike or
	// glitch, not a voice.
	clickShare = 0.4

	// During speech, a level that stayed within steadySpread dB over
	// blocks blocks of blockWindows windows (2 s) is noise.
	blockWindows = 25
	blocks       = 8
	steadySpread = 6.0

	fullScaleDB   = 90.30899869919435      // 20·log10(32768)
	quietestLevel = -120.0                 // the level of digital silence
	longestFrame  = 500 * time.Millisecond // Prefix is whole for frames up to this long

	// modelLead is added to PrefixPadding for a Classifier: a model such
	// as Silero decides about 100 ms, and at a soft onset ("h", "f") up
	// to 500 ms, after the level rises, and those first sounds belong
	// to the utterance.
	modelLead = 150 * time.Millisecond
)

// Detector finds utterances in one mono stream. It is not safe for
// concurrent use. Process allocates nothing once the first frame has
// allocated the prefix ring (about PrefixPadding + MinSpeech + 0.5 s of
// audio), so a detector that never hears audio costs little.
type Detector struct {
	cfg    Config
	format audio.Format

	// Derived from cfg and the rate.
	win          int     // samples per analysis window
	hpR          float64 // high-pass pole
	downA, upA   float64 // floor smoothing per window
	minVoiced    int     // voiced windows that start speech…
	silence      int64   // samples
	maxUtterance int64   // samples
	prefix       int64   // samples
	floorMin     float64 // the floor never goes below MinLevelDB-ThresholdDB

	hist     []bool  // recent windows before a start, voiced or not; len is the span minVoiced must fit in
	ring     []int16 // recent audio, for Prefix; allocated on first use
	ringSize int

	cls    Classifier // decides which windows are voiced; nil: the energy test
	winBuf []int16    // the window in progress, for cls

	st state
}

// state is everything Reset forgets.
type state struct {
	pos int64 // samples seen

	// The analysis window in progress.
	hpX, hpY float64 // high-pass memory
	sum      float64 // energy so far
	peak2    float64 // largest squared magnitude so far
	n        int     // samples so far

	level    float64 // last window, dBFS
	floor    float64 // noise floor, dBFS
	floorSet bool

	// Stationarity: level range per block.
	blkLo, blkHi [blocks]float64
	lo, hi       float64 // block in progress
	blkWindows   int     // windows in the block in progress
	blkNext      int     // index of the next block to store
	blkFull      bool    // all blocks hold data

	histNext   int // index of the oldest window in hist
	histVoiced int // voiced windows in hist
	prevVoiced bool

	speaking   bool
	uttSeen    bool  // an utterance has started since New or Reset
	start      int64 // first voiced sample of the current or last utterance
	lastVoiced int64 // end of its last voiced window
	end        int64 // where the last utterance ended; no Prefix reaches before it

	ringNext, ringLen int
}

// New returns a Detector for mono audio at sampleRate.
func New(cfg Config, sampleRate int) *Detector {
	return newDetector(cfg, sampleRate, nil)
}

func newDetector(cfg Config, sampleRate int, c Classifier) *Detector {
	cfg = cfg.WithDefaults()
	f := audio.Format{SampleRate: sampleRate, Channels: 1}
	win := max(1, f.Samples(window))
	if c != nil {
		win = max(1, c.Window())
	}
	perWindow := f.Duration(win).Seconds()
	ceilWindows := func(d time.Duration) int { return max(1, (f.Samples(d)+win-1)/win) }
	minVoiced := ceilWindows(cfg.MinSpeech)
	// "Mostly voiced": up to a third of the span may be gaps (30 ms at
	// the default MinSpeech), so a plosive's closure does not restart the
	// count.
	span := minVoiced + max(2, minVoiced/3)
	d := &Detector{
		cfg:          cfg,
		format:       f,
		win:          win,
		hpR:          math.Exp(-2 * math.Pi * highPassHz / float64(max(sampleRate, 1))),
		downA:        1 - math.Exp(-perWindow/floorDownTau.Seconds()),
		upA:          1 - math.Exp(-perWindow/floorUpTau.Seconds()),
		minVoiced:    minVoiced,
		silence:      int64(f.Samples(cfg.Silence)),
		maxUtterance: int64(f.Samples(cfg.MaxUtterance)),
		floorMin:     cfg.MinLevelDB - cfg.ThresholdDB,
		hist:         make([]bool, span),
	}
	lead := cfg.PrefixPadding
	if c != nil {
		lead += modelLead
	}
	d.prefix = int64(f.Samples(lead))
	d.ringSize = f.Samples(lead+longestFrame) + (span+1)*win
	if c != nil {
		d.cls, d.winBuf = c, make([]int16, win)
	}
	d.resetState()
	return d
}

// Config returns the detector's configuration with defaults applied.
func (d *Detector) Config() Config { return d.cfg }

// Process analyses the next frame of samples (any length; 10–30 ms frames
// give the best timing) and reports whether speech started or ended in it.
// How the stream is cut into frames does not change where speech is found.
// At most one event is reported per call: should a frame hold two, the second
// is reported by the next call. Process does not retain samples and
// allocates nothing.
func (d *Detector) Process(samples []int16) Event {
	d.remember(samples)
	ev := None
	st := &d.st
	for len(samples) > 0 {
		n := min(len(samples), d.win-st.n)
		if d.cls != nil {
			copy(d.winBuf[st.n:], samples[:n])
		}
		x1, y1, sum, peak2, r := st.hpX, st.hpY, st.sum, st.peak2, d.hpR
		for _, s := range samples[:n] {
			x := float64(s)
			y := x - x1 + r*y1
			x1, y1 = x, y
			yy := y * y
			sum += yy
			if yy > peak2 { // not max(): its NaN handling costs a branch per sample
				peak2 = yy
			}
		}
		if math.Abs(y1) < hpFlush {
			y1 = 0 // see hpFlush
		}
		st.hpX, st.hpY, st.sum, st.peak2 = x1, y1, sum, peak2
		st.n += n
		st.pos += int64(n)
		samples = samples[n:]
		if st.n == d.win {
			if e := d.endWindow(ev == None); ev == None {
				ev = e
			}
			st.sum, st.peak2, st.n = 0, 0, 0
		}
	}
	return ev
}

// endWindow classifies the window that ends at st.pos, updates the noise
// floor and the utterance state, and returns the event it caused, if allow.
func (d *Detector) endWindow(allow bool) Event {
	st := &d.st
	mean := st.sum / float64(d.win)
	level := quietestLevel
	if mean > 1e-9 {
		level = max(10*math.Log10(mean)-fullScaleDB, quietestLevel)
	}
	st.level = level
	if !st.floorSet {
		st.floor, st.floorSet = max(level, d.floorMin), true
	}
	threshold := d.cfg.ThresholdDB
	if st.speaking {
		threshold = max(threshold-holdDB, threshold/2)
	}
	// Speech spreads its energy over the window (in synthesized voices the
	// loudest sample typically holds 3% of it, under 25% in 99 windows of
	// 100, about 50% at the odd plosive burst); a spike or a glitch puts
	// nearly all of it in one sample.
	click := st.peak2 > clickShare*st.sum
	voiced := level > st.floor+threshold && level > d.cfg.MinLevelDB && !click
	if d.cls != nil {
		voiced = d.classify()
	}

	switch {
	case level < st.floor:
		st.floor += d.downA * (level - st.floor)
	case !voiced && !st.speaking:
		st.floor += d.upA * (level - st.floor)
	}
	st.floor = max(st.floor, d.floorMin)
	d.trackSteadiness(level)

	ev := None
	if st.speaking {
		// One voiced window alone in the quiet (a knock that got past
		// the click test) does not prolong the utterance; two do.
		if voiced && st.prevVoiced {
			st.lastVoiced = st.pos
		}
		if allow && (st.pos-st.lastVoiced >= d.silence || st.pos-st.start >= d.maxUtterance) {
			st.speaking = false
			st.end = st.pos
			clear(d.hist)
			st.histVoiced = 0
			ev = SpeechEnd
		}
	} else {
		if d.hist[st.histNext] {
			st.histVoiced--
		}
		d.hist[st.histNext] = voiced
		if voiced {
			st.histVoiced++
		}
		st.histNext = (st.histNext + 1) % len(d.hist)
		if allow && st.histVoiced >= d.minVoiced {
			// The utterance starts at the oldest voiced window in hist.
			first := 0
			for i := range d.hist {
				if d.hist[(st.histNext+i)%len(d.hist)] {
					first = i
					break
				}
			}
			st.speaking, st.uttSeen = true, true
			st.start = st.pos - int64((len(d.hist)-first)*d.win)
			st.lastVoiced = st.pos
			ev = SpeechStart
		}
	}
	st.prevVoiced = voiced
	return ev
}

// trackSteadiness records the level range of the last 2 s and, during
// speech, takes a level that has not moved for that long as the new floor.
func (d *Detector) trackSteadiness(level float64) {
	st := &d.st
	if st.blkWindows == 0 {
		st.lo, st.hi = level, level
	}
	st.lo, st.hi = min(st.lo, level), max(st.hi, level)
	st.blkWindows++
	if st.blkWindows < blockWindows {
		return
	}
	st.blkWindows = 0
	st.blkLo[st.blkNext], st.blkHi[st.blkNext] = st.lo, st.hi
	st.blkNext = (st.blkNext + 1) % blocks
	st.blkFull = st.blkFull || st.blkNext == 0
	if !st.speaking || !st.blkFull {
		return
	}
	lo, hi := st.blkLo[0], st.blkHi[0]
	for i := 1; i < blocks; i++ {
		lo, hi = min(lo, st.blkLo[i]), max(hi, st.blkHi[i])
	}
	if hi-lo < steadySpread && lo > st.floor {
		st.floor = lo
	}
}

// remember keeps the most recent audio for Prefix.
func (d *Detector) remember(samples []int16) {
	if d.ring == nil {
		d.ring = make([]int16, d.ringSize)
	}
	if len(samples) >= len(d.ring) {
		samples = samples[len(samples)-len(d.ring):]
	}
	st := &d.st
	n := copy(d.ring[st.ringNext:], samples)
	copy(d.ring, samples[n:])
	st.ringNext = (st.ringNext + len(samples)) % len(d.ring)
	st.ringLen = min(st.ringLen+len(samples), len(d.ring))
}

// Prefix appends to dst the audio that belongs to the utterance but came
// before the SpeechStart event returned it: PrefixPadding of lead-in (150 ms
// more with a Classifier, which decides later than the level) plus the
// voiced audio that confirmed the start, including the frame just processed.
// Call it right after Process returns SpeechStart. It never reaches back past
// the end of the previous utterance, so no audio is delivered twice, nor
// further than the ring holds, which covers frames of up to 500 ms. The
// returned slice is dst's; the Detector keeps no reference to it.
func (d *Detector) Prefix(dst []int16) []int16 {
	st := &d.st
	from := max(st.start-d.prefix, st.end, st.pos-int64(st.ringLen), 0)
	n := int(st.pos - from)
	if n <= 0 {
		return dst
	}
	i := (st.ringNext - n + len(d.ring)) % len(d.ring)
	if i+n <= len(d.ring) {
		return append(dst, d.ring[i:i+n]...)
	}
	dst = append(dst, d.ring[i:]...)
	return append(dst, d.ring[:n-(len(d.ring)-i)]...)
}

// Speaking reports whether the detector is inside an utterance.
func (d *Detector) Speaking() bool { return d.st.speaking }

// Position returns how much audio Process has seen.
func (d *Detector) Position() time.Duration { return d.duration(d.st.pos) }

// StartPosition returns where the current or last utterance began: the
// stream position of its first voiced audio, not counting PrefixPadding.
// It is 0 before the first SpeechStart.
func (d *Detector) StartPosition() time.Duration { return d.duration(d.st.start) }

// TrailingSilence returns how much silence has followed the last voiced frame
// of the current or just-ended utterance. After SpeechEnd it tells how long ago
// the user actually stopped speaking: the speech ended at Position() minus
// TrailingSilence(). It is 0 before the first SpeechStart.
func (d *Detector) TrailingSilence() time.Duration {
	if !d.st.uttSeen {
		return 0
	}
	return d.duration(d.st.pos - d.st.lastVoiced)
}

// duration converts a sample count without overflow for any stream length.
func (d *Detector) duration(n int64) time.Duration {
	rate := int64(d.format.SampleRate)
	if rate <= 0 {
		return 0
	}
	return time.Duration(n/rate)*time.Second + time.Duration(n%rate)*time.Second/time.Duration(rate)
}

// NoiseFloor returns the current noise floor estimate in dBFS (a full-scale
// sine is -3 dBFS), for diagnostics.
func (d *Detector) NoiseFloor() float64 {
	if !d.st.floorSet {
		return quietestLevel
	}
	return d.st.floor
}

// Level returns the level of the last complete 10 ms window in dBFS, after
// the high-pass: what a level meter would show.
func (d *Detector) Level() float64 {
	if !d.st.floorSet {
		return quietestLevel
	}
	return d.st.level
}

// Reset forgets all state but the configuration, e.g. after a barge-in:
// the noise floor too is learnt anew from the audio that follows, and the
// Classifier, if any, is reset.
func (d *Detector) Reset() {
	d.resetState()
	if d.cls != nil {
		d.cls.Reset()
	}
}

func (d *Detector) resetState() {
	d.st = state{}
	clear(d.hist)
}
