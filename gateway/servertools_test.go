package gateway_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// TestServerTools: the operator's tools run in the gateway when the model
// calls them, and the reply goes on with their result.
func TestServerTools(t *testing.T) {
	var calls atomic.Int32
	s := newServer(t, func(o *gateway.Options) {
		o.Tools = []pipeline.Tool{{
			Name:        "opening_hours",
			Description: "When the shop is open.",
			Call: func(context.Context, string) (string, error) {
				calls.Add(1)
				return "nine to five", nil
			},
		}}
	})
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(map[string]any{"text_only": true})
	c.sendJSON(map[string]any{"type": "input.text", "text": "what are your opening hours"})
	tr := c.awaitTurn()
	if got := tr.text(protocol.TypeResponseDone, "text"); got != "The opening hours tool says: nine to five." || calls.Load() != 1 {
		t.Fatalf("reply %q after %d calls: %v", got, calls.Load(), tr.msgs)
	}
}

// TestServerToolsChecked: tools the gateway cannot run are refused at New.
func TestServerToolsChecked(t *testing.T) {
	run := func(context.Context, string) (string, error) { return "", nil }
	for name, tools := range map[string][]pipeline.Tool{
		"no call":    {{Name: "f"}},
		"no name":    {{Call: run}},
		"same names": {{Name: "f", Call: run}, {Name: "f", Call: run}},
	} {
		if _, err := gateway.New(gateway.Options{Stages: fastStages(), Tools: tools}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
