package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/gateway/protocol"
)

// maxMessage caps a message from the gateway; session.started with a long
// history is the largest.
const maxMessage = 1 << 20

// conn is one WebSocket connection of a Session.
type conn struct {
	ws       *websocket.Conn
	ctrl     chan []byte  // JSON messages, written before queued audio
	maxFrame int          // largest binary frame the gateway accepts
	heard    atomic.Int64 // when the gateway was last heard from, ns since the Session's epoch
	interval time.Duration
	fatal    error // a fatal error event, set by the reader
}

// connect dials and starts (or, with a token, resumes) a session.
// resumeFailed reports that the gateway refused the token and started a new
// session instead; a gateway that refuses it fatally returns an *Error with
// CodeResumeFailed.
func (s *Session) connect(ctx context.Context, token string) (c *conn, st *protocol.SessionStarted, resumeFailed bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	hdr := http.Header{}
	if s.cfg.APIKey != "" {
		hdr.Set("Authorization", "Bearer "+s.cfg.APIKey)
	}
	ws, resp, err := websocket.Dial(ctx, s.cfg.URL, &websocket.DialOptions{HTTPClient: s.cfg.HTTPClient, HTTPHeader: hdr})
	if err != nil {
		if resp != nil {
			return nil, nil, false, httpError(resp, err)
		}
		return nil, nil, false, err
	}
	ws.SetReadLimit(maxMessage)
	s.mu.Lock()
	tools := s.tools
	s.mu.Unlock()
	start := &protocol.SessionStart{
		Type:        protocol.TypeSessionStart,
		Version:     protocol.Version,
		InputAudio:  &protocol.AudioFormat{SampleRate: s.cfg.InputRate},
		TextOnly:    s.cfg.TextOnly,
		ResumeToken: token,
		Tools:       tools,
	}
	if s.cfg.OutputRate > 0 {
		start.OutputAudio = &protocol.AudioFormat{SampleRate: s.cfg.OutputRate}
	}
	b, _ := json.Marshal(start)
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		_ = ws.CloseNow()
		return nil, nil, false, err
	}
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			_ = ws.CloseNow()
			return nil, nil, false, err
		}
		if typ != websocket.MessageText {
			continue
		}
		msg, err := decodeServer(data)
		if err != nil {
			_ = ws.CloseNow()
			return nil, nil, false, err
		}
		switch m := msg.(type) {
		case *protocol.SessionStarted:
			c = &conn{ws: ws, ctrl: make(chan []byte, 64), maxFrame: 8192}
			if lim := m.Limits.MaxFrameBytes; lim > 0 && lim < c.maxFrame {
				c.maxFrame = lim &^ 1
			}
			c.interval = s.pingInterval(m)
			c.heard.Store(int64(time.Since(s.epoch)))
			return c, m, resumeFailed, nil
		case *protocol.Error:
			if m.Code == protocol.CodeResumeFailed && !m.Fatal {
				resumeFailed = true // session.started for a new session follows
				continue
			}
			_ = ws.CloseNow()
			return nil, nil, false, toError(m)
		}
	}
}

func (s *Session) pingInterval(st *protocol.SessionStarted) time.Duration {
	switch {
	case s.cfg.PingInterval != 0:
		return s.cfg.PingInterval
	case st.HeartbeatMS > 0:
		return time.Duration(st.HeartbeatMS) * time.Millisecond
	}
	return 5 * time.Second
}

// read reads the connection until it fails, handing events to the Handler.
func (s *Session) read(ctx context.Context, c *conn) error {
	for {
		typ, r, err := c.ws.Reader(ctx)
		if err != nil {
			return err
		}
		s.rx.buf, err = readAll(s.rx.buf[:0], r)
		if err != nil {
			return err
		}
		c.heard.Store(int64(time.Since(s.epoch)))
		if typ == websocket.MessageBinary {
			s.onAudio(s.rx.buf)
			continue
		}
		msg, err := decodeServer(s.rx.buf)
		if err != nil {
			s.log.Debug("undecodable message from the gateway", zap.Error(err))
			continue
		}
		switch m := msg.(type) {
		case nil: // a type this client does not know
		case *protocol.Pong:
			s.onPong(m)
		case *protocol.Error:
			e := toError(m)
			if m.Fatal {
				c.fatal = e
			}
			s.cfg.Handler(e)
		case *protocol.AudioStart:
			s.rx.playing = true
			s.rx.ev.Turn, s.rx.ev.SampleRate = m.Turn, m.SampleRate
			s.cfg.Handler(m)
		case *protocol.AudioDone:
			s.rx.playing = false
			s.cfg.Handler(m)
		case *protocol.ResponseCancelled:
			if m.Turn == s.rx.ev.Turn {
				s.rx.playing = false // frames still in flight for it are dropped
			}
			s.cfg.Handler(m)
		default:
			s.cfg.Handler(m)
		}
	}
}

