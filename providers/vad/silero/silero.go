//go:build cgo && linux

package silero

import (
	"errors"
	"fmt"
	"sync"

	sherpa "github.com/k2-fsa/sherpa-onnx-go-linux"

	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/pipeline"
)

var (
	_ pipeline.VoiceActivity = (*VAD)(nil)
	_ vad.Classifier         = (*Classifier)(nil)
)

var errClosed = errors.New("silero: closed")

// Available reports whether this build includes the engine.
func Available() bool { return true }

const (
	sampleRate = 16000
	window     = 512 // samples: the window Silero v5 takes at 16 kHz

	// The engine's own endpointing is reduced to nothing, so that its
	// "speech detected" is the decision for the window just given. It
	// reads 0 as "the default", hence one sample rather than none. Its
	// decisions still lag one window: it confirms a start on the second
	// window over the threshold and an end on the second under it.
	oneSample = 1.0 / sampleRate

	// The engine keeps the audio of the speech segment in progress. A
	// Classifier cuts the segment every flushWindows windows of speech
	// (about 10 s), which frees it and leaves the model's state alone, so
	// a session that never stops "speaking" (music, say) holds at most
	// that much. maxSpeech, the length at which the engine itself would
	// start raising its threshold, is never reached.
	flushWindows = 312
	maxSpeech    = 60 // seconds
	bufferSecs   = 12 // initial room for the segment, seconds
)

// VAD gives each session a Silero model instance of its own. Loading one
// takes a few hundred milliseconds, so instances closed by their sessions
// are kept, up to Config.Idle, for the next ones. It is safe for
// concurrent use.
type VAD struct {
	cfg     sherpa.VadModelConfig
	maxIdle int
	max     int // instances loaded at once, in use and idle

	mu     sync.Mutex
	idle   []*sherpa.VoiceActivityDetector
	live   int // instances loaded: in use, idle and being made
	closed bool
}

// New checks cfg and the model (it loads it once, so that a bad file fails
// here rather than in the first session; that instance is kept for the
// first session) and returns a VAD. Close it to free the idle instances.
func New(cfg Config) (*VAD, error) {
	cfg, err := cfg.withDefaults(nil)
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkModel(cfg.Model); err != nil {
		return nil, err
	}
	v := &VAD{maxIdle: cfg.Idle, max: cfg.MaxInstances, cfg: sherpa.VadModelConfig{
		SileroVad: sherpa.SileroVadModelConfig{
			Model:              cfg.Model,
			Threshold:          cfg.Threshold,
			MinSilenceDuration: oneSample,
			MinSpeechDuration:  oneSample,
			WindowSize:         window,
			MaxSpeechDuration:  maxSpeech,
		},
		SampleRate: sampleRate,
		NumThreads: cfg.Threads,
		Provider:   "cpu",
	}}
	c, err := v.newClassifier()
	if err != nil {
		return nil, err
	}
	c.Close()
	return v, nil
}

// Name is "silero".
func (v *VAD) Name() string { return "silero" }

// NewClassifier returns a model instance for one session: an idle one,
// reset, or a new one. Close it (Run does) to give it back.
func (v *VAD) NewClassifier() (vad.Classifier, error) { return v.newClassifier() }

func (v *VAD) newClassifier() (*Classifier, error) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil, errClosed
	}
	var det *sherpa.VoiceActivityDetector
	if n := len(v.idle); n > 0 {
		det, v.idle = v.idle[n-1], v.idle[:n-1]
	} else if v.live >= v.max {
		v.mu.Unlock()
		return nil, fmt.Errorf("silero: %d instances loaded, max_instances: %w", v.max, pipeline.ErrVoiceActivityFull)
	} else {
		v.live++
	}
	v.mu.Unlock()
	if det == nil {
		det = sherpa.NewVoiceActivityDetector(&v.cfg, bufferSecs)
		if det == nil {
			v.mu.Lock()
			v.live--
			v.mu.Unlock()
			return nil, fmt.Errorf("silero: sherpa-onnx could not load %s as a Silero VAD model (run scripts/models.sh to fetch it)", v.cfg.SileroVad.Model)
		}
	}
	return &Classifier{owner: v, det: det, buf: make([]float32, window)}, nil
}

// release takes back an instance a Classifier no longer uses.
func (v *VAD) release(det *sherpa.VoiceActivityDetector) {
	det.Reset()
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.closed && len(v.idle) < v.maxIdle {
		v.idle = append(v.idle, det)
		return
	}
	v.live--
	sherpa.DeleteVoiceActivityDetector(det)
}

// Close frees the idle instances; those in use are freed when their
// Classifiers are closed. NewClassifier fails from now on. It is
// idempotent.
func (v *VAD) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	for _, det := range v.idle {
		sherpa.DeleteVoiceActivityDetector(det)
	}
	v.live -= len(v.idle)
	v.idle = nil
	return nil
}

// Classifier is one stream's model instance: it decides, window by window,
// whether audio is speech. It is not safe for concurrent use, except Close.
// Speech allocates nothing.
type Classifier struct {
	owner  *VAD
	mu     sync.Mutex // guards det against Close from another goroutine
	det    *sherpa.VoiceActivityDetector
	buf    []float32
	speech int // windows of speech since the engine's segment began or was cut
}

// Window is 512 samples (32 ms at 16 kHz).
func (c *Classifier) Window() int { return window }

// Speech gives w, 512 samples at 16 kHz (a shorter w is padded with
// silence, a longer one cut), to the model and returns 1 when the window
// is speech, 0 when not: the engine reports its decision, not the
// probability behind it. After Close it returns 0.
func (c *Classifier) Speech(w []int16) float32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.det == nil {
		return 0
	}
	n := min(len(w), window)
	for i, s := range w[:n] {
		c.buf[i] = float32(s) / 32768
	}
	clear(c.buf[n:])
	c.det.AcceptWaveform(c.buf)
	speech := c.det.IsSpeech()
	if speech {
		c.speech++
		if c.speech >= flushWindows {
			c.det.Flush()
			c.speech = 0
		}
	} else {
		c.speech = 0
	}
	// Segments are dropped without being read: reading one copies it.
	for !c.det.IsEmpty() {
		c.det.Pop()
	}
	if speech {
		return 1
	}
	return 0
}

// Reset forgets the stream: the model's state and any audio it holds.
func (c *Classifier) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.det != nil {
		c.det.Reset()
		c.speech = 0
	}
}

// Close gives the model instance back to the VAD, to keep for another
// session or free. It is idempotent.
func (c *Classifier) Close() error {
	c.mu.Lock()
	det := c.det
	c.det = nil
	c.mu.Unlock()
	if det != nil {
		c.owner.release(det)
	}
	return nil
}
