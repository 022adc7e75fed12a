// Package fallback chains providers of one stage: each call tries them in
// order and moves on when one fails before it has produced anything. Build a
// chain from the config's per-stage list, e.g. OpenAI first, Groq second, a
// local server last.
//
// A provider that fails fast (an open circuit breaker, pipeline.ErrUnavailable)
// costs the chain almost nothing, so the usual arrangement is a resilient
// client per provider (providers/httpx) and this package on top.
//
// Members are known by their own names (pipeline.NameOf). A chain's Name
// joins them, "openai:gpt-4o-mini>groq:llama3", for display; on each call
// it reports the member that answered with pipeline.Answered, so that the
// turn's trace and metrics name that member.
package fallback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/resample"
	"github.com/voicegate/voicegate/pipeline"
)

// member is one provider of a chain and its name.
type member[T any] struct {
	name     string
	provider T
}

// members names each provider of chain.
func members[T any](chain []T) []member[T] {
	ms := make([]member[T], len(chain))
	for i, p := range chain {
		ms[i] = member[T]{name: pipeline.NameOf(p), provider: p}
	}
	return ms
}

// chainName is the display name of a chain: its members' names joined by ">".
func chainName[T any](ms []member[T]) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return strings.Join(names, ">")
}

// errEmpty is returned for a chain with no providers.
var errEmpty = errors.New("fallback: empty chain")

// switchable reports whether a failure may move on to the next provider:
// anything but the caller giving up. Every kind qualifies — a rejection by
// one vendor (bad key, unknown model) says nothing about the next.
func switchable(ctx context.Context) bool { return ctx.Err() == nil }

// failed collects why each provider failed, for the final error.
type failed []string

func (f *failed) add(name string, err error) { *f = append(*f, name+": "+err.Error()) }

// final wraps the last provider's error, so errors.Is sees its kind, and
// names the earlier failures.
func (f failed) final(last error) error {
	if len(f) <= 1 {
		return last
	}
	return fmt.Errorf("fallback: every provider failed (%s); last: %w", strings.Join(f[:len(f)-1], "; "), last)
}

// Generator returns a Generator that tries chain in order. It moves to the
// next provider on any error, but never once emit has been called: then the
// error is returned as is, since the listener already heard part of a reply.
// A chain of one is returned unwrapped. A nil logger logs nothing.
//
// When a member is a pipeline.ToolGenerator, so is the chain: its
// GenerateTools offers the tools to the members that can call them and
// asks the others with Generate, for words. The rule holds for a call's
// pieces as for text: once one was emitted, the chain does not switch.
func Generator(logger *zap.Logger, chain ...pipeline.Generator) (pipeline.Generator, error) {
	if len(chain) == 0 {
		return nil, errEmpty
	}
	if len(chain) == 1 {
		return chain[0], nil
	}
	ms := members(chain)
	g := &generator{chain: ms, name: chainName(ms), log: nopIfNil(logger)}
	if slices.ContainsFunc(chain, func(p pipeline.Generator) bool { _, ok := p.(pipeline.ToolGenerator); return ok }) {
		return &toolGenerator{g}, nil
	}
	return g, nil
}

type generator struct {
	chain []member[pipeline.Generator]
	name  string
	log   *zap.Logger
}

// Name is the members' names joined by ">".
func (g *generator) Name() string { return g.name }

func (g *generator) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	return failover(ctx, g.log, pipeline.StageLLM, g.chain, func(p pipeline.Generator, produced func()) error {
		return p.Generate(ctx, msgs, func(d string) error {
			produced()
			return emit(d)
		})
	})
}

// toolGenerator is a chain with at least one ToolGenerator in it.
type toolGenerator struct{ *generator }

var _ pipeline.ToolGenerator = (*toolGenerator)(nil)

func (g *toolGenerator) GenerateTools(ctx context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	return failover(ctx, g.log, pipeline.StageLLM, g.chain, func(p pipeline.Generator, produced func()) error {
		if tg, ok := p.(pipeline.ToolGenerator); ok {
			return tg.GenerateTools(ctx, msgs, tools, func(d pipeline.Delta) error {
				produced()
				return emit(d)
			})
		}
		return p.Generate(ctx, msgs, func(d string) error {
			produced()
			return emit(pipeline.Delta{Text: d})
		})
	})
}

// failover calls each provider of chain in turn with call, until one
// succeeds, the caller gives up, or one fails after it produced output
// (call's produced was called): that error is returned as is. The provider
// that answered is reported with pipeline.Answered.
func failover[T any](ctx context.Context, log *zap.Logger, stage pipeline.Stage, chain []member[T], call func(p T, produced func()) error) error {
	var why failed
	for i, p := range chain {
		var emitted atomic.Bool
		err := call(p.provider, func() { emitted.Store(true) })
		if err == nil || emitted.Load() {
			pipeline.Answered(ctx, p.name)
			return err
		}
		if !switchable(ctx) {
			return err
		}
		why.add(p.name, err)
		if i == len(chain)-1 {
			return why.final(err)
		}
		logSwitch(log, stage, p.name, chain[i+1].name, err)
	}
	panic("unreachable")
}

