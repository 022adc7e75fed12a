//go:build cgo && linux

package sherpa

import (
	"context"
	"fmt"
	"strings"
	"sync"

	sherpaonnx "github.com/k2-fsa/sherpa-onnx-go-linux"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/internal/enginepool"
)

var _ pipeline.Recognizer = (*Recognizer)(nil)

// Available reports whether this build includes the engine. It does not
// check for models; New does.
func Available() bool { return true }

const (
	sampleRate = 16000
	featureDim = 80
	// tailPadding is the silence given to a streaming model after the
	// utterance, so that its last words leave the encoder's lookahead.
	tailPadding = sampleRate / 2
)

// Recognizer is one loaded model, shared by up to PoolSize utterances at
// a time, each with its own stream; decoding is one stream at a time. Its
// methods may be called concurrently.
type Recognizer struct {
	cfg Config
	// utterances holds at most PoolSize open utterances; each is made for
	// one Start and freed by its Close, never reused.
	utterances *enginepool.Pool[*utterance]

	mu      sync.Mutex // serialises the engine's calls
	online  *sherpaonnx.OnlineRecognizer
	offline *sherpaonnx.OfflineRecognizer
}

// New checks cfg and the model directory, loads the model and returns a
// Recognizer. Close it to free the model.
func New(cfg Config) (*Recognizer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	paths, err := cfg.locate()
	if err != nil {
		return nil, err
	}
	r := &Recognizer{cfg: cfg}
	r.utterances = enginepool.New(cfg.PoolSize, r.newUtterance, (*utterance).release, ErrClosed)
	feat := sherpaonnx.FeatureConfig{SampleRate: sampleRate, FeatureDim: featureDim}
	if cfg.Kind == KindZipformerStreaming {
		c := sherpaonnx.OnlineRecognizerConfig{FeatConfig: feat, DecodingMethod: "greedy_search"}
		c.ModelConfig.Transducer = sherpaonnx.OnlineTransducerModelConfig{Encoder: paths["encoder"], Decoder: paths["decoder"], Joiner: paths["joiner"]}
		c.ModelConfig.Tokens, c.ModelConfig.NumThreads, c.ModelConfig.Provider = paths["tokens"], cfg.Threads, "cpu"
		r.online = sherpaonnx.NewOnlineRecognizer(&c)
		if r.online == nil {
			return nil, cfg.loadError()
		}
		return r, nil
	}
	c := sherpaonnx.OfflineRecognizerConfig{FeatConfig: feat, DecodingMethod: "greedy_search"}
	m := &c.ModelConfig
	m.Tokens, m.NumThreads, m.Provider = paths["tokens"], cfg.Threads, "cpu"
	switch cfg.Kind {
	case KindSenseVoice:
		m.SenseVoice = sherpaonnx.OfflineSenseVoiceModelConfig{Model: paths["model"], Language: cfg.Language, UseInverseTextNormalization: 1}
	case KindParaformer:
		m.Paraformer.Model = paths["model"]
	case KindWhisper:
		m.Whisper = sherpaonnx.OfflineWhisperModelConfig{Encoder: paths["encoder"], Decoder: paths["decoder"], Language: cfg.Language, Task: "transcribe"}
	case KindMoonshine:
		m.Moonshine = sherpaonnx.OfflineMoonshineModelConfig{Preprocessor: paths["preprocessor"], Encoder: paths["encoder"],
			UncachedDecoder: paths["uncached decoder"], CachedDecoder: paths["cached decoder"]}
	}
	r.offline = sherpaonnx.NewOfflineRecognizer(&c)
	if r.offline == nil {
		return nil, cfg.loadError()
	}
	return r, nil
}

func (c Config) loadError() error {
	return fmt.Errorf("sherpa: sherpa-onnx could not load the %s model in %s (its log, on stderr, says why)", c.Kind, c.Dir)
}

// Name is "sherpa:" and the model's kind, as in "sherpa:sensevoice".
func (r *Recognizer) Name() string { return "sherpa:" + r.cfg.Kind }

