package conformance_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
)

// fakeToolGen conforms when zero: asked about the weather it calls
// get_weather in three pieces, and it reads a tool's result back in words.
// Each field breaks one part of the contract.
type fakeToolGen struct {
	fakeGen
	words         bool   // answers the request in words, calling nothing
	wrongName     bool   // calls another tool
	noID          bool   // the call has no ID
	badArgs       string // arguments, instead of a JSON object
	lateName      bool   // the name comes in the second piece
	gap           bool   // numbers its only call 1
	splitArgs     bool   // cuts a rune between two argument pieces
	sharedID      bool   // makes two calls with one ID
	callsAgain    bool   // answers a result with another call
	mute          bool   // answers a result with nothing
	mutateTools   bool   // rewrites the tool's description
	mutateCalls   bool   // rewrites a call in the history
	toolEmitAfter bool   // keeps emitting call pieces after emit failed
}

func (f *fakeToolGen) GenerateTools(ctx context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.fail != nil {
		return f.fail
	}
	if f.mutateTools {
		tools[0].Description = "changed"
	}
	for _, m := range msgs {
		if len(m.ToolCalls) > 0 && f.mutateCalls {
			m.ToolCalls[0].Name = "changed"
		}
	}
	answering := msgs[len(msgs)-1].Role == pipeline.RoleTool
	if f.words || (answering && !f.callsAgain) {
		if answering && f.mute {
			return nil
		}
		return f.Generate(ctx, msgs, func(s string) error { return emit(pipeline.Delta{Text: s}) })
	}
	name, id, args, index := "get_weather", "call_1", []string{`{"city":`, `"paris"}`}, 0
	switch {
	case f.wrongName:
		name = "get_time"
	case f.noID:
		id = ""
	case f.badArgs != "":
		args = []string{f.badArgs}
	case f.gap:
		index = 1
	case f.splitArgs:
		args = []string{`{"city":"Z` + "\xc3", "\xbc" + `rich"}`}
	}
	pieces := []pipeline.ToolCallDelta{{Index: index, ID: id, Name: name}}
	if f.lateName {
		pieces = []pipeline.ToolCallDelta{{Index: index, ID: id}, {Index: index, Name: name}}
	}
	for _, a := range args {
		pieces = append(pieces, pipeline.ToolCallDelta{Index: index, Arguments: a})
	}
	if f.sharedID {
		pieces = append(pieces, pipeline.ToolCallDelta{Index: 1, ID: id, Name: name, Arguments: "{}"})
	}
	var emitErr error
	for _, p := range pieces {
		if err := emit(pipeline.Delta{Call: &p}); err != nil {
			switch {
			case f.swallowEmitErr:
				return nil
			case f.toolEmitAfter:
				emitErr = firstErr(emitErr, err)
				continue
			default:
				return err
			}
		}
		if err := ctx.Err(); err != nil && !f.ignoreCtx {
			time.Sleep(f.slowCancel)
			return err
		}
	}
	return emitErr
}

var weatherPrompt = conformance.ToolPrompt{
	Messages: []pipeline.Message{{Role: pipeline.RoleUser, Content: "What is the weather in Paris?"}},
	Tools:    []pipeline.Tool{{Name: "get_weather", Description: "The weather in a city.", Parameters: []byte(`{"type":"object","properties":{"city":{"type":"string"}}}`)}},
	Name:     "get_weather",
}

