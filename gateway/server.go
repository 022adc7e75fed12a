package gateway

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// Paths the Handler serves. The web page is not among them: package app mounts it
// at "/" beside these.
const (
	PathWS      = "/ws"
	PathTickets = "/v1/tickets"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	// PathRealtime is the OpenAI Realtime-compatible WebSocket
	// (docs/realtime.md), and PathClientSecrets where browsers' keys for
	// it are minted.
	PathRealtime      = "/v1/realtime"
	PathClientSecrets = "/v1/realtime/client_secrets"
)

// PathMetrics is where MetricsHandler belongs. Handler does not serve it:
// metrics tell anyone who reads them about the traffic and the providers,
// so package app mounts them on its admin listener, apart from the public
// one.
const PathMetrics = "/metrics"

// Server is the WebSocket gateway. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	log      *zap.Logger
	metrics  *metrics
	gatherer prometheus.Gatherer
	keys     *keyring
	sessions *sessionStore
	persist  *persister   // nil without a SessionFile
	sync     *storeSync   // nil without a Store
	cluster  *clusterSync // nil without a Cluster
	admit    *admission
	trusted  []netip.Prefix // Config.TrustedProxies
	tickets  *ticketStore
	rt       *realtimeServer
	twilio   twilioAuth
	// fileFailing is whether the last write of the SessionFile failed;
	// written by the persister's one write at a time.
	fileFailing bool
	handler     http.Handler
	metricsH    http.Handler
	bufs        sync.Pool // *[]byte for outgoing audio frames

	active  atomic.Int64 // open WebSocket connections, the over-limit ones too
	connIDs atomic.Uint64

	mu       sync.Mutex
	draining bool
	conns    map[*connection]struct{}
	wg       sync.WaitGroup // one per /ws request past the drain check, until its handler returns
}

// New returns a Server for opts (see Options for the defaults). It
// registers the gateway's metrics; registering twice on one Registry fails.
func New(opts Options) (*Server, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		keys:     newKeyring(opts.APIKeys),
		sessions: newSessionStore(opts.ResumeWindow),
		admit:    newAdmission(opts.Config),
		tickets:  newTicketStore(opts.MaxTickets),
		rt:       newRealtimeServer(opts.Realtime),
		twilio:   newTwilioAuth(opts.TwilioAuthToken),
		conns:    make(map[*connection]struct{}),
	}
	s.trusted, _ = parsePrefixes(opts.TrustedProxies) // checked by Validate
	reg, gatherer := opts.Registry, opts.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg = r
		if gatherer == nil {
			gatherer = r
		}
	}
	if gatherer == nil {
		gatherer, _ = reg.(prometheus.Gatherer)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.metrics, s.gatherer = m, gatherer
	s.sessions.maxDetached, s.sessions.clock = opts.MaxDetachedSessions, opts.Now
	s.sessions.hooks = storeHooks{
		evicted:  func(n int) { m.evicted.Add(float64(n)) },
		detached: func(n int) { m.detached.Set(float64(n)) },
	}
	if opts.SessionFile != "" {
		if err := s.openSessionFile(); err != nil {
			return nil, err
		}
	}
	if opts.Store != nil {
		s.sync = newStoreSync(s, opts.Store)
	}
	if opts.Cluster != nil {
		s.cluster = newClusterSync(s, opts.Cluster)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathWS, s.serveWS)
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+PathReadyz, s.serveReadyz)
	mux.HandleFunc("POST "+PathTickets, s.serveTickets)
	mux.HandleFunc("GET "+PathRealtime, s.serveRealtime)
	mux.HandleFunc("POST "+PathClientSecrets, s.serveClientSecrets)
	mux.HandleFunc("GET "+PathTwilio, s.serveTwilio)
	mux.HandleFunc("POST "+PathTwilioVoice, s.serveTwilioVoice)
	s.handler = mux
	s.metricsH = http.NotFoundHandler()
	if gatherer != nil {
		s.metricsH = promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
	}
	return s, nil
}

// newConversation returns an empty conversation of the default language
// with the configured caps.
func (s *Server) newConversation() *pipeline.Conversation {
	c, _ := s.conversationIn(s.opts.Language)
	return c
}

// conversationIn returns an empty conversation of the session language
// lang, with its system prompt, and the configured language it is (the
// default for one no longer configured). It is restore's
// conversationMaker.
func (s *Server) conversationIn(lang string) (*pipeline.Conversation, string) {
	key, l := s.opts.language(lang)
	return pipeline.NewConversation(l.SystemPrompt, s.opts.MaxHistory).SetMaxBytes(s.opts.MaxHistoryBytes), key
}

