package app

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// clockModel asks for the first tool it is offered, then reads out what
// the tool returned.
type clockModel struct{}

func (clockModel) Generate(_ context.Context, _ []pipeline.Message, emit func(string) error) error {
	return emit("I have no clock.")
}

func (clockModel) GenerateTools(_ context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	if m := msgs[len(msgs)-1]; m.Role == pipeline.RoleTool {
		return emit(pipeline.Delta{Text: "It is " + m.Content + "."})
	}
	return emit(pipeline.Delta{Call: &pipeline.ToolCallDelta{ID: "c1", Name: tools[0].Name}})
}

// TestRegistryTools: the tools a program adds to the Registry run on the
// server when the model calls them, and the client is told (tool.done).
func TestRegistryTools(t *testing.T) {
	reg := Builtin()
	reg.LLM["echo"] = func(configs.Provider, Deps) (pipeline.Generator, error) { return clockModel{}, nil }
	reg.Tools = []pipeline.Tool{{Name: "clock", Call: func(context.Context, string) (string, error) { return "noon", nil }}}
	r := serveWith(t, reg, hooks{}, "", nil, "-addr", "127.0.0.1:0", "-admin-addr", "off")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+r.public.String()+gateway.PathWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for _, msg := range []string{`{"type":"session.start","text_only":true}`, `{"type":"input.text","text":"what time is it?"}`} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	var toolDone protocol.ToolDone
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			protocol.ResponseDone
			Result string `json:"result"`
			Name   string `json:"name"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		switch m.Type {
		case protocol.TypeToolDone:
			toolDone = protocol.ToolDone{Name: m.Name, Result: m.Result}
		case protocol.TypeError:
			t.Fatalf("error %s", b)
		case protocol.TypeResponseDone:
			if toolDone.Name != "clock" || toolDone.Result != "noon" || m.Text != "It is noon." {
				t.Fatalf("tool.done %+v, reply %q", toolDone, m.Text)
			}
			ws.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}