// Start opens an utterance. When PoolSize are open it waits until one is
// closed, ctx is done (returning ctx.Err()) or the Recognizer is closed
// (returning ErrClosed).
func (r *Recognizer) Start(ctx context.Context) (pipeline.Utterance, error) {
	u, err := r.utterances.Get(ctx)
	if err != nil {
		return nil, err
	}
	return u, nil
}

// newUtterance makes an utterance, with a stream for a streaming model.
func (r *Recognizer) newUtterance() (*utterance, error) {
	u := &utterance{r: r}
	if r.online != nil {
		r.mu.Lock()
		u.stream = sherpaonnx.NewOnlineStream(r.online)
		r.mu.Unlock()
	}
	return u, nil
}

// Close frees the model once every utterance is closed; Start fails from
// now on. It is idempotent.
func (r *Recognizer) Close() error {
	r.utterances.Close()
	r.utterances.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.online != nil {
		sherpaonnx.DeleteOnlineRecognizer(r.online)
		r.online = nil
	}
	if r.offline != nil {
		sherpaonnx.DeleteOfflineRecognizer(r.offline)
		r.offline = nil
	}
	return nil
}

// utterance is one stretch of speech: a stream of the streaming model, or
// the audio kept for the offline one.
type utterance struct {
	r        *Recognizer
	stream   *sherpaonnx.OnlineStream // streaming models
	pcm      []float32                // offline models: the audio so far
	buf      []float32                // streaming models: the samples of one Write
	finished bool
	closed   bool
}

// Write feeds samples. A streaming model decodes what it can and returns
// its partial transcript; an offline one keeps the audio and returns "".
func (u *utterance) Write(samples []int16) (string, error) {
	switch {
	case u.closed:
		return "", ErrClosed
	case u.finished:
		return "", errFinished
	case len(samples) == 0:
		return "", nil
	}
	if u.stream == nil {
		if len(u.pcm)+len(samples) > audio.Mono16k.Samples(u.r.cfg.MaxAudio) {
			return "", ErrTooLong
		}
		u.pcm = appendFloat(u.pcm, samples)
		return "", nil
	}
	u.buf = appendFloat(u.buf[:0], samples)
	u.stream.AcceptWaveform(sampleRate, u.buf)
	return u.decode(), nil
}

// decode runs the streaming model over what the stream holds and returns
// the transcript so far.
func (u *utterance) decode() string {
	r := u.r
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.online.IsReady(u.stream) {
		r.online.Decode(u.stream)
	}
	return strings.TrimSpace(r.online.GetResult(u.stream).Text)
}

// Finish returns the transcript: a streaming model's once the tail has
// been decoded, an offline model's after decoding the whole utterance.
func (u *utterance) Finish(ctx context.Context) (string, error) {
	switch {
	case u.closed:
		return "", ErrClosed
	case u.finished:
		return "", errFinished
	}
	u.finished = true
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if u.stream != nil {
		u.stream.AcceptWaveform(sampleRate, make([]float32, tailPadding))
		u.stream.InputFinished()
		return u.decode(), nil
	}
	if len(u.pcm) == 0 {
		return "", nil
	}
	r := u.r
	r.mu.Lock()
	defer r.mu.Unlock()
	s := sherpaonnx.NewOfflineStream(r.offline)
	defer sherpaonnx.DeleteOfflineStream(s)
	s.AcceptWaveform(sampleRate, u.pcm)
	r.offline.Decode(s)
	u.pcm = nil
	res := s.GetResult()
	if res == nil {
		return "", nil
	}
	return strings.TrimSpace(res.Text), nil
}

// Close frees the utterance's stream and gives its slot back. It is
// idempotent.
func (u *utterance) Close() error {
	if u.closed {
		return nil
	}
	u.closed = true
	u.r.utterances.Discard(u)
	return nil
}

// release frees the utterance's stream and audio.
func (u *utterance) release() {
	if u.stream != nil {
		u.r.mu.Lock()
		sherpaonnx.DeleteOnlineStream(u.stream)
		u.r.mu.Unlock()
		u.stream = nil
	}
	u.pcm = nil
}

func appendFloat(dst []float32, samples []int16) []float32 {
	for _, s := range samples {
		dst = append(dst, float32(s)/32768)
	}
	return dst
}
