package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/providers/httpx"
)

var weatherTool = pipeline.Tool{
	Name:        "get_weather",
	Description: "The weather in a city.",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
}

var weatherQuestion = []pipeline.Message{
	{Role: pipeline.RoleSystem, Content: "You are brief."},
	{Role: pipeline.RoleUser, Content: "What is the weather in Paris?"},
}

// piece is one entry of a chunk's delta.tool_calls, as OpenAI writes it:
// the first piece of a call carries its id, type and name, the later ones
// only the index and an arguments fragment. args is pre-quoted JSON, or ""
// to leave the key out.
func piece(index int, id, name, args string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"index":%d`, index)
	if id != "" {
		fmt.Fprintf(&b, `,"id":%q,"type":"function"`, id)
	}
	b.WriteString(`,"function":{`)
	if name != "" {
		fmt.Fprintf(&b, `"name":%q`, name)
		if args != "" {
			b.WriteByte(',')
		}
	}
	if args != "" {
		b.WriteString(`"arguments":` + args)
	}
	b.WriteString("}}")
	return b.String()
}

// callEvent is one SSE chunk whose delta carries the tool_calls entries.
func callEvent(entries ...string) string {
	return `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[` +
		strings.Join(entries, ",") + `]},"logprobs":null,"finish_reason":null}]}` + "\n\n"
}

// fragments quotes each of args as its own arguments piece of call index.
func fragments(index int, args ...string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = callEvent(piece(index, "", "", rawQuote(a)))
	}
	return out
}

// toolReply is what a GenerateTools call streamed.
type toolReply struct {
	text   string
	calls  []pipeline.ToolCall
	deltas []pipeline.Delta
}

// collectTools runs GenerateTools, checking that every delta is whole
// runes and that calls are numbered from 0 without gaps.
func collectTools(t *testing.T, ctx context.Context, g *Generator, msgs []pipeline.Message, tools []pipeline.Tool) (toolReply, error) {
	t.Helper()
	var (
		r      toolReply
		text   strings.Builder
		begun  int
		pieces []pipeline.ToolCallDelta
	)
	err := g.GenerateTools(ctx, msgs, tools, func(d pipeline.Delta) error {
		r.deltas = append(r.deltas, d)
		if !utf8.ValidString(d.Text) || (d.Text == "" && d.Call == nil) {
			t.Errorf("bad delta %+v", d)
		}
		text.WriteString(d.Text)
		if c := d.Call; c != nil {
			if !utf8.ValidString(c.Arguments) || c.Index < 0 || c.Index > begun {
				t.Errorf("bad call delta %+v after %d calls", *c, begun)
			}
			begun = max(begun, c.Index+1)
			pieces = append(pieces, *c)
		}
		return nil
	})
	// Into pipeline.ToolCalls call by call: it cannot take a piece of an
	// earlier call after a later one began (it copies its builders as it
	// grows).
	slices.SortStableFunc(pieces, func(a, b pipeline.ToolCallDelta) int { return a.Index - b.Index })
	var calls pipeline.ToolCalls
	for _, p := range pieces {
		calls.Add(p)
	}
	r.text, r.calls = text.String(), calls.Calls()
	return r, err
}

func TestToolCallStream(t *testing.T) {
	begin := func(index int, id, name string) string { return callEvent(piece(index, id, name, `""`)) }
	finish := event("null", "tool_calls") + done
	paris := pipeline.ToolCall{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}
	tests := []struct {
		name   string
		events []string
		text   string
		calls  []pipeline.ToolCall
	}{
		{"only a call",
			append(append([]string{`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[` +
				piece(0, "call_1", "get_weather", `""`) + `]},"finish_reason":null}]}` + "\n\n"},
				fragments(0, `{"ci`, `ty":"Pa`, `ris"}`)...), finish),
			"", []pipeline.ToolCall{paris}},
		{"text then a call",
			append(append([]string{event(rawQuote("Let me check"), ""), event(rawQuote(" — one moment. "), ""), begin(0, "call_1", "get_weather")},
				fragments(0, `{"city":"Paris"}`)...), finish),
			"Let me check — one moment. ", []pipeline.ToolCall{paris}},
		{"two parallel calls interleaved",
			[]string{
				begin(0, "call_a", "get_weather"), begin(1, "call_b", "get_time"),
				callEvent(piece(0, "", "", rawQuote(`{"city":`))), callEvent(piece(1, "", "", rawQuote(`{"zone":`))),
				callEvent(piece(1, "", "", rawQuote(`"CET"}`)), piece(0, "", "", rawQuote(`"Oslo"}`))),
				finish,
			},
			"", []pipeline.ToolCall{{ID: "call_a", Name: "get_weather", Arguments: `{"city":"Oslo"}`}, {ID: "call_b", Name: "get_time", Arguments: `{"zone":"CET"}`}}},
		{"the server's indexes renumbered",
			[]string{begin(3, "call_a", "get_weather"), begin(7, "call_b", "get_time"), callEvent(piece(7, "", "", rawQuote(`{}`))), callEvent(piece(3, "", "", rawQuote(`{"city":"Oslo"}`))), finish},
			"", []pipeline.ToolCall{{ID: "call_a", Name: "get_weather", Arguments: `{"city":"Oslo"}`}, {ID: "call_b", Name: "get_time", Arguments: `{}`}}},
		{"whole calls without an index",
			[]string{
				callEvent(`{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}`),
				callEvent(`{"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{\"zone\":"}}`),
				callEvent(`{"function":{"arguments":"\"CET\"}"}}`),
				finish,
			},
			"", []pipeline.ToolCall{{ID: "call_a", Name: "get_weather", Arguments: `{"city":"Oslo"}`}, {ID: "call_b", Name: "get_time", Arguments: `{"zone":"CET"}`}}},
		{"arguments as an object",
			[]string{callEvent(`{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}`), finish},
			"", []pipeline.ToolCall{paris}},
		{"no arguments",
			[]string{callEvent(piece(0, "call_1", "now", "")), finish},
			"", []pipeline.ToolCall{{ID: "call_1", Name: "now", Arguments: "{}"}}},
		{"fragments cut mid escape and mid rune",
			append(append(append([]string{begin(0, "call_1", "say")},
				// The arguments are {"q":"say \"hi\"\n","city":"Zürich 👋"}:
				// cut after an escape's backslash, inside ü and inside 👋.
				fragments(0, `{"q":"say \`, `"hi\`, `"\`, `n","city":"Z`+"\xc3", "\xbc"+`rich `+"\xf0\x9f", "\x91\x8b"+`"}`)...),
				// A second call written the ensure_ascii way, its emoji's
				// surrogate pair cut in two.
				begin(1, "call_2", "say"), callEvent(piece(1, "", "", `"{\"e\":\"\ud83d"`)), callEvent(piece(1, "", "", `"\udc4b\"}"`))),
				finish),
			"", []pipeline.ToolCall{
				{ID: "call_1", Name: "say", Arguments: `{"q":"say \"hi\"\n","city":"Zürich 👋"}`},
				{ID: "call_2", Name: "say", Arguments: `{"e":"👋"}`},
			}},
	}
	for _, tt := range tests {
		for _, step := range []int{3, 7, 4096} {
			t.Run(fmt.Sprintf("%s/%d bytes", tt.name, step), func(t *testing.T) {
				srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
					sseHeaders(w)
					writeSplit(w, strings.Join(tt.events, ""), step)
				})
				g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL + "/v1"}})
				r, err := collectTools(t, context.Background(), g, weatherQuestion, []pipeline.Tool{weatherTool})
				if err != nil {
					t.Fatal(err)
				}
				if r.text != tt.text || !reflect.DeepEqual(r.calls, tt.calls) {
					t.Fatalf("text %q, calls %+v; want %q, %+v", r.text, r.calls, tt.text, tt.calls)
				}
				for _, c := range r.calls {
					if !json.Valid([]byte(c.Arguments)) {
						t.Errorf("arguments %q are not JSON", c.Arguments)
					}
				}
				// Text is emitted as it comes, before the calls that follow it.
				for i := 1; i < len(r.deltas); i++ {
					if r.deltas[i].Text != "" && r.deltas[i-1].Call != nil {
						t.Fatalf("text after a call: %+v", r.deltas)
					}
				}
			})
		}
	}
}

// jsonOf decodes s for a comparison that ignores key order and spacing.
func jsonOf(t *testing.T, s []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(s, &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestToolRequestBody(t *testing.T) {
	bodies := make(chan []byte, 2)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
		sseHeaders(w)
		writeSplit(w, event(rawQuote("Sunny."), "stop")+done, 4096)
	})
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL + "/v1"}})
	msgs := []pipeline.Message{
		{ID: "item_1", Role: pipeline.RoleSystem, Content: "You are brief."},
		{ID: "item_2", Role: pipeline.RoleUser, Content: "Weather in Paris, and the time?"},
		{ID: "item_3", Role: pipeline.RoleAssistant, Content: "Checking.", ToolCalls: []pipeline.ToolCall{
			{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`},
			{ID: "call_2", Name: "now"},
		}},
		{ID: "item_4", Role: pipeline.RoleTool, ToolCallID: "call_1", Content: "Sunny, 22 °C"},
		{ID: "item_5", Role: pipeline.RoleTool, ToolCallID: "call_2", Content: ""},
	}
	tools := []pipeline.Tool{weatherTool, {Name: "now", Description: "The time.", Call: func(context.Context, string) (string, error) { return "", nil }}}
	r, err := collectTools(t, context.Background(), g, msgs, tools)
	if err != nil || r.text != "Sunny." {
		t.Fatalf("%q, %v", r.text, err)
	}
	body := <-bodies
	var req struct {
		Messages json.RawMessage `json:"messages"`
		Tools    json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	wantMessages := `[
		{"role":"system","content":"You are brief."},
		{"role":"user","content":"Weather in Paris, and the time?"},
		{"role":"assistant","content":"Checking.","tool_calls":[
			{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
			{"id":"call_2","type":"function","function":{"name":"now","arguments":"{}"}}]},
		{"role":"tool","content":"Sunny, 22 °C","tool_call_id":"call_1"},
		{"role":"tool","content":"(empty)","tool_call_id":"call_2"}]`
	if got, want := jsonOf(t, req.Messages), jsonOf(t, []byte(wantMessages)); !reflect.DeepEqual(got, want) {
		t.Errorf("messages\n%s\nwant\n%s", req.Messages, wantMessages)
	}
	wantTools := `[
		{"type":"function","function":{"name":"get_weather","description":"The weather in a city.",
			"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
		{"type":"function","function":{"name":"now","description":"The time.","parameters":{"type":"object","properties":{}}}}]`
	if got, want := jsonOf(t, req.Tools), jsonOf(t, []byte(wantTools)); !reflect.DeepEqual(got, want) {
		t.Errorf("tools\n%s\nwant\n%s", req.Tools, wantTools)
	}
	if strings.Contains(string(body), "item_") {
		t.Errorf("a message ID was sent: %s", body)
	}

	// Without tools, Generate sends none and the same history.
	if err := g.Generate(context.Background(), msgs, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var plain map[string]json.RawMessage
	if err := json.Unmarshal(<-bodies, &plain); err != nil {
		t.Fatal(err)
	}
	if _, ok := plain["tools"]; ok || !reflect.DeepEqual(jsonOf(t, plain["messages"]), jsonOf(t, []byte(wantMessages))) {
		t.Errorf("Generate sent %s", plain)
	}
}

func TestToolCallErrors(t *testing.T) {
	begin := callEvent(piece(0, "call_1", "get_weather", rawQuote(`{"city":"Pa`)))
	hangUp := func(w http.ResponseWriter) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}
	var many strings.Builder
	for i := range maxToolCalls + 1 {
		many.WriteString(callEvent(piece(i, fmt.Sprintf("call_%d", i), "now", "")))
	}
	long := strings.Repeat("x", 64<<10)
	var huge strings.Builder
	huge.WriteString(callEvent(piece(0, "call_1", "say", rawQuote(`{"q":"`))))
	for range maxArgumentBytes/len(long) + 1 {
		huge.WriteString(callEvent(piece(0, "", "", rawQuote(long))))
	}
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter)
		kind    error
		message string
	}{
		{"disconnect inside a call", func(w http.ResponseWriter) {
			writeSplit(w, begin+`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ri`, 16)
			hangUp(w)
		}, pipeline.ErrBadResponse, "reading stream"},
		{"clean end inside a call", func(w http.ResponseWriter) {
			writeSplit(w, begin, 16) // then the handler returns: EOF, no [DONE]
		}, pipeline.ErrBadResponse, "without a finish_reason"},
		{"[DONE] with no finish_reason", func(w http.ResponseWriter) {
			writeSplit(w, begin+done, 16)
		}, pipeline.ErrBadResponse, "without a finish_reason"},
		{"negative index", func(w http.ResponseWriter) {
			writeSplit(w, callEvent(piece(-1, "call_1", "now", ""))+event("null", "tool_calls")+done, 64)
		}, pipeline.ErrBadResponse, "negative tool call index"},
		{"too many calls", func(w http.ResponseWriter) {
			writeSplit(w, many.String()+event("null", "tool_calls")+done, 4096)
		}, pipeline.ErrBadResponse, "more than 64 tool calls"},
		{"arguments too long", func(w http.ResponseWriter) {
			writeSplit(w, huge.String()+event("null", "tool_calls")+done, 1<<16)
		}, pipeline.ErrBadResponse, "tool call arguments over 1048576 bytes"},
		{"arguments a number", func(w http.ResponseWriter) {
			writeSplit(w, callEvent(piece(0, "call_1", "now", "12"))+event("null", "tool_calls")+done, 64)
		}, pipeline.ErrBadResponse, "tool call arguments: delta content is not a JSON string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				sseHeaders(w)
				tt.handler(w)
			})
			g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL, MaxRetries: -1}})
			_, err := collectTools(t, context.Background(), g, weatherQuestion, []pipeline.Tool{weatherTool})
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.kind, tt.message)
			}
		})
	}
}

