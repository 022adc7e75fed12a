package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor bounds every wait in these tests.
const waitFor = 10 * time.Second

type testServer struct {
	srv *gateway.Server
	ts  *httptest.Server
	reg *prometheus.Registry
	url string // ws://…/ws
}

// fastStages are the fakes with small latencies: a reply of n runes lasts
// n×10 ms of audio.
func fastStages(transcripts ...string) pipeline.Stages {
	return pipeline.Stages{
		ASR: &pipelinetest.Scripted{Transcripts: transcripts, Latency: 20 * time.Millisecond, PartialEvery: 100 * time.Millisecond},
		LLM: echo.New(echo.Config{FirstToken: 10 * time.Millisecond, PerToken: 2 * time.Millisecond}),
		TTS: &pipelinetest.Tone{Rate: 16000, Latency: 10 * time.Millisecond, PerRune: 10 * time.Millisecond},
	}
}

func newServer(t *testing.T, mutate func(*gateway.Options)) *testServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts := gateway.Options{
		Registry: reg,
		Stages:   fastStages("hello there", "how are you"),
		VADName:  "energy",
		VAD:      vad.Config{Silence: 250 * time.Millisecond},
	}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.Close()
	})
	return &testServer{srv: srv, ts: ts, reg: reg, url: "ws" + strings.TrimPrefix(ts.URL, "http") + gateway.PathWS}
}

// message is one message a client received.
type message struct {
	Type   string // the JSON "type", or "binary"
	Raw    []byte
	Fields map[string]any
}

func (m message) str(k string) string  { s, _ := m.Fields[k].(string); return s }
func (m message) num(k string) float64 { f, _ := m.Fields[k].(float64); return f }
func (m message) flag(k string) bool   { b, _ := m.Fields[k].(bool); return b }
func (m message) decode(v any) error   { return json.Unmarshal(m.Raw, v) }
func (m message) String() string       { return m.Type + " " + string(m.Raw) }

// client is a test WebSocket client; a goroutine reads everything into msgs.
type client struct {
	t    *testing.T
	ws   *websocket.Conn
	msgs chan message
	done chan struct{}
	err  error // why reading stopped; valid once done is closed
	seen []message
}

type dialOpts struct {
	header http.Header
	query  string
	host   string // the Host header, if not the server's address
	hc     *http.Client
	noRead bool // do not start the reader: a client that never reads
}

func (s *testServer) dial(t *testing.T, o dialOpts) *client {
	t.Helper()
	c, resp, err := s.tryDial(o)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	c.t = t
	return c
}

func (s *testServer) tryDial(o dialOpts) (*client, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	hc := o.hc
	if hc == nil {
		hc = s.ts.Client()
	}
	u := s.url
	if o.query != "" {
		u += "?" + o.query
	}
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: o.header, Host: o.host})
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(1 << 20)
	c := &client{ws: ws, msgs: make(chan message, 100000), done: make(chan struct{})}
	if !o.noRead {
		c.startReading()
	}
	return c, resp, nil
}

func (c *client) startReading() {
	go func() {
		defer close(c.done)
		for {
			typ, b, err := c.ws.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			m := message{Type: "binary", Raw: b}
			if typ == websocket.MessageText {
				m.Fields = map[string]any{}
				if err := json.Unmarshal(b, &m.Fields); err != nil {
					c.err = fmt.Errorf("server sent invalid JSON %q: %v", b, err)
					return
				}
				m.Type = m.str("type")
			}
			c.msgs <- m
		}
	}()
}

func (c *client) close() {
	c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}

func (c *client) sendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendText(string(b))
}

func (c *client) sendText(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write text: %v", err)
	}
}

func (c *client) sendBinary(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		c.t.Fatalf("write binary: %v", err)
	}
}

// next returns the next message, failing the test if none comes.
func (c *client) next() message {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		c.seen = append(c.seen, m)
		return m
	case <-c.done:
		select {
		case m := <-c.msgs:
			c.seen = append(c.seen, m)
			return m
		default:
		}
		c.t.Fatalf("connection ended (%v); seen: %v", c.err, c.recent())
	case <-time.After(waitFor):
		c.t.Fatalf("no message within %s; seen: %v", waitFor, c.recent())
	}
	return message{}
}

// expect skips to the next message of type typ and returns it with the
// messages skipped on the way.
func (c *client) expect(typ string) (message, []message) {
	c.t.Helper()
	var skipped []message
	for {
		m := c.next()
		if m.Type == typ {
			return m, skipped
		}
		if m.Type == protocol.TypeError && typ != protocol.TypeError {
			c.t.Fatalf("unexpected error while waiting for %s: %s", typ, m.Raw)
		}
		skipped = append(skipped, m)
	}
}

