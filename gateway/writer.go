package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// outItem is one entry of a write lane.
type outItem struct {
	ev  pipeline.Event // a pipeline event to encode (Audio is nil: see pcm)
	pcm *[]byte        // EventAudio: its samples as PCM16LE, from the Server's pool
	msg any            // a protocol message built already (pong, error, session.started)
	// text says that pcm holds EventAudio as a whole text message of an
	// adapter's protocol (a Realtime audio delta, a Twilio media
	// message), not as PCM16LE.
	text bool
}

var _ pipeline.Output = (*connection)(nil)

// Send is the session's Output. It never blocks. When nothing is queued
// ahead, no write is in progress and the socket's send buffer has room, it
// writes the message itself, on the caller's goroutine: reply audio reaches
// the socket as soon as it is ready, without waiting for the writer to be
// scheduled. Otherwise it copies what it needs and queues it on one of two
// bounded lanes for the writer.
//
// The control lane carries what must not wait behind audio: speech.started
// (the client stops playback at once), response.cancelled, response.paused
// and response.resumed, errors, pongs.
// The stream lane carries the rest, in order. A full lane means the client
// is not reading fast enough: the connection is closed as a slow consumer
// (error slow_consumer, close 1008) rather than the pipeline waiting.
//
// EventAudio's samples are encoded into a pooled buffer here, because the
// Session reuses ev.Audio once Send returns. Once a turn is cut (its Handle
// says so; the Session cuts it before it sends EventResponseCancelled), the
// turn's queued audio and reply text are dropped unsent.
func (c *connection) Send(ev pipeline.Event) {
	c.noteToolEvent(ev)
	if c.isClosing() {
		return
	}
	switch ev.Kind {
	case pipeline.EventAudio:
		if ev.Handle != nil && ev.Handle.IsCut() {
			return
		}
		buf := c.srv.getBuf()
		*buf = audio.EncodePCM16((*buf)[:0], ev.Audio)
		ev.Audio = nil
		c.push(c.stream, outItem{ev: ev, pcm: buf})
	case pipeline.EventSentence, pipeline.EventInputCommitted:
		// Not in the native protocol: its clients learn the same from
		// the audio and speech.stopped.
	case pipeline.EventSpeechStarted:
		c.push(c.control, outItem{ev: ev})
	case pipeline.EventResponseCancelled, pipeline.EventReplyPaused, pipeline.EventReplyResumed:
		c.push(c.control, outItem{ev: ev})
	case pipeline.EventError:
		c.sendError(c.stageError(ev))
	case pipeline.EventTranscriptFinal:
		if ce := c.logger().Check(zap.DebugLevel, "transcript"); ce != nil {
			ce.Write(zap.Uint64("turn", ev.Turn), c.srv.contentField("text", ev.Text))
		}
		c.push(c.stream, outItem{ev: ev})
	default:
		c.push(c.stream, outItem{ev: ev})
	}
}

// stageError builds the error event for a pipeline EventError. The session
// goes on after it, whatever the error.
func (c *connection) stageError(ev pipeline.Event) *protocol.Error {
	cl, _ := classify(ev.Err)
	cl.Fatal = false
	e := cl.event("internal error")
	e.Turn = ev.Turn
	var se *pipeline.StageError
	if errors.As(ev.Err, &se) {
		e.Message = stageMessage(se)
		e.Stage = string(se.Stage)
		c.logger().Warn("stage failed", zap.String("stage", string(se.Stage)), zap.String("provider", se.Provider),
			zap.Uint64("turn", ev.Turn), zap.String("code", string(cl.Code)), zap.Error(se.Err))
	} else {
		c.logger().Error("session error", zap.Uint64("turn", ev.Turn), zap.Error(ev.Err))
	}
	return e
}

// sendControl queues a prebuilt message on the control lane.
func (c *connection) sendControl(msg any) { c.push(c.control, outItem{msg: msg}) }

// sendError queues a non-fatal error event.
func (c *connection) sendError(e *protocol.Error) {
	c.srv.metrics.errors.WithLabelValues(string(e.Code)).Inc()
	c.errorsSent.Add(1)
	if ce := c.logger().Check(zap.DebugLevel, "error event"); ce != nil {
		ce.Write(zap.String("code", string(e.Code)), zap.String("message", e.Message))
	}
	c.sendControl(e)
}

func (c *connection) push(lane chan outItem, it outItem) {
	if c.writeNow(it) {
		return
	}
	c.queued.Add(1)
	select {
	case lane <- it:
		return
	default:
	}
	c.queued.Add(-1)
	if it.pcm != nil {
		c.srv.putBuf(it.pcm)
	}
	c.slowConsumer("write queue full")
}