// Handler serves /ws (the WebSocket), POST /v1/tickets (a ticket for one
// upgrade), /v1/realtime (the OpenAI Realtime-compatible WebSocket) and
// POST /v1/realtime/client_secrets (a browser's key for it), /v1/twilio
// (Twilio Media Streams) and POST /v1/twilio/voice (the TwiML that connects
// a call to it), /healthz (200 while the process lives) and /readyz (200
// until Shutdown begins, then 503). Any other path is 404; /metrics is
// MetricsHandler's. It bounds no request's time: serve it from an
// http.Server with ReadHeaderTimeout, ReadTimeout and IdleTimeout set, as
// package app does (a WebSocket is hijacked by its upgrade and keeps none
// of those deadlines).
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the Prometheus metrics of Options.Gatherer (404
// without one). Mount it where only operators reach it: it does no
// authentication.
func (s *Server) MetricsHandler() http.Handler { return s.metricsH }

func (s *Server) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	// The shared store's state is a detail: a node whose store fails
	// still serves its live sessions and new ones, so it stays ready.
	store := ""
	if s.sync != nil {
		store = s.sync.status() + "\n"
	}
	if draining {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("draining\n" + store))
		return
	}
	w.Write([]byte("ready\n" + store))
}

// Shutdown drains the gateway: /readyz turns 503, new upgrades get 503, and
// every connected client is told shutting_down and closed with 1012
// (service restart). It waits for the connections to end until ctx is
// done, then cuts off those left, and returns once every goroutine the
// gateway started has exited: ctx.Err() if it had to cut, else nil.
//
// http.Server.Shutdown does not close hijacked connections: call this
// first (or alongside it), for the WebSockets.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	conns := s.snapshotLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.failCode(protocol.CodeShuttingDown, "the server is shutting down; reconnect and resume shortly")
	}

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.saveSessions()
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	conns = s.snapshotLocked()
	s.mu.Unlock()
	s.log.Warn("drain timed out; closing connections", zap.Int("connections", len(conns)))
	for _, c := range conns {
		c.kill()
	}
	<-done
	s.saveSessions()
	return ctx.Err()
}

// saveSessions stops the store's timers and writes the resumable sessions
// to Options.SessionFile and Options.Store a last time, so clients can
// resume them on the next start or another node.
func (s *Server) saveSessions() {
	s.sessions.stop()
	if s.cluster != nil {
		s.cluster.close()
	}
	if s.sync != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*s.opts.StoreTimeout)
		s.sync.close(ctx)
		cancel()
	}
	if s.persist == nil {
		return
	}
	s.persist.close()
	n, err := s.sessions.save(s.opts.SessionFile, s.opts.Now())
	s.countWrite(err)
	if err != nil {
		s.log.Error("sessions not saved; clients will start new ones after the restart", zap.Error(err))
		return
	}
	s.log.Info("sessions saved for resume after restart", zap.Int("sessions", n), zap.String("file", s.opts.SessionFile))
}

func (s *Server) snapshotLocked() []*connection {
	out := make([]*connection, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

func (s *Server) register(c *connection) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	draining := s.draining
	s.mu.Unlock()
	if draining {
		c.failCode(protocol.CodeShuttingDown, "the server is shutting down")
	}
}

func (s *Server) unregister(c *connection) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// serveWS checks the request (host, origin, drain, credentials), upgrades
// it and serves the connection until it ends.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.serveUpgrade(w, r, upgrade{
		keyed:        s.keys.enabled(),
		authenticate: s.authenticate,
		// The library's limit sits above the gateway's own, so an oversized
		// message gets the typed error, not the library's close.
		readLimit: int64(max(s.opts.MaxFrameBytes, s.opts.textFrameLimit()) + 1),
	})
}

// upgrade is what a WebSocket endpoint (/ws, /v1/realtime, /v1/twilio)
// adds to the checks and limits every upgrade gets from serveUpgrade.
type upgrade struct {
	keyed bool // whether the Host check holds the endpoint keyed (hostAllowed)
	// authenticate finds the request's principal (called once keys are
	// known to be needed or not, after the Host, Origin and drain checks).
	authenticate func(*http.Request) (credential, bool)
	// refuse answers a request authenticate refused; nil: 401 with a
	// Bearer challenge.
	refuse       func(http.ResponseWriter, *http.Request)
	subprotocols []string // offered to the client, the first it lists is chosen
	readLimit    int64    // the library's limit on one message
	// prepare, if set, readies the connection before it is served (an
	// endpoint of another protocol attaches what it speaks).
	prepare func(*connection)
}

