package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/gateway/realtime"
	"github.com/voicegate/voicegate/pipeline"
)

// The Realtime endpoint, /v1/realtime: OpenAI's Realtime protocol over
// voicegate's own pipeline (docs/realtime.md). A connection is the
// gateway's connection (its writer, lanes, heartbeat, drain and caps) with
// an rtConn in place of the native protocol's reader: the handshake here,
// the client's events in realtime_events.go, the pipeline's events in
// realtime_output.go, what a session keeps across connections in
// realtime_state.go, browser keys in realtime_secrets.go.

// Realtime handshake parameters.
const (
	// ResumeQuery and ResumeHeader carry a resume token, voicegate's
	// extension to the Realtime protocol: a client reconnecting with the
	// token of the voicegate.session.resumable event gets its session
	// back (its settings and its conversation). Without API keys, or with
	// the session's own key, it is the only extra a reconnect needs; it
	// also stands in for the key, to resume that session only.
	ResumeQuery  = "voicegate_resume"
	ResumeHeader = "Voicegate-Resume"

	subprotocolRealtime = "realtime"
	subprotocolKey      = "openai-insecure-api-key."
	subprotocolBeta     = "openai-beta.realtime-v1"
	clientSecretPrefix  = "ek_"
)

// Big messages: a connection reading a message longer than bigMessage
// holds one of maxBigReads places while it does, so that the memory that
// large appends take is bounded server-wide, not per connection. A
// message that finds no place is discarded with a server_error.
const (
	bigMessage  = 1 << 20
	maxBigReads = 8
)

// realtimeServer is the Server's share for /v1/realtime.
type realtimeServer struct {
	secrets *ticketStore  // ek_ keys
	bigRead chan struct{} // places for reading big messages
}

func newRealtimeServer(c RealtimeConfig) *realtimeServer {
	secrets := newTicketStore(c.MaxClientSecrets)
	secrets.ttl, secrets.prefix = c.ClientSecretTTL, clientSecretPrefix
	return &realtimeServer{secrets: secrets, bigRead: make(chan struct{}, maxBigReads)}
}

// rtConn is a /v1/realtime connection's Realtime side. Its reader is the
// connection's reader (readLoop); Send, its pipeline.Output, is called by
// the session's goroutines.
type rtConn struct {
	srv     *Server
	c       *connection
	ev      *realtime.Events
	dialect realtime.Dialect
	model   string         // asked for with ?model=, "" for none
	resume  string         // the resume token the client came back with
	secret  *clientSecret  // the settings of the ek_ key it connected with
	profile *RealtimeModel // the model's profile

	// Reader only.
	dec     realtime.Decoder
	buf     []byte
	in      rtInput
	st      *sessionState
	sess    *pipeline.Session
	applied pipeline.TurnTaking // the session's turn taking, as last set
	voice   string              // the synthesizer voice last set
	// heard is the audio appended since the user's last turn ended
	// (nanoseconds), for a response's usage; the reader adds, Send takes.
	heard   atomic.Int64
	appends uint64 // appends read
	dropped uint64 // the pipeline's drop count, as last read

	// mu guards the output side, written by Send and the reader (lock it
	// before st.rt.mu when both are held).
	mu   sync.Mutex
	out  rtOutput
	resp *rtResponse // the response in progress
	// next is what the response.create being started asked for, until
	// its response exists.
	next     *realtime.ResponseParams
	doneTurn uint64 // the newest turn whose response.done was sent
}

var _ pipeline.Output = (*rtConn)(nil)

// serveRealtime serves GET /v1/realtime.
func (s *Server) serveRealtime(w http.ResponseWriter, r *http.Request) {
	rt := &rtConn{srv: s, dialect: dialectOf(r), model: r.URL.Query().Get("model"), resume: resumeTokenOf(r)}
	o := &s.opts.Realtime
	// The frames the reader takes: an append at its limit with room for
	// its envelope. Up to twice that is read and discarded with an error,
	// so that a client over the limit is told and goes on; beyond, the
	// library closes the connection (1009).
	frame := realtime.Base64Len(o.MaxAppendBytes) + o.MaxEventBytes
	rt.dec = realtime.Decoder{Dialect: rt.dialect, TurnDefaults: s.turnDefaults(), Limits: realtime.Limits{
		MaxAudioBytes: o.MaxAppendBytes, MaxEventBytes: o.MaxEventBytes, MaxTextBytes: s.opts.MaxTextBytes,
	}}
	s.serveUpgrade(w, r, upgrade{
		keyed:        s.keys.enabled(),
		authenticate: rt.authenticate,
		subprotocols: []string{subprotocolRealtime},
		readLimit:    int64(2 * frame),
		prepare: func(c *connection) {
			rt.c, c.rt, c.adapter = c, rt, rt
			rt.ev = realtime.NewEvents(rt.dialect, fmt.Sprintf("%x_", c.id))
			c.started.Store(true) // a Realtime session starts with its connection
		},
	})
}

