package fallback_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/fallback"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

var weather = pipeline.Tool{
	Name:       "get_weather",
	Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
}

var question = []pipeline.Message{{Role: pipeline.RoleUser, Content: "What is the weather in Paris?"}}

// toolMember is a ToolGenerator scripted by gen; it fails the test if the
// chain asks it with Generate.
type toolMember struct {
	t     *testing.T
	name  string
	gen   func(ctx context.Context, emit func(pipeline.Delta) error) error
	tools atomic.Int32 // GenerateTools calls
}

func (m *toolMember) Name() string { return m.name }

func (m *toolMember) Generate(context.Context, []pipeline.Message, func(string) error) error {
	m.t.Errorf("%s: Generate called, though it takes tools", m.name)
	return errors.New("wrong method")
}

func (m *toolMember) GenerateTools(ctx context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	m.tools.Add(1)
	if len(tools) != 1 || tools[0].Name != "get_weather" || !reflect.DeepEqual(msgs, question) {
		m.t.Errorf("%s: asked %v with tools %v", m.name, msgs, tools)
	}
	return m.gen(ctx, emit)
}

// plainMember is a Generator that cannot call tools.
type plainMember struct {
	name  string
	gen   func(ctx context.Context, emit func(string) error) error
	calls atomic.Int32
}

func (m *plainMember) Name() string { return m.name }

func (m *plainMember) Generate(ctx context.Context, _ []pipeline.Message, emit func(string) error) error {
	m.calls.Add(1)
	return m.gen(ctx, emit)
}

var paris = pipeline.ToolCall{ID: "call_1", Name: "get_weather", Arguments: `{"city":"paris"}`}

// callsParis emits paris in two pieces, then returns after.
func callsParis(after error) func(context.Context, func(pipeline.Delta) error) error {
	return func(_ context.Context, emit func(pipeline.Delta) error) error {
		if err := emit(pipeline.Delta{Call: &pipeline.ToolCallDelta{ID: paris.ID, Name: paris.Name}}); err != nil {
			return err
		}
		if err := emit(pipeline.Delta{Call: &pipeline.ToolCallDelta{Arguments: paris.Arguments}}); err != nil {
			return err
		}
		return after
	}
}

func fails(err error) func(context.Context, func(pipeline.Delta) error) error {
	return func(context.Context, func(pipeline.Delta) error) error { return err }
}

func says(text string, err error) func(context.Context, func(string) error) error {
	return func(_ context.Context, emit func(string) error) error {
		if text != "" {
			if e := emit(text); e != nil {
				return e
			}
		}
		return err
	}
}

// runTools asks chain g with tools and assembles what it streamed.
func runTools(ctx context.Context, g pipeline.Generator) (string, []pipeline.ToolCall, error) {
	var (
		text  strings.Builder
		calls pipeline.ToolCalls
	)
	err := g.(pipeline.ToolGenerator).GenerateTools(ctx, question, []pipeline.Tool{weather}, func(d pipeline.Delta) error {
		text.WriteString(d.Text)
		if d.Call != nil {
			calls.Add(*d.Call)
		}
		return nil
	})
	return text.String(), calls.Calls(), err
}

func TestToolChain(t *testing.T) {
	broken := errors.New("stream broke")
	tests := []struct {
		name     string
		tool     func(context.Context, func(pipeline.Delta) error) error
		plain    func(context.Context, func(string) error) error
		toolLast bool // the tool member second
		text     string
		calls    []pipeline.ToolCall
		kind     error    // the error, or nil
		answered string   // the member that answered, or ""
		asked    [2]int32 // calls to the tool member, the plain member
	}{
		{"a tool member answers", callsParis(nil), says("unused", nil), false, "", []pipeline.ToolCall{paris}, nil, "tools", [2]int32{1, 0}},
		{"after a plain member fails", callsParis(nil), says("", pipeline.ErrUnavailable), true, "", []pipeline.ToolCall{paris}, nil, "tools", [2]int32{1, 1}},
		{"a plain member after a tool member fails", fails(pipeline.ErrRateLimited), says("Sunny.", nil), false, "Sunny.", nil, nil, "plain", [2]int32{1, 1}},
		{"no switch after a call's piece", callsParis(broken), says("unused", nil), false, "", []pipeline.ToolCall{paris}, broken, "tools", [2]int32{1, 0}},
		{"no switch after text from a plain member", callsParis(nil), says("Sun", broken), true, "Sun", nil, broken, "plain", [2]int32{0, 1}},
		{"every member fails", fails(pipeline.ErrUnavailable), says("", pipeline.ErrRejected), false, "", nil, pipeline.ErrRejected, "", [2]int32{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool := &toolMember{t: t, name: "tools", gen: tt.tool}
			plain := &plainMember{name: "plain", gen: tt.plain}
			chain := []pipeline.Generator{tool, plain}
			if tt.toolLast {
				chain = []pipeline.Generator{plain, tool}
			}
			g, err := fallback.Generator(nil, chain...)
			if err != nil {
				t.Fatal(err)
			}
			var turn pipeline.Turn
			text, calls, err := runTools(turn.StageContext(context.Background(), pipeline.StageLLM), g)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			if text != tt.text || !slices.Equal(calls, tt.calls) {
				t.Fatalf("text %q, calls %+v; want %q, %+v", text, calls, tt.text, tt.calls)
			}
			if who := turn.AnsweredBy(pipeline.StageLLM); who != tt.answered {
				t.Fatalf("answered by %q, want %q", who, tt.answered)
			}
			if got := [2]int32{tool.tools.Load(), plain.calls.Load()}; got != tt.asked {
				t.Fatalf("members asked %v times, want %v", got, tt.asked)
			}
		})
	}
}

func TestToolChainCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tool := &toolMember{t: t, name: "tools", gen: func(ctx context.Context, _ func(pipeline.Delta) error) error {
		cancel()
		return ctx.Err()
	}}
	plain := &plainMember{name: "plain", gen: says("unused", nil)}
	g, _ := fallback.Generator(nil, tool, plain)
	if _, _, err := runTools(ctx, g); !errors.Is(err, context.Canceled) || plain.calls.Load() != 0 {
		t.Fatalf("err %v, second asked %d times", err, plain.calls.Load())
	}
}

func TestChainTakesToolsOnlyWithAToolMember(t *testing.T) {
	plain := func(name string) pipeline.Generator { return &plainMember{name: name, gen: says("hi", nil)} }
	g, _ := fallback.Generator(nil, plain("a"), plain("b"))
	if _, ok := g.(pipeline.ToolGenerator); ok {
		t.Fatal("a chain of plain generators offers tools")
	}
	g, _ = fallback.Generator(nil, plain("a"), &echo.Echo{})
	if _, ok := g.(pipeline.ToolGenerator); !ok {
		t.Fatal("a chain with echo in it does not offer tools")
	}
	if name := pipeline.NameOf(g); name != "a>echo" {
		t.Fatalf("name %q", name)
	}
	// The plain member is down: echo calls the tool.
	g, _ = fallback.Generator(nil, outage{"down"}, &echo.Echo{})
	_, calls, err := runTools(context.Background(), g)
	if err != nil || len(calls) != 1 || calls[0].Arguments != `{"city":"paris"}` {
		t.Fatalf("calls %+v, %v", calls, err)
	}
}

// toolCallSSE streams a call to get_weather for Paris.
func toolCallSSE(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`+"\n\n")
	_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"paris\"}"}}]},"finish_reason":null}]}`+"\n\n")
	_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`+"\n\ndata: [DONE]\n\n")
}

func TestToolChainOverHTTP(t *testing.T) {
	t.Run("falls back to the second server", func(t *testing.T) {
		primary, _ := server(t, down)
		secondary, _ := server(t, toolCallSSE)
		g, _ := fallback.Generator(nil, llm(t, "openai", primary.URL), llm(t, "groq", secondary.URL))
		var turn pipeline.Turn
		text, calls, err := runTools(turn.StageContext(context.Background(), pipeline.StageLLM), g)
		if err != nil || text != "" || !reflect.DeepEqual(calls, []pipeline.ToolCall{paris}) {
			t.Fatalf("%q, %+v, %v", text, calls, err)
		}
		if who := turn.AnsweredBy(pipeline.StageLLM); who != "groq:m" {
			t.Fatalf("answered by %q", who)
		}
	})
	t.Run("never after a call began", func(t *testing.T) {
		primary, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"ci"}}]},"finish_reason":null}]}`+"\n\n")
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		})
		secondary, secondaryHits := server(t, toolCallSSE)
		g, _ := fallback.Generator(nil, llm(t, "a", primary.URL), llm(t, "b", secondary.URL))
		_, _, err := runTools(context.Background(), g)
		if !errors.Is(err, pipeline.ErrBadResponse) || secondaryHits.Load() != 0 {
			t.Fatalf("err %v, secondary hit %d", err, secondaryHits.Load())
		}
	})
}
