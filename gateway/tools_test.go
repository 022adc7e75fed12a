package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// toolLLM is a model that uses tools as a real one would. Offered
// get_weather and asked about the weather, it calls it once per city named
// ("paris", "rome"), its arguments streamed in pieces, after a few words
// when preamble is set; offered clock and asked the time, it calls that.
// Given results, it answers from them; otherwise it echoes.
type toolLLM struct {
	preamble string // words said before the calls

	mu      sync.Mutex
	prompts [][]pipeline.Message
}

var _ pipeline.ToolGenerator = (*toolLLM)(nil)

func (m *toolLLM) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	return m.GenerateTools(ctx, msgs, nil, func(d pipeline.Delta) error { return emit(d.Text) })
}

func (m *toolLLM) GenerateTools(_ context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	m.mu.Lock()
	m.prompts = append(m.prompts, slicesClone(msgs))
	m.mu.Unlock()
	var results []string
	for i := len(msgs) - 1; i >= 0 && msgs[i].Role == pipeline.RoleTool; i-- {
		results = append([]string{msgs[i].Content}, results...)
	}
	if len(results) > 0 {
		return emit(pipeline.Delta{Text: "The tools say: " + strings.Join(results, "; ") + "."})
	}
	last := strings.ToLower(msgs[len(msgs)-1].Content)
	calls := 0 // earlier calls, so that call IDs stay unique in the session
	for _, msg := range msgs {
		calls += len(msg.ToolCalls)
	}
	var want []pipeline.ToolCall
	for _, t := range tools {
		switch {
		case t.Name == "get_weather" && strings.Contains(last, "weather"):
			for _, city := range []string{"paris", "rome"} {
				if strings.Contains(last, city) {
					want = append(want, pipeline.ToolCall{Name: t.Name, Arguments: fmt.Sprintf(`{"city":%q}`, city)})
				}
			}
		case t.Name == "clock" && strings.Contains(last, "time"):
			want = append(want, pipeline.ToolCall{Name: t.Name, Arguments: `{"zone":"utc"}`})
		}
	}
	if len(want) == 0 {
		return emit(pipeline.Delta{Text: "You said: " + msgs[len(msgs)-1].Content})
	}
	if m.preamble != "" {
		if err := emit(pipeline.Delta{Text: m.preamble}); err != nil {
			return err
		}
	}
	for i, c := range want {
		id := fmt.Sprintf("call_%d", calls+i+1)
		half := len(c.Arguments) / 2
		for _, d := range []pipeline.ToolCallDelta{
			{Index: i, ID: id, Name: c.Name, Arguments: c.Arguments[:half]},
			{Index: i, Arguments: c.Arguments[half:]},
		} {
			if err := emit(pipeline.Delta{Call: &d}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *toolLLM) lastPrompt() []pipeline.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.prompts[len(m.prompts)-1]
}

func slicesClone(msgs []pipeline.Message) []pipeline.Message {
	return append([]pipeline.Message(nil), msgs...)
}

var weatherTool = map[string]any{
	"name":        "get_weather",
	"description": "The weather now in a city",
	"parameters":  map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
}

// toolServer is a server whose model is a toolLLM.
func toolServer(t *testing.T, llm *toolLLM, mutate func(*gateway.Options)) *testServer {
	t.Helper()
	return newServer(t, func(o *gateway.Options) {
		o.Stages = fastStages("what is the weather in paris")
		o.Stages.LLM = llm
		if mutate != nil {
			mutate(o)
		}
	})
}

// expectToolCall skips to the next tool.call and returns it.
func (c *client) expectToolCall() protocol.ToolCall {
	c.t.Helper()
	m, _ := c.expect(protocol.TypeToolCall)
	var call protocol.ToolCall
	if err := m.decode(&call); err != nil {
		c.t.Fatal(err)
	}
	return call
}

func (c *client) toolResult(id, output string) {
	c.t.Helper()
	c.sendJSON(map[string]any{"type": "tool.result", "call_id": id, "output": output})
}

// quiet checks that nothing but pongs comes before a ping's answer: no
// reply has started.
func (c *client) quiet() {
	c.t.Helper()
	c.sendJSON(map[string]any{"type": "ping", "id": "quiet"})
	for {
		m := c.next()
		if m.Type == protocol.TypePong && m.str("id") == "quiet" {
			return
		}
		if m.Type != protocol.TypePong {
			c.t.Fatalf("unexpected %s", m)
		}
	}
}

// TestClientToolRound: a client defines a tool; the model calls it, the
// reply ends, the client's result goes into the conversation and the reply
// goes on, spoken, with it: a spoken question whose reply says a few words
// before the call, answered at once; a typed one answered after the reply
// that asked has ended.
func TestClientToolRound(t *testing.T) {
	for _, tc := range []struct {
		name     string
		preamble string
		spoken   bool
	}{
		{"spoken, words before the call, answered at once", "Let me check that for you. ", true},
		{"typed, answered after the reply", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			llm := &toolLLM{preamble: tc.preamble}
			s := toolServer(t, llm, nil)
			c := s.dial(t, dialOpts{})
			defer c.close()
			st := c.start(map[string]any{"tools": []any{weatherTool}})
			if st.Limits.MaxTools != protocol.MaxTools {
				t.Errorf("limits %+v", st.Limits)
			}
			if tc.spoken {
				c.speak(16000, 600*time.Millisecond)
			} else {
				c.sendJSON(map[string]any{"type": "input.text", "text": "What is the weather in Paris?"})
			}
			call := c.expectToolCall()
			if call.Turn != 1 || call.Name != "get_weather" || call.Arguments != `{"city":"paris"}` || call.CallID != "call_1" {
				t.Fatalf("tool.call %+v", call)
			}
			if tc.spoken {
				c.toolResult(call.CallID, "21 degrees and clear")
			}
			asked := c.awaitTurn()
			done, ok := asked.first(protocol.TypeResponseDone)
			if !ok || done.num("turn") != 1 || done.str("text") != strings.TrimSpace(tc.preamble) {
				t.Fatalf("the asking reply ended with %v", asked.msgs)
			}
			if !tc.spoken {
				c.toolResult(call.CallID, "21 degrees and clear")
			}
			next := c.awaitTurn()
			done, ok = next.first(protocol.TypeResponseDone)
			if !ok || done.num("turn") != 2 || done.str("text") != "The tools say: 21 degrees and clear." {
				t.Fatalf("the reply after the result: %v", next.msgs)
			}
			if next.audio == 0 {
				t.Error("the reply after the result was not spoken")
			}
			p := llm.lastPrompt()
			if n := len(p); n < 2 || p[n-2].Role != pipeline.RoleAssistant || len(p[n-2].ToolCalls) != 1 || p[n-1].ToolCallID != "call_1" {
				t.Errorf("the model was given %+v", p)
			}
		})
	}
}

// TestToolRoundWaitsForEveryCall: a reply that calls two tools goes on
// only once both have their results, in whatever order they come.
func TestToolRoundWaitsForEveryCall(t *testing.T) {
	s := toolServer(t, &toolLLM{}, nil)
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(map[string]any{"tools": []any{weatherTool}, "text_only": true})
	c.sendJSON(map[string]any{"type": "input.text", "text": "the weather in paris and rome?"})
	first, second := c.expectToolCall(), c.expectToolCall()
	if first.Arguments != `{"city":"paris"}` || second.Arguments != `{"city":"rome"}` || first.CallID == second.CallID {
		t.Fatalf("calls %+v %+v", first, second)
	}
	c.expect(protocol.TypeTurnLatency)
	c.toolResult(second.CallID, "rome: rain")
	c.quiet()
	c.toolResult(first.CallID, "paris: sun")
	done, _ := c.expect(protocol.TypeResponseDone)
	if done.str("text") != "The tools say: paris: sun; rome: rain." {
		t.Fatalf("reply %s", done.Raw)
	}
}

// TestToolResultErrors: results for no waiting call, over-long output and
// bad tool lists are typed errors, and the session goes on.
func TestToolResultErrors(t *testing.T) {
	clock := pipeline.Tool{Name: "clock", Call: func(context.Context, string) (string, error) { return "noon", nil }}
	s := toolServer(t, &toolLLM{}, func(o *gateway.Options) { o.Tools = []pipeline.Tool{clock} })
	c := s.dial(t, dialOpts{})
	defer c.close()

	c.toolResult("call_1", "early")
	c.expectError(protocol.CodeNotStarted)
	c.sendJSON(map[string]any{"type": "tools.set", "tools": []any{}})
	c.expectError(protocol.CodeNotStarted)

	tooMany := make([]any, protocol.MaxTools+1)
	for i := range tooMany {
		tooMany[i] = map[string]any{"name": fmt.Sprintf("tool_%d", i)}
	}
	c.sendJSON(map[string]any{"type": "session.start", "tools": tooMany})
	if e := c.expectError(protocol.CodeInvalidMessage); !strings.Contains(e.str("message"), "at most 32") || e.flag("fatal") {
		t.Errorf("tools over the cap: %s", e.Raw)
	}
	c.sendJSON(map[string]any{"type": "session.start", "tools": []any{map[string]any{"name": "clock"}}})
	if e := c.expectError(protocol.CodeInvalidMessage); !strings.Contains(e.str("message"), "the server has a tool") {
		t.Errorf("a server tool's name: %s", e.Raw)
	}
	c.start(map[string]any{"tools": []any{weatherTool}, "text_only": true})

	c.sendJSON(map[string]any{"type": "tools.set", "tools": tooMany})
	c.expectError(protocol.CodeInvalidMessage)
	c.sendJSON(map[string]any{"type": "tools.set", "tools": []any{map[string]any{"name": "get_weather", "parameters": []any{}}}})
	c.expectError(protocol.CodeInvalidMessage)

	c.sendJSON(map[string]any{"type": "input.text", "text": "weather in rome?"})
	call := c.expectToolCall() // the refused lists left the tool in place
	c.expect(protocol.TypeTurnLatency)

	c.toolResult("call_99", "nobody asked")
	if e := c.expectError(protocol.CodeUnknownToolCall); e.flag("fatal") || e.flag("retryable") {
		t.Errorf("unknown call: %s", e.Raw)
	}
	c.toolResult(call.CallID, strings.Repeat("x", 4097))
	c.expectError(protocol.CodeTextTooLong)
	c.toolResult(call.CallID, "rome: rain")
	c.expect(protocol.TypeResponseDone)
	c.toolResult(call.CallID, "rome: rain again")
	c.expectError(protocol.CodeUnknownToolCall)
	c.ping()
}

// TestToolsSet: tools.set replaces the session's tools; an empty list
// removes them, and the model answers in words.
func TestToolsSet(t *testing.T) {
	s := toolServer(t, &toolLLM{}, nil)
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(map[string]any{"text_only": true})
	ask := func() message {
		c.sendJSON(map[string]any{"type": "input.text", "text": "weather in paris?"})
		for {
			m := c.next()
			switch m.Type {
			case protocol.TypeToolCall:
				c.expect(protocol.TypeTurnLatency)
				return m
			case protocol.TypeResponseDone:
				c.expect(protocol.TypeTurnLatency)
				return m
			case protocol.TypeError:
				t.Fatalf("error %s", m.Raw)
			}
		}
	}
	if m := ask(); m.Type != protocol.TypeResponseDone || m.str("text") != "You said: weather in paris?" {
		t.Fatalf("without tools: %s", m)
	}
	c.sendJSON(map[string]any{"type": "tools.set", "tools": []any{weatherTool}})
	m := ask()
	if m.Type != protocol.TypeToolCall {
		t.Fatalf("with the tool: %s", m)
	}
	c.toolResult(m.str("call_id"), "sunny")
	c.expect(protocol.TypeTurnLatency)
	c.sendJSON(map[string]any{"type": "tools.set", "tools": []any{}})
	if m := ask(); m.Type != protocol.TypeResponseDone {
		t.Fatalf("after removing the tools: %s", m)
	}
}

// TestServerToolDone: a tool the operator registered runs on the server;
// the client is told with tool.done and the reply goes on in the same turn.
func TestServerToolDone(t *testing.T) {
	var args []string
	var mu sync.Mutex
	clock := pipeline.Tool{Name: "clock", Description: "The time now", Call: func(_ context.Context, a string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		args = append(args, a)
		return "noon", nil
	}}
	s := toolServer(t, &toolLLM{}, func(o *gateway.Options) { o.Tools = []pipeline.Tool{clock} })
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(map[string]any{"text_only": true})
	c.sendJSON(map[string]any{"type": "input.text", "text": "what time is it?"})
	tr := c.awaitTurn()
	done, ok := tr.first(protocol.TypeToolDone)
	if !ok || done.num("turn") != 1 || done.str("name") != "clock" || done.str("result") != "noon" || done.str("call_id") != "call_1" {
		t.Fatalf("tool.done: %v", tr.msgs)
	}
	if _, ok := tr.first(protocol.TypeToolCall); ok {
		t.Error("a server tool was sent to the client")
	}
	reply, _ := tr.first(protocol.TypeResponseDone)
	if reply.num("turn") != 1 || reply.str("text") != "The tools say: noon." {
		t.Errorf("reply %s", reply.Raw)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(args) != 1 || args[0] != `{"zone":"utc"}` {
		t.Errorf("the tool ran with %q", args)
	}
}

// TestToolRoundAcrossResume: the connection drops after the model called
// a client tool; on the resumed session the result is taken and the reply
// goes on, and the history the client redraws leaves the tool out.
func TestToolRoundAcrossResume(t *testing.T) {
	s := toolServer(t, &toolLLM{}, nil)
	c := s.dial(t, dialOpts{})
	st := c.start(map[string]any{"tools": []any{weatherTool}, "text_only": true})
	c.sendJSON(map[string]any{"type": "input.text", "text": "weather in paris?"})
	call := c.expectToolCall()
	c.expect(protocol.TypeTurnLatency)
	c.ws.CloseNow()
	<-c.done

	c2 := s.dial(t, dialOpts{})
	defer c2.close()
	st2 := c2.start(map[string]any{"resume_token": st.ResumeToken})
	want := []protocol.HistoryEntry{{Role: "user", Text: "weather in paris?"}}
	if !st2.Resumed || fmt.Sprint(st2.History) != fmt.Sprint(want) {
		t.Fatalf("resumed %+v", st2)
	}
	c2.toolResult(call.CallID, "sunny")
	done, _ := c2.expect(protocol.TypeResponseDone)
	if done.str("text") != "The tools say: sunny." {
		t.Fatalf("reply %s", done.Raw)
	}
	// The resumed session kept its tools.
	c2.expect(protocol.TypeTurnLatency)
	c2.sendJSON(map[string]any{"type": "input.text", "text": "weather in rome?"})
	if again := c2.expectToolCall(); again.Arguments != `{"city":"rome"}` {
		t.Fatalf("second call %+v", again)
	}
}

// TestNewerReplyTakesToolResults: when the user types before the results
// are in, their turn is answered; the late result goes into the
// conversation without a reply of its own.
func TestNewerReplyTakesToolResults(t *testing.T) {
	llm := &toolLLM{}
	s := toolServer(t, llm, nil)
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(map[string]any{"tools": []any{weatherTool}, "text_only": true})
	c.sendJSON(map[string]any{"type": "input.text", "text": "weather in paris?"})
	call := c.expectToolCall()
	c.expect(protocol.TypeTurnLatency)
	c.sendJSON(map[string]any{"type": "input.text", "text": "never mind"})
	if done, _ := c.expect(protocol.TypeResponseDone); done.str("text") != "You said: never mind" {
		t.Fatalf("reply %s", done.Raw)
	}
	c.expect(protocol.TypeTurnLatency)
	c.toolResult(call.CallID, "sunny")
	c.quiet()
	time.Sleep(100 * time.Millisecond) // a reply would have begun by now
	c.quiet()
	c.sendJSON(map[string]any{"type": "input.text", "text": "thanks"})
	c.expect(protocol.TypeResponseDone)
	var found bool
	for _, m := range llm.lastPrompt() {
		found = found || m.Role == pipeline.RoleTool && m.ToolCallID == call.CallID && m.Content == "sunny"
	}
	if !found {
		b, _ := json.Marshal(llm.lastPrompt())
		t.Errorf("the late result is not in the prompt: %s", b)
	}
}