// writeNow writes it on the caller's goroutine if that keeps the order the
// lanes would give (nothing queued, no other write in progress) and cannot
// block (the socket's send buffer has room for it: see roomFor). It reports
// whether it did (or dropped it, or failed the connection trying). Only the
// native protocol writes inline: an adapter's encoder runs on the writer.
func (c *connection) writeNow(it outItem) bool {
	if c.adapter != nil || c.rt != nil || c.netConn == nil || c.queued.Load() != 0 || !c.wmu.TryLock() {
		return false
	}
	defer c.wmu.Unlock()
	if c.queued.Load() != 0 || c.isClosing() {
		// Queued since, by another goroutine: behind that, or the
		// connection is closing (the writer drops the lanes).
		return false
	}
	if it.msg != nil || !c.roomFor(inlineSize(it)) {
		return false
	}
	if err := c.write(it); err != nil {
		c.writeFailed(err)
	}
	return true
}

// inlineSize bounds the bytes it takes on the wire, before it is encoded:
// the audio, or an event's fields (at most 2 KiB) and its text, escaped at
// worst 6 bytes a byte. A prebuilt message (session.started with its
// history, an error) always goes through the writer.
func inlineSize(it outItem) int {
	const wsHeaderMax, eventFields = 14, 2048
	if it.pcm != nil {
		return len(*it.pcm) + wsHeaderMax
	}
	text := len(it.ev.Text)
	if it.ev.Call != nil {
		text += len(it.ev.Call.Arguments)
	}
	return eventFields + 6*text + wsHeaderMax
}

// writeFailed ends the connection after a failed write.
func (c *connection) writeFailed(err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		c.slowConsumer("write timed out")
	} else {
		c.fail(closeReason{peer: true, err: err})
	}
}

func (c *connection) slowConsumer(why string) {
	if c.failCode(protocol.CodeSlowConsumer, "the client is not reading fast enough (%s)", why) {
		c.srv.metrics.slowConsumer.Inc()
		c.logger().Warn("slow consumer: closing", zap.String("why", why))
	}
}

// writeLoop writes what Send queued (Send writes itself when nothing is
// queued: see writeNow). The control lane is always drained first. Every
// write holds wmu. When the connection fails it stops, tells the client why
// and closes the socket.
func (c *connection) writeLoop() {
	defer c.closeSocket()
	for {
		var it outItem
		select {
		case <-c.closing:
			return
		case it = <-c.control:
		default:
			select {
			case <-c.closing:
				return
			case it = <-c.control:
			case it = <-c.stream:
			}
		}
		c.wmu.Lock()
		err := c.write(it)
		c.wmu.Unlock()
		c.queued.Add(-1)
		if err != nil {
			c.writeFailed(err)
			return
		}
	}
}

func (c *connection) write(it outItem) error {
	if it.pcm != nil {
		defer c.srv.putBuf(it.pcm)
		if it.ev.Handle != nil && !it.ev.Handle.AudioOnWire(it.ev.Sentence, c.srv.opts.Now()) {
			return nil // cut just now; the history will not count it
		}
		typ := websocket.MessageBinary
		if it.text {
			typ = websocket.MessageText
		}
		return c.writeMessage(typ, *it.pcm)
	}
	if stale(it.ev) {
		return nil
	}
	msg := it.msg
	switch {
	case msg != nil:
	case c.adapter != nil:
		enc, ok := c.adapter.(eventEncoder)
		if !ok {
			return nil
		}
		if msg = enc.eventMessage(it.ev); msg == nil {
			return nil
		}
	default:
		msg = c.eventMessage(it.ev)
	}
	return c.writeJSON(msg)
}

func (c *connection) writeJSON(msg any) error {
	b, err := protocol.Encode(msg)
	if err != nil {
		return err
	}
	return c.writeMessage(websocket.MessageText, b)
}

// writeMessage writes one message within WriteTimeout. A timeout counts as
// a slow consumer. The deadline is the socket's own: a context deadline
// would cost a timer and an allocation per message.
func (c *connection) writeMessage(typ websocket.MessageType, b []byte) error {
	if c.netConn == nil {
		ctx, cancel := context.WithTimeout(c.ctx, c.srv.opts.WriteTimeout)
		defer cancel()
		return c.ws.Write(ctx, typ, b)
	}
	c.netConn.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
	err := c.ws.Write(context.Background(), typ, b)
	c.netConn.SetWriteDeadline(time.Time{})
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}

