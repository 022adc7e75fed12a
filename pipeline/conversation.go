package pipeline

import "sync"

// Conversation is a session's memory: the system prompt and the messages
// exchanged so far, capped to the most recent MaxMessages and, when a byte
// cap is set (SetMaxBytes), to the most recent messages whose contents fit
// in it. It outlives any one connection (a resumed session keeps it). Safe
// for concurrent use.
type Conversation struct {
	mu       sync.Mutex
	system   string
	max      int
	maxBytes int // 0: no byte cap
	msgs     []Message
	bytes    int    // sum of len(Content) over msgs
	turns    uint64 // turn numbers handed out; they go on across reconnects
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
// DefaultMaxHistory. It has no byte cap until SetMaxBytes.
func NewConversation(systemPrompt string, maxMessages int) *Conversation {
	if maxMessages <= 0 {
		maxMessages = DefaultMaxHistory
	}
	return &Conversation{system: systemPrompt, max: maxMessages}
}

// SetMaxBytes caps the history's content (the sum of the messages' Content
// lengths, the system prompt not counted) at n bytes, dropping the oldest
// messages beyond it now and on every Append; n ≤ 0 removes the cap. The
// newest user message and what follows it are always kept, even over the
// cap, so that a turn never loses its own question. It returns c.
func (c *Conversation) SetMaxBytes(n int) *Conversation {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxBytes = max(n, 0)
	c.trimLocked()
	return c
}

// Append adds messages, dropping the oldest beyond the caps. A dropped
// assistant reply never leaves its user message orphaned at the front:
// the history always starts with a user message.
func (c *Conversation) Append(msgs ...Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
	for _, m := range msgs {
		c.bytes += len(m.Content)
	}
	c.trimLocked()
}

func (c *Conversation) trimLocked() {
	drop := max(len(c.msgs)-c.max, 0)
	if c.maxBytes > 0 && c.bytes > c.maxBytes {
		last := len(c.msgs) - 1 // the newest user message: never dropped for bytes
		for last > 0 && c.msgs[last].Role != RoleUser {
			last--
		}
		over := c.bytes - c.maxBytes
		for _, m := range c.msgs[:drop] {
			over -= len(m.Content)
		}
		for over > 0 && drop < last {
			over -= len(c.msgs[drop].Content)
			drop++
		}
	}
	for drop < len(c.msgs) && c.msgs[drop].Role != RoleUser {
		drop++
	}
	if drop == 0 {
		return
	}
	for _, m := range c.msgs[:drop] {
		c.bytes -= len(m.Content)
	}
	// Copy down rather than reslice, so the dropped messages' strings are
	// not kept alive by the array.
	n := copy(c.msgs, c.msgs[drop:])
	clear(c.msgs[n:])
	c.msgs = c.msgs[:n]
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

// HistoryBytes returns the size of the history's contents, as SetMaxBytes
// counts it.
func (c *Conversation) HistoryBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
