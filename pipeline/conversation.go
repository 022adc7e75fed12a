package pipeline

import "sync"

// Conversation is a session's memory: the system prompt and the messages
// exchanged so far, capped to the most recent MaxMessages. It outlives any
// one connection (a resumed session keeps it). Safe for concurrent use.
type Conversation struct {
	mu     sync.Mutex
	system string
	max    int
	msgs   []Message
	turns  uint64 // turn numbers handed out; they go on across reconnects
}

// NextTurn returns the next turn number, counting from 1 over the
// conversation's whole life.
func (c *Conversation) NextTurn() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.turns++
	return c.turns
}

// Turns returns how many turn numbers have been handed out.
func (c *Conversation) Turns() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.turns
}

// SkipTurns makes the next turn number at least n+1, e.g. when a saved
// conversation is restored.
func (c *Conversation) SkipTurns(n uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.turns = max(c.turns, n)
}

// NewConversation returns an empty conversation. maxMessages ≤ 0 means
// DefaultMaxHistory.
func NewConversation(systemPrompt string, maxMessages int) *Conversation {
	if maxMessages <= 0 {
		maxMessages = DefaultMaxHistory
	}
	return &Conversation{system: systemPrompt, max: maxMessages}
}

// Append adds messages, dropping the oldest beyond the cap. A dropped
// assistant reply never leaves its user message orphaned at the front:
// the history always starts with a user message.
func (c *Conversation) Append(msgs ...Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
	if over := len(c.msgs) - c.max; over > 0 {
		c.msgs = append(c.msgs[:0], c.msgs[over:]...)
	}
	for len(c.msgs) > 0 && c.msgs[0].Role != RoleUser {
		c.msgs = c.msgs[1:]
	}
}

// Prompt returns the messages to send to a Generator: the system prompt (if
// any) followed by the history. The caller owns the returned slice.
func (c *Conversation) Prompt() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Message, 0, len(c.msgs)+1)
	if c.system != "" {
		out = append(out, Message{Role: RoleSystem, Content: c.system})
	}
	return append(out, c.msgs...)
}

// History returns a copy of the messages, without the system prompt.
func (c *Conversation) History() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}