// expectError waits for an error event with code.
func (c *client) expectError(code protocol.Code) message {
	c.t.Helper()
	m, _ := c.expect(protocol.TypeError)
	if got := protocol.Code(m.str("code")); got != code {
		c.t.Fatalf("error code %q, want %q (%s)", got, code, m.Raw)
	}
	return m
}

// closed waits for the connection to end and returns its close status (-1
// if it ended without one).
func (c *client) closed() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitFor):
		c.t.Fatalf("connection still open after %s", waitFor)
	}
	for len(c.msgs) > 0 {
		c.seen = append(c.seen, <-c.msgs)
	}
	return websocket.CloseStatus(c.err)
}

func (c *client) recent() []string {
	var out []string
	for _, m := range c.seen[max(0, len(c.seen)-8):] {
		if m.Type == "binary" {
			out = append(out, fmt.Sprintf("binary(%d)", len(m.Raw)))
		} else {
			out = append(out, string(m.Raw))
		}
	}
	return out
}

// ping checks the connection is alive and the session goes on.
func (c *client) ping() {
	c.t.Helper()
	c.sendJSON(map[string]any{"type": "ping", "id": "alive"})
	for {
		m := c.next()
		if m.Type == protocol.TypePong && m.str("id") == "alive" {
			return
		}
	}
}

// start opens a session and returns session.started.
func (c *client) start(fields map[string]any) protocol.SessionStarted {
	c.t.Helper()
	msg := map[string]any{"type": "session.start"}
	for k, v := range fields {
		msg[k] = v
	}
	c.sendJSON(msg)
	m, _ := c.expect(protocol.TypeSessionStarted)
	var st protocol.SessionStarted
	if err := m.decode(&st); err != nil {
		c.t.Fatal(err)
	}
	return st
}

// speak sends an utterance (silence, voice, silence) at rate in 20 ms frames,
// four times faster than real time: the VAD counts samples, not wall time,
// and the session's drop-oldest inbox holds a second of audio.
func (c *client) speak(rate int, voice time.Duration) {
	c.t.Helper()
	c.sendPCM(rate, pipelinetest.Concat(
		pipelinetest.Silence(200*time.Millisecond, rate),
		pipelinetest.Voice(voice, rate),
		pipelinetest.Silence(400*time.Millisecond, rate)))
}

func (c *client) sendPCM(rate int, sig []int16) {
	c.t.Helper()
	frame := audio.Format{SampleRate: rate, Channels: 1}.Samples(20 * time.Millisecond)
	var buf []byte
	for len(sig) > 0 {
		n := min(frame, len(sig))
		buf = audio.EncodePCM16(buf[:0], sig[:n])
		c.sendBinary(buf)
		sig = sig[n:]
		time.Sleep(5 * time.Millisecond)
	}
}

// turn collects one reply: the messages up to and including turn.latency.
type turn struct {
	msgs    []message
	latency protocol.TurnLatency
	audio   int // bytes of reply audio
}

func (c *client) awaitTurn() turn {
	c.t.Helper()
	var tr turn
	for {
		m := c.next()
		if m.Type == protocol.TypeError {
			c.t.Fatalf("unexpected error: %s", m.Raw)
		}
		tr.msgs = append(tr.msgs, m)
		if m.Type == "binary" {
			tr.audio += len(m.Raw)
		}
		if m.Type == protocol.TypeTurnLatency {
			if err := m.decode(&tr.latency); err != nil {
				c.t.Fatal(err)
			}
			return tr
		}
	}
}

func (tr turn) first(typ string) (message, bool) {
	for _, m := range tr.msgs {
		if m.Type == typ {
			return m, true
		}
	}
	return message{}, false
}

func (tr turn) text(typ, field string) string {
	var b strings.Builder
	for _, m := range tr.msgs {
		if m.Type == typ {
			b.WriteString(m.str(field))
		}
	}
	return b.String()
}

// get fetches a path of the test server.
func (s *testServer) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := s.ts.Client().Get(s.ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape returns what the server's MetricsHandler serves.
func (s *testServer) scrape(t *testing.T) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", gateway.PathMetrics, nil))
	return rec.Code, rec.Body.String()
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metric returns the value of a counter or gauge (summed over labels
// matching match) from reg.
func metric(t *testing.T, reg *prometheus.Registry, name string, match map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for k, v := range match {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}
