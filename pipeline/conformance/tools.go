package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/voicegate/voicegate/pipeline"
)

// ToolPrompt is a conversation that makes a ToolGenerator call a tool, for
// TestToolGenerator. What makes a model call a tool differs from model to
// model, so the caller supplies it.
type ToolPrompt struct {
	// Messages is the conversation, the user's request last.
	Messages []pipeline.Message
	// Tools are offered with it; there must be at least one.
	Tools []pipeline.Tool
	// Name is the tool the reply must call.
	Name string
	// Result is each call's result, fed back as a RoleTool message. Empty
	// means DefaultToolResult.
	Result string
}

// DefaultToolResult is the result TestToolGenerator feeds back when
// ToolPrompt.Result is empty.
const DefaultToolResult = "Sunny, 22 degrees."

// toolReply is what one GenerateTools call streamed.
type toolReply struct {
	text   string
	calls  []pipeline.ToolCall
	deltas int
}

// TestToolGenerator checks g against the ToolGenerator contract with p:
// the reply calls p.Name, each call arriving whole (its first piece carries
// its ID and name, calls are numbered from 0 without gaps, the arguments
// are a JSON object, text and arguments come in whole runes) without
// modifying the messages or tools; with the assistant's calls and their
// results appended as RoleTool messages, g answers in words and calls
// nothing; an emit error stops it after that one call and is returned; a
// cancel after the first delta ends it within CancelWithin with
// context.Canceled. Every call runs under ctx. It returns nil, or an error
// joining every failed check.
func TestToolGenerator(ctx context.Context, g pipeline.ToolGenerator, p ToolPrompt) error {
	if len(p.Tools) == 0 || p.Name == "" || len(p.Messages) == 0 {
		return errors.New("TestToolGenerator: the prompt needs messages, tools and the name of the tool to call")
	}
	result := p.Result
	if result == "" {
		result = DefaultToolResult
	}
	msgs, tools := cloneMessages(p.Messages), cloneTools(p.Tools)
	var called *toolReply // the first check's reply, for the second

	return run(ctx, "TestToolGenerator", []check{
		{"calls the tool", func(ctx context.Context, fail failFunc) {
			reply, err := generateTools(ctx, g, msgs, tools, fail, nil)
			if err != nil {
				fail("%v", err)
				return
			}
			if !unchanged(msgs, p.Messages, tools, p.Tools) {
				fail("GenerateTools modified its messages or tools")
			}
			i := slices.IndexFunc(reply.calls, func(c pipeline.ToolCall) bool { return c.Name == p.Name })
			if i < 0 {
				fail("no call to %s (text %q, calls %v)", p.Name, reply.text, reply.calls)
				return
			}
			ids := map[string]bool{}
			for _, c := range reply.calls {
				var args map[string]any
				switch {
				case c.ID == "":
					fail("call to %s has no ID", c.Name)
				case ids[c.ID]:
					fail("two calls share the ID %q", c.ID)
				case json.Unmarshal([]byte(c.Arguments), &args) != nil || args == nil:
					fail("arguments of %s are not a JSON object: %q", c.Name, c.Arguments)
				}
				ids[c.ID] = true
			}
			called = &reply
		}},
		{"replies to the result", func(ctx context.Context, fail failFunc) {
			if called == nil {
				fail("no call to answer (see the check before)")
				return
			}
			next := append(cloneMessages(msgs), pipeline.Message{Role: pipeline.RoleAssistant, Content: called.text, ToolCalls: called.calls})
			for _, c := range called.calls {
				next = append(next, pipeline.Message{Role: pipeline.RoleTool, ToolCallID: c.ID, Content: result})
			}
			reply, err := generateTools(ctx, g, next, tools, fail, nil)
			if err != nil {
				fail("%v", err)
				return
			}
			if len(reply.calls) > 0 {
				fail("called %v instead of answering the result", reply.calls)
			}
			if strings.TrimSpace(reply.text) == "" {
				fail("no words after the result (%d deltas)", reply.deltas)
			}
		}},
		{"emit error stops it", func(ctx context.Context, fail failFunc) {
			stop := errors.New("client went away")
			reply, err := generateTools(ctx, g, msgs, tools, fail, func() error { return stop })
			if !errors.Is(err, stop) {
				fail("GenerateTools returned %v, want emit's error", err)
				return
			}
			if reply.deltas != 1 {
				fail("emit called %d times after it failed once", reply.deltas)
			}
		}},
		{"cancel stops it", func(ctx context.Context, fail failFunc) {
			cancelStops(ctx, fail, "GenerateTools", func(ctx context.Context, delta func() error) error {
				_, err := generateTools(ctx, g, msgs, tools, fail, delta)
				return err
			})
		}},
	})
}

