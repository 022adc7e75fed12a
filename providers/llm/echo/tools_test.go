package echo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

var weather = pipeline.Tool{
	Name:        "get_weather",
	Description: "The weather in a city.",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
}

func user(s string) pipeline.Message { return pipeline.Message{Role: pipeline.RoleUser, Content: s} }

func ExampleEcho_GenerateTools() {
	g := echo.New(echo.Config{})
	msgs := []pipeline.Message{{Role: pipeline.RoleSystem, Content: "Be brief."}, user("what is the weather in paris")}
	show := func(d pipeline.Delta) error {
		if d.Call != nil {
			fmt.Printf("call %d %q %q %q\n", d.Call.Index, d.Call.ID, d.Call.Name, d.Call.Arguments)
		} else {
			fmt.Printf("%q\n", d.Text)
		}
		return nil
	}
	_ = g.GenerateTools(context.Background(), msgs, []pipeline.Tool{weather}, show)

	call, _ := g.ToolCall(msgs, []pipeline.Tool{weather})
	msgs = append(msgs,
		pipeline.Message{Role: pipeline.RoleAssistant, ToolCalls: []pipeline.ToolCall{call}},
		pipeline.Message{Role: pipeline.RoleTool, ToolCallID: call.ID, Content: "Sunny, 22 degrees"})
	_ = g.GenerateTools(context.Background(), msgs, []pipeline.Tool{weather}, show)
	// Output:
	// call 0 "call_6c1f43fb8eaae612" "get_weather" ""
	// call 0 "" "" "{\"city\":\"paris\"}"
	// "The "
	// "get "
	// "weather "
	// "tool "
	// "says: "
	// "Sunny, "
	// "22 "
	// "degrees."
}

