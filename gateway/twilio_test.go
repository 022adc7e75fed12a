package gateway_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/audio/g711"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// The client below speaks Twilio Media Streams as Twilio publishes them
// (docs: Media Streams - WebSocket Messages), written from those formats
// rather than from package gateway/twilio.

const (
	callStream  = "MZ00000000000000000000000000000001"
	callAccount = "AC00000000000000000000000000000001"
	callSid     = "CA00000000000000000000000000000001"
)

// callMsg is one message the gateway sent to the "Twilio" client.
type callMsg struct {
	Event  string
	Fields map[string]any
	Audio  []byte // media: the decoded μ-law payload
	At     time.Time
}

func (m callMsg) markName() string {
	mk, _ := m.Fields["mark"].(map[string]any)
	name, _ := mk["name"].(string)
	return name
}

// callClient plays Twilio's side of a stream.
type callClient struct {
	t    *testing.T
	ws   *websocket.Conn
	msgs chan callMsg
	done chan struct{}
	err  error
	seq  int
	sent time.Duration // inbound audio sent, for media.timestamp
}

func (s *testServer) twilioURL() string {
	return "ws" + strings.TrimPrefix(s.ts.URL, "http") + gateway.PathTwilio
}

// dialCall opens the stream's WebSocket with header and returns the
// client, or the HTTP status of the refusal.
func (s *testServer) dialCall(t *testing.T, header http.Header) (*callClient, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, s.twilioURL(), &websocket.DialOptions{HTTPClient: s.ts.Client(), HTTPHeader: header})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return nil, resp.StatusCode
	}
	ws.SetReadLimit(1 << 20)
	c := &callClient{t: t, ws: ws, msgs: make(chan callMsg, 100000), done: make(chan struct{})}
	go c.read()
	return c, http.StatusSwitchingProtocols
}

// read checks every message against the published outbound shapes, for
// Twilio refuses one with a missing or an extra field.
func (c *callClient) read() {
	defer close(c.done)
	for {
		typ, b, err := c.ws.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		if typ != websocket.MessageText {
			c.err = fmt.Errorf("the gateway sent a binary message")
			return
		}
		m := callMsg{Fields: map[string]any{}, At: time.Now()}
		if err := json.Unmarshal(b, &m.Fields); err != nil {
			c.err = fmt.Errorf("invalid JSON %q: %v", b, err)
			return
		}
		m.Event, _ = m.Fields["event"].(string)
		if err := checkOutbound(m); err != nil {
			c.err = fmt.Errorf("%s: %v", b, err)
			return
		}
		if m.Event == "media" {
			p := m.Fields["media"].(map[string]any)["payload"].(string)
			if m.Audio, err = base64.StdEncoding.DecodeString(p); err != nil {
				c.err = fmt.Errorf("media payload: %v", err)
				return
			}
		}
		c.msgs <- m
	}
}