// serveUpgrade checks the request (host, origin, drain, credentials, the
// client's share), upgrades it and serves the connection until it ends.
func (s *Server) serveUpgrade(w http.ResponseWriter, r *http.Request, u upgrade) {
	if !s.admitRequest(w, r, u.keyed) {
		return
	}
	defer s.wg.Done()
	cred, ok := u.authenticate(r)
	if !ok {
		if u.refuse != nil {
			u.refuse(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="voicegate"`)
		s.refuse(w, protocol.CodeUnauthorized, "missing or invalid API key, ticket or resume token")
		return
	}

	// Refused before the upgrade, so that a client over its share costs
	// no connection and takes no place under MaxSessions.
	from := peerOf(r, s.trusted, cred.who)
	release, limit := s.admit.acquire(from)
	if limit != "" {
		s.metrics.rateLimited.WithLabelValues(limit).Inc()
		w.Header().Set("Retry-After", "1")
		s.refuse(w, protocol.CodeRateLimited, fmt.Sprintf("too many connections from this client (%s); close one or try again later", limit))
		return
	}
	defer release()

	overLimit := s.active.Add(1) > int64(s.opts.MaxSessions)
	defer s.active.Add(-1)

	c := newConnection(s, cmp.Or(from.addr, r.RemoteAddr))
	c.peer = from
	c.cred = cred
	rec := &hijackRecorder{ResponseWriter: w}
	ws, err := websocket.Accept(rec, r, &websocket.AcceptOptions{
		Subprotocols:   u.subprotocols,
		OriginPatterns: s.opts.AllowedOrigins,
		OnPongReceived: func(context.Context, []byte) { c.heard() },
	})
	if err != nil {
		// Accept has answered the request.
		c.logger().Debug("upgrade failed", zap.Error(err))
		c.cancel()
		return
	}
	ws.SetReadLimit(u.readLimit)
	c.ws, c.netConn = ws, rec.conn
	if u.prepare != nil {
		u.prepare(c)
	}
	c.serve(overLimit)
}

// admitRequest makes the checks every upgrade passes before its
// credentials (Host, with keyed as hostAllowed takes it; Origin; drain)
// and answers a refusal itself. When it returns true, Shutdown waits for
// the request: the caller must call s.wg.Done when it is served.
func (s *Server) admitRequest(w http.ResponseWriter, r *http.Request, keyed bool) bool {
	if !hostAllowed(r, keyed, s.opts.AllowedHosts) {
		s.refuse(w, protocol.CodeForbiddenHost, "host not allowed: this server answers only the host names it is configured for")
		return false
	}
	if !originAllowed(r, s.opts.AllowedOrigins) {
		s.refuse(w, protocol.CodeForbiddenOrigin, "origin not allowed")
		return false
	}
	// Draining is told before the credentials are checked, so that no
	// ticket is spent on an upgrade that cannot happen; from here on
	// Shutdown waits for this request.
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		s.refuse(w, protocol.CodeShuttingDown, "the server is shutting down")
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	return true
}

// credential is what a request to /ws proved: the principal it acts for
// and, when a resume token was its only credential, that token: such a
// connection may resume that session and do nothing else.
type credential struct {
	who        principal
	resumeOnly string
}

// authenticate finds the principal of a request to /ws. Without keys every
// request is anonymous. With keys, the first kind of credential present is
// the one checked, and a wrong one is not made up for by another: an API
// key (headers, or ?token=), else ?ticket= (spent here), else ?resume=, a
// resume token of a session whose principal is still valid.
func (s *Server) authenticate(r *http.Request) (credential, bool) {
	if !s.keys.enabled() {
		return credential{who: anonymous}, true
	}
	q := r.URL.Query()
	presented := headerKeys(r)
	if t := q.Get("token"); t != "" {
		presented = append(presented, t)
	}
	switch {
	case len(presented) > 0:
		who, ok := s.keys.match(presented)
		return credential{who: who}, ok
	case q.Get("ticket") != "":
		who, ok := s.tickets.redeem(q.Get("ticket"), s.opts.Now())
		return credential{who: who}, ok && s.keys.valid(who)
	case q.Get("resume") != "":
		tok := q.Get("resume")
		who, ok := s.sessions.ownerOf(tok, s.opts.Now())
		if !ok && s.sync != nil && couldBeResumeToken(tok) {
			who, ok = s.sync.owner(tok) // a session this node has not held
		}
		return credential{who: who, resumeOnly: tok}, ok && s.keys.valid(who)
	}
	return credential{}, false
}

// serveTickets mints a ticket for the key in the request's headers (a key
// in the URL is what tickets exist to avoid, so ?token= does not count).
// Without keys, tickets are anonymous, so a page given one works either
// way. It is checked as /ws is (Host, Origin): a browser on another site
// cannot read the answer anyway (no CORS), but need not be served either.
func (s *Server) serveTickets(w http.ResponseWriter, r *http.Request) {
	who, ok := s.keyRequest(w, r)
	if !ok {
		return
	}
	tok, retryAfter, ok := s.tickets.mint(who, s.opts.Now())
	if !ok {
		s.refuseTicket(w, retryAfter, s.opts.MaxTickets)
		return
	}
	b, _ := json.Marshal(protocol.Ticket{Ticket: tok, ExpiresIn: int(TicketTTL / time.Second)})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.Write(b)
}

// keyRequest checks a request that mints a credential with an API key
// (a ticket, a Realtime client secret): Host, Origin, the key in its
// headers, drain. It answers a refused request itself.
func (s *Server) keyRequest(w http.ResponseWriter, r *http.Request) (principal, bool) {
	if !hostAllowed(r, s.keys.enabled(), s.opts.AllowedHosts) {
		s.refuse(w, protocol.CodeForbiddenHost, "host not allowed: this server answers only the host names it is configured for")
		return "", false
	}
	if !originAllowed(r, s.opts.AllowedOrigins) {
		s.refuse(w, protocol.CodeForbiddenOrigin, "origin not allowed")
		return "", false
	}
	who := anonymous
	if s.keys.enabled() {
		var ok bool
		if who, ok = s.keys.match(headerKeys(r)); !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="voicegate"`)
			s.refuse(w, protocol.CodeUnauthorized, "missing or invalid API key (send it as Authorization: Bearer)")
			return "", false
		}
	}
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		s.refuse(w, protocol.CodeShuttingDown, "the server is shutting down")
		return "", false
	}
	return who, true
}

