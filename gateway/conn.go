package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// connection is one WebSocket client and, once it sends session.start, its
// session. Its goroutines, all waited for by serve before it returns:
//
//   - the reader: serve's own goroutine (the HTTP handler's), the only one
//     that calls ws.Reader; it parses messages and feeds the session;
//   - the writer (writeLoop): writes data messages queued on two bounded
//     lanes (Send writes itself when nothing is queued), and closes the
//     socket;
//   - the watchdog: session.start timeout and WebSocket pings;
//   - the session's Run, started by the reader on session.start.
//
// Anything that ends the connection calls fail; the first reason wins and
// reaches the client as an error event and a close status.
type connection struct {
	srv     *Server
	id      uint64
	ws      *websocket.Conn
	netConn net.Conn // the hijacked transport; closed by kill
	peer    peer     // who it counts as, for the per-client limits
	opened  time.Time
	log     atomic.Pointer[zap.Logger]
	cred    credential // who the upgrade proved it acts for; set before serve
	adapter adapter    // nil for the native protocol; set before serve

	// sessionID is the ID of the session the connection carries, once
	// started (for a phone call, its stream's), for its traces.
	sessionID atomic.Pointer[string]

	// ctx ends when the connection is killed; every read and write is bound
	// to it.
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	closing   chan struct{} // closed by fail
	reason    closeReason   // written by fail before closing is closed

	// The session. runCtx is cancelled by fail, so a superseded or closing
	// connection's turns stop at once; runDone closes when Run has returned
	// (or at teardown if it never started).
	runCtx     context.Context
	runCancel  context.CancelFunc
	runDone    chan struct{}
	runStarted bool // reader only
	started    atomic.Bool
	state      *sessionState     // reader only, then teardown
	session    *pipeline.Session // reader only, then teardown
	in         audioIn           // reader only

	// Reader buffers, reused for every message.
	frame   []byte // MaxFrameBytes+1
	text    []byte // textFrameLimit+1
	lastErr map[protocol.Code]time.Time

	heardAt atomic.Int64 // unix nanoseconds of the last message or pong

	// Write lanes; see Send. wmu is held for every data write, by the
	// writer or by Send writing itself; queued counts the items pushed
	// onto the lanes and not yet written, so Send writes itself only
	// when nothing is ahead of it.
	control chan outItem
	stream  chan outItem
	wmu     sync.Mutex
	queued  atomic.Int64
	room    sendRoom // under wmu

	wg sync.WaitGroup // writer and watchdog

	// tasks are the requests for a reply after tool results
	// (continueReply), waited for once Run has returned; lastReply is the
	// newest turn that has sent reply events.
	tasks     sync.WaitGroup
	lastReply atomic.Uint64

	// For the close log.
	turns      atomic.Int64
	errorsSent atomic.Int64

	// rt is set on a /v1/realtime connection: it reads the client's
	// events and runs the session itself (realtime.go). nil on /ws.
	rt *rtConn
}

// adapter is a wire protocol other than the native one served over a
// connection (Realtime, Twilio), which lends it its transport: the writer
// and its lanes, the watchdog, drain, the close. Its readLoop reads the
// client's messages in place of the native one (c.nextMessage gives
// them), and its teardown ends the connection in place of the native one,
// once every goroutine has returned. closingEvent is the message that
// tells its client why the server closes (cl, msg), or nil for a protocol
// without one: the connection then closes with the status only, and the
// adapter logs why.
type adapter interface {
	readLoop() error
	teardown()
	closingEvent(cl errorClass, msg string) any
}

// eventEncoder is an adapter that queues events without a message
// (outItem.msg): its eventMessage makes the message as the event reaches
// the writer, or returns nil to write none.
type eventEncoder interface {
	eventMessage(ev pipeline.Event) any
}

// closeReason is why a connection ends.
type closeReason struct {
	class errorClass // Code "" when the client is told nothing
	msg   string
	peer  bool  // the client closed or the transport failed: send nothing
	err   error // for the log
}

