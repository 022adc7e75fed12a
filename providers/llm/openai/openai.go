// Package openai is a streaming pipeline.Generator for any server that speaks
// OpenAI's chat-completions API: OpenAI, Ollama, vLLM, llama.cpp, Groq,
// DeepSeek, Doubao (Volcengine Ark). It uses github.com/sashabaranov/go-openai
// over the shared resilience layer, providers/httpx.
//
// It is a pipeline.ToolGenerator: tools go out as the request's "tools"
// array (function tools with their JSON Schema), an assistant message's
// calls as its "tool_calls" and a tool's result as a "tool" message; the
// streamed choices[0].delta.tool_calls come back as Delta.Call pieces,
// numbered from 0 in the order the calls begin.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	goopenai "github.com/sashabaranov/go-openai"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/httpx"
)

// Config configures a Generator. The httpx.Config keys (name, base_url,
// api_key_env, timeout, ...) sit inline beside model, temperature and
// max_tokens.
type Config struct {
	httpx.Config `yaml:",inline"`
	// Model is the model name the server knows, e.g. gpt-4o-mini,
	// llama3.2:3b, deepseek-chat. Required.
	Model string `yaml:"model"`
	// Temperature is sent when set (0 included); nil leaves the server's
	// default. Reasoning models (o1, o3, gpt-5...) reject it.
	Temperature *float32 `yaml:"temperature"`
	// MaxTokens caps the reply; 0 leaves the server's default. Sent as
	// max_completion_tokens to OpenAI reasoning models, max_tokens elsewhere.
	MaxTokens int `yaml:"max_tokens"`
}

// Generator streams chat completions. It is safe for concurrent use.
type Generator struct {
	cfg    Config
	http   *httpx.Client
	client *goopenai.Client
	log    *zap.Logger
}

var _ pipeline.ToolGenerator = (*Generator)(nil)