// eventMessage encodes a pipeline event as its protocol message.
func (c *connection) eventMessage(ev pipeline.Event) any {
	switch ev.Kind {
	case pipeline.EventSpeechStarted:
		return &protocol.Speech{Type: protocol.TypeSpeechStarted, Turn: ev.Turn, AudioMS: ev.Offset.Milliseconds()}
	case pipeline.EventSpeechStopped:
		return &protocol.Speech{Type: protocol.TypeSpeechStopped, Turn: ev.Turn, AudioMS: ev.Offset.Milliseconds()}
	case pipeline.EventTranscriptPartial:
		return &protocol.Transcript{Type: protocol.TypeTranscriptPartial, Turn: ev.Turn, Text: ev.Text}
	case pipeline.EventTranscriptFinal:
		return &protocol.Transcript{Type: protocol.TypeTranscriptFinal, Turn: ev.Turn, Text: ev.Text}
	case pipeline.EventTextDelta:
		return &protocol.TextDelta{Type: protocol.TypeTextDelta, Turn: ev.Turn, Delta: ev.Text}
	case pipeline.EventAudioStart:
		return &protocol.AudioStart{Type: protocol.TypeAudioStart, Turn: ev.Turn, SampleRate: ev.Format.SampleRate}
	case pipeline.EventAudioDone:
		return &protocol.AudioDone{Type: protocol.TypeAudioDone, Turn: ev.Turn}
	case pipeline.EventResponseDone:
		return &protocol.ResponseDone{Type: protocol.TypeResponseDone, Turn: ev.Turn, Text: ev.Text}
	case pipeline.EventResponseCancelled:
		return &protocol.ResponseCancelled{Type: protocol.TypeResponseCancelled, Turn: ev.Turn, Reason: ev.Reason.String(), Text: ev.Text}
	case pipeline.EventReplyPaused:
		return &protocol.ResponsePause{Type: protocol.TypeResponsePaused, Turn: ev.Turn}
	case pipeline.EventReplyResumed:
		return &protocol.ResponsePause{Type: protocol.TypeResponseResumed, Turn: ev.Turn}
	case pipeline.EventToolCall:
		if ce := c.logger().Check(zap.DebugLevel, "tool call"); ce != nil {
			ce.Write(zap.Uint64("turn", ev.Turn), zap.String("tool", ev.Call.Name), zap.String("call_id", ev.Call.ID))
		}
		return &protocol.ToolCall{Type: protocol.TypeToolCall, Turn: ev.Turn, CallID: ev.Call.ID, Name: ev.Call.Name, Arguments: ev.Call.Arguments}
	case pipeline.EventToolResult:
		if ev.Err != nil {
			c.logger().Warn("server tool failed", zap.Uint64("turn", ev.Turn), zap.String("tool", ev.Call.Name), zap.Error(ev.Err))
		}
		return &protocol.ToolDone{Type: protocol.TypeToolDone, Turn: ev.Turn, CallID: ev.Call.ID, Name: ev.Call.Name, Result: ev.Text}
	case pipeline.EventTurnLatency:
		return c.turnDone(ev)
	}
	cl := classOf(protocol.CodeInternal)
	cl.Fatal = false
	return cl.event("unknown event " + ev.Kind.String())
}

// turnDone counts and logs a turn whose EventTurnLatency has reached the
// writer, observes its latency and returns its turn.latency message.
func (c *connection) turnDone(ev pipeline.Event) *protocol.TurnLatency {
	c.turns.Add(1)
	msg := c.srv.metrics.observeTurn(ev, c.srv.opts.VADName)
	c.traceTurn(ev)
	if ce := c.logger().Check(zap.DebugLevel, "turn done"); ce != nil {
		ce.Write(zap.Uint64("turn", ev.Turn), zap.Bool("cancelled", msg.Cancelled), msField("first_audio_sent_ms", msg.FirstAudioMS))
	}
	return msg
}

func msField(key string, v *float64) zap.Field {
	if v == nil {
		return zap.Skip()
	}
	return zap.Float64(key, *v)
}

// closeSocket ends the connection once it has failed: it tells the client
// why (an error event), then closes with the reason's status. A client that
// does not answer the close handshake within WriteTimeout is cut off.
func (c *connection) closeSocket() {
	<-c.closing
	r := c.reason
	if r.peer {
		c.ws.CloseNow()
		return
	}
	stop := time.AfterFunc(c.srv.opts.WriteTimeout, c.kill)
	defer stop.Stop()
	c.wmu.Lock() // after a write of Send's own in progress (kill ends a stuck one)
	defer c.wmu.Unlock()
	if r.class.Code != "" {
		c.srv.metrics.errors.WithLabelValues(string(r.class.Code)).Inc()
		cl := r.class
		cl.Fatal = true
		var msg any = cl.event(r.msg)
		if c.adapter != nil {
			msg = c.adapter.closingEvent(cl, r.msg)
		}
		if msg != nil {
			c.errorsSent.Add(1)
			c.writeJSON(msg)
		}
	}
	status := r.class.Status
	if status == 0 {
		status = websocket.StatusInternalError
	}
	c.ws.Close(status, string(r.class.Code))
	if ce := c.logger().Check(zap.DebugLevel, "closed by server"); ce != nil {
		ce.Write(zap.String("code", string(r.class.Code)), zap.Int("status", int(status)))
	}
}

// stale reports whether ev is reply output of a turn that has been cut since
// it was queued: response.cancelled has gone ahead on the control lane, so
// the client must not see more of that reply.
func stale(ev pipeline.Event) bool {
	switch ev.Kind {
	case pipeline.EventTextDelta, pipeline.EventAudioStart, pipeline.EventAudioDone, pipeline.EventToolCall, pipeline.EventToolResult,
		pipeline.EventSentence:
		return ev.Handle != nil && ev.Handle.IsCut()
	}
	return false
}