func newConnection(s *Server, remote string) *connection {
	c := &connection{
		srv:     s,
		id:      s.connIDs.Add(1),
		opened:  s.opts.Now(),
		closing: make(chan struct{}),
		runDone: make(chan struct{}),
		frame:   make([]byte, 2048), // 20 ms at 48 kHz; grows to MaxFrameBytes
		text:    make([]byte, 1024),
		lastErr: make(map[protocol.Code]time.Time),
		control: make(chan outItem, s.opts.ControlQueue),
		stream:  make(chan outItem, s.opts.StreamQueue),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.runCtx, c.runCancel = context.WithCancel(c.ctx)
	c.log.Store(s.log.With(zap.Uint64("conn", c.id), zap.String("remote", remote)))
	c.heard()
	return c
}

func (c *connection) logger() *zap.Logger { return c.log.Load() }

func (c *connection) heard() { c.heardAt.Store(c.srv.opts.Now().UnixNano()) }

func (c *connection) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// fail starts closing the connection for r, unless it is already closing.
// It never blocks. It reports whether r is the reason that counts.
func (c *connection) fail(r closeReason) bool {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.reason = r
		close(c.closing)
		c.runCancel()
	})
	return first
}

// failCode ends the connection with a gateway-raised error of code.
func (c *connection) failCode(code protocol.Code, format string, args ...any) bool {
	return c.fail(reasonFor(protocol.Errorf(code, format, args...)))
}

// reasonFor turns the error that ended the reader into a closeReason: a
// fatal *protocol.ProtocolError is told to the client; anything else is the
// transport ending (the library has already answered a protocol violation).
func reasonFor(err error) closeReason {
	var pe *protocol.ProtocolError
	if errors.As(err, &pe) {
		cl, _ := classify(err)
		return closeReason{class: cl, msg: pe.Message, err: err}
	}
	return closeReason{peer: true, err: err}
}

// kill closes the transport at once, without a close handshake: the end of
// a drain's grace period, or a close that takes too long.
func (c *connection) kill() {
	c.cancel()
	if c.netConn != nil {
		c.netConn.Close()
	} else {
		c.ws.CloseNow()
	}
}

// serve runs the connection until it ends and everything it started has
// returned. overLimit connections are told session_limit and closed.
func (c *connection) serve(overLimit bool) {
	s := c.srv
	s.register(c)
	defer s.unregister(c)
	defer c.kill() // releases ctx; the socket is closed by now

	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.writeLoop()
	}()
	if overLimit {
		s.metrics.rejected.WithLabelValues(string(protocol.CodeSessionLimit)).Inc()
		c.failCode(protocol.CodeSessionLimit, "the server is at its limit of %d sessions; try again later", s.opts.MaxSessions)
		c.wg.Wait()
		c.logger().Info("connection refused: session limit", zap.Int("max_sessions", s.opts.MaxSessions))
		return
	}

	s.metrics.sessionsActive.Inc()
	defer s.metrics.sessionsActive.Dec()
	c.logger().Debug("connection accepted")
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.watchdog()
	}()

	read, teardown := c.readLoop, c.teardown
	if c.adapter != nil {
		read, teardown = c.adapter.readLoop, c.adapter.teardown
	}
	err := read()
	c.fail(reasonFor(err))
	c.wg.Wait() // the writer has closed the socket
	if c.runStarted {
		<-c.runDone
	} else {
		close(c.runDone)
	}
	c.tasks.Wait() // after Run: no event adds one any more
	teardown()
}

// teardown detaches the session, so it can be resumed, and logs the close.
func (c *connection) teardown() {
	s := c.srv
	r := c.reason
	log := c.logger()
	if c.state != nil {
		s.sessions.detach(c.state, c, s.opts.Now())
		if shared := c.sharedStore(); shared != nil {
			shared.mark(c.state) // detached: its resume window starts now
		}
	}
	if c.session != nil {
		c.in.syncDropped()
	}
	if r.peer {
		if ce := log.Check(zap.DebugLevel, "client closed"); ce != nil {
			ce.Write(zap.Int("status", int(websocket.CloseStatus(r.err))), quietErr(r.err))
		}
	}
	if c.session == nil {
		log.Debug("connection closed before session.start", zap.Duration("duration", s.opts.Now().Sub(c.opened)), zap.String("code", string(r.class.Code)))
		return
	}
	fields := []zap.Field{
		zap.Duration("duration", s.opts.Now().Sub(c.opened)),
		zap.Uint64("frames_in", c.in.frames),
		zap.Uint64("frames_dropped", c.in.seenDropped),
		zap.Int64("turns", c.turns.Load()),
		zap.Int64("errors", c.errorsSent.Load()),
	}
	if r.class.Code != "" {
		fields = append(fields, zap.String("code", string(r.class.Code)), zap.Int("status", int(r.class.Status)))
	} else if st := websocket.CloseStatus(r.err); st != -1 {
		fields = append(fields, zap.Int("client_status", int(st)))
	}
	log.Info("connection closed", fields...)
}