func keysOf(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

func checkOutbound(m callMsg) error {
	if m.Fields["streamSid"] != callStream {
		return fmt.Errorf("streamSid %v", m.Fields["streamSid"])
	}
	want := map[string][]string{"media": {"event", "media", "streamSid"}, "mark": {"event", "mark", "streamSid"}, "clear": {"event", "streamSid"}}[m.Event]
	if want == nil {
		return fmt.Errorf("event %q is not one the gateway may send", m.Event)
	}
	if got := keysOf(m.Fields); !slices.Equal(got, want) {
		return fmt.Errorf("fields %v, want %v", got, want)
	}
	switch m.Event {
	case "media":
		body, _ := m.Fields["media"].(map[string]any)
		if got := keysOf(body); !slices.Equal(got, []string{"payload"}) {
			return fmt.Errorf("media fields %v", got)
		}
	case "mark":
		body, _ := m.Fields["mark"].(map[string]any)
		if name, _ := body["name"].(string); len(body) != 1 || name == "" {
			return fmt.Errorf("mark %v", body)
		}
	}
	return nil
}

func (c *callClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(websocket.MessageText, b)
}

func (c *callClient) sendRaw(typ websocket.MessageType, b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.ws.Write(ctx, typ, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *callClient) nextSeq() string {
	c.seq++
	return fmt.Sprint(c.seq)
}

// begin sends connected and start, with custom parameters.
func (c *callClient) begin(params map[string]string) {
	c.t.Helper()
	c.send(map[string]any{"event": "connected", "protocol": "Call", "version": "1.0.0"})
	if params == nil {
		params = map[string]string{}
	}
	c.send(map[string]any{
		"event": "start", "sequenceNumber": c.nextSeq(), "streamSid": callStream,
		"start": map[string]any{
			"accountSid": callAccount, "streamSid": callStream, "callSid": callSid, "tracks": []string{"inbound"},
			"mediaFormat":      map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
			"customParameters": params,
		},
	})
}

// sendAudio streams 8 kHz samples as inbound media, 20 ms a message, four
// times faster than real time (the VAD counts samples, not wall time).
func (c *callClient) sendAudio(sig []int16) {
	c.t.Helper()
	for chunk := 1; len(sig) > 0; chunk++ {
		n := min(160, len(sig))
		c.send(map[string]any{
			"event": "media", "sequenceNumber": c.nextSeq(), "streamSid": callStream,
			"media": map[string]any{"track": "inbound", "chunk": fmt.Sprint(chunk), "timestamp": fmt.Sprint(c.sent.Milliseconds()),
				"payload": base64.StdEncoding.EncodeToString(g711.EncodeMuLaw(nil, sig[:n]))},
		})
		c.sent += time.Duration(n) * time.Second / 8000
		sig = sig[n:]
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *callClient) speak(voice time.Duration) {
	c.t.Helper()
	c.sendAudio(pipelinetest.Concat(pipelinetest.Silence(200*time.Millisecond, 8000),
		pipelinetest.Voice(voice, 8000), pipelinetest.Silence(400*time.Millisecond, 8000)))
}

// echoMark tells the gateway a mark's audio has been played.
func (c *callClient) echoMark(name string) {
	c.t.Helper()
	c.send(map[string]any{"event": "mark", "sequenceNumber": c.nextSeq(), "streamSid": callStream, "mark": map[string]any{"name": name}})
}

func (c *callClient) next() callMsg {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m
		default:
		}
		c.t.Fatalf("stream ended: %v", c.err)
	case <-time.After(waitFor):
		c.t.Fatalf("nothing from the gateway within %s", waitFor)
	}
	return callMsg{}
}

// until returns the messages up to and including the first for which ok
// holds.
func (c *callClient) until(ok func(callMsg) bool) []callMsg {
	c.t.Helper()
	var out []callMsg
	for {
		m := c.next()
		out = append(out, m)
		if ok(m) {
			return out
		}
	}
}

func markNamed(name string) func(callMsg) bool {
	return func(m callMsg) bool { return m.Event == "mark" && m.markName() == name }
}

// closed waits for the gateway to close the stream and returns the status.
func (c *callClient) closed() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitFor):
		c.t.Fatalf("stream still open after %s", waitFor)
	}
	return websocket.CloseStatus(c.err)
}

func (c *callClient) close() {
	c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}

// audioOf sums the media in msgs.
func audioOf(msgs []callMsg) (n int, chunks int) {
	for _, m := range msgs {
		if m.Event == "media" {
			n += len(m.Audio)
			chunks++
		}
	}
	return n, chunks
}

