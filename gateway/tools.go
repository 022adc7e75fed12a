package gateway

import (
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// maxPendingToolCalls caps the calls of a session that wait for the
// client's results; beyond it the oldest round is forgotten, and its late
// results get unknown_tool_call.
const maxPendingToolCalls = 64

// clientTools is a session's client tools and the calls the model made of
// them that wait for results. It lives in the sessionState, so a resumed
// session keeps both. Safe for concurrent use: calls are seen on the
// pipeline's goroutines (Send), results on the reader.
type clientTools struct {
	mu     sync.Mutex
	tools  []pipeline.Tool
	rounds []*toolRound // oldest first
	calls  int          // unanswered calls over rounds
}

// toolRound is the client calls of one reply.
type toolRound struct {
	turn     uint64
	calls    []string        // the call IDs, in the order asked
	answered map[string]bool // those with a result in the conversation
	ended    bool            // the reply that asked has finished
	cut      bool            // it was cut (or lost with its connection): results are kept, the reply does not go on
}

func (r *toolRound) complete() bool { return len(r.answered) == len(r.calls) }

func (ct *clientTools) set(tools []pipeline.Tool) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.tools = tools
}

func (ct *clientTools) list() []pipeline.Tool {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.tools
}

// called records the model's call id of a client tool in the reply of turn.
func (ct *clientTools) called(turn uint64, id string) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	var r *toolRound
	if n := len(ct.rounds); n > 0 && ct.rounds[n-1].turn == turn {
		r = ct.rounds[n-1]
	} else {
		r = &toolRound{turn: turn, answered: map[string]bool{}}
		ct.rounds = append(ct.rounds, r)
	}
	r.calls = append(r.calls, id)
	ct.calls++
	for ct.calls > maxPendingToolCalls && len(ct.rounds) > 1 {
		ct.removeLocked(0)
	}
}

// turnEnded records that the reply of turn has finished, cut or not. It
// reports whether the reply goes on now: its round was complete already.
func (ct *clientTools) turnEnded(turn uint64, cut bool) bool {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for i, r := range ct.rounds {
		if r.turn != turn {
			continue
		}
		r.ended, r.cut = true, cut
		if r.complete() {
			ct.removeLocked(i)
			return !cut
		}
		return false
	}
	return false
}

// abandonUnfinished cuts the rounds whose reply never finished: they were
// running on a connection that is gone.
func (ct *clientTools) abandonUnfinished() {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for _, r := range ct.rounds {
		if !r.ended {
			r.ended, r.cut = true, true
		}
	}
}

// answer appends output to conv as the result of call id, which must wait
// for one. It returns the turn that asked and whether the reply goes on
// now: every call of the round has its result and the reply has finished.
func (ct *clientTools) answer(conv *pipeline.Conversation, id, output string) (turn uint64, resume bool, err error) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for i, r := range ct.rounds {
		for _, c := range r.calls {
			if c != id || r.answered[id] {
				continue
			}
			conv.Append(pipeline.Message{Role: pipeline.RoleTool, ToolCallID: id, Content: output})
			r.answered[id] = true
			ct.calls--
			if !r.complete() || !r.ended {
				return r.turn, false, nil
			}
			ct.removeLocked(i)
			return r.turn, !r.cut, nil
		}
	}
	return 0, false, protocol.Errorf(protocol.CodeUnknownToolCall, "no tool call %q waits for a result (unknown, answered already, or too old)", truncate(id, 64))
}