func TestBadToolsRejectedBeforeSending(t *testing.T) {
	var hits atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL}})
	for _, tt := range []struct {
		tool    pipeline.Tool
		message string
	}{
		{pipeline.Tool{Name: "x", Parameters: json.RawMessage(`{"type":`)}, `tool "x": parameters are not JSON`},
		{pipeline.Tool{Description: "nameless"}, "tool 0 has no name"},
	} {
		_, err := collectTools(t, context.Background(), g, weatherQuestion, []pipeline.Tool{tt.tool})
		if !errors.Is(err, pipeline.ErrRejected) || !strings.Contains(err.Error(), tt.message) {
			t.Errorf("err = %v, want ErrRejected with %q", err, tt.message)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the server was asked %d times", hits.Load())
	}
}

// TestGenerateDropsCalls: a server that calls a tool nobody offered gets
// its words through Generate and its call dropped.
func TestGenerateDropsCalls(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeaders(w)
		writeSplit(w, event(rawQuote("Let me see."), "")+callEvent(piece(0, "call_1", "now", rawQuote("{}")))+event("null", "tool_calls")+done, 64)
	})
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL}})
	deltas, err := collect(t, context.Background(), g)
	if err != nil || strings.Join(deltas, "") != "Let me see." {
		t.Fatalf("%q, %v", deltas, err)
	}
}

