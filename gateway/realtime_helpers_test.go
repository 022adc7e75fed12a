package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/realtime"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// rtClient is a Realtime client: a goroutine reads every event into msgs,
// and next checks each against what strict clients require.
type rtClient struct {
	t       *testing.T
	ws      *websocket.Conn
	dialect realtime.Dialect
	msgs    chan message
	done    chan struct{}
	err     error
	seen    []message
}

type rtDial struct {
	header       http.Header
	query        string // default "model=gpt-realtime"
	subprotocols []string
}

func (s *testServer) realtimeURL(query string) string {
	u := strings.TrimSuffix(s.url, gateway.PathWS) + gateway.PathRealtime
	if query != "" {
		u += "?" + query
	}
	return u
}

func (s *testServer) tryRealtime(o rtDial) (*rtClient, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if o.query == "" {
		o.query = "model=gpt-realtime"
	}
	ws, resp, err := websocket.Dial(ctx, s.realtimeURL(o.query), &websocket.DialOptions{
		HTTPClient: s.ts.Client(), HTTPHeader: o.header, Subprotocols: o.subprotocols,
	})
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(64 << 20)
	c := &rtClient{ws: ws, msgs: make(chan message, 100000), done: make(chan struct{})}
	for _, p := range o.subprotocols {
		if p == "openai-beta.realtime-v1" {
			c.dialect = realtime.Beta
		}
	}
	if o.header.Get("OpenAI-Beta") == "realtime=v1" {
		c.dialect = realtime.Beta
	}
	go func() {
		defer close(c.done)
		for {
			typ, b, err := ws.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			if typ != websocket.MessageText {
				c.err = fmt.Errorf("server sent a binary message")
				return
			}
			m := message{Raw: b, Fields: map[string]any{}}
			if err := json.Unmarshal(b, &m.Fields); err != nil {
				c.err = fmt.Errorf("server sent invalid JSON %q: %v", b, err)
				return
			}
			m.Type = m.str("type")
			c.msgs <- m
		}
	}()
	return c, resp, nil
}

func (s *testServer) realtime(t *testing.T, o rtDial) *rtClient {
	t.Helper()
	c, resp, err := s.tryRealtime(o)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial realtime: %v (HTTP %d)", err, status)
	}
	c.t = t
	t.Cleanup(c.close)
	return c
}

func (c *rtClient) close() {
	c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}

// name is the dialect's name of the GA event ga.
func (c *rtClient) name(ga string) string { return c.dialect.Name(ga) }

func (c *rtClient) send(v map[string]any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendText(string(b))
}

func (c *rtClient) sendText(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// deltas are the events clients drop unless they place themselves in a
// response: its ID, the item, the output index and the content index.
var deltas = map[string]bool{
	realtime.EventAudioDelta: true, realtime.EventAudioDone: true, realtime.EventAudioTranscriptDelta: true,
	realtime.EventAudioTranscriptDone: true, realtime.EventTextDelta: true, realtime.EventTextDone: true,
	realtime.EventContentPartAdded: true, realtime.EventContentPartDone: true,
}

// check holds an event to what strict clients validate.
func (c *rtClient) check(m message) {
	c.t.Helper()
	if id, ok := m.Fields["event_id"].(string); !ok || id == "" {
		c.t.Errorf("%s has no event_id: %s", m.Type, m.Raw)
	}
	ga := c.dialect.GAName(m.Type)
	if c.dialect == realtime.Beta && ga == m.Type && realtime.Beta.Name(ga) != ga {
		c.t.Errorf("a beta client got the GA event %s", m.Type)
	}
	if deltas[ga] {
		for _, k := range []string{"response_id", "item_id"} {
			if m.str(k) == "" {
				c.t.Errorf("%s without %s: %s", m.Type, k, m.Raw)
			}
		}
		for _, k := range []string{"output_index", "content_index"} {
			if _, ok := m.Fields[k].(float64); !ok {
				c.t.Errorf("%s without %s: %s", m.Type, k, m.Raw)
			}
		}
	}
	if strings.HasPrefix(ga, "response.function_call_arguments.") {
		for _, k := range []string{"response_id", "item_id", "call_id"} {
			if m.str(k) == "" {
				c.t.Errorf("%s without %s: %s", m.Type, k, m.Raw)
			}
		}
	}
}

// next returns the next event, failing the test if none comes.
func (c *rtClient) next() message {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		c.seen = append(c.seen, m)
		c.check(m)
		return m
	case <-c.done:
		select {
		case m := <-c.msgs:
			c.seen = append(c.seen, m)
			c.check(m)
			return m
		default:
		}
		c.t.Fatalf("connection ended (%v); seen: %v", c.err, c.recent())
	case <-time.After(waitFor):
		c.t.Fatalf("no event within %s; seen: %v", waitFor, c.recent())
	}
	return message{}
}

