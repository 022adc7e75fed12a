package pipeline

import (
	"fmt"
	"strings"
	"testing"
)

func TestPairToolResults(t *testing.T) {
	call := func(ids ...string) Message {
		m := Message{Role: RoleAssistant}
		for _, id := range ids {
			m.ToolCalls = append(m.ToolCalls, ToolCall{ID: id, Name: "f"})
		}
		return m
	}
	res := func(id, out string) Message { return Message{Role: RoleTool, ToolCallID: id, Content: out} }
	u := Message{Role: RoleUser, Content: "q"}
	tests := []struct {
		name string
		in   []Message
		want string
	}{
		{"in order", []Message{u, call("a"), res("a", "1")}, "user:q assistant: tool(a):1"},
		{"late result moves up", []Message{u, call("a"), u, res("a", "1")}, "user:q assistant: tool(a):1 user:q"},
		{"results follow the calls' order", []Message{u, call("a", "b"), res("b", "2"), res("a", "1")}, "user:q assistant: tool(a):1 tool(b):2"},
		{"unanswered call", []Message{u, call("a"), u}, "user:q assistant: tool(a):" + noResult + " user:q"},
		{"orphan result dropped", []Message{u, res("x", "1"), call("a"), res("a", "2")}, "user:q assistant: tool(a):2"},
		{"orphan result, no calls", []Message{u, res("x", "1")}, "user:q"},
		{"first answer wins", []Message{u, call("a"), res("a", "1"), res("a", "again")}, "user:q assistant: tool(a):1"},
		{"a reused ID answers its nearest call", []Message{u, call("a"), res("a", "1"), u, call("a"), res("a", "2")}, "user:q assistant: tool(a):1 user:q assistant: tool(a):2"},
		{"a reused ID, the later call unanswered", []Message{u, call("a"), res("a", "1"), u, call("a")}, "user:q assistant: tool(a):1 user:q assistant: tool(a):" + noResult},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []string
			for _, m := range pairToolResults(tt.in) {
				if m.Role == RoleTool {
					parts = append(parts, fmt.Sprintf("tool(%s):%s", m.ToolCallID, m.Content))
				} else {
					parts = append(parts, string(m.Role)+":"+m.Content)
				}
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