func (ct *clientTools) removeLocked(i int) {
	r := ct.rounds[i]
	ct.calls -= len(r.calls) - len(r.answered)
	ct.rounds = append(ct.rounds[:i], ct.rounds[i+1:]...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// wireTools turns the client's tool definitions into the pipeline's (no
// Call: the client runs them). A name the server's own tools take is
// refused: the model would call the server's.
func (c *connection) wireTools(defs []protocol.Tool) ([]pipeline.Tool, error) {
	tools := make([]pipeline.Tool, 0, len(defs))
	for _, d := range defs {
		for _, own := range c.srv.opts.Tools {
			if own.Name == d.Name {
				return nil, protocol.Errorf(protocol.CodeInvalidMessage, "tool %q: the server has a tool of that name", d.Name)
			}
		}
		tools = append(tools, pipeline.Tool{Name: d.Name, Description: d.Description, Parameters: d.Parameters})
	}
	return tools, nil
}

// setTools replaces the session's client tools.
func (c *connection) setTools(defs []protocol.Tool) error {
	tools, err := c.wireTools(defs)
	if err != nil {
		return err
	}
	if err := c.session.SetTools(tools); err != nil {
		if errors.Is(err, pipeline.ErrSessionClosed) {
			return nil
		}
		return protocol.Errorf(protocol.CodeInvalidMessage, "tools: %v", err)
	}
	c.state.tools.set(tools)
	return nil
}

// onToolResult puts the client's result of a call into the conversation
// and, once every call of its reply has one, lets the reply go on.
func (c *connection) onToolResult(m *protocol.ToolResult) error {
	turn, resume, err := c.state.tools.answer(c.state.conv, m.CallID, m.Output)
	if err != nil {
		return err
	}
	if ce := c.logger().Check(zap.DebugLevel, "tool result"); ce != nil {
		ce.Write(zap.Uint64("turn", turn), zap.String("call_id", m.CallID), c.srv.contentField("output", m.Output))
	}
	if resume {
		// Here, on the reader, so that an interrupt the client sends next
		// comes after the reply it cuts.
		c.replyAfterTools(turn)
	}
	return nil
}

// noteToolEvent follows the client tool calls of the session's replies. It
// runs for every event, even once the connection is closing, so that the
// session's rounds stay right for a resume.
func (c *connection) noteToolEvent(ev pipeline.Event) {
	switch ev.Kind {
	case pipeline.EventToolCall:
		if ev.Call != nil {
			c.state.tools.called(ev.Turn, ev.Call.ID)
		}
	case pipeline.EventTurnLatency:
		// The turn is in the conversation now: saved, a node that dies
		// loses at most the turn in progress.
		if shared := c.sharedStore(); shared != nil {
			shared.mark(c.state)
		}
		if c.rt == nil && c.srv.persist != nil {
			c.srv.persist.mark()
		}
		if c.state.tools.turnEnded(ev.Turn, ev.Reason != 0) && !c.isClosing() {
			c.continueReply(ev.Turn)
		}
	}
	switch ev.Kind {
	case pipeline.EventTextDelta, pipeline.EventAudioStart, pipeline.EventToolCall, pipeline.EventResponseDone, pipeline.EventResponseCancelled, pipeline.EventTurnLatency:
		for last := c.lastReply.Load(); ev.Turn > last && !c.lastReply.CompareAndSwap(last, ev.Turn); last = c.lastReply.Load() {
		}
	}
}

// continueReply runs replyAfterTools on a goroutine of its own, which
// serve waits for: it is called from the session's Output, whose
// goroutines Respond must not wait on.
func (c *connection) continueReply(turn uint64) {
	c.tasks.Add(1)
	go func() {
		defer c.tasks.Done()
		c.replyAfterTools(turn)
	}()
}

// replyAfterTools asks the session for the reply that follows the tool
// results of turn, unless a newer reply (the user spoke or typed) has
// begun: that one, or the next, reads them.
func (c *connection) replyAfterTools(turn uint64) {
	if c.lastReply.Load() > turn {
		c.logger().Debug("tool results left for a newer reply", zap.Uint64("turn", turn))
		return
	}
	next, err := c.session.Respond(pipeline.ResponseOptions{})
	switch {
	case err == nil:
		c.logger().Debug("reply goes on after tool results", zap.Uint64("turn", turn), zap.Uint64("next_turn", next))
	case errors.Is(err, pipeline.ErrSessionClosed):
	case errors.Is(err, pipeline.ErrResponseActive):
		// A reply began since (the user typed): it reads them.
		c.logger().Debug("tool results left for the reply in progress", zap.Uint64("turn", turn))
	default:
		c.logger().Error("reply after tool results", zap.Uint64("turn", turn), zap.Error(err))
		cl := classOf(protocol.CodeInternal)
		cl.Fatal = false
		c.sendError(cl.event("the reply could not go on after the tool results"))
	}
}
