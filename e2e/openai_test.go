//go:build e2e

package e2e

import (
	"bytes"
	"context"
	encbin "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/audio/wav"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// upstream is an OpenAI-compatible server speaking the real wire format:
// multipart transcriptions, SSE chat completions cut at odd byte boundaries
// (inside "data:" and inside multi-byte characters), chunked PCM speech.
type upstream struct {
	transcript string
	failChat   atomic.Int32 // answer this many chat requests with 503
	mu         sync.Mutex
	gotWAV     []byte
	gotModel   map[string]string
	gotAuth    []string
	speechText []string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.gotAuth = append(u.gotAuth, r.Header.Get("Authorization"))
	u.mu.Unlock()
	switch r.URL.Path {
	case "/v1/audio/transcriptions":
		if err := r.ParseMultipartForm(10 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f, _, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(f)
		u.mu.Lock()
		u.gotWAV = b
		u.gotModel["asr"] = r.FormValue("model")
		u.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"text": u.transcript})
	case "/v1/chat/completions":
		var req struct {
			Model    string `json:"model"`
			Stream   bool   `json:"stream"`
			Messages []struct{ Role, Content string }
		}
		json.NewDecoder(r.Body).Decode(&req)
		u.mu.Lock()
		u.gotModel["llm"] = req.Model
		u.mu.Unlock()
		if u.failChat.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"message":"overloaded","type":"server_error"}}`)
			return
		}
		last := req.Messages[len(req.Messages)-1].Content
		reply := []string{"Sure — you asked ", "about “" + last + "”. ", "Here is a second sentence, with ünïcode. ", "Done."}
		var sse bytes.Buffer
		for i, d := range reply {
			chunk, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": req.Model,
				"choices": []map[string]any{{"index": 0, "delta": map[string]string{"content": d}}}})
			fmt.Fprintf(&sse, "data: %s\n\n", chunk)
			if i == len(reply)-1 {
				fin, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": req.Model,
					"choices": []map[string]any{{"index": 0, "delta": map[string]string{}, "finish_reason": "stop"}}})
				fmt.Fprintf(&sse, "data: %s\n\n", fin)
			}
		}
		sse.WriteString("data: [DONE]\n\n")
		w.Header().Set("Content-Type", "text/event-stream")
		b := sse.Bytes()
		for len(b) > 0 { // 7-byte writes split "data:" and multi-byte runes
			n := min(7, len(b))
			w.Write(b[:n])
			w.(http.Flusher).Flush()
			b = b[n:]
			time.Sleep(200 * time.Microsecond)
		}
	case "/v1/audio/speech":
		var req struct {
			Model, Input, Voice string
			ResponseFormat      string `json:"response_format"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		u.mu.Lock()
		u.gotModel["tts"] = req.Model
		u.speechText = append(u.speechText, req.Input)
		u.mu.Unlock()
		if req.ResponseFormat != "pcm" {
			http.Error(w, "want response_format pcm", http.StatusBadRequest)
			return
		}
		// 50 ms of 24 kHz tone per character, in odd-sized chunks.
		n := 24000 * len([]rune(req.Input)) / 20
		pcm := make([]byte, 2*n)
		for i := range n {
			encbin.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(6000*math.Sin(2*math.Pi*300*float64(i)/24000))))
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		for len(pcm) > 0 {
			k := min(4801, len(pcm))
			w.Write(pcm[:k])
			w.(http.Flusher).Flush()
			pcm = pcm[k:]
		}
	default:
		http.NotFound(w, r)
	}
}

