//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/gateway/protocol"
)

// mandarinHold is how long the model's stream stalls after the first
// clause of its reply.
const mandarinHold = 1500 * time.Millisecond

// mandarinUpstream is an OpenAI-compatible chat server that streams a
// Chinese reply over SSE in writes of 5 bytes (inside "data:" and inside
// the 3-byte runes), with deltas that cut words apart, and stalls for
// mandarinHold once the first clause is out.
type mandarinUpstream struct {
	first, rest []string // the reply's deltas before and after the stall

	mu       sync.Mutex
	system   string    // the system prompt of the last request
	clauseAt time.Time // when the first clause's last byte was flushed
	release  time.Time // when the rest began
}

func (u *mandarinUpstream) reply() string {
	return strings.Join(u.first, "") + strings.Join(u.rest, "")
}

func (u *mandarinUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	var req struct {
		Model    string
		Messages []struct{ Role, Content string }
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	if req.Messages[0].Role == "system" {
		u.system = req.Messages[0].Content
	}
	u.mu.Unlock()
	sse := func(deltas []string, last bool) []byte {
		var b bytes.Buffer
		for _, d := range deltas {
			chunk, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": req.Model,
				"choices": []map[string]any{{"index": 0, "delta": map[string]string{"content": d}}}})
			fmt.Fprintf(&b, "data: %s\n\n", chunk)
		}
		if last {
			fin, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": req.Model,
				"choices": []map[string]any{{"index": 0, "delta": map[string]string{}, "finish_reason": "stop"}}})
			fmt.Fprintf(&b, "data: %s\n\ndata: [DONE]\n\n", fin)
		}
		return b.Bytes()
	}
	write := func(b []byte) (last time.Time) { // when the last byte was flushed
		for len(b) > 0 {
			n := min(5, len(b))
			w.Write(b[:n])
			w.(http.Flusher).Flush()
			last = time.Now()
			b = b[n:]
			time.Sleep(100 * time.Microsecond)
		}
		return last
	}
	w.Header().Set("Content-Type", "text/event-stream")
	clauseAt := write(sse(u.first, false))
	u.mu.Lock()
	u.clauseAt = clauseAt
	u.mu.Unlock()
	select {
	case <-time.After(mandarinHold):
	case <-r.Context().Done():
		return
	}
	u.mu.Lock()
	u.release = time.Now()
	u.mu.Unlock()
	write(sse(u.rest, true))
}

// received is one message the client got, with when.
type received struct {
	at     time.Time
	binary bool
	typ    string
	data   []byte
}

// receive connects to g's /ws and returns the connection, closed when the
// test ends, and everything it receives, stamped with when, until it ends.
func receive(t *testing.T, ctx context.Context, g *gatewayProc) (*websocket.Conn, <-chan received) {
	t.Helper()
	c, _, err := websocket.Dial(ctx, g.WS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	msgs := make(chan received, 4096) // the reply's audio comes in 100 ms frames, under the default read limit
	go func() {
		defer close(msgs)
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			m := received{at: time.Now(), binary: typ == websocket.MessageBinary, data: data}
			if !m.binary {
				var env struct{ Type string }
				json.Unmarshal(data, &env)
				m.typ = env.Type
			}
			msgs <- m
		}
	}()
	return c, msgs
}