func (s *Session) onAudio(b []byte) {
	if !s.rx.playing {
		s.rx.dropped++
		return
	}
	var err error
	s.rx.samples, err = audio.DecodePCM16(s.rx.samples[:0], b)
	if err != nil {
		s.log.Debug("odd audio frame from the gateway", zap.Int("bytes", len(b)))
		return
	}
	s.rx.ev.Samples = s.rx.samples
	s.cfg.Handler(&s.rx.ev)
}

func (s *Session) onPong(m *protocol.Pong) {
	sent := time.Duration(m.ClientTime * float64(time.Millisecond))
	rtt := max(time.Since(s.epoch)-sent, 0)
	s.rtt.Store(int64(rtt))
	s.mu.Lock()
	ch := s.waiters[m.ID]
	s.mu.Unlock()
	if ch != nil {
		select {
		case ch <- rtt:
		default:
		}
	}
	s.cfg.Handler(&Heartbeat{RTT: rtt})
}

// write writes control messages and queued audio, control first.
func (s *Session) write(ctx context.Context, c *conn) error {
	var frame []byte
	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-c.ctrl:
			if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
				return err
			}
		case <-s.audio.wake:
			for {
				select {
				case b := <-c.ctrl:
					if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
						return err
					}
					continue
				default:
				}
				var ok bool
				if frame, ok = s.audio.pop(frame); !ok {
					break
				}
				if err := c.ws.Write(ctx, websocket.MessageBinary, frame); err != nil {
					return err
				}
			}
		}
	}
}

// heartbeat pings the gateway every interval and ends the connection when
// the gateway has been silent for the ping timeout.
func (s *Session) heartbeat(ctx context.Context, c *conn) error {
	if c.interval < 0 {
		<-ctx.Done()
		return nil
	}
	timeout := s.cfg.PingTimeout
	if timeout <= 0 {
		timeout = 3 * c.interval
	}
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for n := uint64(1); ; n++ {
		b, _ := json.Marshal(s.ping("h" + strconv.FormatUint(n, 10)))
		select {
		case c.ctrl <- b:
		default:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if silent := time.Since(s.epoch) - time.Duration(c.heard.Load()); silent > timeout {
			return fmt.Errorf("%w: silent for %v", errHeartbeat, silent.Round(time.Millisecond))
		}
	}
}

// decodeServer decodes a server message into its protocol type; it returns
// nil, nil for a type it does not know.
func decodeServer(data []byte) (any, error) {
	var env struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, err
	}
	var m any
	switch env.Type {
	case protocol.TypeSessionStarted:
		m = new(protocol.SessionStarted)
	case protocol.TypeSpeechStarted, protocol.TypeSpeechStopped:
		m = new(protocol.Speech)
	case protocol.TypeTranscriptPartial, protocol.TypeTranscriptFinal:
		m = new(protocol.Transcript)
	case protocol.TypeTextDelta:
		m = new(protocol.TextDelta)
	case protocol.TypeAudioStart:
		m = new(protocol.AudioStart)
	case protocol.TypeAudioDone:
		m = new(protocol.AudioDone)
	case protocol.TypeResponseDone:
		m = new(protocol.ResponseDone)
	case protocol.TypeResponseCancelled:
		m = new(protocol.ResponseCancelled)
	case protocol.TypeResponsePaused, protocol.TypeResponseResumed:
		m = new(protocol.ResponsePause)
	case protocol.TypeTurnLatency:
		m = new(protocol.TurnLatency)
	case protocol.TypeToolCall:
		m = new(protocol.ToolCall)
	case protocol.TypeToolDone:
		m = new(protocol.ToolDone)
	case protocol.TypePong:
		m = new(protocol.Pong)
	case protocol.TypeError:
		m = new(protocol.Error)
	default:
		return nil, nil
	}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("client: decoding %s: %w", env.Type, err)
	}
	return m, nil
}

func toError(m *protocol.Error) *Error {
	return &Error{Code: m.Code, Message: m.Message, Fatal: m.Fatal, Retryable: m.Retryable, Turn: m.Turn, Stage: m.Stage}
}

// readAll appends r's content to dst, growing it only when a message is
// larger than any before.
func readAll(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
