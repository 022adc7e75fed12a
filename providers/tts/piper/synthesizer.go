//go:build cgo && linux

package piper

import (
	"context"
	"fmt"
	"path/filepath"

	sherpa "github.com/k2-fsa/sherpa-onnx-go-linux"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/internal/enginepool"
)

var _ pipeline.Synthesizer = (*Synthesizer)(nil)

// Available reports whether this build includes the sherpa-onnx engine. It
// does not check that the voice is prepared; New does.
func Available() bool { return true }

// Synthesizer speaks with a Piper voice through a pool of sherpa-onnx
// engines shared by all its callers. Its methods may be called concurrently.
type Synthesizer struct {
	cfg    Config
	format audio.Format
	// engines holds at most cfg.Engines; one is taken for each generation,
	// from Synthesize until its last sentence is made.
	engines *enginepool.Pool[*engine]
}

// engine is one sherpa-onnx voice instance; one generation at a time.
type engine struct {
	tts *sherpa.OfflineTts
	// free holds the engine's two audio buffers while neither is being
	// filled or emitted: one sentence can be emitted while the next is made.
	free chan []int16
}

// New checks cfg's files, creates the first engine (about a second; it
// makes a short sentence to learn the voice's rate) and returns a
// Synthesizer. Close it to free the engines.
func New(cfg Config) (*Synthesizer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkFiles(cfg.Dir, voiceFiles, "run scripts/models.sh"); err != nil {
		return nil, err
	}
	if err := checkFiles(cfg.DataDir, dataFiles, "install Debian's espeak-ng-data"); err != nil {
		return nil, err
	}
	if err := checkVoice(cfg.Dir); err != nil {
		return nil, err
	}
	s := &Synthesizer{cfg: cfg}
	s.engines = enginepool.New(cfg.Engines, s.newEngine, freeEngine, ErrClosed)
	e, err := s.newEngine()
	if err != nil {
		return nil, err
	}
	probe := e.tts.Generate("Hello.", 0, 1)
	if probe == nil || probe.SampleRate <= 0 || len(probe.Samples) == 0 {
		freeEngine(e)
		return nil, fmt.Errorf("piper: the voice in %s makes no audio", cfg.Dir)
	}
	s.format = audio.Format{SampleRate: probe.SampleRate, Channels: 1}
	if err := s.format.Validate(); err != nil {
		freeEngine(e)
		return nil, fmt.Errorf("piper: the voice in %s: %w", cfg.Dir, err)
	}
	s.engines.Add(e)
	return s, nil
}

// newEngine loads the voice. sherpa-onnx initialises its eSpeak NG once,
// on the process's first engine, and serialises its engines' calls into it.
func (s *Synthesizer) newEngine() (*engine, error) {
	c := sherpa.OfflineTtsConfig{
		Model: sherpa.OfflineTtsModelConfig{
			Vits: sherpa.OfflineTtsVitsModelConfig{
				Model:       filepath.Join(s.cfg.Dir, "model.onnx"),
				Tokens:      filepath.Join(s.cfg.Dir, "tokens.txt"),
				DataDir:     s.cfg.DataDir,
				NoiseScale:  0.667,
				NoiseScaleW: 0.8,
				LengthScale: 1,
			},
			NumThreads: s.cfg.Threads,
			Provider:   "cpu",
		},
		MaxNumSentences: 1,
	}
	tts := sherpa.NewOfflineTts(&c)
	if tts == nil {
		return nil, fmt.Errorf("piper: sherpa-onnx cannot load the voice in %s", s.cfg.Dir)
	}
	e := &engine{tts: tts, free: make(chan []int16, 2)}
	e.free <- nil
	e.free <- nil
	return e, nil
}

func freeEngine(e *engine) { sherpa.DeleteOfflineTts(e.tts) }

// Name is "piper".
func (s *Synthesizer) Name() string { return "piper" }

// Format is the voice's rate, mono (22050 Hz for Jenny).
func (s *Synthesizer) Format() audio.Format { return s.format }

// Synthesize speaks text (UTF-8) sentence by sentence, calling emit from
// the calling goroutine with each sentence's audio once it is made, while
// the engine makes the next. pcm is valid only during emit. It waits for a
// free engine until ctx is done. It returns ctx.Err() at once when ctx is
// done, or emit's error; blank text emits nothing. A sentence being made
// when Synthesize returns is finished, unheard, before its engine is free.
// When no engine is idle and fewer than Config.Engines exist, Synthesize
// creates one, which takes about a second and is not cut short by ctx.
func (s *Synthesizer) Synthesize(ctx context.Context, text string, emit func(pcm []int16) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	parts := sentences(text)
	if len(parts) == 0 {
		return nil
	}
	e, err := s.engines.Get(ctx)
	if err != nil {
		return err
	}
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	out := make(chan []int16, 1)
	go s.generate(gctx, e, parts, out)
	for {
		select {
		case pcm, ok := <-out:
			if !ok {
				return ctx.Err()
			}
			err := ctx.Err()
			if err == nil {
				err = emit(pcm)
			}
			e.free <- pcm
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// generate makes parts one by one on e and sends each one's audio to out,
// until ctx is done. It closes out, takes back the audio nobody took and
// returns e to the pool.
func (s *Synthesizer) generate(ctx context.Context, e *engine, parts []string, out chan []int16) {
	defer s.engines.Put(e)
	defer func() {
		close(out)
		if ctx.Err() != nil {
			for pcm := range out {
				e.free <- pcm
			}
		}
	}()
	speed := float32(s.cfg.Speed)
	for _, text := range parts {
		var pcm []int16
		select {
		case pcm = <-e.free:
		case <-ctx.Done():
			return
		}
		pcm = pcm[:0]
		e.tts.GenerateWithCallback(text, 0, speed, func(samples []float32) {
			for _, v := range samples {
				pcm = append(pcm, audio.Clamp16(float64(v)*32767))
			}
		})
		if len(pcm) == 0 {
			e.free <- pcm
			continue
		}
		select {
		case out <- pcm:
		case <-ctx.Done():
			e.free <- pcm
			return
		}
	}
}

// Close makes Synthesize fail with ErrClosed, waits for the sentences being
// made and frees the engines. Close is idempotent.
func (s *Synthesizer) Close() error {
	s.engines.Close()
	s.engines.Wait()
	return nil
}