// TestTwilioCall: a call streams μ-law speech and gets the reply back as
// μ-law media at 8 kHz, in whole 20 ms frames, followed by the mark of its
// sentence; a second turn does the same.
func TestTwilioCall(t *testing.T) {
	s := newServer(t, nil)
	c, status := s.dialCall(t, nil)
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("dial: HTTP %d", status)
	}
	defer c.close()
	c.begin(nil)
	tone := &pipelinetest.Tone{PerRune: 10 * time.Millisecond}
	for i, said := range []string{"hello there", "how are you"} {
		turn := i + 1
		c.speak(600 * time.Millisecond)
		msgs := c.until(markNamed(fmt.Sprintf("%d.1", turn)))
		n, chunks := audioOf(msgs)
		reply := "You said: " + said + "."
		want := int(tone.Duration(reply).Seconds() * 8000)
		if n < want || n > want+160 {
			t.Errorf("turn %d: %d bytes of μ-law, want %d (8 kHz) padded to a 20 ms frame", turn, n, want)
		}
		for _, m := range msgs {
			if m.Event == "media" && len(m.Audio)%160 != 0 {
				t.Errorf("turn %d: a media message of %d bytes, not whole 20 ms frames", turn, len(m.Audio))
			}
			if m.Event == "clear" {
				t.Errorf("turn %d: clear without a barge-in", turn)
			}
		}
		if chunks < 2 {
			t.Errorf("turn %d: %d media messages", turn, chunks)
		}
		// The tone, not silence: μ-law decodes to a loud signal.
		pcm := g711.DecodeMuLaw(nil, msgs[0].Audio)
		peak := 0
		for _, v := range pcm {
			peak = max(peak, int(v), -int(v))
		}
		if msgs[0].Event != "media" || peak < 3000 {
			t.Errorf("turn %d: first message %s, peak %d", turn, msgs[0].Event, peak)
		}
		c.echoMark(fmt.Sprintf("%d.1", turn))
	}
	eventually(t, "two turns counted", func() bool {
		return metric(t, s.reg, "voicegate_turn_latency_seconds", map[string]string{"stage": "first_audio_sent"}) == 2
	})
	if got := metric(t, s.reg, "voicegate_sessions_total", nil); got != 1 {
		t.Errorf("sessions_total %v", got)
	}
}

// recordingLLM replies with a fixed text, in words, and records the
// prompts it was given.
type recordingLLM struct {
	reply string
	mu    sync.Mutex
	seen  [][]pipeline.Message
}

func (l *recordingLLM) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	l.mu.Lock()
	l.seen = append(l.seen, slices.Clone(msgs))
	l.mu.Unlock()
	for _, w := range strings.SplitAfter(l.reply, " ") {
		if err := emit(w); err != nil {
			return err
		}
	}
	return nil
}

func (l *recordingLLM) prompts() [][]pipeline.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// history returns the prompt of call n (from 0) without the system prompt,
// as "role: content" lines.
func (l *recordingLLM) history(t *testing.T, n int) []string {
	t.Helper()
	var p [][]pipeline.Message
	eventually(t, fmt.Sprintf("prompt %d", n+1), func() bool { p = l.prompts(); return len(p) > n })
	var out []string
	for _, m := range p[n] {
		if m.Role != pipeline.RoleSystem {
			out = append(out, string(m.Role)+": "+m.Content)
		}
	}
	return out
}

const threeSentences = "First sentence here. Second sentence now. The third sentence is a good deal longer than the other two were."

// replyCall starts a call whose replies are reply, each rune of it spoken
// for perRune, and waits for the mark of the first reply's first sentence.
func replyCall(t *testing.T, reply string, perRune time.Duration) (*testServer, *recordingLLM, *callClient) {
	llm := &recordingLLM{reply: reply}
	s := newServer(t, func(o *gateway.Options) {
		o.Stages.LLM = llm
		o.Stages.TTS = &pipelinetest.Tone{Rate: 16000, PerRune: perRune}
	})
	c, _ := s.dialCall(t, nil)
	t.Cleanup(c.close)
	c.begin(nil)
	c.speak(600 * time.Millisecond)
	c.until(markNamed("1.1"))
	return s, llm, c
}

// longReplyCall is a replyCall of threeSentences, spoken slowly enough (20
// ms a rune) to be interrupted.
func longReplyCall(t *testing.T) (*recordingLLM, *callClient) {
	_, llm, c := replyCall(t, threeSentences, 20*time.Millisecond)
	return llm, c
}

const oneSentence = "Just one sentence here."

