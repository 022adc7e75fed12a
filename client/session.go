package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway/protocol"
)

// Session is a voicegate session that outlives its connections: when the
// connection drops it redials and resumes. Create one with Dial; end it
// with Close.
type Session struct {
	cfg   Config
	log   *zap.Logger
	epoch time.Time // pings carry milliseconds since epoch as client_time
	audio *audioQueue

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the supervisor
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	conn    *conn // nil while reconnecting
	started *protocol.SessionStarted
	token   string
	closing bool
	err     error // why the session ended by itself
	pingSeq uint64
	waiters map[string]chan time.Duration // Ping calls awaiting their pong
	tools   []protocol.Tool               // sent with each session.start

	rtt atomic.Int64 // last round trip, ns

	rx rxState // owned by the goroutine that runs the Handler
}

// rxState follows the reply audio on the wire: binary frames belong to the
// turn of the last response.audio.start until response.audio.done or
// response.cancelled.
type rxState struct {
	playing bool
	ev      Audio
	samples []int16
	buf     []byte
	dropped uint64 // audio frames outside an audio.start/done bracket
}

// Dial connects to the gateway and starts a session. ctx bounds this first
// connection only; the Session then lives until Close, or until it fails
// for good (see Done and Err). A failed first attempt is returned, not
// retried: an *Error for a refusal by the gateway (CodeOf tells which).
func Dial(ctx context.Context, cfg Config) (*Session, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Session{
		cfg:     cfg,
		log:     cfg.Logger,
		epoch:   time.Now(),
		audio:   newAudioQueue(2 * cfg.InputRate * int(cfg.AudioQueue/time.Millisecond) / 1000),
		done:    make(chan struct{}),
		waiters: make(map[string]chan time.Duration),
		tools:   slices.Clone(cfg.Tools),
	}
	c, st, _, err := s.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.install(c, st)
	s.log = s.log.With(zap.String("session", st.SessionID))
	s.cfg.Handler(&Connected{Started: st})
	s.wg.Add(1)
	go s.supervise(c)
	return s, nil
}

// Close ends the session: it closes the connection with status 1000
// (normal closure) and waits for the Session's goroutines. Audio still
// queued is not sent. Close is idempotent and returns nil.
func (s *Session) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closing = true
		c := s.conn
		s.mu.Unlock()
		if c != nil {
			// The reader, still running, completes the close handshake.
			_ = c.ws.Close(websocket.StatusNormalClosure, "client closed")
		}
		s.cancel()
	})
	s.wg.Wait()
	return nil
}

// Done is closed when the session has ended: after Close, or when the
// connection failed for good (a fatal error, or Backoff.MaxAttempts).
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended by itself; nil while it runs and
// after Close.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Started returns the session.started of the current (or last) connection.
// The caller must not modify it.
func (s *Session) Started() *protocol.SessionStarted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// Connected reports whether a connection is up (false while reconnecting).
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// RTT returns the last measured round trip of an app-level ping, 0 before
// the first.
func (s *Session) RTT() time.Duration { return time.Duration(s.rtt.Load()) }

// DroppedAudio returns how many outgoing audio frames were dropped because
// the connection could not keep up.
func (s *Session) DroppedAudio() uint64 { return s.audio.droppedFrames() }

// SendAudio queues samples (PCM16 mono at Config.InputRate) for the
// gateway, split into frames the gateway accepts. It never blocks and does
// not retain samples. While reconnecting it drops them and returns
// ErrNotConnected.
func (s *Session) SendAudio(samples []int16) error {
	if s.cfg.TextOnly {
		return ErrTextOnly
	}
	c, err := s.current()
	if err != nil {
		return err
	}
	s.audio.push(samples, c.maxFrame)
	return nil
}

// SendText sends a typed user turn. It does not block: it returns
// ErrNotConnected while reconnecting.
func (s *Session) SendText(text string) error {
	return s.sendControl(&protocol.InputText{Type: protocol.TypeInputText, Text: text})
}

// SetTools replaces the session's tools (an empty list removes them) and
// makes them the ones every later session.start sends. It does not block:
// while reconnecting it returns ErrNotConnected, and the tools take effect
// with the next connection. The gateway refuses a bad list with an *Error
// event (protocol.CodeInvalidMessage).
func (s *Session) SetTools(tools []protocol.Tool) error {
	tools = slices.Clone(tools)
	if tools == nil {
		tools = []protocol.Tool{}
	}
	s.mu.Lock()
	s.tools = tools
	s.mu.Unlock()
	return s.sendControl(&protocol.ToolsSet{Type: protocol.TypeToolsSet, Tools: tools})
}

// SendToolResult answers the tool call callID (protocol.ToolCall.CallID)
// with output, the text the model reads. When every call of a reply has
// its result, the reply goes on. It does not block: it returns
// ErrNotConnected while reconnecting (the call still waits on the resumed
// session: send the result again once Connected). A callID the gateway
// does not know is an *Error event, protocol.CodeUnknownToolCall.
func (s *Session) SendToolResult(callID, output string) error {
	return s.sendControl(&protocol.ToolResult{Type: protocol.TypeToolResult, CallID: callID, Output: output})
}

