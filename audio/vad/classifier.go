package vad

// Classifier decides, one window at a time, whether a window of audio is
// speech: a neural model, say, in place of the Detector's energy test. The
// Detector built with one (NewWith) still does all the endpointing
// (MinSpeech, Silence, PrefixPadding, MaxUtterance) and still measures the
// level and noise floor it reports; only the decision "is this window
// voiced" is the Classifier's.
//
// A Classifier holds the state of one stream and is not safe for
// concurrent use: each session needs its own.
type Classifier interface {
	// Window returns how many samples each call to Speech takes.
	Window() int
	// Speech returns the probability, from 0 to 1, that window (exactly
	// Window() samples, the stream's next) is speech. It must not retain
	// window, which the Detector reuses, and should not allocate.
	Speech(window []int16) float32
	// Reset forgets the stream heard so far.
	Reset()
}

// The probabilities at which a window counts as voiced: SpeechProb to
// begin with and, once speaking, the lower HoldProb, so that weak endings
// and the dips inside words do not break an utterance up.
const (
	SpeechProb = 0.5
	HoldProb   = 0.35
)

// NewWith returns a Detector for mono audio at sampleRate whose analysis
// windows are c's: a window is voiced when c gives it at least SpeechProb,
// or HoldProb while speaking. The energy detector's ThresholdDB and
// MinLevelDB do not apply. The Detector resets c in its Reset, not here:
// a Detector built to take over from another (new settings in the middle
// of an utterance) may share its Classifier, as long as only one of them
// is given audio at a time.
func NewWith(cfg Config, sampleRate int, c Classifier) *Detector {
	return newDetector(cfg, sampleRate, c)
}

// classify asks the Classifier about the window just completed.
func (d *Detector) classify() bool {
	p := d.cls.Speech(d.winBuf)
	if d.st.speaking {
		return p >= HoldProb
	}
	return p >= SpeechProb
}