// TestTwilioBargeInKeepsWhatWasPlayed: the caller speaks over a reply of
// three sentences, of which Twilio has said it played the first: the
// gateway sends clear, once, sends no more of that reply, and the history
// keeps the first sentence only, which the next turn's prompt shows.
func TestTwilioBargeInKeepsWhatWasPlayed(t *testing.T) {
	llm, c := longReplyCall(t)
	c.echoMark("1.1") // played
	msgs := c.until(markNamed("1.2"))
	if _, chunks := audioOf(msgs); chunks == 0 {
		t.Fatal("no audio for the second sentence")
	}
	// 1.2 is still "playing": the caller speaks over it.
	c.speak(600 * time.Millisecond)
	msgs = c.until(func(m callMsg) bool { return m.Event == "clear" })
	for _, m := range msgs {
		if m.Event == "mark" && m.markName() == "1.3" {
			t.Errorf("the third sentence was sent whole before the barge-in; the test needs a longer reply")
		}
	}
	cleared := msgs[len(msgs)-1].At
	// Twilio answers clear by echoing the marks still pending: they must
	// not count as played.
	c.echoMark("1.2")
	got := llm.history(t, 1)
	want := []string{"user: hello there", "assistant: First sentence here.", "user: how are you"}
	if !slices.Equal(got, want) {
		t.Fatalf("history after the barge-in:\n%q\nwant\n%q", got, want)
	}
	// Nothing more of turn 1, and one clear only.
	for _, m := range c.until(markNamed("2.1")) {
		if m.Event == "clear" {
			t.Error("a second clear")
		}
		if m.Event == "mark" && strings.HasPrefix(m.markName(), "1.") {
			t.Errorf("mark %s of the cut reply after the clear", m.markName())
		}
	}
	t.Logf("clear %v after the second sentence's mark", cleared.Sub(msgs[0].At).Round(time.Millisecond))
}

// TestTwilioBargeInAfterTheReplyWasSent: the whole reply has gone out but
// Twilio has played none of it when the caller speaks: clear, and the
// reply leaves the history.
func TestTwilioBargeInAfterTheReplyWasSent(t *testing.T) {
	s, llm, c := replyCall(t, oneSentence, 10*time.Millisecond)
	// The pipeline's turn is over (the mark follows the last audio); wait
	// until it has recorded the reply, then speak without echoing the mark.
	eventually(t, "turn counted", func() bool {
		return metric(t, s.reg, "voicegate_turn_latency_seconds", map[string]string{"stage": "first_audio_sent"}) == 1
	})
	c.speak(600 * time.Millisecond)
	c.until(func(m callMsg) bool { return m.Event == "clear" })
	got := llm.history(t, 1)
	want := []string{"user: hello there", "user: how are you"}
	if !slices.Equal(got, want) {
		t.Fatalf("history:\n%q\nwant\n%q", got, want)
	}
}

// TestTwilioPlayedReplyStays: a reply whose marks all came back is not
// cleared by the next turn, and stays whole in the history.
func TestTwilioPlayedReplyStays(t *testing.T) {
	_, llm, c := replyCall(t, oneSentence, 10*time.Millisecond)
	c.echoMark("1.1")
	c.speak(600 * time.Millisecond)
	for _, m := range c.until(markNamed("2.1")) {
		if m.Event == "clear" {
			t.Fatal("clear after a reply that was played")
		}
	}
	got := llm.history(t, 1)
	want := []string{"user: hello there", "assistant: " + oneSentence, "user: how are you"}
	if !slices.Equal(got, want) {
		t.Fatalf("history:\n%q\nwant\n%q", got, want)
	}
}

// TestTwilioDTMF: a key pressed during a reply interrupts it: clear, and
// no more of its audio.
func TestTwilioDTMF(t *testing.T) {
	_, c := longReplyCall(t)
	c.send(map[string]any{"event": "dtmf", "streamSid": callStream, "sequenceNumber": c.nextSeq(), "dtmf": map[string]any{"track": "inbound_track", "digit": "5"}})
	c.until(func(m callMsg) bool { return m.Event == "clear" })
	// A second turn still works, and nothing of the first comes after the
	// clear.
	c.speak(600 * time.Millisecond)
	for _, m := range c.until(markNamed("2.1")) {
		if m.Event == "mark" && strings.HasPrefix(m.markName(), "1.") {
			t.Errorf("mark %s after the clear", m.markName())
		}
	}
}

