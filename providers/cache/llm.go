package cache

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/voicegate/voicegate/pipeline"
)

// replayDelta is the most text one delta of a replayed answer carries.
const replayDelta = 32

// Generator returns inner with a cache of its answers in front. The key of
// an answer is the SHA-256 of o.Variant, inner's name and the whole prompt:
// each message's role, content, tool calls and the call it answers
// (message IDs, which only name a message to a client, are left out), and,
// for GenerateTools, every tool's name, description and parameters. A hit
// replays the answer as deltas of a few words at once, honouring ctx; a
// miss runs inner and stores the answer only when it finished without
// error, cancellation or an emit that failed, calls no tool, and is at
// most c.MaxEntryBytes. Concurrent misses of one conversation each ask
// inner, as for Synthesizer.
//
// The result has inner's Name, is a pipeline.ToolGenerator when inner is,
// and forwards Prewarm.
func Generator(inner pipeline.Generator, c LLMConfig, o Options) (pipeline.Generator, error) {
	if c.MaxBytes <= 0 || c.MaxEntryBytes <= 0 || c.TTL <= 0 {
		return nil, errors.New("cache: the LLM cache needs positive max_bytes, max_entry_bytes and ttl")
	}
	g := &gen{
		inner:    inner,
		name:     pipeline.NameOf(inner),
		maxEntry: int(c.MaxEntryBytes),
		variant:  o.Variant,
		primary:  o.Primary,
		tiers:    newTiers("llm", c.MaxBytes, c.TTL, o),
	}
	if tg, ok := inner.(pipeline.ToolGenerator); ok {
		return &toolGen{gen: g, tools: tg}, nil
	}
	return g, nil
}

type gen struct {
	inner    pipeline.Generator
	name     string
	maxEntry int
	variant  string
	primary  string // Options.Primary
	tiers    *tiers
}

// toolGen is a gen whose inner can call tools.
type toolGen struct {
	*gen
	tools pipeline.ToolGenerator
}

var (
	_ pipeline.Generator     = (*gen)(nil)
	_ pipeline.ToolGenerator = (*toolGen)(nil)
)

// Name is inner's.
func (g *gen) Name() string { return g.name }

// Prewarm warms inner when it can be.
func (g *gen) Prewarm(ctx context.Context) error {
	if p, ok := g.inner.(interface{ Prewarm(context.Context) error }); ok {
		return p.Prewarm(ctx)
	}
	return nil
}

// key digests the prompt; withTools tells a GenerateTools call (whose
// tools, even none, are part of it) from a Generate call.
func (g *gen) key(msgs []pipeline.Message, tools []pipeline.Tool, withTools bool) string {
	k := newKey("llm", g.variant, g.name)
	k.num(len(msgs))
	for _, m := range msgs {
		k.str(string(m.Role))
		k.str(m.Content)
		k.str(m.ToolCallID)
		k.num(len(m.ToolCalls))
		for _, c := range m.ToolCalls {
			k.str(c.ID)
			k.str(c.Name)
			k.str(c.Arguments)
		}
	}
	if withTools {
		k.num(len(tools))
		for _, t := range tools {
			k.str(t.Name)
			k.str(t.Description)
			k.str(string(t.Parameters))
		}
	} else {
		k.num(-1)
	}
	return k.sum("llm")
}

// Generate answers from the cache, or through inner and into it.
func (g *gen) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	return g.answer(ctx, g.key(msgs, nil, false), func(d pipeline.Delta) error { return emit(d.Text) },
		func(ctx context.Context, record func(pipeline.Delta) error) error {
			return g.inner.Generate(ctx, msgs, func(d string) error { return record(pipeline.Delta{Text: d}) })
		})
}

// GenerateTools answers from the cache, or through inner and into it. An
// answer that calls a tool is never stored.
func (g *toolGen) GenerateTools(ctx context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	return g.answer(ctx, g.key(msgs, tools, true), emit, func(ctx context.Context, record func(pipeline.Delta) error) error {
		return g.tools.GenerateTools(ctx, msgs, tools, record)
	})
}

// answer replays the answer under key through emit, or runs call, whose
// record passes each delta on to emit and keeps its text.
func (g *gen) answer(ctx context.Context, key string, emit func(pipeline.Delta) error, call func(ctx context.Context, record func(pipeline.Delta) error) error) error {
	if text, ok := g.tiers.get(ctx, key, utf8.Valid); ok {
		pipeline.Answered(ctx, Name)
		return replayText(ctx, string(text), emit)
	}
	var (
		b        strings.Builder
		calls    bool
		tooLarge bool
		out      emitFailure
	)
	emit = watch(&out, emit)
	who, err := answeredBy(ctx, pipeline.StageLLM, func(ctx context.Context) error {
		return call(ctx, func(d pipeline.Delta) error {
			calls = calls || d.Call != nil
			if tooLarge = tooLarge || b.Len()+len(d.Text) > g.maxEntry; !tooLarge && !calls {
				b.WriteString(d.Text)
			}
			return emit(d)
		})
	})
	unfit := ""
	switch {
	case calls:
		unfit = skipToolCall
	case tooLarge:
		unfit = skipTooLarge
	case fellBack(g.primary, who):
		unfit = skipFallback
	}
	g.tiers.keep(ctx, key, []byte(b.String()), out, err, unfit)
	return err
}

// replayText emits text in deltas of whole words (a word longer than
// replayDelta is split between runes), stopping when ctx is done.
func replayText(ctx context.Context, text string, emit func(pipeline.Delta) error) error {
	for text != "" {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := nextDelta(text)
		if err := emit(pipeline.Delta{Text: text[:n]}); err != nil {
			return err
		}
		text = text[n:]
	}
	return ctx.Err()
}

// nextDelta returns the length of the first delta of text: up to and
// including the spaces after its first word, at most replayDelta bytes
// cut at a rune boundary (and at least one rune).
func nextDelta(text string) int {
	n := 0
	for n < len(text) && text[n] == ' ' { // leading spaces go with the word
		n++
	}
	for n < len(text) && text[n] != ' ' {
		n++
	}
	for n < len(text) && text[n] == ' ' {
		n++
	}
	if n > replayDelta {
		n = replayDelta
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		if n == 0 {
			_, n = utf8.DecodeRuneInString(text)
		}
	}
	return n
}