func TestToolGeneratorSuite(t *testing.T) {
	const suite = "TestToolGenerator/"
	tests := []struct {
		name string
		g    *fakeToolGen
		want []string
	}{
		{"conforms", &fakeToolGen{}, nil},
		{"always fails", &fakeToolGen{fakeGen: fakeGen{fail: errors.New("model down")}}, []string{
			suite + "calls the tool: model down", suite + "replies to the result: no call to answer",
			suite + "emit error stops it: GenerateTools returned model down", suite + "cancel stops it: no delta emitted (model down)"}},
		{"answers in words", &fakeToolGen{words: true}, []string{suite + "calls the tool: no call to get_weather (text \"Sunny, "}},
		{"calls another tool", &fakeToolGen{wrongName: true}, []string{suite + "calls the tool: no call to get_weather", "get_time"}},
		{"call without an ID", &fakeToolGen{noID: true}, []string{suite + "calls the tool: the first piece of call 0 has no ID or name", suite + "calls the tool: call to get_weather has no ID"}},
		{"arguments not JSON", &fakeToolGen{badArgs: `{"city":`}, []string{suite + `calls the tool: arguments of get_weather are not a JSON object: "{\"city\":"`}},
		{"arguments an array", &fakeToolGen{badArgs: `["paris"]`}, []string{suite + `calls the tool: arguments of get_weather are not a JSON object: "[\"paris\"]"`}},
		{"arguments null", &fakeToolGen{badArgs: `null`}, []string{suite + `calls the tool: arguments of get_weather are not a JSON object: "null"`}},
		{"name in a later piece", &fakeToolGen{lateName: true}, []string{suite + "calls the tool: the first piece of call 0 has no ID or name"}},
		{"numbers calls from 1", &fakeToolGen{gap: true}, []string{suite + "calls the tool: call index 1 after 0 calls began"}},
		{"splits a rune in the arguments", &fakeToolGen{splitArgs: true}, []string{suite + "calls the tool: arguments delta \"{\\\"city\\\":\\\"Z\\xc3\" splits a rune"}},
		{"two calls, one ID", &fakeToolGen{sharedID: true}, []string{suite + `calls the tool: two calls share the ID "call_1"`}},
		{"calls again after the result", &fakeToolGen{callsAgain: true}, []string{suite + "replies to the result: called [{call_1 get_weather"}},
		{"silent after the result", &fakeToolGen{mute: true}, []string{suite + "replies to the result: no words after the result (0 deltas)"}},
		{"modifies tools", &fakeToolGen{mutateTools: true}, []string{suite + "calls the tool: GenerateTools modified its messages or tools"}},
		{"modifies messages", &fakeToolGen{fakeGen: fakeGen{mutate: true}, words: true}, []string{suite + "calls the tool: GenerateTools modified its messages or tools"}},
		{"swallows emit's error", &fakeToolGen{fakeGen: fakeGen{swallowEmitErr: true}}, []string{suite + "emit error stops it: GenerateTools returned <nil>, want emit's error"}},
		{"emits after emit failed", &fakeToolGen{toolEmitAfter: true}, []string{suite + "emit error stops it: emit called 3 times after it failed once"}},
		{"ignores cancel", &fakeToolGen{fakeGen: fakeGen{ignoreCtx: true}}, []string{suite + "cancel stops it: GenerateTools returned <nil>, want context.Canceled"}},
		{"slow to cancel", &fakeToolGen{fakeGen: fakeGen{slowCancel: conformance.CancelWithin + 200*time.Millisecond}}, []string{suite + "cancel stops it: returned ", " after the cancel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, func(ctx context.Context) error { return conformance.TestToolGenerator(ctx, tt.g, weatherPrompt) }, tt.want)
		})
	}
}

// TestToolGeneratorModifiedHistory: a generator that writes into the
// calls of the history it is given is caught even though the suite's own
// copy of the prompt shares nothing with the caller's.
func TestToolGeneratorModifiedHistory(t *testing.T) {
	prompt := weatherPrompt
	prompt.Messages = []pipeline.Message{
		{Role: pipeline.RoleUser, Content: "What is the weather in Rome?"},
		{Role: pipeline.RoleAssistant, ToolCalls: []pipeline.ToolCall{{ID: "call_0", Name: "get_weather", Arguments: `{"city":"rome"}`}}},
		{Role: pipeline.RoleTool, ToolCallID: "call_0", Content: "Rain."},
		{Role: pipeline.RoleAssistant, Content: "It rains in Rome."},
		{Role: pipeline.RoleUser, Content: "And in Paris?"},
	}
	err := conformance.TestToolGenerator(t.Context(), &fakeToolGen{mutateCalls: true}, prompt)
	if err == nil || !strings.Contains(err.Error(), "GenerateTools modified its messages or tools") {
		t.Fatalf("err = %v", err)
	}
	if prompt.Messages[1].ToolCalls[0].Name != "get_weather" {
		t.Fatal("the caller's prompt was changed through the suite")
	}
}

func TestToolGeneratorBadPrompt(t *testing.T) {
	for _, p := range []conformance.ToolPrompt{
		{},
		{Messages: weatherPrompt.Messages, Tools: weatherPrompt.Tools},
		{Messages: weatherPrompt.Messages, Name: "get_weather"},
	} {
		if err := conformance.TestToolGenerator(t.Context(), &fakeToolGen{}, p); err == nil || !strings.Contains(err.Error(), "the prompt needs") {
			t.Errorf("%+v: err = %v", p, err)
		}
	}
}
