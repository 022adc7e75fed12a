package gateway

import (
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio/g711"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/gateway/twilio"
	"github.com/voicegate/voicegate/pipeline"
)

// twilioFrame is 20 ms of 8 kHz μ-law: every media message the gateway
// sends holds a whole number of them.
const twilioFrame = twilio.SampleRate / 50

// muLawSilence is the μ-law code of 0.
const muLawSilence = 0xFF

// errStopped ends a call whose stream Twilio stopped.
var errStopped = errors.New("twilio: stream stopped")

// twilioCall is one Twilio Media Stream, a phone call, served as an adapter
// over a connection: its reader turns Twilio's messages into
// pipeline.Session calls (inbound μ-law → WriteAudio, dtmf → Interrupt,
// stop → the end), and Send, the session's Output, turns events into
// Twilio's messages on the connection's lanes: reply audio as μ-law media
// with a mark after each sentence, and clear on a barge-in.
//
// Twilio echoes a mark once the audio before it has been played, so the
// marks tell which of a reply's sentences the caller heard; when a reply is
// cut, its message in the history keeps those sentences only.
type twilioCall struct {
	c   *connection
	srv *Server

	// Reader only.
	dec      twilio.Decoder
	session  *pipeline.Session
	conv     *pipeline.Conversation
	warnedAt map[string]time.Time // last log of bad input, by kind

	// Set by the reader at start, before the session runs.
	streamSid string

	mu    sync.Mutex // the session's goroutines (Send) and the reader (marks, dtmf)
	reply *callReply // the latest reply, while its marks matter
	mulaw []byte     // Send's encoding buffer
}

// callReply is what a call knows of one reply's audio.
type callReply struct {
	turn      uint64
	handle    *pipeline.Turn
	sentences []replySentence // by number-1, from EventSentence
	open      int             // the sentence whose audio is going out; 0 before any
	marked    int             // sentences 1..marked have all their audio out and a mark after it
	played    int             // sentences 1..played were played: their marks came back before any clear
	// finished: no more audio will come; ended: the pipeline has recorded
	// the reply in the history; cleared: clear was sent, and marks no
	// longer count.
	finished, ended, cleared bool
}

// replySentence is one sentence of a reply and the Conversation message
// it belongs to (a reply that runs tools has one message a round).
type replySentence struct {
	text, item string
}

// maxReplySentences bounds the sentence texts a call keeps of one reply.
const maxReplySentences = 1024

var _ pipeline.Output = (*twilioCall)(nil)

func newTwilioCall(c *connection) *twilioCall {
	return &twilioCall{
		c:        c,
		srv:      c.srv,
		dec:      twilio.Decoder{MaxAudio: c.srv.opts.MaxFrameBytes},
		warnedAt: make(map[string]time.Time),
	}
}

// readLoop reads Twilio's messages until the connection ends. A message
// that does not decode is logged and skipped: Twilio has no way to hear
// about it, and the call goes on.
func (t *twilioCall) readLoop() error {
	c := t.c
	limit := twilio.MessageLimit(t.dec.MaxAudio)
	for {
		typ, r, err := c.nextMessage()
		if err != nil {
			return err
		}
		if typ == websocket.MessageBinary {
			if _, err := io.CopyBuffer(io.Discard, r, c.frame); err != nil {
				return err
			}
			t.badInput("binary", "binary message ignored: Twilio Media Streams messages are text")
			continue
		}
		n, err := readMessage(r, &c.text, limit)
		if err != nil {
			return err
		}
		if n > limit {
			return protocol.Errorf(protocol.CodeMessageTooLarge, "message larger than %d bytes", limit)
		}
		msg, err := t.dec.Decode(c.text[:n])
		if err != nil {
			t.badInput("decode", err.Error())
			continue
		}
		if err := t.handle(msg); err != nil {
			return err
		}
	}
}