// quietErr logs err unless it is an ordinary end.
func quietErr(err error) zap.Field {
	if isQuiet(err) {
		return zap.Skip()
	}
	return zap.Error(err)
}

// readLoop reads messages until the connection fails or the socket closes.
// It returns the error that ended it: a transport error, or a fatal
// *protocol.ProtocolError to report.
func (c *connection) readLoop() error {
	for {
		typ, r, err := c.nextMessage()
		if err != nil {
			return err
		}
		if typ == websocket.MessageBinary {
			err = c.onBinary(r)
		} else {
			err = c.onText(r)
		}
		if err != nil {
			return err
		}
	}
}

// nextMessage returns the next message to act on. Each counts as hearing
// from the client; once the connection is closing, messages are read only
// to let the close handshake through, and it returns when the socket ends.
func (c *connection) nextMessage() (websocket.MessageType, io.Reader, error) {
	for {
		// A context that is never done: the library would otherwise arm
		// and disarm a timer per message. kill closes the socket instead.
		typ, r, err := c.ws.Reader(context.Background())
		if err != nil {
			return 0, nil, err
		}
		c.heard()
		if !c.isClosing() {
			return typ, r, nil
		}
		if _, err := io.CopyBuffer(io.Discard, r, c.frame); err != nil {
			return 0, nil, err
		}
	}
}

func (c *connection) onBinary(r io.Reader) error {
	n, err := readMessage(r, &c.frame, c.srv.opts.MaxFrameBytes)
	if err != nil {
		return err
	}
	if n > c.srv.opts.MaxFrameBytes {
		return protocol.Errorf(protocol.CodeFrameTooLarge, "binary frame larger than %d bytes", c.srv.opts.MaxFrameBytes)
	}
	switch {
	case c.session == nil:
		c.reportOnce(protocol.Errorf(protocol.CodeNotStarted, "send session.start before audio; frame dropped"))
	case c.state.textOnly:
		c.reportOnce(protocol.Errorf(protocol.CodeAudioInTextOnly, "this session is text-only; audio frame dropped"))
	default:
		if err := c.in.write(c.frame[:n]); err != nil {
			c.reportOnce(err)
		}
	}
	return nil
}

func (c *connection) onText(r io.Reader) error {
	n, err := readMessage(r, &c.text, c.srv.opts.textFrameLimit())
	if err != nil {
		return err
	}
	if n > c.srv.opts.textFrameLimit() {
		return protocol.Errorf(protocol.CodeMessageTooLarge, "text frame larger than %d bytes", c.srv.opts.textFrameLimit())
	}
	msg, err := protocol.Decode(c.text[:n], c.srv.opts.MaxTextBytes)
	if err != nil {
		return c.report(err)
	}
	switch m := msg.(type) {
	case *protocol.Ping:
		c.sendControl(&protocol.Pong{Type: protocol.TypePong, ID: m.ID, ClientTime: m.ClientTime, ServerTimeMS: c.srv.opts.Now().UnixMilli()})
	case *protocol.SessionStart:
		if c.session != nil {
			return c.report(protocol.Errorf(protocol.CodeAlreadyStarted, "session already started"))
		}
		return c.start(m)
	case *protocol.InputText:
		if c.session == nil {
			return c.report(protocol.Errorf(protocol.CodeNotStarted, "send session.start first"))
		}
		if ce := c.logger().Check(zap.DebugLevel, "text input"); ce != nil {
			ce.Write(c.srv.contentField("text", m.Text))
		}
		if err := c.session.SubmitText(m.Text); err != nil {
			return c.report(err)
		}
	case *protocol.Interrupt:
		if c.session == nil {
			return c.report(protocol.Errorf(protocol.CodeNotStarted, "send session.start first"))
		}
		c.session.Interrupt()
	case *protocol.ToolsSet:
		if c.session == nil {
			return c.report(protocol.Errorf(protocol.CodeNotStarted, "send session.start first"))
		}
		return c.report(c.setTools(m.Tools))
	case *protocol.ToolResult:
		if c.session == nil {
			return c.report(protocol.Errorf(protocol.CodeNotStarted, "send session.start first"))
		}
		return c.report(c.onToolResult(m))
	}
	return nil
}