// TestToolConformance runs the tool checks against a server that calls
// get_weather for a question and answers a tool's result in words, a few
// bytes at a time, slowly enough that a cancel lands mid-stream.
func TestToolConformance(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
			Tools []json.RawMessage `json:"tools"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Tools) == 0 {
			t.Errorf("request: %v, %d tools", err, len(req.Tools))
		}
		sseHeaders(w)
		var events []string
		if last := req.Messages[len(req.Messages)-1]; last.Role == "tool" {
			for _, d := range []string{"In Paris it is ", last.Content} {
				events = append(events, event(rawQuote(d), ""))
			}
			events = append(events, event("null", "stop"))
		} else {
			events = append([]string{callEvent(piece(0, "call_x1", "get_weather", `""`))}, fragments(0, `{"ci`, `ty": "Pa`, `ris"}`)...)
			events = append(events, event("null", "tool_calls"))
		}
		for _, e := range append(events, done) {
			writeSplit(w, e, 5)
			time.Sleep(20 * time.Millisecond)
		}
	})
	g := newGenerator(t, Config{Config: httpx.Config{BaseURL: srv.URL + "/v1", APIKey: "sk-test"}})
	prompt := conformance.ToolPrompt{Messages: weatherQuestion, Tools: []pipeline.Tool{weatherTool}, Name: "get_weather"}
	if err := conformance.TestToolGenerator(t.Context(), g, prompt); err != nil {
		t.Error(err)
	}
}

// FuzzCallDecoder: two calls whose argument fragments interleave, under
// whatever indexes the server gives them, come out numbered 0 and 1 with
// their arguments whole; a negative index is an error, never a panic.
func FuzzCallDecoder(f *testing.F) {
	f.Add(`{"city":"Zürich 👋"}`, uint8(3), uint8(12), false, int8(0), int8(1))
	f.Add(`{"q":"say \"hi\""}`, uint8(9), uint8(10), true, int8(5), int8(2))
	f.Add(`{}`, uint8(1), uint8(1), false, int8(4), int8(-1))
	f.Fuzz(func(t *testing.T, s string, a, b uint8, escaped bool, first, second int8) {
		if !utf8.ValidString(s) || first == second {
			return
		}
		parts := cutQuoted(s, a, b, escaped)
		var d callDecoder
		args := make([]strings.Builder, 2)
		for i, p := range parts {
			for call, index := range []int8{first, second} {
				tc := toolCallChunk{Index: new(int(index))}
				tc.Function.Arguments = json.RawMessage(p)
				if i == 0 {
					tc.ID, tc.Function.Name = fmt.Sprintf("call_%d", call), "f"
				}
				delta, ok, err := d.decode(tc)
				if index < 0 {
					if err == nil {
						t.Fatalf("index %d accepted", index)
					}
					return
				}
				if err != nil {
					t.Fatalf("%q: %v", p, err)
				}
				if ok && (delta.Index != call || !utf8.ValidString(delta.Arguments)) {
					t.Fatalf("call %d (server index %d) came out as %+v", call, index, delta)
				}
				args[call].WriteString(delta.Arguments)
			}
		}
		for call := range args {
			if args[call].String() != s {
				t.Fatalf("call %d: arguments %q, want %q", call, args[call].String(), s)
			}
		}
		if d.pending() {
			t.Fatal("a rune left pending")
		}
	})
}
