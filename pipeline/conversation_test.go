package pipeline_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/voicegate/voicegate/pipeline"
)

func user(s string) pipeline.Message { return pipeline.Message{Role: pipeline.RoleUser, Content: s} }
func bot(s string) pipeline.Message {
	return pipeline.Message{Role: pipeline.RoleAssistant, Content: s}
}

// TestConversationByteCap: the byte cap drops the oldest messages, the
// history still starts with a user message, and the newest exchange stays
// even when it alone is over the cap.
func TestConversationByteCap(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int
		append   [][]pipeline.Message
		want     []pipeline.Message
	}{
		{"under the cap", 100, [][]pipeline.Message{{user("aaaa"), bot("bbbb")}},
			[]pipeline.Message{user("aaaa"), bot("bbbb")}},
		{"oldest exchange dropped", 20, [][]pipeline.Message{{user("aaaaa"), bot("bbbbb")}, {user("ccccc"), bot("ddddd")}, {user("eeeee"), bot("fffff")}},
			[]pipeline.Message{user("ccccc"), bot("ddddd"), user("eeeee"), bot("fffff")}},
		{"no orphaned reply at the front", 12, [][]pipeline.Message{{user("aaaa"), bot("bbbb")}, {user("cccc"), bot("dddd")}},
			// Dropping "aaaa" fits 12 bytes, but "bbbb" would lead: it goes too.
			[]pipeline.Message{user("cccc"), bot("dddd")}},
		{"the newest exchange stays over the cap", 8, [][]pipeline.Message{{user("aa"), bot("bb")}, {user(strings.Repeat("x", 30))}},
			[]pipeline.Message{user(strings.Repeat("x", 30))}},
		{"newest question and its long reply stay", 8, [][]pipeline.Message{{user("q"), bot(strings.Repeat("y", 30))}},
			[]pipeline.Message{user("q"), bot(strings.Repeat("y", 30))}},
		{"no cap", 0, [][]pipeline.Message{{user(strings.Repeat("x", 1000)), bot(strings.Repeat("y", 1000))}, {user("z")}},
			[]pipeline.Message{user(strings.Repeat("x", 1000)), bot(strings.Repeat("y", 1000)), user("z")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pipeline.NewConversation("system prompt not counted", 0).SetMaxBytes(tt.maxBytes)
			for _, msgs := range tt.append {
				c.Append(msgs...)
			}
			got := c.History()
			if contents(got) != contents(tt.want) {
				t.Errorf("history %v, want %v", got, tt.want)
			}
			n := 0
			for _, m := range got {
				n += len(m.Content)
			}
			if c.HistoryBytes() != n {
				t.Errorf("HistoryBytes = %d, the history holds %d", c.HistoryBytes(), n)
			}
		})
	}
}

// TestConversationByteCapLongRun: over many turns the history stays within
// the cap, whatever the mix of message sizes, and within the message cap.
func TestConversationByteCapLongRun(t *testing.T) {
	const maxBytes = 1000
	c := pipeline.NewConversation("", 10).SetMaxBytes(maxBytes)
	for i := range 500 {
		c.Append(user(strings.Repeat("u", i%97)), bot(strings.Repeat("a", (i*31)%211)))
		h := c.History()
		if len(h) > 10 || (len(h) > 0 && h[0].Role != pipeline.RoleUser) {
			t.Fatalf("turn %d: %d messages, first %v", i, len(h), h[0].Role)
		}
		if c.HistoryBytes() > maxBytes {
			t.Fatalf("turn %d: %d bytes kept, cap %d", i, c.HistoryBytes(), maxBytes)
		}
	}
}

// TestConversationSetMaxBytesTrims: lowering the cap trims at once (a
// restored conversation is capped as it is loaded).
func TestConversationSetMaxBytesTrims(t *testing.T) {
	c := pipeline.NewConversation("", 0)
	c.Append(user("aaaa"), bot("bbbb"), user("cccc"), bot("dddd"))
	c.SetMaxBytes(8)
	if got := contents(c.History()); got != "user:cccc assistant:dddd" {
		t.Fatalf("history %v", got)
	}
}

func contents(h []pipeline.Message) string {
	var parts []string
	for _, m := range h {
		parts = append(parts, fmt.Sprintf("%s:%s", m.Role, m.Content))
	}
	return strings.Join(parts, " ")
}

// TestConversationItems: messages get IDs, and a client can edit and
// delete them by ID with the byte count kept right.
func TestConversationItems(t *testing.T) {
	c := pipeline.NewConversation("be brief", 0)
	c.Append(user("hello"), bot("hi there, how can I help"))
	h := c.History()
	if h[0].ID == "" || h[1].ID == "" || h[0].ID == h[1].ID {
		t.Fatalf("ids %q %q", h[0].ID, h[1].ID)
	}
	next := c.NewID()
	c.Append(pipeline.Message{ID: next, Role: pipeline.RoleUser, Content: "x"})
	if m, ok := c.Get(next); !ok || m.Content != "x" {
		t.Fatalf("Get(%q) = %v, %v", next, m, ok)
	}
	if !c.SetContent(h[1].ID, "hi there") || c.HistoryBytes() != len("hello")+len("hi there")+1 {
		t.Fatalf("after SetContent: %v, %d bytes", contents(c.History()), c.HistoryBytes())
	}
	if !c.Delete(h[0].ID) || c.Delete(h[0].ID) || c.HistoryBytes() != len("hi there")+1 {
		t.Fatalf("after Delete: %v, %d bytes", contents(c.History()), c.HistoryBytes())
	}
	if got := contents(c.History()); got != "assistant:hi there user:x" {
		t.Fatalf("history %v", got)
	}
	c.Append(pipeline.Message{Role: pipeline.RoleAssistant, ToolCalls: []pipeline.ToolCall{{ID: "c1", Name: "weather", Arguments: `{"city":"paris"}`}}})
	// Under the caps nothing is dropped, not even a reply whose question
	// was deleted; the tool call counts its name and arguments.
	if got := contents(c.History()); got != "assistant:hi there user:x assistant:" || c.HistoryBytes() != len("hi there")+1+len("weather")+len(`{"city":"paris"}`) {
		t.Fatalf("history %v, %d bytes", got, c.HistoryBytes())
	}
	if c.SetSystem("be kind"); c.Prompt()[0].Content != "be kind" {
		t.Fatalf("system prompt %q", c.Prompt()[0].Content)
	}
}

// TestConversationLongTurn: a turn longer than the message cap (many tool
// rounds) keeps its question and the newest of what followed it.
func TestConversationLongTurn(t *testing.T) {
	c := pipeline.NewConversation("", 4)
	c.Append(user("old"), bot("old reply"), user("question"))
	for i := range 10 {
		c.Append(bot(fmt.Sprint("round ", i)))
	}
	if got := contents(c.History()); got != "user:question assistant:round 7 assistant:round 8 assistant:round 9" {
		t.Fatalf("history %s", got)
	}
	c.Append(user("next"))
	if got := contents(c.History()); got != "user:next" {
		t.Fatalf("history %s", got)
	}
}

// TestConversationRestoredIDs: IDs handed out after restored messages do
// not repeat theirs.
func TestConversationRestoredIDs(t *testing.T) {
	c := pipeline.NewConversation("", 0)
	c.Append(pipeline.Message{ID: "item_7", Role: pipeline.RoleUser, Content: "restored"}, pipeline.Message{ID: "client-chosen", Role: pipeline.RoleUser})
	if id := c.NewID(); id != "item_8" {
		t.Fatalf("NewID after item_7: %q", id)
	}
}