// expect skips to the next event of GA type ga (in the client's dialect)
// and returns it with those skipped on the way. An error on the way fails
// the test.
func (c *rtClient) expect(ga string) (message, []message) {
	c.t.Helper()
	want := c.name(ga)
	var skipped []message
	for {
		m := c.next()
		if m.Type == want {
			return m, skipped
		}
		if m.Type == realtime.EventError && ga != realtime.EventError {
			c.t.Fatalf("unexpected error while waiting for %s: %s", want, m.Raw)
		}
		skipped = append(skipped, m)
	}
}

// expectError waits for an error event and checks its type, code and the
// client event it answers.
func (c *rtClient) expectError(typ, code, eventID string) message {
	c.t.Helper()
	m, _ := c.expect(realtime.EventError)
	e, _ := m.Fields["error"].(map[string]any)
	if e["type"] != typ || e["code"] != code || (e["event_id"] != nil && e["event_id"] != eventID) || (eventID != "" && e["event_id"] != eventID) {
		c.t.Fatalf("error %v, want type %q code %q event_id %q", e, typ, code, eventID)
	}
	if s, _ := e["message"].(string); s == "" {
		c.t.Fatalf("error without a message: %s", m.Raw)
	}
	return m
}

// alive checks the connection still serves: a clear is answered.
func (c *rtClient) alive() {
	c.t.Helper()
	c.send(map[string]any{"type": "input_audio_buffer.clear"})
	c.expect(realtime.EventCleared)
}

func (c *rtClient) recent() []string {
	var out []string
	for _, m := range c.seen[max(0, len(c.seen)-10):] {
		s := string(m.Raw)
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		out = append(out, s)
	}
	return out
}

// appendAudio sends samples at rate as appends of 20 ms in format f, four
// times faster than real time.
func (c *rtClient) appendAudio(f realtime.Format, sig []int16) {
	c.t.Helper()
	frame := audio.Format{SampleRate: f.Rate(), Channels: 1}.Samples(20 * time.Millisecond)
	for len(sig) > 0 {
		n := min(frame, len(sig))
		c.send(map[string]any{"type": "input_audio_buffer.append", "audio": base64.StdEncoding.EncodeToString(encodeAudio(f, sig[:n]))})
		sig = sig[n:]
		time.Sleep(5 * time.Millisecond)
	}
}

// utterance is silence, voice and silence at rate, as a user says one
// thing.
func utterance(rate int, voice, after time.Duration) []int16 {
	return pipelinetest.Concat(pipelinetest.Silence(200*time.Millisecond, rate), pipelinetest.Voice(voice, rate), pipelinetest.Silence(after, rate))
}

// session returns the session object of session.created or .updated.
func session(m message) map[string]any {
	s, _ := m.Fields["session"].(map[string]any)
	return s
}

// field walks a path of keys into nested JSON objects.
func field(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// response collects the events up to response.done and returns them.
func (c *rtClient) response() (done message, msgs []message) {
	c.t.Helper()
	done, msgs = c.expect(realtime.EventResponseDone)
	return done, msgs
}

// audioBytes decodes and adds up the audio deltas among msgs.
func (c *rtClient) audioBytes(msgs []message) int {
	c.t.Helper()
	n := 0
	for _, m := range msgs {
		if m.Type == c.name(realtime.EventAudioDelta) {
			b, err := base64.StdEncoding.DecodeString(m.str("delta"))
			if err != nil {
				c.t.Fatalf("audio delta is not base64: %v", err)
			}
			n += len(b)
		}
	}
	return n
}

func types(msgs []message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.Type)
	}
	return out
}

// inOrder reports whether want appear in msgs in that order (others may
// come between).
func inOrder(msgs []message, want ...string) bool {
	i := 0
	for _, m := range msgs {
		if i < len(want) && m.Type == want[i] {
			i++
		}
	}
	return i == len(want)
}