func TestToolCall(t *testing.T) {
	schema := func(s string) pipeline.Tool { return pipeline.Tool{Name: "lookup", Parameters: json.RawMessage(s)} }
	named := func(name string) pipeline.Tool { return pipeline.Tool{Name: name} }
	tests := []struct {
		name  string
		tools []pipeline.Tool
		msgs  []pipeline.Message
		call  string // name, or "" for no call
		args  string
	}{
		{"whole name", []pipeline.Tool{weather}, []pipeline.Message{user("Get weather for Paris, please")}, "get_weather", `{"city":"paris please"}`},
		{"last word alone", []pipeline.Tool{weather}, []pipeline.Message{user("What is the weather in Paris?")}, "get_weather", `{"city":"paris"}`},
		{"fillers dropped", []pipeline.Tool{weather}, []pipeline.Message{user("what's the WEATHER like in New York")}, "get_weather", `{"city":"new york"}`},
		{"nothing after the name", []pipeline.Tool{weather}, []pipeline.Message{user("how is the weather")}, "get_weather", `{"city":""}`},
		{"only fillers after the name", []pipeline.Tool{weather}, []pipeline.Message{user("weather is like")}, "get_weather", `{"city":""}`},
		{"single-word name", []pipeline.Tool{named("time")}, []pipeline.Message{user("what time is it")}, "time", `{}`},
		{"short last word does not match alone", []pipeline.Tool{named("get_time")}, []pipeline.Message{user("what time is it")}, "", ""},
		{"short last word in the whole name", []pipeline.Tool{named("get_time")}, []pipeline.Message{user("get time in Tokyo")}, "get_time", `{}`},
		{"hyphens too", []pipeline.Tool{named("turn-on-lights")}, []pipeline.Message{user("please turn on lights")}, "turn-on-lights", `{}`},
		{"whole words only", []pipeline.Tool{weather}, []pipeline.Message{user("weathered the storm")}, "", ""},
		{"first tool in order", []pipeline.Tool{named("lights"), weather}, []pipeline.Message{user("the weather and the lights")}, "lights", `{}`},
		{"first tool that matches", []pipeline.Tool{named("music"), weather}, []pipeline.Message{user("the weather and the lights")}, "get_weather", `{"city":"and the lights"}`},
		{"whole name before the last word", []pipeline.Tool{weather}, []pipeline.Message{user("weather: get weather at Rome")}, "get_weather", `{"city":"rome"}`},
		{"no match", []pipeline.Tool{weather}, []pipeline.Message{user("turn on the lights")}, "", ""},
		{"no tools", nil, []pipeline.Message{user("weather in Paris")}, "", ""},
		{"newest is not the user's", []pipeline.Tool{weather}, []pipeline.Message{user("weather in Paris"), {Role: pipeline.RoleAssistant, Content: "Sunny."}}, "", ""},
		{"non-ASCII words", []pipeline.Tool{weather}, []pipeline.Message{user("Weather in Zürich?")}, "get_weather", `{"city":"zürich"}`},
		{"required order", []pipeline.Tool{schema(`{"properties":{"unit":{"type":"string"},"place":{"type":"string"}},"required":["place","unit"]}`)},
			[]pipeline.Message{user("lookup about Oslo")}, "lookup", `{"place":"oslo","unit":""}`},
		{"document order without required", []pipeline.Tool{schema(`{"properties":{"zeta":{"type":"string"},"alpha":{"type":"string"}}}`)},
			[]pipeline.Message{user("lookup Oslo")}, "lookup", `{"zeta":"oslo"}`},
		{"first string, not first required", []pipeline.Tool{schema(`{"properties":{"days":{"type":"integer"},"q":{"type":["string","null"]},"lang":{"type":"string"}},"required":["days","lang"]}`)},
			[]pipeline.Message{user("lookup of cats")}, "lookup", `{"lang":"cats"}`},
		{"no string property", []pipeline.Tool{schema(`{"properties":{"n":{"type":"integer"}},"required":["n"]}`)},
			[]pipeline.Message{user("lookup 7")}, "lookup", `{}`},
		{"unreadable schema", []pipeline.Tool{schema(`{"properties":[1]}`)}, []pipeline.Message{user("lookup 7")}, "lookup", `{}`},
		{"quotes in the argument", []pipeline.Tool{weather}, []pipeline.Message{user(`weather in "O'Hare"`)}, "get_weather", `{"city":"o'hare"}`},
	}
	e := echo.New(echo.Config{})
	id := regexp.MustCompile(`^call_[0-9a-f]{16}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, ok := e.ToolCall(tt.msgs, tt.tools)
			if tt.call == "" {
				if ok {
					t.Fatalf("called %+v, want no call", call)
				}
				return
			}
			if !ok || call.Name != tt.call || call.Arguments != tt.args || !id.MatchString(call.ID) {
				t.Fatalf("call %+v (%v), want %s %s", call, ok, tt.call, tt.args)
			}
			if !json.Valid([]byte(call.Arguments)) {
				t.Fatalf("arguments %q are not JSON", call.Arguments)
			}
			if again, _ := e.ToolCall(tt.msgs, tt.tools); again != call {
				t.Fatalf("second call %+v differs from %+v", again, call)
			}
		})
	}
}

func TestToolCallIDs(t *testing.T) {
	e := echo.New(echo.Config{})
	tools := []pipeline.Tool{weather}
	one, _ := e.ToolCall([]pipeline.Message{user("weather in Paris")}, tools)
	longer, _ := e.ToolCall([]pipeline.Message{user("weather in Paris"), {Role: pipeline.RoleAssistant, Content: "Sunny."}, user("weather in Paris")}, tools)
	other, _ := e.ToolCall([]pipeline.Message{user("weather in Rome")}, tools)
	if one.ID == longer.ID || one.ID == other.ID || longer.ID == other.ID {
		t.Fatalf("IDs %s %s %s; want a new one per turn and per argument", one.ID, longer.ID, other.ID)
	}
}

func TestReplyToToolResults(t *testing.T) {
	call := func(id, name string) pipeline.Message {
		return pipeline.Message{Role: pipeline.RoleAssistant, ToolCalls: []pipeline.ToolCall{{ID: id, Name: name, Arguments: "{}"}}}
	}
	result := func(id, s string) pipeline.Message {
		return pipeline.Message{Role: pipeline.RoleTool, ToolCallID: id, Content: s}
	}
	long := strings.Repeat("é", 150) // 300 bytes
	tests := []struct {
		name string
		msgs []pipeline.Message
		want string
	}{
		{"one result", []pipeline.Message{user("weather"), call("c1", "get_weather"), result("c1", " Sunny, 22 °C ")}, "The get weather tool says: Sunny, 22 °C."},
		{"keeps its punctuation", []pipeline.Message{call("c1", "weather"), result("c1", "Rain!")}, "The weather tool says: Rain!"},
		{"two results in order", []pipeline.Message{
			{Role: pipeline.RoleAssistant, ToolCalls: []pipeline.ToolCall{{ID: "a", Name: "get_weather"}, {ID: "b", Name: "get_time"}}},
			result("a", "Sunny"), result("b", "Noon"),
		}, "The get weather tool says: Sunny. The get time tool says: Noon."},
		{"unknown call", []pipeline.Message{user("hi"), result("zz", "42")}, "The tool says: 42."},
		{"empty result", []pipeline.Message{call("c1", "get_weather"), result("c1", "  ")}, "The get weather tool says: nothing."},
		{"long result cut at a rune", []pipeline.Message{call("c1", "get_weather"), result("c1", long)}, "The get weather tool says: " + strings.Repeat("é", echo.MaxResultBytes/2) + "."},
		{"odd cut", []pipeline.Message{call("c1", "x"), result("c1", "a"+long)}, "The x tool says: a" + strings.Repeat("é", (echo.MaxResultBytes-1)/2) + "."},
		{"a later user turn is echoed", []pipeline.Message{call("c1", "get_weather"), result("c1", "Sunny"), {Role: pipeline.RoleAssistant, Content: "Sunny."}, user("thanks")}, "You said: thanks."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := echo.New(echo.Config{Prefix: "Heard: "}).Reply(tt.msgs); got != strings.Replace(tt.want, "You said: ", "Heard: ", 1) {
				t.Errorf("Reply = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestGenerateTools: the deltas of a call and of the words around it, and
// what Generate makes of a conversation with a result in it.
func TestGenerateTools(t *testing.T) {
	g := echo.New(echo.Config{})
	msgs := []pipeline.Message{user("weather in Oslo")}
	var deltas []pipeline.Delta
	collect := func(d pipeline.Delta) error { deltas = append(deltas, d); return nil }
	if err := g.GenerateTools(t.Context(), msgs, []pipeline.Tool{weather}, collect); err != nil {
		t.Fatal(err)
	}
	var calls pipeline.ToolCalls
	for _, d := range deltas {
		if d.Text != "" || d.Call == nil {
			t.Fatalf("delta %+v; want only call pieces", d)
		}
		calls.Add(*d.Call)
	}
	want, _ := g.ToolCall(msgs, []pipeline.Tool{weather})
	if got := calls.Calls(); len(deltas) != 2 || len(got) != 1 || got[0] != want || want.Arguments != `{"city":"oslo"}` {
		t.Fatalf("calls %+v from %d deltas, want %+v", got, len(deltas), want)
	}

	deltas = nil
	if err := g.GenerateTools(t.Context(), []pipeline.Message{user("lights on")}, []pipeline.Tool{weather}, collect); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, d := range deltas {
		if d.Call != nil {
			t.Fatalf("called %+v", d.Call)
		}
		text.WriteString(d.Text)
	}
	if text.String() != "You said: lights on." || len(deltas) != 4 {
		t.Fatalf("%q in %d deltas", text.String(), len(deltas))
	}

	text.Reset()
	msgs = append(msgs, pipeline.Message{Role: pipeline.RoleAssistant, ToolCalls: []pipeline.ToolCall{want}},
		pipeline.Message{Role: pipeline.RoleTool, ToolCallID: want.ID, Content: "Snow"})
	if err := g.Generate(t.Context(), msgs, func(d string) error { text.WriteString(d); return nil }); err != nil {
		t.Fatal(err)
	}
	if text.String() != "The get weather tool says: Snow." {
		t.Fatalf("Generate said %q", text.String())
	}
}

func TestGenerateToolsPacingAndCancel(t *testing.T) {
	g := echo.New(echo.Config{FirstToken: 30 * time.Millisecond, PerToken: 20 * time.Millisecond})
	msgs := []pipeline.Message{user("weather in Oslo")}
	start := time.Now()
	var at []time.Duration
	err := g.GenerateTools(t.Context(), msgs, []pipeline.Tool{weather}, func(pipeline.Delta) error {
		at = append(at, time.Since(start))
		return nil
	})
	if err != nil || len(at) != 2 || at[0] < 30*time.Millisecond || at[1]-at[0] < 20*time.Millisecond {
		t.Fatalf("deltas at %v, %v", at, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	err = g.GenerateTools(ctx, msgs, []pipeline.Tool{weather}, func(pipeline.Delta) error { n++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("err %v after %d deltas", err, n)
	}
}

func TestToolConformance(t *testing.T) {
	prompt := conformance.ToolPrompt{
		Messages: []pipeline.Message{{Role: pipeline.RoleSystem, Content: "Be brief."}, user("What is the weather in Paris?")},
		Tools:    []pipeline.Tool{{Name: "get_time"}, weather},
		Name:     "get_weather",
	}
	for _, g := range []*echo.Echo{{}, echo.New(echo.Config{FirstToken: 5 * time.Millisecond, PerToken: time.Millisecond})} {
		if err := conformance.TestToolGenerator(t.Context(), g, prompt); err != nil {
			t.Error(err)
		}
	}
}
