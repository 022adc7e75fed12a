package pipeline

import (
	"context"
	"encoding/json"
	"strings"
)

// Tool is a function the language model may call during a reply.
//
// A Tool with Call set is a server-side tool: the Session runs it and the
// reply goes on with its result. A Tool without Call belongs to the client
// (a Realtime client's function, a native client's tool): the Session
// reports the call (EventToolCall) and ends the response; the client's
// result comes back as a RoleTool message, and a new response continues
// from it.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"` // a JSON Schema object; nil means no parameters
	// Call runs the tool with the model's arguments (a JSON object) and
	// returns its result, the text the model reads. ctx is the turn's: it
	// is cancelled on barge-in. An error's text is the result instead
	// ("error: " and the text), which the client sees too
	// (EventToolResult): keep secrets out of it. A panic fails the call
	// with a plain "error: the tool failed"; EventToolResult.Err holds
	// the details for the server's log.
	Call func(ctx context.Context, arguments string) (string, error) `json:"-"`
}

// ToolCall is the model's request to run a tool.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // a JSON object, as the model wrote it
}

// Delta is one piece of a streamed reply: text, a piece of a tool call,
// or both.
type Delta struct {
	Text string
	Call *ToolCallDelta
}

// ToolCallDelta is a piece of the tool call numbered Index (from 0) in its
// reply. The first piece of a call carries its ID and Name; Arguments are
// fragments to append in order.
type ToolCallDelta struct {
	Index     int
	ID        string
	Name      string
	Arguments string
}

// ToolGenerator is a Generator that can call tools. The Session uses it
// when the conversation has tools; a Generator that is not a ToolGenerator
// is called without them (the model answers in words).
//
// GenerateTools streams a reply to msgs as Generate does, with tools the
// model may call; a call's pieces arrive as Delta.Call, in order. A reply
// may hold text and calls. tools is never empty; it must not be retained or
// modified.
type ToolGenerator interface {
	Generator
	GenerateTools(ctx context.Context, msgs []Message, tools []Tool, emit func(Delta) error) error
}

// MaxToolCalls caps the calls of one reply that ToolCalls assembles.
const MaxToolCalls = 64

// ToolCalls assembles the calls of one reply from its deltas, in any
// interleaving. The zero ToolCalls is ready to use.
type ToolCalls struct {
	calls []ToolCall
	args  []*strings.Builder
}

// Add takes one delta. A delta numbered MaxToolCalls or beyond is
// dropped.
func (c *ToolCalls) Add(d ToolCallDelta) {
	if d.Index < 0 || d.Index >= MaxToolCalls {
		return
	}
	for len(c.calls) <= d.Index {
		c.calls = append(c.calls, ToolCall{})
		c.args = append(c.args, new(strings.Builder))
	}
	if d.ID != "" {
		c.calls[d.Index].ID = d.ID
	}
	if d.Name != "" {
		c.calls[d.Index].Name = d.Name
	}
	c.args[d.Index].WriteString(d.Arguments)
}

// Len returns how many calls have begun.
func (c *ToolCalls) Len() int { return len(c.calls) }

// Calls returns the calls assembled so far, those without a name left out.
// A call without arguments gets "{}".
func (c *ToolCalls) Calls() []ToolCall {
	out := make([]ToolCall, 0, len(c.calls))
	for i, call := range c.calls {
		if call.Name == "" {
			continue
		}
		call.Arguments = c.args[i].String()
		if strings.TrimSpace(call.Arguments) == "" {
			call.Arguments = "{}"
		}
		out = append(out, call)
	}
	return out
}
