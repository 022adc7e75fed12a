package pipeline

import (
	"slices"
	"strconv"
	"strings"
	"sync"
)

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
	bytes    int    // sum of size(m) over msgs
	turns    uint64 // turn numbers handed out; they go on across reconnects
	ids      uint64 // message IDs handed out
}

// size is what a message counts against the byte cap: its content and its
// tool calls.
func size(m Message) int {
	n := len(m.Content)
	for _, c := range m.ToolCalls {
		n += len(c.Name) + len(c.Arguments)
	}
	return n
}

// NewID returns a message ID not yet handed out by this conversation, for
// a message that will be appended later (a reply, while it is streamed).
func (c *Conversation) NewID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.newIDLocked()
}

func (c *Conversation) newIDLocked() string {
	c.ids++
	return "item_" + strconv.FormatUint(c.ids, 10)
}

// SetSystem replaces the system prompt.
func (c *Conversation) SetSystem(prompt string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.system = prompt
}

// System returns the system prompt.
func (c *Conversation) System() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.system
}

// Get returns the message with id, if the history holds it.
func (c *Conversation) Get(id string) (Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := c.indexLocked(id); i >= 0 {
		return c.msgs[i], true
	}
	return Message{}, false
}

// SetContent replaces the content of the message with id, e.g. to keep of
// a reply only what the user heard. It reports whether the history holds
// the message.
func (c *Conversation) SetContent(id, content string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.indexLocked(id)
	if i < 0 {
		return false
	}
	c.bytes += len(content) - len(c.msgs[i].Content)
	c.msgs[i].Content = content
	return true
}

// Delete removes the message with id and reports whether the history held
// it.
func (c *Conversation) Delete(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.indexLocked(id)
	if i < 0 {
		return false
	}
	c.bytes -= size(c.msgs[i])
	c.msgs = slices.Delete(c.msgs, i, i+1) // clears the freed slot
	return true
}

func (c *Conversation) indexLocked(id string) int {
	if id == "" {
		return -1
	}
	for i := len(c.msgs) - 1; i >= 0; i-- {
		if c.msgs[i].ID == id {
			return i
		}
	}
	return -1
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

// Append adds messages, dropping the oldest beyond the caps. A message
// without an ID gets one. A dropped assistant reply never leaves its user
// message orphaned at the front: the history always starts with a user
// message.
func (c *Conversation) Append(msgs ...Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		if m.ID == "" {
			m.ID = c.newIDLocked()
		} else if n, ok := strings.CutPrefix(m.ID, "item_"); ok {
			// A restored message: IDs handed out from now on follow it.
			if v, err := strconv.ParseUint(n, 10, 64); err == nil {
				c.ids = max(c.ids, v)
			}
		}
		c.msgs = append(c.msgs, m)
		c.bytes += size(m)
	}
	c.trimLocked()
}

func (c *Conversation) trimLocked() {
	last := len(c.msgs) - 1 // the newest user message: the caps never drop it
	for last >= 0 && c.msgs[last].Role != RoleUser {
		last--
	}
	if last >= 0 && len(c.msgs)-last > c.max {
		// The newest turn alone is over the message cap (a long run of
		// tool rounds): keep its question and the newest of what followed.
		c.removeLocked(last+1, len(c.msgs)-(c.max-1))
	}
	keep := last // the oldest message the caps must keep
	if keep < 0 {
		keep = len(c.msgs) - 1
	}
	drop := max(len(c.msgs)-c.max, 0)
	if c.maxBytes > 0 && c.bytes > c.maxBytes {
		over := c.bytes - c.maxBytes
		for _, m := range c.msgs[:drop] {
			over -= size(m)
		}
		for over > 0 && drop < keep {
			over -= size(c.msgs[drop])
			drop++
		}
	}
	if drop == 0 {
		return
	}
	// Never leave a reply at the front without its question.
	for last >= 0 && drop < last && c.msgs[drop].Role != RoleUser {
		drop++
	}
	c.removeLocked(0, drop)
}

// removeLocked removes c.msgs[i:j].
func (c *Conversation) removeLocked(i, j int) {
	if i >= j {
		return
	}
	for _, m := range c.msgs[i:j] {
		c.bytes -= size(m)
	}
	// Copy down rather than reslice, so the removed messages' strings are
	// not kept alive by the array.
	n := i + copy(c.msgs[i:], c.msgs[j:])
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