// TestOpenAICompatibleTurn runs voice turns through the binary with all three
// stages on an OpenAI-compatible server.
func TestOpenAICompatibleTurn(t *testing.T) {
	up := &upstream{transcript: "what is the weather like today", gotModel: map[string]string{}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	const key = "sk-test-0123456789abcdef0123"
	cfg := fmt.Sprintf(`
vad: {silence: 300ms}
log: {level: debug}
providers:
  asr: [{name: openai, base_url: %[1]s/v1, api_key_env: E2E_UPSTREAM_KEY, model: whisper-1}]
  llm: [{name: openai, base_url: %[1]s/v1, api_key_env: E2E_UPSTREAM_KEY, model: gpt-test, failure_threshold: 5}]
  tts: [{name: openai, base_url: %[1]s/v1, api_key_env: E2E_UPSTREAM_KEY, model: tts-test, voice: alloy}]
`, srv.URL)
	t.Setenv("E2E_UPSTREAM_KEY", key)
	g := startGateway(t, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := dialSession(t, ctx, g, 16000, 24000)
	if s.started.Providers.LLM != "openai:gpt-test" || s.started.OutputAudio.SampleRate != 24000 {
		t.Fatalf("session.started %+v", s.started)
	}
	speak := func() {
		p := newPacer(s.c, 16000)
		p.send(ctx, t, pipelinetest.Concat(pipelinetest.Silence(300*time.Millisecond, 16000),
			pipelinetest.Voice(900*time.Millisecond, 16000), pipelinetest.Silence(time.Second, 16000)))
	}

	// Turn 1: the model stays overloaded (503) through the first try and
	// both retries: a typed error, and the session lives on.
	up.failChat.Store(3)
	speak()
	e := s.waitType(t, protocol.TypeError)
	var ev protocol.Error
	json.Unmarshal(e.data, &ev)
	if ev.Code != protocol.CodeProviderDown || ev.Stage != "llm" || ev.Fatal {
		t.Fatalf("error event %s", e.data)
	}
	if n := up.failChat.Load(); n != 0 {
		t.Fatalf("upstream chat saw %d requests, want 3 (a try and two retries)", 3-n)
	}

	// Turn 2: a full voice turn through all three remote stages. Turn 1's
	// closing messages (response.cancelled, turn.latency) may still be on
	// their way, so every wait below is for turn 2's own messages.
	speak()
	if ev.Turn == 0 {
		t.Fatalf("error event without a turn: %s", e.data)
	}
	turn := ev.Turn + 1
	final := s.waitTurn(t, turn, protocol.TypeTranscriptFinal)
	if !strings.Contains(string(final.data), up.transcript) {
		t.Fatalf("final %s", final.data)
	}
	done := s.waitTurn(t, turn, protocol.TypeResponseDone)
	var rd protocol.ResponseDone
	json.Unmarshal(done.data, &rd)
	want := "Sure — you asked about “" + up.transcript + "”. Here is a second sentence, with ünïcode. Done."
	if rd.Text != want {
		t.Fatalf("reply %q, want %q", rd.Text, want)
	}
	lat := s.waitTurn(t, turn, protocol.TypeTurnLatency)
	var tl protocol.TurnLatency
	json.Unmarshal(lat.data, &tl)
	if tl.ASRFinalMS == nil || tl.LLMFirstMS == nil || tl.TTSFirstMS == nil || tl.FirstAudioMS == nil {
		t.Fatalf("latency %s", lat.data)
	}
	deltas, firstAudio, lastDelta, audioBytes := "", -1, -1, 0
	for i, m := range s.ofTurn(turn) {
		if m.binary {
			audioBytes += len(m.data)
			if firstAudio < 0 {
				firstAudio = i
			}
			continue
		}
		var d protocol.TextDelta
		if json.Unmarshal(m.data, &d); d.Type == protocol.TypeTextDelta {
			deltas += d.Delta
			lastDelta = i
		}
	}
	if deltas != want {
		t.Fatalf("deltas %q", deltas)
	}
	if firstAudio < 0 || firstAudio > lastDelta {
		t.Errorf("first audio at message %d, last text delta at %d: speech did not start before the model finished", firstAudio, lastDelta)
	}
	wantAudio := 0
	up.mu.Lock()
	for _, in := range up.speechText {
		wantAudio += 2 * 24000 * len([]rune(in)) / 20
	}
	wavFmt, wavSamples, err := wav.Decode(bytes.NewReader(up.gotWAV))
	gotAuth, models := up.gotAuth, up.gotModel
	up.mu.Unlock()
	if audioBytes != wantAudio {
		t.Errorf("client got %d audio bytes, upstream sent %d", audioBytes, wantAudio)
	}
	if err != nil || wavFmt.SampleRate != 16000 || len(wavSamples) < 16000*9/10 {
		t.Errorf("uploaded WAV: %v %v, %d samples", err, wavFmt, len(wavSamples))
	}
	if models["asr"] != "whisper-1" || models["llm"] != "gpt-test" || models["tts"] != "tts-test" {
		t.Errorf("models %v", models)
	}
	for _, a := range gotAuth {
		if a != "Bearer "+key {
			t.Fatalf("upstream saw Authorization %q", a)
		}
	}
	if strings.Contains(g.Log(), key) {
		t.Fatal("the API key appears in the gateway's log")
	}
	t.Logf("turn latency (ms from end of speech): asr %.0f, llm %.0f, tts %.0f, first audio sent %.0f",
		*tl.ASRFinalMS, *tl.LLMFirstMS, *tl.TTSFirstMS, *tl.FirstAudioMS)
}

// wsMessage is one message a test client received.
type wsMessage struct {
	binary bool
	typ    string
	turn   uint64 // the JSON "turn"; for audio, the turn whose response.audio.start came before it
	data   []byte
}

// wsSession is a protocol client that records everything it receives.
type wsSession struct {
	c       *websocket.Conn
	started protocol.SessionStarted
	mu      sync.Mutex
	msgs    []wsMessage
	signal  chan struct{}
	err     error
}

func dialSession(t *testing.T, ctx context.Context, g *gatewayProc, in, out int) *wsSession {
	t.Helper()
	c, _, err := websocket.Dial(ctx, g.WS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(1 << 20)
	s := &wsSession{c: c, signal: make(chan struct{})}
	go func() {
		var audioTurn uint64 // the turn whose audio is playing
		for {
			typ, data, err := c.Read(ctx)
			s.mu.Lock()
			if err != nil {
				s.err = err
				close(s.signal)
				s.mu.Unlock()
				return
			}
			m := wsMessage{binary: typ == websocket.MessageBinary, data: data, turn: audioTurn}
			if !m.binary {
				var env struct {
					Type string
					Turn uint64
				}
				json.Unmarshal(data, &env)
				m.typ, m.turn = env.Type, env.Turn
				if m.typ == protocol.TypeAudioStart {
					audioTurn = m.turn
				}
			}
			s.msgs = append(s.msgs, m)
			close(s.signal)
			s.signal = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	writeJSON(t, ctx, c, protocol.SessionStart{Type: protocol.TypeSessionStart,
		InputAudio: &protocol.AudioFormat{SampleRate: in}, OutputAudio: &protocol.AudioFormat{SampleRate: out}})
	m := s.waitType(t, protocol.TypeSessionStarted)
	json.Unmarshal(m.data, &s.started)
	return s
}

// ofTurn returns the messages of one turn received so far: its events and
// the audio that followed its response.audio.start.
func (s *wsSession) ofTurn(turn uint64) []wsMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wsMessage
	for _, m := range s.msgs {
		if m.turn == turn {
			out = append(out, m)
		}
	}
	return out
}

// waitType waits for the first message of type typ, whatever its turn.
func (s *wsSession) waitType(t *testing.T, typ string) wsMessage {
	t.Helper()
	return s.wait(t, typ, func(m wsMessage) bool { return m.typ == typ })
}

// waitTurn waits for the message of type typ that belongs to turn. Tests
// wait by turn number, never "from the n-th message": an earlier turn's
// closing events can arrive after a later turn has begun.
func (s *wsSession) waitTurn(t *testing.T, turn uint64, typ string) wsMessage {
	t.Helper()
	return s.wait(t, fmt.Sprintf("%s of turn %d", typ, turn), func(m wsMessage) bool { return m.typ == typ && m.turn == turn })
}

func (s *wsSession) wait(t *testing.T, what string, match func(wsMessage) bool) wsMessage {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			if !m.binary && match(m) {
				s.mu.Unlock()
				return m
			}
		}
		sig, err := s.signal, s.err
		s.mu.Unlock()
		if err != nil {
			t.Fatalf("waiting for %s: connection ended: %v", what, err)
		}
		select {
		case <-sig:
		case <-timeout:
			var got []string
			s.mu.Lock()
			for _, m := range s.msgs {
				if !m.binary {
					got = append(got, string(m.data))
				}
			}
			s.mu.Unlock()
			t.Fatalf("no %s within 20s; received:\n%s", what, strings.Join(got, "\n"))
		}
	}
}
