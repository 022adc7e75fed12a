package cache_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/providers/cache"
)

// model answers with the last user message reversed word by word, and
// calls the tool "weather" when asked about it and offered it. It counts
// its calls.
type model struct {
	calls atomic.Int32
	fail  error
}

func (m *model) Name() string { return "model" }

func (m *model) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	return m.GenerateTools(ctx, msgs, nil, func(d pipeline.Delta) error { return emit(d.Text) })
}

func (m *model) GenerateTools(ctx context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	m.calls.Add(1)
	if m.fail != nil {
		return m.fail
	}
	last := msgs[len(msgs)-1]
	if last.Role == pipeline.RoleUser && strings.Contains(last.Content, "weather") && len(tools) > 0 {
		if err := emit(pipeline.Delta{Text: "Let me look. "}); err != nil {
			return err
		}
		if err := emit(pipeline.Delta{Call: &pipeline.ToolCallDelta{ID: "call_1", Name: tools[0].Name, Arguments: `{"city":"Paris"}`}}); err != nil {
			return err
		}
		return ctx.Err()
	}
	words := strings.Fields(last.Content)
	for i := len(words) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := emit(pipeline.Delta{Text: words[i] + " "}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func llmConfig() cache.LLMConfig {
	c := cache.DefaultConfig().LLM
	c.Enabled = true
	return c
}

func ask(ctx context.Context, g pipeline.Generator, msgs []pipeline.Message, tools []pipeline.Tool) (string, int, error) {
	var b strings.Builder
	deltas := 0
	emit := func(d pipeline.Delta) error {
		deltas++
		b.WriteString(d.Text)
		if d.Call != nil {
			b.WriteString("[" + d.Call.Name + "]")
		}
		return nil
	}
	if tools == nil {
		err := g.Generate(ctx, msgs, func(d string) error { return emit(pipeline.Delta{Text: d}) })
		return b.String(), deltas, err
	}
	err := g.(pipeline.ToolGenerator).GenerateTools(ctx, msgs, tools, emit)
	return b.String(), deltas, err
}

func TestGeneratorCaches(t *testing.T) {
	weather := []pipeline.Tool{{Name: "weather", Parameters: json.RawMessage(`{"type":"object"}`)}}
	clock := []pipeline.Tool{{Name: "clock"}}
	conv := func(user string) []pipeline.Message {
		return []pipeline.Message{{ID: "m1", Role: pipeline.RoleSystem, Content: "Be brief."}, {ID: "m2", Role: pipeline.RoleUser, Content: user}}
	}
	relabelled := conv("hello there friend")
	relabelled[0].ID, relabelled[1].ID = "x7", "x8"
	longer := append(conv("hello there friend"), pipeline.Message{Role: pipeline.RoleAssistant, Content: "friend there hello"},
		pipeline.Message{Role: pipeline.RoleUser, Content: "hello there friend"})
	type step struct {
		msgs   []pipeline.Message
		tools  []pipeline.Tool
		cancel bool
		fail   error
	}
	tests := []struct {
		name  string
		steps []step
		calls int32
	}{
		{name: "same conversation twice", steps: []step{{msgs: conv("hello there friend")}, {msgs: conv("hello there friend")}}, calls: 1},
		{name: "message IDs are not the conversation", steps: []step{{msgs: conv("hello there friend")}, {msgs: relabelled}}, calls: 1},
		{name: "another word is another conversation", steps: []step{{msgs: conv("hello there friend")}, {msgs: conv("hello there friends")}}, calls: 2},
		{name: "the history counts", steps: []step{{msgs: conv("hello there friend")}, {msgs: longer}, {msgs: longer}}, calls: 2},
		{name: "the tools are part of the prompt", steps: []step{
			{msgs: conv("hello there friend")}, {msgs: conv("hello there friend"), tools: clock},
			{msgs: conv("hello there friend"), tools: weather}, {msgs: conv("hello there friend"), tools: weather},
		}, calls: 3},
		{name: "an answer that calls a tool is not stored", steps: []step{
			{msgs: conv("what is the weather"), tools: weather}, {msgs: conv("what is the weather"), tools: weather},
		}, calls: 2},
		{name: "a cut answer is not stored", steps: []step{
			{msgs: conv("hello there friend"), cancel: true}, {msgs: conv("hello there friend")}, {msgs: conv("hello there friend")},
		}, calls: 2},
		{name: "a failed answer is not stored", steps: []step{
			{msgs: conv("hello there friend"), fail: pipeline.ErrRateLimited}, {msgs: conv("hello there friend")}, {msgs: conv("hello there friend")},
		}, calls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &model{}
			g, err := cache.Generator(m, llmConfig(), cache.Options{})
			if err != nil {
				t.Fatal(err)
			}
			answers := map[string]string{}
			for i, st := range tt.steps {
				m.fail = st.fail
				ctx, cancel := context.WithCancel(t.Context())
				if st.cancel {
					cancel()
				}
				text, _, err := ask(ctx, g, st.msgs, st.tools)
				cancel()
				m.fail = nil
				if st.cancel || st.fail != nil {
					if err == nil {
						t.Fatalf("step %d: no error", i)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				k := st.msgs[len(st.msgs)-1].Content + "|" + string(rune('0'+len(st.msgs)))
				if st.tools != nil {
					k += "|" + st.tools[0].Name
				}
				if prev, ok := answers[k]; ok && prev != text {
					t.Fatalf("step %d: %q, the first time %q", i, text, prev)
				}
				answers[k] = text
			}
			if got := m.calls.Load(); got != tt.calls {
				t.Errorf("model called %d times, want %d", got, tt.calls)
			}
		})
	}
}

func TestGeneratorReplaysDeltas(t *testing.T) {
	m := &model{}
	g, err := cache.Generator(m, llmConfig(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.(pipeline.ToolGenerator); !ok {
		t.Fatal("a cache over a ToolGenerator cannot call tools")
	}
	if pipeline.NameOf(g) != "model" {
		t.Fatalf("Name %q", pipeline.NameOf(g))
	}
	long := strings.Repeat("Donaudampfschifffahrtsgesellschaftskapitän ", 2) + "ok, über alles"
	msgs := []pipeline.Message{{Role: pipeline.RoleUser, Content: long}}
	first, _, err := ask(t.Context(), g, msgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var turn pipeline.Turn
	var deltas []string
	err = g.Generate(turn.StageContext(t.Context(), pipeline.StageLLM), msgs, func(d string) error {
		deltas = append(deltas, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(deltas, ""); got != first {
		t.Fatalf("replayed %q, answered %q", got, first)
	}
	if len(deltas) < 5 {
		t.Errorf("replayed in %d deltas: %q", len(deltas), deltas)
	}
	for _, d := range deltas {
		if len(d) > 32 || !strings.ContainsFunc(d, func(r rune) bool { return r != ' ' }) {
			t.Errorf("delta %q: want a word, at most 32 bytes", d)
		}
	}
	if got := turn.AnsweredBy(pipeline.StageLLM); got != cache.Name {
		t.Errorf("a replay answered by %q", got)
	}
	if m.calls.Load() != 1 {
		t.Errorf("model called %d times", m.calls.Load())
	}
}

func TestGeneratorConforms(t *testing.T) {
	g, err := cache.Generator(&model{}, llmConfig(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for run := range 2 { // the second is served from the cache
		if err := conformance.TestGenerator(t.Context(), g); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		err := conformance.TestToolGenerator(t.Context(), g.(pipeline.ToolGenerator), conformance.ToolPrompt{
			Messages: []pipeline.Message{{Role: pipeline.RoleUser, Content: "what is the weather in Paris"}},
			Tools:    []pipeline.Tool{{Name: "weather", Parameters: json.RawMessage(`{"type":"object"}`)}},
			Name:     "weather",
		})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
}

func TestGeneratorRejectsBadConfig(t *testing.T) {
	c := llmConfig()
	c.TTL = 0
	if _, err := cache.Generator(&model{}, c, cache.Options{}); err == nil || !strings.Contains(err.Error(), "ttl") {
		t.Fatalf("no ttl: %v", err)
	}
}