// TestTwilioStop: stop ends the call with a normal close, and the server
// holds nothing of it.
func TestTwilioStop(t *testing.T) {
	s := newServer(t, nil)
	c, _ := s.dialCall(t, nil)
	c.begin(nil)
	c.speak(300 * time.Millisecond)
	c.send(map[string]any{"event": "stop", "sequenceNumber": c.nextSeq(), "streamSid": callStream,
		"stop": map[string]any{"accountSid": callAccount, "callSid": callSid}})
	if st := c.closed(); st != websocket.StatusNormalClosure {
		t.Fatalf("close status %d, want 1000", st)
	}
	eventually(t, "no session active", func() bool { return metric(t, s.reg, "voicegate_sessions_active", nil) == 0 })
}

// TestTwilioBadInput: messages that are not Twilio's are skipped and the
// call goes on; one over the read limit ends it with 1009.
func TestTwilioBadInput(t *testing.T) {
	s := newServer(t, nil)
	c, _ := s.dialCall(t, nil)
	defer c.close()
	c.sendRaw(websocket.MessageText, []byte(`{"event":"media","sequenceNumber":"1","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"/w=="}}`)) // before start
	c.begin(nil)
	for _, bad := range []string{`not json`, `{"event":"media"}`, `{"event":"hello"}`, `[]`,
		`{"event":"media","sequenceNumber":"9","streamSid":"` + callStream + `","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"%%%"}}`,
		`{"event":"mark","sequenceNumber":"9","streamSid":"` + callStream + `","mark":{"name":"not one of ours"}}`,
		`{"event":"mark","sequenceNumber":"9","streamSid":"` + callStream + `","mark":{"name":"99.1"}}`,
	} {
		c.sendRaw(websocket.MessageText, []byte(bad))
	}
	c.sendRaw(websocket.MessageBinary, []byte{1, 2, 3})
	c.speak(600 * time.Millisecond)
	c.until(markNamed("1.1"))

	c.sendRaw(websocket.MessageText, []byte(`{"event":"media","payload":"`+strings.Repeat("A", 200<<10)+`"}`))
	if st := c.closed(); st != websocket.StatusMessageTooBig {
		t.Fatalf("close status %d after an oversized message, want 1009", st)
	}
}

// TestTwilioLimits: the gateway's caps hold for calls too: MaxSessions,
// and the start timeout.
func TestTwilioLimits(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) {
		o.MaxSessions = 1
		o.StartTimeout = 200 * time.Millisecond
	})
	a, _ := s.dialCall(t, nil)
	a.begin(nil)
	b, _ := s.dialCall(t, nil)
	if st := b.closed(); st != websocket.StatusTryAgainLater {
		t.Errorf("second call: close %d, want 1013", st)
	}
	a.close()
	eventually(t, "the first call ends", func() bool { return metric(t, s.reg, "voicegate_sessions_active", nil) == 0 })
	c, _ := s.dialCall(t, nil) // never starts
	if st := c.closed(); st != websocket.StatusPolicyViolation {
		t.Errorf("silent call: close %d, want 1008", st)
	}
}