func (t *twilioCall) handle(msg any) error {
	if m, ok := msg.(*twilio.Start); ok {
		return t.start(m)
	}
	if c, ok := msg.(*twilio.Connected); ok {
		t.c.logger().Debug("twilio connected", zap.String("protocol", c.Protocol), zap.String("version", c.Version))
		return nil
	}
	if t.session == nil {
		t.badInput("early", "message before start ignored")
		return nil
	}
	switch m := msg.(type) {
	case *twilio.Media:
		if m.StreamSid != t.streamSid {
			t.badInput("stream", "media of another stream ignored")
			return nil
		}
		if m.Media.Track != twilio.TrackInbound {
			return nil // the caller's audio only
		}
		in := &t.c.in
		in.samples = g711.DecodeMuLaw(in.samples[:0], m.Audio)
		in.push(in.samples)
	case *twilio.Mark:
		if m.StreamSid == t.streamSid {
			t.played(m.Mark.Name)
		}
	case *twilio.DTMF:
		if m.StreamSid != t.streamSid {
			return nil
		}
		if ce := t.c.logger().Check(zap.DebugLevel, "dtmf: interrupting the reply"); ce != nil {
			ce.Write(zap.String("digit", m.DTMF.Digit))
		}
		t.mu.Lock()
		t.bargeInLocked()
		t.mu.Unlock()
		t.session.Interrupt()
	case *twilio.Stop:
		if m.StreamSid != t.streamSid {
			return nil
		}
		// A clean end: the writer closes with 1000, and the reader reads
		// on until the socket closes.
		t.c.fail(closeReason{class: errorClass{Status: websocket.StatusNormalClosure}, err: errStopped})
	}
	return nil
}

// start opens the call's session: 8 kHz in and out, which the pipeline
// resamples to its own rate for recognition, and to which it resamples
// synthesis, once each. An error returned here ends the call.
func (t *twilioCall) start(m *twilio.Start) error {
	c, s := t.c, t.srv
	if t.session != nil {
		t.badInput("start", "second start ignored")
		return nil
	}
	info := &m.Start
	if f := info.MediaFormat; !f.IsMuLaw8k() {
		return protocol.Errorf(protocol.CodeUnsupportedRate, "media format %s at %d Hz, %d channels: only %s at 8000 Hz mono is supported",
			f.Encoding, f.SampleRate, f.Channels, twilio.Encoding)
	}
	who, rateKey := c.cred.who, c.peer.principal()
	now := s.opts.Now()
	if ok, wait := s.admit.allowStart(rateKey, now); !ok {
		s.metrics.rateLimited.WithLabelValues(limitSessionRate).Inc()
		return protocol.Errorf(protocol.CodeRateLimited, "calls started too fast (server.session_rate); the next is allowed in %s", wait.Round(time.Millisecond))
	}
	if s.opts.Stages.TTS == nil {
		return protocol.Errorf(protocol.CodeInternal, "a call needs a speech synthesizer, and none is configured")
	}
	conv := s.newConversation()
	sess, err := c.newSession(s.opts.Language, conv, g711.Format, g711.Format, false, false) // Twilio plays on through response.paused
	if err != nil {
		return err
	}
	t.session, t.conv, t.streamSid = sess, conv, m.StreamSid
	c.in = audioIn{sink: sess, samples: make([]int16, 0, 4*twilioFrame), framesIn: s.metrics.framesIn, dropped: s.metrics.framesDropped}
	log := c.logger().With(zap.String("stream", m.StreamSid), zap.String("call", info.CallSid))
	c.log.Store(log)
	c.sessionID.Store(&m.StreamSid)
	c.started.Store(true)
	s.metrics.sessionsTotal.WithLabelValues("false").Inc()

	ignored := slices.Collect(maps.Keys(info.CustomParameters))
	slices.Sort(ignored)
	log.Info("call started", zap.String("principal", who.short()), zap.Strings("tracks", info.Tracks), zap.Strings("ignored_parameters", ignored))

	c.runStarted = true
	go func() {
		defer close(c.runDone)
		sess.Run(c.runCtx, t)
	}()
	return nil
}

// badInput logs input the call skips, at most once a second per kind.
func (t *twilioCall) badInput(kind, why string) {
	now := t.srv.opts.Now()
	if last, ok := t.warnedAt[kind]; ok && now.Sub(last) < time.Second {
		return
	}
	t.warnedAt[kind] = now
	t.c.logger().Warn("twilio message skipped", zap.String("why", why))
}

