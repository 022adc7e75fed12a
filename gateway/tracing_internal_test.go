package gateway

import (
	"testing"

	"github.com/voicegate/voicegate/pipeline"
)

// TestTraceTurnOffCostsNothing: without a TurnTracer a finished turn
// allocates nothing for tracing.
func TestTraceTurnOffCostsNothing(t *testing.T) {
	c := &connection{srv: &Server{}}
	ev := pipeline.Event{Kind: pipeline.EventTurnLatency, Turn: 1, Trace: &pipeline.Trace{Turn: 1}, Handle: &pipeline.Turn{}}
	if n := testing.AllocsPerRun(100, func() { c.traceTurn(ev) }); n != 0 {
		t.Fatalf("%v allocations per turn with tracing off", n)
	}
}