// refuseTicket answers a request for one more ticket than max.
func (s *Server) refuseTicket(w http.ResponseWriter, retryAfter time.Duration, max int) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	s.refuse(w, protocol.CodeTicketLimit, fmt.Sprintf("%d tickets are outstanding, the limit; try again shortly", max))
}

// refuse answers a request that will not be served (an upgrade, a
// ticket) with a JSON error event and the code's HTTP status.
func (s *Server) refuse(w http.ResponseWriter, code protocol.Code, msg string) {
	status := codeRules[code].HTTP
	s.metrics.rejected.WithLabelValues(string(code)).Inc()
	s.metrics.errors.WithLabelValues(string(code)).Inc()
	s.log.Debug("request refused", zap.Int("status", status), zap.String("code", string(code)))
	b, _ := protocol.Encode(classOf(code).event(msg))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// providers names the providers of stages st for session.started.
func (s *Server) providers(st pipeline.Stages) protocol.Providers {
	return protocol.Providers{VAD: s.opts.VADName, ASR: pipeline.NameOf(st.ASR), LLM: pipeline.NameOf(st.LLM), TTS: pipeline.NameOf(st.TTS)}
}

// getBuf returns a buffer for one outgoing audio frame; putBuf recycles it.
func (s *Server) getBuf() *[]byte {
	if b, ok := s.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (s *Server) putBuf(b *[]byte) { s.bufs.Put(b) }

// hijackRecorder keeps the net.Conn that websocket.Accept hijacks, so a
// drain can cut a connection off without waiting for a close handshake.
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = c
	return c, brw, err
}

// Unwrap lets http.ResponseController reach the original writer.
func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// contentField logs user content (a transcript, typed text) as its keyed
// fingerprint and length under key_hmac, or in clear under key when
// LogContent is set.
func (s *Server) contentField(key, text string) zap.Field {
	if s.opts.LogContent {
		return zap.String(key, text)
	}
	return zap.String(key+"_hmac", s.opts.ContentHasher.Sum(text)+" len="+strconv.Itoa(len(text)))
}
