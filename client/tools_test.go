package client

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// lookupModel calls the first tool it is offered with the user's words as
// its query, and once it has the result, says it.
type lookupModel struct{}

func (lookupModel) Generate(_ context.Context, msgs []pipeline.Message, emit func(string) error) error {
	return emit("No tools: " + msgs[len(msgs)-1].Content)
}

func (lookupModel) GenerateTools(_ context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	last := msgs[len(msgs)-1]
	if last.Role == pipeline.RoleTool {
		return emit(pipeline.Delta{Text: "Found " + last.Content + "."})
	}
	args, _ := json.Marshal(map[string]string{"query": last.Content})
	id := "lookup_" + last.ID
	return emit(pipeline.Delta{Call: &pipeline.ToolCallDelta{ID: id, Name: tools[0].Name, Arguments: string(args)}})
}

var lookupTool = protocol.Tool{
	Name:        "lookup",
	Description: "Looks a question up",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"}}}`),
}

// awaitToolCall waits for the next tool call.
func awaitToolCall(t *testing.T, rec *recorder) *protocol.ToolCall {
	t.Helper()
	return rec.next(t, "tool.call", is[*protocol.ToolCall]).(*protocol.ToolCall)
}

func awaitReply(t *testing.T, rec *recorder) string {
	t.Helper()
	return rec.next(t, "response.done", is[*protocol.ResponseDone]).(*protocol.ResponseDone).Text
}

// TestGatewayTools: against the real gateway, the client's tools (from
// Config) reach the model, a call reaches the Handler, and SendToolResult
// lets the reply go on with the result, also across a resume; the tools
// are sent with every session.start, so a restarted gateway has them too;
// SetTools replaces them; a result for no call is an *Error event.
func TestGatewayTools(t *testing.T) {
	_, addr := gatewayWith(t, lookupModel{})
	p := newProxy(t, addr)
	s, rec := dialURL(t, p.url(), func(c *Config) {
		c.TextOnly = true
		c.Tools = []protocol.Tool{lookupTool}
	})
	if err := s.SendText("the capital of France"); err != nil {
		t.Fatal(err)
	}
	call := awaitToolCall(t, rec)
	if call.Name != "lookup" || call.Arguments != `{"query":"the capital of France"}` || call.CallID == "" {
		t.Fatalf("tool call %+v", call)
	}
	awaitReply(t, rec) // the reply that asked ends
	if err := s.SendToolResult(call.CallID, "Paris"); err != nil {
		t.Fatal(err)
	}
	if got := awaitReply(t, rec); got != "Found Paris." {
		t.Fatalf("reply after the result: %q", got)
	}

	// A call made before a dropped connection is answered after the
	// resume; the resumed session still has the tools.
	if err := s.SendText("the capital of Italy"); err != nil {
		t.Fatal(err)
	}
	call = awaitToolCall(t, rec)
	awaitReply(t, rec)
	p.cut()
	if con := rec.next(t, "Connected", is[*Connected]).(*Connected); !con.Started.Resumed {
		t.Fatalf("not resumed: %+v", con.Started)
	}
	if err := s.SendToolResult(call.CallID, "Rome"); err != nil {
		t.Fatal(err)
	}
	if got := awaitReply(t, rec); got != "Found Rome." {
		t.Fatalf("reply after the resumed result: %q", got)
	}

	if err := s.SendToolResult("no-such-call", "x"); err != nil {
		t.Fatal(err)
	}
	e := rec.next(t, "error", is[*Error]).(*Error)
	if e.Code != protocol.CodeUnknownToolCall || e.Fatal {
		t.Fatalf("error %+v", e)
	}

	// A gateway that knows nothing of the session (a restart) gets the
	// tools with the new session's session.start.
	_, addr2 := gatewayWith(t, lookupModel{})
	p.retarget(addr2)
	p.cut()
	if con := rec.next(t, "Connected", is[*Connected]).(*Connected); !con.ResumeFailed {
		t.Fatalf("not a new session: %+v", con)
	}
	if err := s.SendText("the capital of Spain"); err != nil {
		t.Fatal(err)
	}
	if call := awaitToolCall(t, rec); call.Arguments != `{"query":"the capital of Spain"}` {
		t.Fatalf("tool call on the new gateway %+v", call)
	}
	awaitReply(t, rec)

	// No tools: the model answers in words.
	if err := s.SetTools(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SendText("hello"); err != nil {
		t.Fatal(err)
	}
	if got := awaitReply(t, rec); got != "No tools: hello" {
		t.Fatalf("reply without tools: %q", got)
	}
	if err := s.SetTools([]protocol.Tool{{Name: "bad name"}}); err != nil {
		t.Fatal(err)
	}
	if e := rec.next(t, "error", is[*Error]).(*Error); e.Code != protocol.CodeInvalidMessage {
		t.Fatalf("a bad tool: %+v", e)
	}
}