// Interrupt asks the gateway to cut the reply in progress; it answers with
// response.cancelled. It does not block.
func (s *Session) Interrupt() error {
	return s.sendControl(&protocol.Interrupt{Type: protocol.TypeInterrupt})
}

// Ping sends an app-level ping and waits for its pong, or ctx.
func (s *Session) Ping(ctx context.Context) (time.Duration, error) {
	s.mu.Lock()
	s.pingSeq++
	id := "p" + strconv.FormatUint(s.pingSeq, 10)
	ch := make(chan time.Duration, 1)
	s.waiters[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, id)
		s.mu.Unlock()
	}()
	if err := s.sendControl(s.ping(id)); err != nil {
		return 0, err
	}
	select {
	case rtt := <-ch:
		return rtt, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.done:
		return 0, ErrClosed
	}
}

func (s *Session) ping(id string) *protocol.Ping {
	ms := float64(time.Since(s.epoch).Microseconds()) / 1000
	return &protocol.Ping{Type: protocol.TypePing, ID: id, ClientTime: ms}
}

func (s *Session) current() (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing || s.err != nil:
		return nil, ErrClosed
	case s.conn == nil:
		return nil, ErrNotConnected
	}
	return s.conn, nil
}

func (s *Session) sendControl(msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	c, err := s.current()
	if err != nil {
		return err
	}
	select {
	case c.ctrl <- b:
		return nil
	default:
		return ErrQueueFull
	}
}

// install makes c the current connection; it reports false if the session
// is closing.
func (s *Session) install(c *conn, st *protocol.SessionStarted) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conn, s.started, s.token = c, st, st.ResumeToken
	s.audio.reset()
	s.rx.playing = false
	return true
}

// supervise serves one connection after another until Close or a failure
// that reconnecting cannot cure.
func (s *Session) supervise(c *conn) {
	defer s.wg.Done()
	defer close(s.done)
	for c != nil {
		err := s.serve(c)
		if s.closed() {
			return
		}
		s.log.Info("connection lost", zap.Error(err))
		c = s.reconnect(err)
	}
}

// reconnect redials, with backoff, until a session is started again.
// It returns nil when the Session is over.
func (s *Session) reconnect(cause error) *conn {
	for attempt := 1; ; attempt++ {
		if !retryable(cause) {
			s.end(cause)
			return nil
		}
		if max := s.cfg.Backoff.MaxAttempts; max > 0 && attempt > max {
			s.end(fmt.Errorf("client: gave up after %d attempts: %w", max, cause))
			return nil
		}
		d := s.cfg.Backoff.Delay(attempt, nil)
		s.cfg.Handler(&Disconnected{Err: cause, Attempt: attempt, Retry: d})
		t := time.NewTimer(d)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		s.mu.Lock()
		token := s.token
		s.mu.Unlock()
		c, st, resumeFailed, err := s.connect(s.ctx, token)
		if code, _ := CodeOf(err); code == protocol.CodeResumeFailed {
			// The gateway forgot the session (restart, or the resume
			// window passed): carry on with a new one at once.
			s.log.Info("resume refused; starting a new session", zap.Error(err))
			resumeFailed = true
			s.mu.Lock()
			s.token = ""
			s.mu.Unlock()
			c, st, _, err = s.connect(s.ctx, "")
		}
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			cause = err
			continue
		}
		if !s.install(c, st) {
			_ = c.ws.Close(websocket.StatusNormalClosure, "client closed")
			return nil
		}
		s.log.Info("reconnected", zap.Bool("resumed", st.Resumed), zap.Int("attempt", attempt))
		s.cfg.Handler(&Connected{Started: st, Reconnect: true, ResumeFailed: resumeFailed})
		return c
	}
}

// closed reports whether Close has begun.
func (s *Session) closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Session) end(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	s.log.Warn("session ended", zap.Error(err))
}

// serve runs a connection's reader, writer and heartbeat until one of them
// stops, then closes the connection and waits for the other two.
func (s *Session) serve(c *conn) error {
	ctx, cancel := context.WithCancel(s.ctx)
	errc := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); errc <- s.read(ctx, c) }()
	go func() { defer wg.Done(); errc <- s.write(ctx, c) }()
	go func() { defer wg.Done(); errc <- s.heartbeat(ctx, c) }()
	err := <-errc
	s.mu.Lock()
	s.conn = nil
	s.mu.Unlock()
	cancel()
	_ = c.ws.CloseNow() // after Close's handshake, a no-op
	wg.Wait()
	if c.fatal != nil {
		err = c.fatal
	}
	if err == nil {
		err = errors.New("client: connection ended")
	}
	return err
}
