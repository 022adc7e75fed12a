package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/voicegate/voicegate/pipeline"
)

// Caps on what one reply may hold, so that a misbehaving server cannot make
// the assembler of the calls (pipeline.ToolCalls) grow without end.
const (
	maxToolCalls     = 64      // calls in one reply
	maxArgumentBytes = 1 << 20 // arguments of one call
)

// noParameters is the schema sent for a tool without parameters: OpenAI
// requires an object schema, and some compatible servers reject null.
var noParameters = json.RawMessage(`{"type":"object","properties":{}}`)

// messages maps a conversation to chat-completion messages. Message.ID is
// the gateway's own name for an item and is never sent.
func messages(msgs []pipeline.Message) []goopenai.ChatCompletionMessage {
	out := make([]goopenai.ChatCompletionMessage, len(msgs))
	for i, m := range msgs {
		out[i] = goopenai.ChatCompletionMessage{Role: string(m.Role), Content: m.Content}
		switch {
		case m.Role == pipeline.RoleTool:
			out[i].ToolCallID = m.ToolCallID
			if m.Content == "" {
				// go-openai omits empty content, and a tool message
				// without it is rejected.
				out[i].Content = "(empty)"
			}
		case len(m.ToolCalls) > 0:
			out[i].ToolCalls = make([]goopenai.ToolCall, len(m.ToolCalls))
			for j, c := range m.ToolCalls {
				args := c.Arguments
				if args == "" {
					args = "{}" // go-openai omits an empty string; servers want the key
				}
				out[i].ToolCalls[j] = goopenai.ToolCall{
					ID:       c.ID,
					Type:     goopenai.ToolTypeFunction,
					Function: goopenai.FunctionCall{Name: c.Name, Arguments: args},
				}
			}
		}
	}
	return out
}

// toolDefs maps tools to the request's "tools" array. A tool whose
// parameters are not JSON is refused here rather than by the server, which
// would answer 400 for the whole request anyway.
func toolDefs(tools []pipeline.Tool) ([]goopenai.Tool, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	out := make([]goopenai.Tool, len(tools))
	for i, t := range tools {
		if t.Name == "" {
			return nil, fmt.Errorf("%w: tool %d has no name", pipeline.ErrRejected, i)
		}
		params := t.Parameters
		if len(params) == 0 || string(params) == "null" {
			params = noParameters
		} else if !json.Valid(params) {
			return nil, fmt.Errorf("%w: tool %q: parameters are not JSON", pipeline.ErrRejected, t.Name)
		}
		out[i] = goopenai.Tool{
			Type: goopenai.ToolTypeFunction,
			Function: &goopenai.FunctionDefinition{
				Name:        t.Name,
				Description: t.Description,
				Parameters:  params,
			},
		}
	}
	return out, nil
}

// toolCallChunk is one entry of a chunk's choices[].delta.tool_calls.
// Arguments stay raw for the same reason content does (see deltaDecoder).
type toolCallChunk struct {
	Index    *int   `json:"index"`
	ID       string `json:"id"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

// callDecoder numbers a reply's tool calls from 0 in the order they begin,
// whatever indexes the server uses, and turns each call's argument
// fragments into whole-rune text.
type callDecoder struct {
	byIndex map[int]int // the server's index → ours
	calls   []callState
}

type callState struct {
	id   string
	args deltaDecoder
	size int // argument bytes so far
}

var errTooManyCalls = fmt.Errorf("more than %d tool calls in one reply", maxToolCalls)

// decode returns the delta for one tool_calls entry; ok is false when it
// carries nothing yet (an argument fragment that ends inside a rune).
func (d *callDecoder) decode(tc toolCallChunk) (delta pipeline.ToolCallDelta, ok bool, err error) {
	i, err := d.slot(tc)
	if err != nil {
		return delta, false, err
	}
	c := &d.calls[i]
	args, err := c.args.decode(tc.Function.Arguments)
	if raw := tc.Function.Arguments; err != nil && len(raw) > 0 && raw[0] == '{' {
		// Some servers send the arguments as an object, not as its text.
		args, err = strings.ToValidUTF8(string(raw), "\uFFFD"), nil
	}
	if err != nil {
		return delta, false, fmt.Errorf("tool call arguments: %w", err)
	}
	c.size += len(args)
	if c.size > maxArgumentBytes {
		return delta, false, fmt.Errorf("tool call arguments over %d bytes", maxArgumentBytes)
	}
	delta = pipeline.ToolCallDelta{Index: i, ID: tc.ID, Name: tc.Function.Name, Arguments: args}
	return delta, delta.ID != "" || delta.Name != "" || delta.Arguments != "", nil
}

// slot finds the call tc continues, or begins a new one. A server that
// leaves out the index (some compatible servers send each call whole)
// begins a call with each new ID and otherwise continues the last one.
func (d *callDecoder) slot(tc toolCallChunk) (int, error) {
	if tc.Index != nil {
		if *tc.Index < 0 {
			return 0, errors.New("negative tool call index")
		}
		if i, ok := d.byIndex[*tc.Index]; ok {
			return i, nil
		}
	} else if n := len(d.calls); n > 0 && (tc.ID == "" || tc.ID == d.calls[n-1].id) {
		return n - 1, nil
	}
	if len(d.calls) >= maxToolCalls {
		return 0, errTooManyCalls
	}
	i := len(d.calls)
	d.calls = append(d.calls, callState{id: tc.ID})
	if tc.Index != nil {
		if d.byIndex == nil {
			d.byIndex = make(map[int]int)
		}
		d.byIndex[*tc.Index] = i
	}
	return i, nil
}

// pending reports whether some call's arguments end inside a rune.
func (d *callDecoder) pending() bool {
	for i := range d.calls {
		if d.calls[i].args.pending() {
			return true
		}
	}
	return false
}
