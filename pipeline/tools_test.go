package pipeline_test

import (
	"fmt"
	"testing"

	"github.com/voicegate/voicegate/pipeline"
)

func TestToolCallsAssemble(t *testing.T) {
	tests := []struct {
		name   string
		deltas []pipeline.ToolCallDelta
		want   string
	}{
		{"one call in pieces", []pipeline.ToolCallDelta{{ID: "a", Name: "f", Arguments: `{"x":`}, {Arguments: `1}`}}, `[{a f {"x":1}}]`},
		{"interleaved calls", []pipeline.ToolCallDelta{
			{Index: 0, ID: "a", Name: "f", Arguments: "{"},
			{Index: 1, ID: "b", Name: "g"},
			{Index: 0, Arguments: "}"},
			{Index: 1, Arguments: `{"y":2}`},
		}, `[{a f {}} {b g {"y":2}}]`},
		{"no arguments", []pipeline.ToolCallDelta{{ID: "a", Name: "f"}}, `[{a f {}}]`},
		{"nameless call left out", []pipeline.ToolCallDelta{{Index: 1, ID: "b", Name: "g"}}, `[{b g {}}]`},
		{"index out of range dropped", []pipeline.ToolCallDelta{{Index: -1, Name: "f"}, {Index: pipeline.MaxToolCalls, Name: "f"}, {Index: 1 << 40, Name: "f"}}, `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c pipeline.ToolCalls
			for _, d := range tt.deltas {
				c.Add(d)
			}
			if got := fmt.Sprint(c.Calls()); got != tt.want {
				t.Errorf("calls %s, want %s", got, tt.want)
			}
		})
	}
}
