package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/gateway/protocol"
)

// fakeGateway speaks just enough of the protocol to drive a client: it
// starts and resumes sessions, answers pings, replies to input.text with a
// scripted reply (text, then three audio frames), and lets a test drop
// every connection as a crashed gateway would.
type fakeGateway struct {
	t   *testing.T
	srv *httptest.Server

	maxFrame int // announced limits.max_frame_bytes; set before the first dial
	handlers sync.WaitGroup

	mu        sync.Mutex
	apiKey    string // required as a bearer token when set
	silent    bool   // never answer pings (a hung gateway)
	conns     map[*websocket.Conn]bool
	sessions  map[string]string // resume token → session id
	nextID    int
	dials     int // WebSocket connections accepted
	audioIn   int // audio bytes received
	biggest   int // largest binary frame received
	closeCode chan websocket.StatusCode
	textsIn   []string
}

func newFakeGateway(t *testing.T) *fakeGateway {
	f := &fakeGateway{
		t:         t,
		maxFrame:  1024,
		conns:     make(map[*websocket.Conn]bool),
		sessions:  make(map[string]string),
		closeCode: make(chan websocket.StatusCode, 16),
	}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.close)
	return f
}

func (f *fakeGateway) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeGateway) url() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws" }

func (f *fakeGateway) close() {
	f.srv.Close() // no new connections; hijacked ones live on
	f.dropAll()
	f.handlers.Wait()
}

// dropAll cuts every connection without a close handshake.
func (f *fakeGateway) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.CloseNow()
	}
}

// failAll ends every connection as the gateway ends one after a fatal
// error: the error event with its retryable advice, then a close with
// status.
func (f *fakeGateway) failAll(code protocol.Code, retryable bool, status websocket.StatusCode) {
	f.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	e := protocol.NewError(code, "the fake gateway failed the connection", true)
	e.Retryable = retryable
	b, _ := json.Marshal(e)
	for _, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Write(ctx, websocket.MessageText, b)
		cancel()
		_ = c.Close(status, string(code))
	}
}

func (f *fakeGateway) dialCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials
}

// forget loses every session, as a restarted gateway does.
func (f *fakeGateway) forget() {
	f.mu.Lock()
	f.sessions = make(map[string]string)
	f.mu.Unlock()
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.handlers.Add(1) // before the hijack, so close's srv.Close orders it before Wait
	defer f.handlers.Done()
	f.mu.Lock()
	key, silent := f.apiKey, f.silent
	f.mu.Unlock()
	if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		http.Error(w, "bad key", http.StatusUnauthorized)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.conns[c] = true
	f.dials++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		_ = c.CloseNow()
	}()
	ctx := context.Background()
	send := func(m any) error {
		b, _ := json.Marshal(m)
		return c.Write(ctx, websocket.MessageText, b)
	}

	_, data, err := c.Read(ctx)
	if err != nil {
		return
	}
	msg, err := protocol.Decode(data, 0)
	start, ok := msg.(*protocol.SessionStart)
	if err != nil || !ok {
		_ = send(protocol.NewError(protocol.CodeNotStarted, "send session.start first", true))
		return
	}
	f.mu.Lock()
	id, resumed := f.sessions[start.ResumeToken]
	if start.ResumeToken == "" {
		f.nextID++
		id = fmt.Sprintf("s%d", f.nextID)
	}
	f.mu.Unlock()
	if start.ResumeToken != "" && !resumed {
		_ = send(protocol.NewError(protocol.CodeResumeFailed, "unknown or expired resume token", true))
		_ = c.Close(websocket.StatusPolicyViolation, "resume failed")
		return
	}
	token := id + "-token"
	f.mu.Lock()
	f.sessions[token] = id
	f.mu.Unlock()
	_ = send(&protocol.SessionStarted{
		Type: protocol.TypeSessionStarted, Version: protocol.Version, SessionID: id, ResumeToken: token,
		Resumed: resumed, InputAudio: protocol.AudioFormat{SampleRate: 16000}, OutputAudio: protocol.AudioFormat{SampleRate: 16000},
		Limits: protocol.Limits{MaxFrameBytes: f.maxFrame, MaxTextBytes: 4096},
	})

	var turn uint64
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			f.closeCode <- websocket.CloseStatus(err)
			return
		}
		if typ == websocket.MessageBinary {
			f.mu.Lock()
			f.audioIn += len(data)
			f.biggest = max(f.biggest, len(data))
			f.mu.Unlock()
			continue
		}
		msg, err := protocol.Decode(data, 0)
		if err != nil {
			f.t.Errorf("fake gateway: %v", err)
			return
		}
		switch m := msg.(type) {
		case *protocol.Ping:
			if !silent {
				_ = send(&protocol.Pong{Type: protocol.TypePong, ID: m.ID, ClientTime: m.ClientTime})
			}
		case *protocol.InputText:
			f.mu.Lock()
			f.textsIn = append(f.textsIn, m.Text)
			f.mu.Unlock()
			turn++
			if err := f.reply(c, send, turn, m.Text); err != nil {
				return
			}
		}
	}
}

// reply plays a scripted reply. For "cancel me" it cuts the audio after
// two frames and then, as a racing gateway might, sends one frame more; for
// "pause me" it pauses and resumes the reply after two frames.
func (f *fakeGateway) reply(c *websocket.Conn, send func(any) error, turn uint64, text string) error {
	frame := func(v int16) error {
		s := make([]int16, 160)
		for i := range s {
			s[i] = v
		}
		return c.Write(context.Background(), websocket.MessageBinary, audio.EncodePCM16(nil, s))
	}
	steps := []func() error{
		func() error {
			return send(&protocol.TextDelta{Type: protocol.TypeTextDelta, Turn: turn, Delta: "you said " + text})
		},
		func() error {
			return send(&protocol.AudioStart{Type: protocol.TypeAudioStart, Turn: turn, SampleRate: 16000})
		},
		func() error { return frame(1) },
		func() error { return frame(2) },
	}
	pause := func(typ string) func() error {
		return func() error { return send(&protocol.ResponsePause{Type: typ, Turn: turn}) }
	}
	switch text {
	case "pause me":
		// An "mm-hm" over the reply: paused between frames, then resumed.
		steps = append(steps, pause(protocol.TypeResponsePaused), pause(protocol.TypeResponseResumed))
	}
	if text == "cancel me" {
		steps = append(steps,
			func() error {
				return send(&protocol.ResponseCancelled{Type: protocol.TypeResponseCancelled, Turn: turn, Reason: "interrupt"})
			},
			func() error { return frame(3) })
	} else {
		steps = append(steps,
			func() error { return frame(3) },
			func() error { return send(&protocol.AudioDone{Type: protocol.TypeAudioDone, Turn: turn}) },
			func() error {
				return send(&protocol.ResponseDone{Type: protocol.TypeResponseDone, Turn: turn, Text: "you said " + text})
			})
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// recorder collects a Session's events for a test to wait on.
type recorder struct {
	ch chan Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan Event, 1024)} }

func (r *recorder) handle(ev Event) {
	if a, ok := ev.(*Audio); ok {
		cp := *a
		cp.Samples = append([]int16(nil), a.Samples...)
		ev = &cp
	}
	select {
	case r.ch <- ev:
	default:
		panic("recorder full")
	}
}

// next returns the next event that satisfies ok, failing the test after 5 s.
func (r *recorder) next(t *testing.T, what string, ok func(Event) bool) Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-r.ch:
			if ok(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func is[T any](ev Event) bool { _, ok := ev.(T); return ok }