// TestTwilioDrain: Shutdown ends calls with 1012.
func TestTwilioDrain(t *testing.T) {
	s := newServer(t, nil)
	c, _ := s.dialCall(t, nil)
	c.begin(nil)
	c.speak(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.closed(); st != websocket.StatusServiceRestart {
		t.Fatalf("close %d, want 1012", st)
	}
}

// twilioSign computes X-Twilio-Signature as Twilio documents it, here and
// not with the gateway's code: HMAC-SHA1 of the URL and the sorted form.
func twilioSign(token, u string, form url.Values) string {
	s := u
	names := keysOfValues(form)
	for _, k := range names {
		for _, v := range form[k] {
			s += k + v
		}
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func keysOfValues(v url.Values) []string {
	var k []string
	for key := range v {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

const twilioToken = "f00dfeedf00dfeedf00dfeedf00dfeed"

func (s *testServer) postVoice(t *testing.T, form url.Values, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", s.ts.URL+gateway.PathTwilioVoice, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") != "text/xml; charset=utf-8" {
		t.Errorf("TwiML served as %q", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, string(b)
}

// TestTwilioSignature: with an auth token, the stream and the webhook
// answer only requests signed by it, over the URL Twilio used (the request's
// own, or public_url's).
func TestTwilioSignature(t *testing.T) {
	for _, public := range []string{"", "https://voice.example.com/base"} {
		t.Run("public_url="+public, func(t *testing.T) {
			s := newServer(t, func(o *gateway.Options) {
				o.TwilioAuthToken = twilioToken
				o.PublicURL = public
			})
			streamURL, hookURL := s.twilioURL(), s.ts.URL+gateway.PathTwilioVoice
			if public != "" {
				streamURL, hookURL = "wss://voice.example.com/base"+gateway.PathTwilio, public+gateway.PathTwilioVoice
			}
			form := url.Values{"CallSid": {callSid}, "AccountSid": {callAccount}, "From": {"+15550100"}, "To": {"+15550199"}}
			tests := []struct {
				name string
				sig  string
				want int
			}{
				{"unsigned", "", http.StatusForbidden},
				{"another token", twilioSign("0000feedf00dfeedf00dfeedf00dfeed", streamURL, nil), http.StatusForbidden},
				{"signed over the http URL", twilioSign(twilioToken, strings.Replace(strings.Replace(streamURL, "wss:", "https:", 1), "ws:", "http:", 1), nil), http.StatusForbidden},
				{"signed", twilioSign(twilioToken, streamURL, nil), http.StatusSwitchingProtocols},
			}
			for _, tc := range tests {
				c, status := s.dialCall(t, http.Header{"X-Twilio-Signature": {tc.sig}})
				if status != tc.want {
					t.Errorf("stream %s: HTTP %d, want %d", tc.name, status, tc.want)
				}
				if c != nil {
					c.begin(nil)
					c.speak(600 * time.Millisecond)
					c.until(markNamed("1.1"))
					c.close()
				}
			}
			for _, tc := range []struct {
				name string
				sig  string
				want int
			}{
				{"unsigned", "", http.StatusForbidden},
				{"signed without the form", twilioSign(twilioToken, hookURL, nil), http.StatusForbidden},
				{"signed", twilioSign(twilioToken, hookURL, form), http.StatusOK},
			} {
				status, body := s.postVoice(t, form, http.Header{"X-Twilio-Signature": {tc.sig}})
				if status != tc.want {
					t.Errorf("webhook %s: HTTP %d, want %d (%s)", tc.name, status, tc.want, body)
				}
				if status == http.StatusOK && !strings.Contains(body, `<Stream url="`+streamURL+`"/>`) {
					t.Errorf("webhook TwiML %s does not connect to %s", body, streamURL)
				}
			}
			if got := metric(t, s.reg, "voicegate_connections_rejected_total", map[string]string{"reason": "twilio_signature"}); got != 5 {
				t.Errorf("rejected{twilio_signature} = %v, want 5", got)
			}
		})
	}
}

// TestTwilioOffWithKeysAlone: a server with API keys and no Twilio auth
// token serves no Twilio endpoint — Twilio cannot present a key before the
// upgrade, so an unsigned stream would take a session's place unchecked.
func TestTwilioOffWithKeysAlone(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.APIKeys = []string{"key-for-twilio-calls-0123456789"} })
	if _, status := s.dialCall(t, nil); status != http.StatusNotFound {
		t.Errorf("stream upgrade: HTTP %d, want 404", status)
	}
	if status, body := s.postVoice(t, url.Values{"CallSid": {callSid}}, nil); status != http.StatusNotFound || !strings.Contains(body, "twilio_auth_token") {
		t.Errorf("voice webhook: HTTP %d %s, want 404 naming the setting", status, body)
	}
}

// TestTwilioVoiceOpen: without credentials the webhook answers anyone on
// loopback with the TwiML of the request's own host.
func TestTwilioVoiceOpen(t *testing.T) {
	s := newServer(t, nil)
	status, body := s.postVoice(t, url.Values{"CallSid": {callSid}}, nil)
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Response><Connect><Stream url="` + s.twilioURL() + `"/></Connect></Response>`
	if status != http.StatusOK || body != want {
		t.Fatalf("HTTP %d\n%s\nwant\n%s", status, body, want)
	}
	req, _ := http.NewRequest("POST", s.ts.URL+gateway.PathTwilioVoice, strings.NewReader("x="+strings.Repeat("a", 70<<10)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("oversized form: HTTP %d, want 400", resp.StatusCode)
	}
}