// Synthesizer returns a Synthesizer that tries chain in order, with the same
// rule as Generator: never after audio was emitted. Its Format is the first
// provider's; audio from a provider with another sample rate is resampled to
// it. Every provider must be mono. A chain of one is returned unwrapped.
func Synthesizer(logger *zap.Logger, chain ...pipeline.Synthesizer) (pipeline.Synthesizer, error) {
	if len(chain) == 0 {
		return nil, errEmpty
	}
	ms := members(chain)
	for _, p := range ms {
		if f := p.provider.Format(); f.Channels != 1 || f.SampleRate <= 0 {
			return nil, fmt.Errorf("fallback: %s produces %v; the chain needs mono", p.name, f)
		}
	}
	if len(chain) == 1 {
		return chain[0], nil
	}
	return &synthesizer{chain: ms, name: chainName(ms), format: chain[0].Format(), log: nopIfNil(logger)}, nil
}

type synthesizer struct {
	chain  []member[pipeline.Synthesizer]
	name   string
	format audio.Format
	log    *zap.Logger
}

// Name is the members' names joined by ">".
func (s *synthesizer) Name() string { return s.name }

// WithVoice returns the chain of the members that speak in voice (each
// one's WithVoice), in order; it fails when none does.
func (s *synthesizer) WithVoice(voice string) (pipeline.Synthesizer, error) {
	var voiced []pipeline.Synthesizer
	var why []error
	for _, m := range s.chain {
		v, ok := m.provider.(pipeline.Voiced)
		if !ok {
			why = append(why, fmt.Errorf("%s speaks in one voice", m.name))
			continue
		}
		p, err := v.WithVoice(voice)
		if err != nil {
			why = append(why, fmt.Errorf("%s: %w", m.name, err))
			continue
		}
		voiced = append(voiced, p)
	}
	if len(voiced) == 0 {
		return nil, fmt.Errorf("fallback: no provider of %s speaks in voice %q: %w", s.name, voice, errors.Join(why...))
	}
	return Synthesizer(s.log, voiced...)
}

func (s *synthesizer) Format() audio.Format { return s.format }

func (s *synthesizer) Synthesize(ctx context.Context, text string, emit func([]int16) error) error {
	return failover(ctx, s.log, pipeline.StageTTS, s.chain, func(p pipeline.Synthesizer, produced func()) error {
		return s.one(ctx, p, text, func(pcm []int16) error {
			produced()
			return emit(pcm)
		})
	})
}

// one runs a provider, resampling its audio to s.format when it differs.
func (s *synthesizer) one(ctx context.Context, p pipeline.Synthesizer, text string, emit func([]int16) error) error {
	from := p.Format().SampleRate
	if from == s.format.SampleRate {
		return p.Synthesize(ctx, text, emit)
	}
	rs, err := resample.New(from, s.format.SampleRate)
	if err != nil {
		return err
	}
	var buf []int16 // reused across emits, as the contract allows
	err = p.Synthesize(ctx, text, func(pcm []int16) error {
		buf = rs.Process(buf[:0], pcm)
		if len(buf) == 0 {
			return nil
		}
		return emit(buf)
	})
	if err != nil {
		return err
	}
	if buf = rs.Flush(buf[:0]); len(buf) > 0 {
		return emit(buf)
	}
	return nil
}

// prewarmer is a provider that can open its connections before its first
// call.
type prewarmer interface {
	Prewarm(ctx context.Context) error
}

// Prewarm warms every provider of the chain that can be, at once: a
// fallback that is needed is needed fast.
func (g *generator) Prewarm(ctx context.Context) error { return prewarmAll(ctx, g.chain) }

// Prewarm warms every provider of the chain that can be, at once.
func (s *synthesizer) Prewarm(ctx context.Context) error { return prewarmAll(ctx, s.chain) }

// Prewarm warms every provider of the chain that can be, at once.
func (r *recognizer) Prewarm(ctx context.Context) error { return prewarmAll(ctx, r.chain) }

// prewarmAll calls Prewarm on every provider of chain that has it and
// waits for them; the error names each provider that failed.
func prewarmAll[T any](ctx context.Context, chain []member[T]) error {
	errs := make([]error, len(chain))
	var wg sync.WaitGroup
	for i, p := range chain {
		pw, ok := any(p.provider).(prewarmer)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pw.Prewarm(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", p.name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func logSwitch(log *zap.Logger, stage pipeline.Stage, from, to string, err error) {
	log.Warn("provider failed; falling back",
		zap.String("stage", string(stage)),
		zap.String("from", from),
		zap.String("to", to),
		zap.Error(err))
}

func nopIfNil(l *zap.Logger) *zap.Logger {
	if l == nil {
		return zap.NewNop()
	}
	return l
}
