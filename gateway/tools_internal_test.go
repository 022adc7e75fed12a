package gateway

import (
	"fmt"
	"strings"
	"testing"

	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// TestClientToolRounds: a round's reply goes on exactly once, when its
// last result is in and the reply that asked has finished, in whichever
// order those come; never for a cut round; results go into the
// conversation as they come, and a call takes one result.
func TestClientToolRounds(t *testing.T) {
	type step struct {
		op     string // "call", "end", "cut", "answer", "lost" (abandonUnfinished)
		turn   uint64
		id     string
		resume bool   // what end/answer report
		code   string // answer's error code, if any
	}
	tests := []struct {
		name  string
		steps []step
		conv  string // the tool results in the conversation, in order
	}{
		{"result after the end", []step{
			{op: "call", turn: 1, id: "a"}, {op: "end", turn: 1}, {op: "answer", id: "a", resume: true},
		}, "a"},
		{"result before the end", []step{
			{op: "call", turn: 1, id: "a"}, {op: "answer", id: "a"}, {op: "end", turn: 1, resume: true},
		}, "a"},
		{"two calls, any order", []step{
			{op: "call", turn: 1, id: "a"}, {op: "call", turn: 1, id: "b"}, {op: "end", turn: 1},
			{op: "answer", id: "b"}, {op: "answer", id: "a", resume: true},
		}, "b a"},
		{"cut: results kept, no reply", []step{
			{op: "call", turn: 1, id: "a"}, {op: "cut", turn: 1}, {op: "answer", id: "a"},
		}, "a"},
		{"lost with its connection", []step{
			{op: "call", turn: 1, id: "a"}, {op: "lost"}, {op: "answer", id: "a"}, {op: "end", turn: 1},
		}, "a"},
		{"unknown and twice", []step{
			{op: "answer", id: "x", code: string(protocol.CodeUnknownToolCall)},
			{op: "call", turn: 2, id: "a"}, {op: "end", turn: 2}, {op: "answer", id: "a", resume: true},
			{op: "answer", id: "a", code: string(protocol.CodeUnknownToolCall)},
		}, "a"},
		{"rounds of two turns", []step{
			{op: "call", turn: 1, id: "a"}, {op: "end", turn: 1},
			{op: "call", turn: 2, id: "b"}, {op: "end", turn: 2},
			{op: "answer", id: "b", resume: true}, {op: "answer", id: "a", resume: true},
		}, "b a"},
		{"the end of a turn without calls", []step{{op: "end", turn: 3}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ct clientTools
			conv := pipeline.NewConversation("", 0)
			// A history starts with the user's words (the conversation drops
			// anything before them).
			conv.Append(pipeline.Message{Role: pipeline.RoleUser, Content: "question"})
			for i, s := range tt.steps {
				var resume bool
				switch s.op {
				case "call":
					ct.called(s.turn, s.id)
				case "end", "cut":
					resume = ct.turnEnded(s.turn, s.op == "cut")
				case "lost":
					ct.abandonUnfinished()
				case "answer":
					var err error
					_, resume, err = ct.answer(conv, s.id, "result of "+s.id)
					if code, _ := protocol.CodeOf(err); string(code) != s.code {
						t.Fatalf("step %d: answer %s: %v, want code %q", i, s.id, err, s.code)
					}
				}
				if resume != s.resume {
					t.Fatalf("step %d (%+v): goes on %v", i, s, resume)
				}
			}
			var got []string
			for _, m := range conv.History()[1:] {
				if m.Role != pipeline.RoleTool || m.Content != "result of "+m.ToolCallID {
					t.Fatalf("conversation %+v", conv.History())
				}
				got = append(got, m.ToolCallID)
			}
			if strings.Join(got, " ") != tt.conv {
				t.Errorf("results in the conversation %q, want %q", got, tt.conv)
			}
		})
	}
}

// TestClientToolCallsCapped: past maxPendingToolCalls the oldest round is
// forgotten, and its results are refused.
func TestClientToolCallsCapped(t *testing.T) {
	var ct clientTools
	conv := pipeline.NewConversation("", 0)
	for turn := uint64(1); turn <= 3; turn++ {
		for i := range maxPendingToolCalls / 2 {
			ct.called(turn, fmt.Sprintf("t%d-%d", turn, i))
		}
		ct.turnEnded(turn, false)
	}
	if _, _, err := ct.answer(conv, "t1-0", "late"); err == nil {
		t.Error("a result of a forgotten round was taken")
	}
	for turn := uint64(2); turn <= 3; turn++ {
		if _, _, err := ct.answer(conv, fmt.Sprintf("t%d-0", turn), "kept"); err != nil {
			t.Errorf("turn %d: %v", turn, err)
		}
	}
	if ct.calls != maxPendingToolCalls-2 {
		t.Errorf("%d calls waiting, want %d", ct.calls, maxPendingToolCalls-2)
	}
}