// Send is the session's Output. Like the native connection's, it never
// blocks: it encodes what it needs and queues it on the connection's lanes.
func (t *twilioCall) Send(ev pipeline.Event) {
	c := t.c
	if c.isClosing() {
		return
	}
	switch ev.Kind {
	case pipeline.EventAudio:
		t.sendAudio(ev)
	case pipeline.EventSentence:
		t.mu.Lock()
		defer t.mu.Unlock()
		r := t.replyLocked(ev)
		if n := ev.Sentence; n >= 1 && n <= maxReplySentences {
			for len(r.sentences) < n {
				r.sentences = append(r.sentences, replySentence{})
			}
			r.sentences[n-1] = replySentence{text: ev.Text, item: ev.Item}
		}
	case pipeline.EventAudioStart:
		t.mu.Lock()
		t.replyLocked(ev)
		t.mu.Unlock()
	case pipeline.EventAudioDone:
		t.mu.Lock()
		defer t.mu.Unlock()
		r := t.replyLocked(ev)
		t.markLocked(r)
		r.finished = true
	case pipeline.EventResponseDone, pipeline.EventResponseCancelled:
		t.mu.Lock()
		defer t.mu.Unlock()
		r := t.reply
		if r == nil || r.turn != ev.Turn {
			return // no audio of this reply went out
		}
		r.finished, r.ended = true, true
		if ev.Kind == pipeline.EventResponseCancelled && r.open > 0 {
			t.clearLocked(r)
		}
		if r.cleared {
			t.keepPlayedLocked(r)
		}
	case pipeline.EventSpeechStarted:
		t.mu.Lock()
		t.bargeInLocked()
		t.mu.Unlock()
	case pipeline.EventError:
		c.stageError(ev) // logs it; Twilio has no message to tell it with
	case pipeline.EventTranscriptFinal:
		if ce := c.logger().Check(zap.DebugLevel, "transcript"); ce != nil {
			ce.Write(zap.Uint64("turn", ev.Turn), c.srv.contentField("text", ev.Text))
		}
	case pipeline.EventTurnLatency:
		// Observed when it reaches the writer: the turn's audio, queued
		// ahead of it, is on the wire by then.
		c.push(c.stream, outItem{ev: ev})
	}
}

// closingEvent is nil: Twilio has no message to hear an error by; the
// call's log says why it ended.
func (t *twilioCall) closingEvent(errorClass, string) any { return nil }

// eventMessage is the connection's writer handing back an event Send
// queued without a message: the turn's latency, whose audio is on the wire
// now. Twilio is sent nothing for it.

func (t *twilioCall) eventMessage(ev pipeline.Event) any {
	if ev.Kind == pipeline.EventTurnLatency {
		t.c.turnDone(ev)
	}
	return nil
}

// sendAudio queues reply audio as a media message, in whole 20 ms frames,
// and the mark of the sentence before when ev begins a new one. The
// Session reuses ev.Audio once Send returns: it is encoded here. A cut
// turn's audio is dropped.
func (t *twilioCall) sendAudio(ev pipeline.Event) {
	if ev.Handle != nil && ev.Handle.IsCut() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.replyLocked(ev)
	if r.cleared {
		return
	}
	if ev.Sentence != r.open {
		t.markLocked(r) // the sentence before has all its audio out
		r.open = ev.Sentence
	}
	t.mulaw = g711.EncodeMuLaw(t.mulaw[:0], ev.Audio)
	for len(t.mulaw)%twilioFrame != 0 {
		t.mulaw = append(t.mulaw, muLawSilence)
	}
	buf := t.srv.getBuf()
	*buf = twilio.AppendMedia((*buf)[:0], t.streamSid, t.mulaw)
	ev.Audio = nil
	t.c.push(t.c.stream, outItem{ev: ev, pcm: buf, text: true})
}

// replyLocked returns the state of ev's reply, starting it when ev is the
// first event of a new one: a call follows one reply at a time.
func (t *twilioCall) replyLocked(ev pipeline.Event) *callReply {
	r := t.reply
	if r == nil || r.turn != ev.Turn {
		r = &callReply{turn: ev.Turn, handle: ev.Handle}
		t.reply = r
	}
	return r
}

// markLocked queues the mark after the open sentence's audio, once.
func (t *twilioCall) markLocked(r *callReply) {
	if r.open <= r.marked || r.cleared {
		return
	}
	r.marked = r.open
	mark := twilio.NewMark(t.streamSid, markName(r.turn, r.open))
	// The mark rides the stream lane behind its audio, and like that audio
	// it is dropped unsent once the turn is cut.
	t.c.push(t.c.stream, outItem{ev: pipeline.Event{Kind: pipeline.EventSentence, Turn: r.turn, Handle: r.handle}, msg: mark})
}

// bargeInLocked clears the reply whose audio Twilio may still be playing:
// some not yet sent, or sent and its marks not all back.
func (t *twilioCall) bargeInLocked() {
	r := t.reply
	if r == nil || r.open == 0 || r.cleared || (r.finished && r.played >= r.marked) {
		return
	}
	t.clearLocked(r)
	if r.ended {
		t.keepPlayedLocked(r)
	}
}