// New returns a Generator for cfg. A nil logger logs nothing; opts are passed
// to httpx.New (tests inject a clock).
func New(cfg Config, logger *zap.Logger, opts ...httpx.Option) (*Generator, error) {
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	if cfg.Model == "" {
		return nil, fmt.Errorf("provider %s: model is required", cfg.Name)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	hc, err := httpx.New(cfg.Config, logger, opts...)
	if err != nil {
		return nil, err
	}
	// The key travels through httpx, which also does OAuth2; go-openai gets
	// none so that it sets no Authorization header of its own.
	oc := goopenai.DefaultConfig("")
	oc.BaseURL = hc.BaseURL()
	oc.HTTPClient = hc
	return &Generator{
		cfg:    cfg,
		http:   hc,
		client: goopenai.NewClientWithConfig(oc),
		log:    logger.With(zap.String("provider", cfg.Name), zap.String("model", cfg.Model)),
	}, nil
}

// Name is "<name>:<model>", e.g. "openai:gpt-4o-mini".
func (g *Generator) Name() string { return g.cfg.Name + ":" + g.cfg.Model }

// Prewarm opens connections to the server ahead of the first turn.
func (g *Generator) Prewarm(ctx context.Context) error { return g.http.Prewarm(ctx) }

// Close stops reopening connections in the background and releases idle
// ones. The Generator stays usable.
func (g *Generator) Close() error {
	g.http.Close()
	return nil
}

// chunk is the part of a chat.completion.chunk event we read. Content stays
// raw so that deltaDecoder sees the bytes the server sent.
type chunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   json.RawMessage `json:"content"`
			ToolCalls []toolCallChunk `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

// Generate streams the reply to msgs, calling emit with each whole-rune
// piece as it arrives. A stream that ends without a finish_reason (a dropped
// connection the transport could not tell from a clean end) is an error
// wrapping pipeline.ErrBadResponse, also when some text was already emitted.
// Its errors carry no credential: go-openai quotes the server's error
// events, which may echo the key, so every one passes httpx.Client.Scrub.
func (g *Generator) Generate(ctx context.Context, msgs []pipeline.Message, emit func(delta string) error) error {
	return g.http.Scrub(g.generate(ctx, msgs, nil, func(d pipeline.Delta) error {
		if d.Text == "" {
			return nil // a call, though no tool was offered: nothing to say
		}
		return emit(d.Text)
	}))
}

// GenerateTools streams the reply to msgs with tools offered, as Generate
// does. Text and call pieces are emitted in the order the server sent them;
// a call's arguments arrive in whole runes too. A stream that breaks off
// inside a call is an error wrapping pipeline.ErrBadResponse, like any
// stream that ends without a finish_reason: the caller must not run a call
// from a reply that failed.
func (g *Generator) GenerateTools(ctx context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	return g.http.Scrub(g.generate(ctx, msgs, tools, emit))
}

// request builds the streamed chat-completion request.
func (g *Generator) request(msgs []pipeline.Message, tools []pipeline.Tool) (goopenai.ChatCompletionRequest, error) {
	defs, err := toolDefs(tools)
	if err != nil {
		return goopenai.ChatCompletionRequest{}, err
	}
	req := goopenai.ChatCompletionRequest{
		Model:    g.cfg.Model,
		Messages: messages(msgs),
		Tools:    defs,
		Stream:   true,
	}
	if t := g.cfg.Temperature; t != nil {
		req.Temperature = *t
		if *t == 0 {
			// go-openai omits a zero temperature; this is its documented
			// way to send "0".
			req.Temperature = math.SmallestNonzeroFloat32
		}
	}
	if n := g.cfg.MaxTokens; n > 0 {
		// max_tokens is what OpenAI-compatible servers (Ollama, vLLM, Groq)
		// understand; OpenAI's reasoning models get max_completion_tokens.
		//lint:ignore SA1019 see above
		req.MaxTokens = n
		if errors.Is(goopenai.NewReasoningValidator().Validate(req), goopenai.ErrReasoningModelMaxTokensDeprecated) {
			//lint:ignore SA1019 cleared for the field that replaces it
			req.MaxTokens, req.MaxCompletionTokens = 0, n
		}
	}
	return req, nil
}

func (g *Generator) generate(ctx context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	req, err := g.request(msgs, tools)
	if err != nil {
		return fmt.Errorf("%s: %w", g.Name(), err)
	}
	stream, err := g.client.CreateChatCompletionStream(ctx, req)
	if err != nil {
		return g.fail(ctx, "starting stream", err, pipeline.ErrRejected)
	}
	defer stream.Close()

	var (
		text  deltaDecoder
		calls callDecoder
	)
	finished := false
	for {
		raw, err := stream.RecvRaw()
		if err == io.EOF {
			break
		}
		if err != nil {
			return g.fail(ctx, "reading stream", err, pipeline.ErrBadResponse)
		}
		var c chunk
		if err := json.Unmarshal(raw, &c); err != nil {
			return g.fail(ctx, "decoding stream event", err, pipeline.ErrBadResponse)
		}
		for _, ch := range c.Choices {
			if ch.Index != 0 {
				continue
			}
			t, err := text.decode(ch.Delta.Content)
			if err != nil {
				return g.fail(ctx, "decoding delta", err, pipeline.ErrBadResponse)
			}
			if t != "" {
				if err := emit(pipeline.Delta{Text: t}); err != nil {
					return err
				}
			}
			for _, tc := range ch.Delta.ToolCalls {
				d, ok, err := calls.decode(tc)
				if err != nil {
					return g.fail(ctx, "decoding tool call", err, pipeline.ErrBadResponse)
				}
				if ok {
					if err := emit(pipeline.Delta{Call: &d}); err != nil {
						return err
					}
				}
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				finished = true
			}
		}
	}
	if text.pending() || calls.pending() {
		g.log.Debug("stream ended inside a UTF-8 sequence; dropped the partial rune")
	}
	if !finished {
		return g.fail(ctx, "reading stream", errors.New("stream ended without a finish_reason"), pipeline.ErrBadResponse)
	}
	return nil
}

// fail returns ctx's error when the caller gave up, else err with context
// and, unless err already carries one, the pipeline error kind def.
func (g *Generator) fail(ctx context.Context, what string, err, def error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var apiErr *goopenai.APIError
	switch {
	case hasKind(err):
		return fmt.Errorf("%s: %s: %w", g.Name(), what, err)
	case errors.As(err, &apiErr):
		// An error event inside a 200 stream: the server gave up mid-way.
		return fmt.Errorf("%s: %s: %w: %w", g.Name(), what, pipeline.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %s: %w: %w", g.Name(), what, def, err)
}

func hasKind(err error) bool {
	for _, k := range []error{pipeline.ErrTimeout, pipeline.ErrRateLimited, pipeline.ErrUnavailable, pipeline.ErrRejected, pipeline.ErrBadResponse} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}