// report tells the client about a non-fatal error and returns nil, or
// returns a fatal one for the reader to end the connection with.
func (c *connection) report(err error) error {
	cl, ok := classify(err)
	if !ok {
		return nil
	}
	if cl.Fatal {
		return err
	}
	c.sendError(cl.event(errMessage(err)))
	return nil
}

// reportOnce reports a per-frame error at most once a second per code, so a
// client streaming bad audio gets told without being flooded.
func (c *connection) reportOnce(err error) {
	code, _ := protocol.CodeOf(err)
	now := c.srv.opts.Now()
	if last, ok := c.lastErr[code]; ok && now.Sub(last) < time.Second {
		return
	}
	c.lastErr[code] = now
	c.report(err)
}

func errMessage(err error) string {
	var pe *protocol.ProtocolError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// start opens the session: a resumed one if the token is good and the
// session is the connection's principal's, else a new one with the
// requested formats. A connection whose only credential was a resume token
// may resume that session and nothing else.
func (c *connection) start(m *protocol.SessionStart) error {
	s := c.srv
	now := s.opts.Now()
	tools, err := c.wireTools(m.Tools)
	if err != nil {
		return c.report(err) // the client may start again with other tools
	}
	lang, err := s.opts.matchLanguage(m.Language)
	if err != nil {
		return c.report(err) // and in a language the server speaks
	}
	if ok, wait := s.admit.allowStart(c.peer.principal(), now); !ok {
		s.metrics.rateLimited.WithLabelValues(limitSessionRate).Inc()
		return protocol.Errorf(protocol.CodeRateLimited, "sessions started too fast (server.session_rate); try again in %s", wait.Round(time.Millisecond))
	}
	var (
		st      *sessionState
		token   string
		resumed bool
	)
	resumeToken := m.ResumeToken
	if only := c.cred.resumeOnly; only != "" {
		if resumeToken == "" {
			resumeToken = only
		} else if subtle.ConstantTimeCompare([]byte(resumeToken), []byte(only)) != 1 {
			return protocol.Errorf(protocol.CodeUnauthorized, "this connection was opened with a resume token: it can resume that session only")
		}
	}
	if resumeToken != "" {
		var err error
		if st, token, err = c.resumeState(resumeToken); err != nil {
			return err
		}
		if resumed = st != nil; resumed {
			c.state = st
		} else {
			c.sendError(classOf(protocol.CodeResumeFailed).event("unknown or expired resume token; starting a new session"))
		}
	}
	if st == nil {
		if st, err = c.newState(m, lang); err != nil {
			return err
		}
	}
	if !resumed || m.Tools != nil {
		st.tools.set(tools)
	}
	if resumed {
		st.tools.abandonUnfinished()
	}

	sess, err := c.newSession(st.language, st.conv, st.input, st.output, st.textOnly, true) // the native client holds playback on response.paused
	if err != nil {
		return err
	}
	if !resumed {
		token = s.sessions.create(st, c, now)
		c.state = st
		if shared := c.sharedStore(); shared != nil {
			shared.mark(st)
		}
	}
	c.session = sess
	c.in = audioIn{sink: sess, samples: make([]int16, 0, 2048), framesIn: s.metrics.framesIn, dropped: s.metrics.framesDropped}
	log := c.logger().With(zap.String("session", st.id))
	c.log.Store(log)
	c.sessionID.Store(&st.id)
	c.started.Store(true)

	// The language the session runs in: a resumed one's, unless that is
	// no longer configured, then the default.
	runsIn, _ := s.opts.language(st.language)
	started := &protocol.SessionStarted{
		Type:           protocol.TypeSessionStarted,
		Version:        protocol.Version,
		SessionID:      st.id,
		ResumeToken:    token,
		Resumed:        resumed,
		InputAudio:     protocol.AudioFormat{SampleRate: st.input.SampleRate},
		OutputAudio:    protocol.AudioFormat{SampleRate: st.output.SampleRate},
		TextOnly:       st.textOnly,
		Language:       runsIn,
		Providers:      s.providers(c.stages(runsIn)),
		Limits:         protocol.Limits{MaxFrameBytes: s.opts.MaxFrameBytes, MaxTextBytes: s.opts.MaxTextBytes, MaxTools: protocol.MaxTools},
		HeartbeatMS:    s.opts.HeartbeatInterval.Milliseconds(),
		ResumeWindowMS: s.opts.ResumeWindow.Milliseconds(),
	}
	if resumed {
		started.History = historyEntries(st.conv.History())
	}
	c.sendControl(started)
	s.metrics.sessionsTotal.WithLabelValues(fmt.Sprint(resumed)).Inc()
	log.Info("connection opened", zap.Bool("resumed", resumed), zap.String("principal", st.owner.short()), zap.Int("input_rate", st.input.SampleRate),
		zap.Int("output_rate", st.output.SampleRate), zap.Bool("text_only", st.textOnly), zap.String("language", st.language))

	c.runStarted = true
	go func() {
		defer close(c.runDone)
		sess.Run(c.runCtx, c)
	}()
	if t := st.tools.list(); len(t) > 0 {
		if err := sess.SetTools(t); err != nil && !errors.Is(err, pipeline.ErrSessionClosed) {
			log.Error("cannot set the session's tools", zap.Error(err))
			return c.report(protocol.Errorf(protocol.CodeInvalidMessage, "tools: %v", err))
		}
	}
	return nil
}

// resumeState attaches the session holding token to c, closing the
// connection that held it as superseded, and returns it with its new
// token. It returns no session and no error when the token is unknown or
// expired and c may start a new session instead.
func (c *connection) resumeState(token string) (*sessionState, string, error) {
	s, now := c.srv, c.srv.opts.Now()
	shared := c.sharedStore()
	fresh := randomToken(resumeTokenBytes)
	var claimed *SessionRecord
	storeFailed := false
	if shared != nil && couldBeResumeToken(token) {
		rec, err := shared.claim(token, fresh, c.cred.who)
		switch {
		case err == nil:
			claimed = rec
		case errors.Is(err, ErrSessionMoved):
			// Resumed on some node since: whatever this node holds
			// under the token is stale.
			s.sessions.dropToken(token)
			return c.noResume()
		case errors.Is(err, ErrNoSession):
			// Not in the store (expired there, another principal's, or
			// lost with a store restart): this node's memory decides.
		default:
			c.logger().Warn("session store failing: the resume is decided by this node's memory", zap.Error(err))
			storeFailed = true
		}
	}
	st, _, prev, ok := s.sessions.resumeTo(token, fresh, c.cred.who, c, now)
	if !ok && claimed != nil {
		next := sha256.Sum256([]byte(fresh))
		claimed.Key = next[:]
		if st, ok = restore(*claimed, now, s.opts.ResumeWindow, s.conversationIn); ok {
			s.sessions.adopt(st, fresh, c, now)
		} else {
			c.logger().Warn("session in the store refused: not a session this gateway makes")
		}
	}
	if !ok {
		return c.noResume()
	}
	if prev != nil {
		prev.failCode(protocol.CodeSuperseded, "the session was resumed on another connection")
		c.waitRun(prev)
	}
	if shared != nil {
		if storeFailed {
			shared.rotate(st, sha256.Sum256([]byte(token)))
		}
		shared.mark(st) // under its new token, and as this node has it
	}
	return st, fresh, nil
}

// noResume is resumeState's answer for a token that resumes nothing.
func (c *connection) noResume() (*sessionState, string, error) {
	if c.cred.resumeOnly != "" {
		// Resumed or expired since the upgrade: no credential is left
		// to start a new session with.
		return nil, "", protocol.Errorf(protocol.CodeUnauthorized, "the session can no longer be resumed; connect with an API key or a new ticket")
	}
	return nil, "", nil
}

// sharedStore is where c's session is kept beside this node's memory: the
// Server's shared store for a /ws session, nil for a Realtime one (kept in
// the node's memory only, as its state is the node's own) or without a
// store.
func (c *connection) sharedStore() *storeSync {
	if c.rt != nil || c.adapter != nil {
		return nil
	}
	return c.srv.sync
}

// stages are the providers of a session in language lang (a key of
// Options.langs).
func (c *connection) stages(lang string) pipeline.Stages {
	_, l := c.srv.opts.language(lang)
	return l.Stages
}

// newSession returns a session of conv in language lang (a key of
// Options.langs) with the gateway's settings and the client's formats;
// playbackPauses says the client holds its playback on response.paused
// (pipeline.Config.PlaybackPauses), as the native one does. A failure is
// logged, and returned as the internal_error to end the
// connection with.
func (c *connection) newSession(lang string, conv *pipeline.Conversation, in, out audio.Format, textOnly, playbackPauses bool) (*pipeline.Session, error) {
	s := c.srv
	lang, l := s.opts.language(lang)
	sess, err := pipeline.NewSession(pipeline.Config{
		Stages:         l.Stages,
		Language:       lang,
		Conversation:   conv,
		Input:          in,
		Output:         out,
		TextOnly:       textOnly,
		Tools:          s.opts.Tools,
		VAD:            s.opts.VAD,
		Turn:           s.opts.Turn,
		MaxTextBytes:   s.opts.MaxTextBytes,
		PlayoutLead:    s.opts.PlayoutLead,
		PlaybackPauses: playbackPauses,
		Now:            s.opts.Now,
	})
	if err != nil {
		c.logger().Error("cannot start session", zap.Error(err))
		return nil, protocol.Errorf(protocol.CodeInternal, "the session could not be started")
	}
	return sess, nil
}

// historyEntries is the conversation as a resumed client redraws it: what
// the user and the assistant said. Tool calls and results are left out.
func historyEntries(msgs []pipeline.Message) []protocol.HistoryEntry {
	var out []protocol.HistoryEntry
	for _, m := range msgs {
		if (m.Role == pipeline.RoleUser || m.Role == pipeline.RoleAssistant) && m.Content != "" {
			out = append(out, protocol.HistoryEntry{Role: string(m.Role), Text: m.Content})
		}
	}
	return out
}

// newState checks the requested formats and makes a new session's state,
// in language lang (a key of Options.langs).
func (c *connection) newState(m *protocol.SessionStart, lang string) (*sessionState, error) {
	o := &c.srv.opts
	in, out := audio.Mono16k, audio.Format{SampleRate: o.OutputRate, Channels: 1}
	if m.InputAudio != nil {
		in.SampleRate = m.InputAudio.SampleRate
	}
	if m.OutputAudio != nil {
		out.SampleRate = m.OutputAudio.SampleRate
	}
	for _, f := range []struct {
		dir  string
		rate int
	}{{"input", in.SampleRate}, {"output", out.SampleRate}} {
		if !audio.IsSupportedRate(f.rate) {
			return nil, protocol.Errorf(protocol.CodeUnsupportedRate, "%s sample rate %d Hz is not supported (supported: %v)", f.dir, f.rate, audio.SupportedRates)
		}
	}
	conv, lang := c.srv.conversationIn(lang)
	return &sessionState{
		id:       randomToken(12),
		owner:    c.cred.who,
		conv:     conv,
		input:    in,
		output:   out,
		textOnly: m.TextOnly || c.stages(lang).TTS == nil,
		language: lang,
	}, nil
}

// supersededWait bounds how long a resuming connection waits for the old
// connection's turn to stop, so the conversation is not written by both.
const supersededWait = 5 * time.Second

func (c *connection) waitRun(prev *connection) {
	t := time.NewTimer(supersededWait)
	defer t.Stop()
	select {
	case <-prev.runDone:
	case <-t.C:
		c.logger().Warn("superseded connection's session did not stop in time")
	case <-c.ctx.Done():
	}
}

// watchdog closes a connection that does not start a session in time, and
// pings the client every HeartbeatInterval, closing it when nothing has been
// heard for HeartbeatTimeout.
func (c *connection) watchdog() {
	o := &c.srv.opts
	start := time.NewTimer(o.StartTimeout)
	defer start.Stop()
	tick := time.NewTicker(o.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.closing:
			return
		case <-start.C:
			if !c.started.Load() {
				c.failCode(protocol.CodeStartTimeout, "no session.start within %s", o.StartTimeout)
				return
			}
		case <-tick.C:
			silent := o.Now().Sub(time.Unix(0, c.heardAt.Load()))
			if silent >= o.HeartbeatTimeout {
				c.failCode(protocol.CodeHeartbeatTimeout, "nothing heard from the client for %s", silent.Round(time.Millisecond))
				return
			}
			// Ping blocks until the pong (read by the reader) or the timeout.
			ctx, cancel := context.WithTimeout(c.ctx, o.HeartbeatInterval)
			if err := c.ws.Ping(ctx); err == nil {
				c.heard()
			}
			cancel()
		}
	}
}