// clearLocked sends clear, once per reply, ahead of any audio queued. The
// turn is cut first, so none of its audio goes out after the clear.
func (t *twilioCall) clearLocked(r *callReply) {
	if r.cleared {
		return
	}
	r.cleared = true
	if r.handle != nil {
		r.handle.Cut()
	}
	t.c.push(t.c.control, outItem{msg: twilio.NewClear(t.streamSid)})
	t.c.logger().Debug("barge-in: clear sent", zap.Uint64("turn", r.turn), zap.Int("sentences_played", r.played), zap.Int("sentences_sent", r.marked))
}

// keepPlayedLocked makes the reply's messages in the history what Twilio
// said it played: the sentences whose marks came back. Each message keeps
// its own played sentences (a reply that ran tools has one message a
// round); a message of which nothing was played leaves the history, unless
// it holds tool calls, which their results answer.
func (t *twilioCall) keepPlayedLocked(r *callReply) {
	log := t.c.logger()
	for i := range min(r.played, len(r.sentences)) {
		if r.sentences[i].item == "" {
			log.Debug("cut reply's sentences are not all known; the history keeps what was sent", zap.Uint64("turn", r.turn))
			return
		}
	}
	for a := 0; a < len(r.sentences); {
		item := r.sentences[a].item
		b := a + 1
		for b < len(r.sentences) && r.sentences[b].item == item {
			b++
		}
		n := min(max(r.played-a, 0), b-a)
		if n < b-a && item != "" {
			var kept []string
			for _, s := range r.sentences[a : a+n] {
				kept = append(kept, s.text)
			}
			t.keepLocked(item, strings.Join(kept, " "))
			if ce := log.Check(zap.DebugLevel, "cut reply: history keeps what was played"); ce != nil {
				ce.Write(zap.Uint64("turn", r.turn), zap.String("item", item), zap.Int("sentences", n), zap.Int("of", b-a))
			}
		}
		a = b
	}
}

// keepLocked sets a reply message's content to kept, or removes it when
// kept is empty and it holds no tool calls.
func (t *twilioCall) keepLocked(item, kept string) {
	if kept == "" {
		if m, ok := t.conv.Get(item); !ok || len(m.ToolCalls) == 0 {
			t.conv.Delete(item)
			return
		}
	}
	t.conv.SetContent(item, kept)
}

// played records the mark Twilio echoed: its sentence was played, unless a
// clear went out first (Twilio then echoes every pending mark at once).
func (t *twilioCall) played(name string) {
	turn, sentence, ok := parseMarkName(name)
	if !ok {
		t.badInput("mark", "mark the gateway did not send ignored")
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.reply; r != nil && r.turn == turn && !r.cleared && sentence <= r.marked {
		r.played = max(r.played, sentence)
	}
}

// markName names the mark after a reply's sentence: "<turn>.<sentence>".
func markName(turn uint64, sentence int) string {
	return strconv.FormatUint(turn, 10) + "." + strconv.Itoa(sentence)
}

func parseMarkName(name string) (uint64, int, bool) {
	a, b, ok := strings.Cut(name, ".")
	if !ok {
		return 0, 0, false
	}
	turn, err1 := strconv.ParseUint(a, 10, 64)
	sentence, err2 := strconv.Atoi(b)
	return turn, sentence, err1 == nil && err2 == nil && sentence >= 1
}

// teardown logs the call's end. Twilio is told nothing but the close
// status, so a call ended by an error is logged at Warn for the operator.
func (t *twilioCall) teardown() {
	c, s := t.c, t.srv
	r := c.reason
	log := c.logger()
	fields := []zap.Field{zap.Duration("duration", s.opts.Now().Sub(c.opened))}
	if t.session != nil {
		c.in.syncDropped()
		fields = append(fields, zap.Uint64("frames_in", c.in.frames), zap.Uint64("frames_dropped", c.in.seenDropped), zap.Int64("turns", c.turns.Load()))
	}
	switch {
	case r.class.Code == protocol.CodeShuttingDown:
		log.Info("call closed: the server is shutting down", fields...)
	case r.class.Code != "":
		log.Warn("call closed: "+r.msg, append(fields, zap.String("code", string(r.class.Code)), zap.Int("status", int(r.class.Status)))...)
	case errors.Is(r.err, errStopped):
		log.Info("call ended: stream stopped", fields...)
	case t.session == nil:
		log.Debug("twilio connection closed before start", append(fields, quietErr(r.err))...)
	default:
		log.Info("call ended: connection closed", append(fields, zap.Int("status", int(websocket.CloseStatus(r.err))), quietErr(r.err))...)
	}
}