// TestMandarinFirstClause runs a Mandarin text turn through the binary:
// the model (an OpenAI-compatible SSE server) streams a Chinese reply and
// stalls after its first clause; the session's language, zh, gives it the
// Chinese prompt and eSpeak NG's Mandarin voice. The first clause is
// synthesised on its own, so the first reply audio arrives while the model
// is still stalled, and that audio is the first clause's alone.
func TestMandarinFirstClause(t *testing.T) {
	up := &mandarinUpstream{
		first: []string{"今", "天天气", "很好", "，"},
		rest:  []string{"我们去公", "园散步吧。", "晚上我们一起", "吃饭，好不好？"},
	}
	srv := httptest.NewServer(up)
	defer srv.Close()
	const zhPrompt = "你是一个有帮助的语音助手。用一到三句简短的口语回答。"
	// Unpaced reply audio: what reaches the client before the model goes
	// on is all the audio there is by then.
	g := startGateway(t, fmt.Sprintf(`
log: {level: debug}
session: {playout_lead: -1s}
providers:
  llm: [{name: openai, base_url: %s/v1, model: chat-test}]
languages:
  zh:
    system_prompt: %q
    tts: [{name: espeakng, voice: cmn-latn-pinyin}]
`, srv.URL, zhPrompt))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, msgs := receive(t, ctx, g)
	next := func(typ string) received {
		t.Helper()
		for m := range msgs {
			if m.typ == typ {
				return m
			}
			if m.typ == protocol.TypeError {
				t.Fatalf("error while waiting for %s: %s", typ, m.data)
			}
		}
		t.Fatalf("connection ended while waiting for %s", typ)
		return received{}
	}

	writeJSON(t, ctx, c, protocol.SessionStart{Type: protocol.TypeSessionStart, Language: "zh-CN",
		OutputAudio: &protocol.AudioFormat{SampleRate: 16000}})
	var started protocol.SessionStarted
	json.Unmarshal(next(protocol.TypeSessionStarted).data, &started)
	if started.Language != "zh" || started.Providers.TTS != "espeakng:cmn-latn-pinyin" || started.Providers.LLM != "openai:chat-test" {
		t.Fatalf("session.started: language %q, providers %+v", started.Language, started.Providers)
	}
	sent := time.Now()
	writeJSON(t, ctx, c, protocol.InputText{Type: protocol.TypeInputText, Text: "今天天气怎么样？"})

	var (
		firstAudio    time.Time
		beforeRelease int // audio bytes received before the model went on
		total         int
		deltas        strings.Builder
		latency       protocol.TurnLatency
		done          protocol.ResponseDone
	)
	for m := range msgs {
		up.mu.Lock()
		released := !up.release.IsZero() && !m.at.Before(up.release)
		up.mu.Unlock()
		switch m.typ {
		case protocol.TypeTextDelta:
			var d protocol.TextDelta
			json.Unmarshal(m.data, &d)
			deltas.WriteString(d.Delta)
		case protocol.TypeResponseDone:
			json.Unmarshal(m.data, &done)
		case protocol.TypeTurnLatency:
			json.Unmarshal(m.data, &latency)
		case protocol.TypeError:
			t.Fatalf("error: %s", m.data)
		}
		if m.binary {
			if firstAudio.IsZero() {
				firstAudio = m.at
			}
			total += len(m.data)
			if !released {
				beforeRelease = total
			}
		}
		if m.typ == protocol.TypeTurnLatency {
			break
		}
	}
	if latency.Type == "" {
		t.Fatal("connection ended before turn.latency")
	}

	up.mu.Lock()
	clauseAt, release, system := up.clauseAt, up.release, up.system
	up.mu.Unlock()
	if system != zhPrompt {
		t.Errorf("the model got system prompt %q, want the zh one", system)
	}
	if done.Text != up.reply() || deltas.String() != up.reply() {
		t.Fatalf("reply %q (deltas %q), want %q", done.Text, deltas.String(), up.reply())
	}
	if firstAudio.IsZero() || !firstAudio.Before(release) {
		t.Fatalf("first audio at %v, the model went on at %v: the first clause was not spoken on its own",
			firstAudio.Sub(sent), release.Sub(sent))
	}
	// The audio before the stall ended is the first clause's: "今天天气很好，"
	// is six syllables, about 1 to 2.5 s of speech; the whole reply is
	// more than three times as long.
	const bytesPerSecond = 2 * 16000
	clause := time.Duration(beforeRelease) * time.Second / bytesPerSecond
	whole := time.Duration(total) * time.Second / bytesPerSecond
	if clause < 800*time.Millisecond || clause > 2500*time.Millisecond {
		t.Errorf("%v of audio before the model went on: not the first clause alone", clause)
	}
	han := 0
	for _, r := range up.reply() {
		if unicode.Is(unicode.Han, r) {
			han++
		}
	}
	if per := whole / time.Duration(han); per < 120*time.Millisecond || per > 400*time.Millisecond {
		t.Errorf("%v of audio for %d characters (%v each): not Mandarin syllables", whole, han, per)
	}
	if whole < 3*clause {
		t.Errorf("whole reply %v of audio, first clause %v: the rest was not spoken", whole, clause)
	}
	if latency.FirstSentMS == nil || latency.LLMFirstMS == nil || time.Duration(*latency.FirstSentMS*float64(time.Millisecond)) >= mandarinHold {
		t.Errorf("turn.latency %+v: the first piece was not cut before the stall ended", latency)
	}
	t.Logf("first clause flushed by the model → first reply audio at the client: %v (text sent → first audio %v; the model stalled %v); first clause %v of audio, whole reply %v",
		firstAudio.Sub(clauseAt).Round(100*time.Microsecond), firstAudio.Sub(sent).Round(time.Millisecond), mandarinHold, clause.Round(time.Millisecond), whole.Round(time.Millisecond))
}