// turnDefaults are the server's voice activity settings, as Realtime turn
// detection reports them.
func (s *Server) turnDefaults() realtime.TurnDefaults {
	return realtime.TurnDefaults{PrefixPaddingMS: int(s.opts.VAD.PrefixPadding.Milliseconds()), SilenceDurationMS: int(s.opts.VAD.Silence.Milliseconds())}
}

// dialectOf returns the dialect a handshake asks for.
func dialectOf(r *http.Request) realtime.Dialect {
	for _, v := range r.Header.Values("OpenAI-Beta") {
		for _, f := range strings.Split(v, ",") {
			if strings.TrimSpace(f) == "realtime=v1" {
				return realtime.Beta
			}
		}
	}
	for _, p := range subprotocols(r) {
		if p == subprotocolBeta {
			return realtime.Beta
		}
	}
	return realtime.GA
}

func subprotocols(r *http.Request) []string {
	var out []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func resumeTokenOf(r *http.Request) string {
	if t := r.URL.Query().Get(ResumeQuery); t != "" {
		return t
	}
	return r.Header.Get(ResumeHeader)
}

// presentedKeys returns the credentials a Realtime handshake carries: the
// headers /ws reads, and the key browsers put in a subprotocol.
func presentedKeys(r *http.Request) []string {
	keys := headerKeys(r)
	for _, p := range subprotocols(r) {
		if k, ok := strings.CutPrefix(p, subprotocolKey); ok && k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// authenticate finds the principal of a Realtime handshake. Without keys
// everyone is anonymous (an ek_ key is still spent, for its settings).
// With keys, the first credential present is the one checked: an ek_ key
// from POST /v1/realtime/client_secrets (spent here), an API key, else a
// resume token of a session whose principal is still valid, which may
// then resume that session only.
func (rt *rtConn) authenticate(r *http.Request) (credential, bool) {
	s := rt.srv
	now := s.opts.Now()
	presented := presentedKeys(r)
	for _, k := range presented {
		if strings.HasPrefix(k, clientSecretPrefix) {
			tk, ok := s.rt.secrets.redeemTicket(k, now)
			if ok && s.keys.valid(tk.who) {
				rt.secret, _ = tk.data.(*clientSecret)
				return credential{who: tk.who}, true
			}
			if s.keys.enabled() {
				return credential{}, false
			}
		}
	}
	if !s.keys.enabled() {
		return credential{who: anonymous}, true
	}
	switch {
	case len(presented) > 0:
		who, ok := s.keys.match(presented)
		return credential{who: who}, ok
	case rt.resume != "":
		who, ok := s.sessions.ownerOf(rt.resume, now)
		return credential{who: who, resumeOnly: rt.resume}, ok && s.keys.valid(who)
	}
	return credential{}, false
}

// findModel returns the profile of model name: the first whose name
// matches it, or the first of all for "".
func (c *RealtimeConfig) findModel(name string) *RealtimeModel {
	for i := range c.Models {
		if ok, _ := path.Match(c.Models[i].Name, name); ok || name == "" {
			return &c.Models[i]
		}
	}
	return nil
}

// fatal ends the connection with a Realtime error of code and a close
// status, as the error that ends its reader.
type rtFatal struct {
	err    *realtime.Error
	status websocket.StatusCode
}

func (f *rtFatal) Error() string { return f.err.Error() }

// readLoop is the reader of a Realtime connection: it opens the session,
// then reads the client's events until the connection ends.
func (rt *rtConn) readLoop() error {
	if err := rt.open(); err != nil {
		var f *rtFatal
		if errors.As(err, &f) {
			rt.c.fail(closeReason{class: errorClass{Code: protocol.Code(f.err.Code), Fatal: true, Status: f.status}, msg: f.err.Message, err: err})
		}
		return err
	}
	for {
		typ, r, err := rt.c.nextMessage()
		if err != nil {
			return err
		}
		if typ == websocket.MessageBinary {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return err
			}
			rt.reply("", realtime.Invalid(realtime.CodeInvalidJSON, "", "Binary messages are not part of the Realtime protocol: send JSON events, with audio in base64."))
			continue
		}
		data, rerr := rt.read(r)
		if err := rerr; err != nil {
			var re *realtime.Error
			if !errors.As(err, &re) {
				return err
			}
			rt.reply("", re)
			continue
		}
		herr := rt.handle(data)
		if cap(rt.buf) > bigMessage {
			rt.buf = nil // do not keep a big message's buffer while idle
			rt.dec.Release()
		}
		if herr != nil {
			return herr
		}
	}
}

// read reads one text message, within the frame limit and, past
// bigMessage, only with a place among maxBigReads. A message that does not
// fit is read to its end and discarded: the *realtime.Error says why.
func (rt *rtConn) read(r io.Reader) ([]byte, error) {
	o := &rt.srv.opts.Realtime
	limit := realtime.Base64Len(o.MaxAppendBytes) + o.MaxEventBytes
	if cap(rt.buf) > bigMessage {
		rt.buf = nil // the last message was big: give its buffer back
	}
	if rt.buf == nil {
		rt.buf = make([]byte, 0, 4096)
	}
	buf, big := rt.buf[:0], false
	defer func() {
		if big {
			<-rt.srv.rt.bigRead
		}
	}()
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= limit {
				return nil, rt.discard(r, buf, realtime.Invalid(realtime.CodeEventTooLarge, "", "The event is larger than %d bytes, the limit (an append may carry %d bytes of audio).", limit, o.MaxAppendBytes))
			}
			if next := min(2*cap(buf), limit); next > bigMessage && !big {
				select {
				case rt.srv.rt.bigRead <- struct{}{}:
					big = true
				default:
					return nil, rt.discard(r, buf, realtime.ServerError(realtime.CodeServerError, "The server is reading other large events; send the audio in smaller appends, or try again."))
				}
			}
			grown := make([]byte, len(buf), min(2*cap(buf), limit))
			copy(grown, buf)
			buf = grown
			rt.buf = buf
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// discard reads the rest of a message that will not be decoded, head
// being what was read of it, and returns why, answering the event_id the
// message names at its start or end, if it can be found there.
func (rt *rtConn) discard(r io.Reader, head []byte, why *realtime.Error) error {
	buf := make([]byte, 32<<10)
	var tail []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			tail = append(tail[:0], buf[max(0, n-tailBytes):n]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if id := eventIDIn(head[:min(len(head), tailBytes)]); id != "" {
		return why.For(id)
	}
	if len(tail) == 0 {
		tail = head[max(0, len(head)-tailBytes):]
	}
	if id := eventIDIn(tail); id != "" {
		return why.For(id)
	}
	return why
}

// tailBytes is how much of either end of a discarded message is searched
// for its event_id.
const tailBytes = 512

var eventIDField = regexp.MustCompile(`"event_id"\s*:\s*"([!#-\[\]-~]{1,128})"`)

// eventIDIn finds an event_id field in part of a message.
func eventIDIn(b []byte) string {
	if m := eventIDField.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// reply tells the client about err, about its event eventID.
func (rt *rtConn) reply(eventID string, err *realtime.Error) {
	if eventID != "" && err.EventID == "" {
		err = err.For(eventID)
	}
	c := rt.c
	c.srv.metrics.errors.WithLabelValues(err.Code).Inc()
	c.errorsSent.Add(1)
	if ce := c.logger().Check(zap.DebugLevel, "realtime error event"); ce != nil {
		ce.Write(zap.String("code", err.Code), zap.String("message", err.Message))
	}
	c.sendControl(rt.ev.Error(err))
}

// closingEvent is the error event a Realtime connection is closed with:
// its code is the gateway's (docs/protocol.md) or, for a model not served,
// model_not_found; its type says whose the fault is.
func (rt *rtConn) closingEvent(cl errorClass, msg string) any {
	typ := realtime.TypeInvalidRequest
	if cl.Retryable || cl.Code == protocol.CodeSuperseded || cl.Code == protocol.CodeInternal {
		typ = realtime.TypeServer
	}
	return rt.ev.Error(&realtime.Error{Type: typ, Code: string(cl.Code), Message: msg})
}

// open starts the session: a resumed one if the client came back with a
// good token, else a new one for its model, and tells the client.
func (rt *rtConn) open() error {
	s, c := rt.srv, rt.c
	now := s.opts.Now()
	if rt.model == "" && rt.secret != nil {
		rt.model = rt.secret.model
	}
	if rt.profile = s.opts.Realtime.findModel(rt.model); rt.profile == nil {
		return rt.fatalf(realtime.CodeUnknownModel, websocket.StatusPolicyViolation,
			"The model '%s' is not served here; this server answers to: %s.", clipText(rt.model), s.opts.Realtime.modelNames())
	}
	if ok, wait := s.admit.allowStart(c.peer.principal(), now); !ok {
		s.metrics.rateLimited.WithLabelValues(limitSessionRate).Inc()
		return protocol.Errorf(protocol.CodeRateLimited, "sessions started too fast (server.session_rate); try again in %s", wait.Round(time.Millisecond))
	}
	var (
		token   string
		resumed bool
	)
	if rt.resume != "" {
		var err error
		if rt.st, token, err = c.resumeState(rt.resume); err != nil {
			return err
		}
		if resumed = rt.st != nil; !resumed {
			defer rt.reply("", realtime.Invalid(realtime.CodeResumeFailed, ResumeQuery, "Unknown or expired resume token: a new session has started."))
		}
	}
	if rt.st == nil {
		rt.st = rt.newState()
		token = s.sessions.create(rt.st, c, now)
	}
	if err := rt.startPipeline(); err != nil {
		return err
	}
	log := c.logger().With(zap.String("session", rt.st.id))
	c.log.Store(log)
	c.sessionID.Store(&rt.st.id)
	rt.announce(token, resumed)
	s.metrics.sessionsTotal.WithLabelValues(fmt.Sprint(resumed)).Inc()
	log.Info("realtime connection opened", zap.Bool("resumed", resumed), zap.String("principal", rt.st.owner.short()),
		zap.String("dialect", rt.dialect.String()), zap.String("model", clipText(rt.model)))
	return nil
}

func (rt *rtConn) fatalf(code string, status websocket.StatusCode, format string, args ...any) error {
	return &rtFatal{err: realtime.Invalid(code, "", format, args...), status: status}
}

// modelNames lists the configured model names for an error message.
func (c *RealtimeConfig) modelNames() string {
	names := make([]string, 0, len(c.Models))
	for _, m := range c.Models {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}

// clipText shortens what a client sent for a log line or a message.
func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// startPipeline makes the session's pipeline and starts it.
func (rt *rtConn) startPipeline() error {
	s, c, st := rt.srv, rt.c, rt.st
	st.rt.mu.Lock()
	cfg := st.rt.cfg
	st.rt.mu.Unlock()
	rt.applied = turnTaking(cfg.TurnDetection, s.opts.VAD)
	rt.in.setFormat(cfg.InputFormat)
	rt.out.setFormat(cfg.OutputFormat)
	stages := c.stages(st.language)
	tts := stages.TTS
	if tts != nil {
		tts = &rtVoices{Synthesizer: tts}
	}
	sess, err := pipeline.NewSession(pipeline.Config{
		Stages:       pipeline.Stages{ASR: stages.ASR, LLM: stages.LLM, TTS: tts, VAD: stages.VAD},
		Language:     st.language,
		Conversation: st.conv,
		Turns:        rt.applied,
		Tools:        s.opts.Tools,
		TextOnly:     tts == nil,
		VAD:          s.opts.VAD,
		Turn:         s.opts.Turn,
		MaxTextBytes: s.opts.MaxTextBytes,
		InboxFrames:  rtInboxFrames,
		PlayoutLead:  s.opts.PlayoutLead,
		Now:          s.opts.Now,
	})
	if err != nil {
		c.logger().Error("cannot start realtime session", zap.Error(err))
		return protocol.Errorf(protocol.CodeInternal, "the session could not be started")
	}
	rt.sess = sess
	c.session = sess
	if rt.out.from = sess.Config().Output.SampleRate; tts == nil {
		rt.out.from = 0
	}
	c.runStarted = true
	go func() {
		defer close(c.runDone)
		sess.Run(c.runCtx, rt)
	}()
	// The settings the pipeline takes as calls, now that it runs.
	if err := rt.applyTools(cfg); err != nil {
		return err
	}
	return rt.applyVoice(cfg)
}

// teardown detaches the session, so it can be resumed, and logs the close.
func (rt *rtConn) teardown() {
	s, c := rt.srv, rt.c
	if rt.st != nil {
		s.sessions.detach(rt.st, c, s.opts.Now())
	}
	if rt.sess != nil {
		if d := rt.sess.DroppedFrames(); d > rt.dropped {
			s.metrics.framesDropped.Add(float64(d - rt.dropped))
		}
	}
	r := c.reason
	fields := []zap.Field{zap.Duration("duration", s.opts.Now().Sub(c.opened)), zap.Int64("responses", c.turns.Load()), zap.Int64("errors", c.errorsSent.Load())}
	if r.class.Code != "" {
		fields = append(fields, zap.String("code", string(r.class.Code)), zap.Int("status", int(r.class.Status)))
	} else if st := websocket.CloseStatus(r.err); st != -1 {
		fields = append(fields, zap.Int("client_status", int(st)))
	}
	if r.peer && !isQuiet(r.err) {
		fields = append(fields, zap.Error(r.err))
	}
	c.logger().Info("realtime connection closed", fields...)
}