// generateTools runs one GenerateTools call, checking each delta as it
// comes, and assembles the reply. after, if set, is what emit returns.
func generateTools(ctx context.Context, g pipeline.ToolGenerator, msgs []pipeline.Message, tools []pipeline.Tool, fail failFunc, after func() error) (toolReply, error) {
	var (
		reply  toolReply
		text   strings.Builder
		begun  int // calls begun so far
		pieces []pipeline.ToolCallDelta
	)
	err := g.GenerateTools(ctx, msgs, tools, func(d pipeline.Delta) error {
		reply.deltas++
		if !utf8.ValidString(d.Text) {
			fail("text delta %q splits a rune", d.Text)
		}
		text.WriteString(d.Text)
		if c := d.Call; c != nil {
			switch {
			case c.Index < 0 || c.Index > begun:
				fail("call index %d after %d calls began", c.Index, begun)
			case c.Index == begun && (c.ID == "" || c.Name == ""):
				fail("the first piece of call %d has no ID or name: %+v", c.Index, *c)
			case !utf8.ValidString(c.Arguments):
				fail("arguments delta %q splits a rune", c.Arguments)
			}
			begun = max(begun, c.Index+1)
			pieces = append(pieces, *c)
		}
		if d.Text == "" && d.Call == nil {
			fail("empty delta")
		}
		if after != nil {
			return after()
		}
		return nil
	})
	reply.text, reply.calls = text.String(), assemble(pieces)
	return reply, err
}

// assemble joins the pieces of a reply's calls with pipeline.ToolCalls, as
// the Session does. The pieces go in call by call, each call's in their
// order: ToolCalls keeps a builder per call in a slice that it grows, so a
// piece of an earlier call must not follow the start of a later one.
func assemble(pieces []pipeline.ToolCallDelta) []pipeline.ToolCall {
	slices.SortStableFunc(pieces, func(a, b pipeline.ToolCallDelta) int { return a.Index - b.Index })
	var calls pipeline.ToolCalls
	for _, p := range pieces {
		calls.Add(p)
	}
	return calls.Calls()
}

// unchanged reports whether msgs and tools still equal the caller's.
// Tools are compared without Call, which reflect cannot compare.
func unchanged(msgs, wantMsgs []pipeline.Message, tools, wantTools []pipeline.Tool) bool {
	if !reflect.DeepEqual(msgs, wantMsgs) || len(tools) != len(wantTools) {
		return false
	}
	for i, t := range tools {
		w := wantTools[i]
		if t.Name != w.Name || t.Description != w.Description || string(t.Parameters) != string(w.Parameters) {
			return false
		}
	}
	return true
}

// cloneMessages copies msgs deeply enough that a generator writing into
// them leaves the original alone.
func cloneMessages(msgs []pipeline.Message) []pipeline.Message {
	out := slices.Clone(msgs)
	for i := range out {
		out[i].ToolCalls = slices.Clone(out[i].ToolCalls)
	}
	return out
}

func cloneTools(tools []pipeline.Tool) []pipeline.Tool {
	out := slices.Clone(tools)
	for i := range out {
		out[i].Parameters = slices.Clone(out[i].Parameters)
	}
	return out
}
