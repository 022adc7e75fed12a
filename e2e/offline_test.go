//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/internal/speechtest"
	"github.com/voicegate/voicegate/providers/tts/piper"
)

// The offline default must understand assistant-style English spoken by
// flite's slt voice.
var offlineSentences = speechtest.Requests

// noiseAmp is the peak amplitude of the room noise under the speech.
var noiseAmp = 20

// turnResult is what the client saw of one spoken turn.
type turnResult struct {
	sentence     string
	speechStart  time.Duration // true onset in the stream
	speechEnd    time.Duration
	speechEndAt  time.Time // wall time the last voiced frame was sent
	started      *protocol.Speech
	stopped      *protocol.Speech
	final        string
	reply        string
	audioBytes   int
	firstAudioAt time.Time
	latency      *protocol.TurnLatency
}

// TestOfflineVoiceLoop streams flite speech at real-time pace through the
// gateway's offline default (Silero VAD + pocketsphinx + echo + Piper) and checks
// what comes back: speech events where the speech is, transcripts, the echo
// reply and reply audio as long as the reply takes to say.
func TestOfflineVoiceLoop(t *testing.T) {
	need(t, "flite")
	g := startGateway(t, "") // exactly what `make run` starts
	dir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, g.WS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	writeJSON(t, ctx, c, protocol.SessionStart{Type: protocol.TypeSessionStart, InputAudio: &protocol.AudioFormat{SampleRate: 16000}, OutputAudio: &protocol.AudioFormat{SampleRate: 16000}})

	var mu sync.Mutex
	var cur *turnResult
	started := make(chan protocol.SessionStarted, 1)
	readErr := make(chan error, 1)
	go func() {
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			mu.Lock()
			tr := cur
			if typ == websocket.MessageBinary {
				if tr != nil {
					if tr.audioBytes == 0 {
						tr.firstAudioAt = time.Now()
					}
					tr.audioBytes += len(data)
				}
				mu.Unlock()
				continue
			}
			var env struct{ Type string }
			json.Unmarshal(data, &env)
			switch env.Type {
			case protocol.TypeSessionStarted:
				var m protocol.SessionStarted
				json.Unmarshal(data, &m)
				started <- m
			case protocol.TypeSpeechStarted, protocol.TypeSpeechStopped:
				var m protocol.Speech
				json.Unmarshal(data, &m)
				if tr != nil && env.Type == protocol.TypeSpeechStarted && tr.started == nil {
					tr.started = &m
				} else if tr != nil && env.Type == protocol.TypeSpeechStopped && tr.stopped == nil {
					tr.stopped = &m
				}
			case protocol.TypeTranscriptFinal:
				var m protocol.Transcript
				json.Unmarshal(data, &m)
				if tr != nil {
					tr.final = m.Text
				}
			case protocol.TypeResponseDone:
				var m protocol.ResponseDone
				json.Unmarshal(data, &m)
				if tr != nil {
					tr.reply = m.Text
				}
			case protocol.TypeTurnLatency:
				var m protocol.TurnLatency
				json.Unmarshal(data, &m)
				if tr != nil {
					tr.latency = &m
				}
			case protocol.TypeError:
				t.Errorf("error event: %s", data)
			}
			mu.Unlock()
		}
	}()
	var ss protocol.SessionStarted
	select {
	case ss = <-started:
	case err := <-readErr:
		t.Fatal(err)
	}
	if ss.Providers.VAD != "silero" || ss.Providers.ASR != "pocketsphinx" || ss.Providers.TTS != "piper" || ss.Providers.LLM != "echo" {
		t.Fatalf("offline default providers = %+v", ss.Providers)
	}

	voice := newPiperVoice(t)
	rng := rand.New(rand.NewPCG(1, 2))
	stream := newPacer(c, 16000)
	var results []*turnResult
	for i, sentence := range offlineSentences {
		speech := loadWAV(t, flite(t, dir, fmt.Sprint("s", i), sentence))
		tr := &turnResult{sentence: sentence}
		mu.Lock()
		cur = tr
		mu.Unlock()
		// Quiet room noise throughout, as a real microphone hears.
		stream.send(ctx, t, noise(rng, 16000*6/10, noiseAmp))
		tr.speechStart = stream.position()
		stream.send(ctx, t, addNoise(rng, speech, noiseAmp))
		tr.speechEnd, tr.speechEndAt = stream.position(), time.Now()
		// Keep the microphone open until the turn's latency report.
		deadline := time.Now().Add(20 * time.Second)
		for {
			stream.send(ctx, t, noise(rng, 320, noiseAmp))
			mu.Lock()
			done := tr.latency != nil
			mu.Unlock()
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("turn %d (%q): no turn.latency within 20s", i+1, sentence)
			}
		}
		results = append(results, tr)
	}
	mu.Lock()
	defer mu.Unlock()

	var words, errs int
	for i, r := range results {
		if r.started == nil || r.stopped == nil {
			t.Errorf("turn %d: speech events missing (started %v, stopped %v)", i+1, r.started, r.stopped)
			continue
		}
		// speech.started carries the utterance's start including its prefix
		// padding (300 ms); speech.stopped the last voiced audio.
		if d := ms(r.started.AudioMS) - r.speechStart; d < -450*time.Millisecond || d > 200*time.Millisecond {
			t.Errorf("turn %d: speech.started at %v, speech began at %v", i+1, ms(r.started.AudioMS), r.speechStart)
		}
		if d := ms(r.stopped.AudioMS) - r.speechEnd; d < -250*time.Millisecond || d > 250*time.Millisecond {
			t.Errorf("turn %d: speech.stopped at %v, speech ended at %v", i+1, ms(r.stopped.AudioMS), r.speechEnd)
		}
		e, n := wordErrors(r.sentence, r.final)
		errs += e
		words += n
		want := "You said: " + r.final + "."
		if r.reply != want {
			t.Errorf("turn %d: reply %q, want %q", i+1, r.reply, want)
		}
		// The reply's audio lasts as long as Piper takes to say it
		// (its timing is sampled: two takes differ by up to about 13%).
		got := audio.Mono16k.Duration(r.audioBytes / 2)
		says := voice.says(t, r.reply)
		if ratio := float64(got) / float64(says); ratio < 0.75 || ratio > 1.33 {
			t.Errorf("turn %d: reply audio %v, Piper says the reply in %v", i+1, got, says)
		}
		t.Logf("turn %d: heard %q (said %q), reply audio %v", i+1, r.final, r.sentence, got.Round(time.Millisecond))
	}
	acc := 1 - float64(errs)/float64(words)
	t.Logf("word accuracy %.1f%% over %d words", 100*acc, words)
	if acc < 0.90 {
		t.Errorf("word accuracy %.1f%% < 90%%", 100*acc)
	}
	printLatencyTable(t, results, 500*time.Millisecond)
}

// printLatencyTable prints the offline default's measured latencies; with
// VOICEGATE_LATENCY_TABLE=file it also writes the table there for the README.
func printLatencyTable(t *testing.T, results []*turnResult, silence time.Duration) {
	type col struct {
		name string
		get  func(r *turnResult) (float64, bool)
	}
	field := func(p func(l *protocol.TurnLatency) *float64) func(r *turnResult) (float64, bool) {
		return func(r *turnResult) (float64, bool) {
			if r.latency == nil || p(r.latency) == nil {
				return 0, false
			}
			return *p(r.latency), true
		}
	}
	cols := []col{
		{"endpoint (VAD)", field(func(l *protocol.TurnLatency) *float64 { return l.EndpointMS })},
		{"ASR final", field(func(l *protocol.TurnLatency) *float64 { return l.ASRFinalMS })},
		{"LLM first token", field(func(l *protocol.TurnLatency) *float64 { return l.LLMFirstMS })},
		{"first sentence", field(func(l *protocol.TurnLatency) *float64 { return l.FirstSentMS })},
		{"TTS first audio", field(func(l *protocol.TurnLatency) *float64 { return l.TTSFirstMS })},
		{"first audio frame sent", field(func(l *protocol.TurnLatency) *float64 { return l.FirstAudioMS })},
		{"first audio byte at client", func(r *turnResult) (float64, bool) {
			if r.firstAudioAt.IsZero() {
				return 0, false
			}
			return float64(r.firstAudioAt.Sub(r.speechEndAt)) / 1e6, true
		}},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| from end of speech to… (%d turns) | median ms | p95 ms | max ms |\n|---|---:|---:|---:|\n", len(results))
	var worst float64
	for _, c := range cols {
		var v []float64
		for _, r := range results {
			if x, ok := c.get(r); ok {
				v = append(v, x)
			}
		}
		if len(v) == 0 {
			continue
		}
		sort.Float64s(v)
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f |\n", c.name, v[len(v)/2], v[(len(v)*95+99)/100-1], v[len(v)-1])
		if c.name == "first audio frame sent" || c.name == "first audio byte at client" {
			worst = max(worst, v[len(v)-1]) // judge on the less flattering clock
		}
	}
	target := float64(silence/time.Millisecond) + 150
	verdict := "MET"
	if worst > target {
		verdict = "MISSED"
	}
	fmt.Fprintf(&b, "\nTarget: end of speech → first audio byte ≤ VAD silence (%v) + 150 ms = %.0f ms: %s (worst %.0f ms).\n", silence, target, verdict, worst)
	t.Log("\n" + b.String())
	if path := os.Getenv("VOICEGATE_LATENCY_TABLE"); path != "" {
		os.WriteFile(path, []byte(b.String()), 0o644)
	}
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// wordErrors returns the word-level edit distance between ref and hyp and the
// number of reference words.
func wordErrors(ref, hyp string) (int, int) {
	norm := func(s string) []string {
		return strings.Fields(strings.ToLower(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == ' ' || r == '\'' {
				return r
			}
			return ' '
		}, s)))
	}
	a, b := norm(ref), norm(hyp)
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev = cur
	}
	return prev[len(b)], len(a)
}

func writeJSON(t testing.TB, ctx context.Context, c *websocket.Conn, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// loadWAV reads a mono 16 kHz WAV.
func loadWAV(t testing.TB, path string) []int16 {
	t.Helper()
	return speechtest.ReadWAV(t, path)
}

// noise returns n samples of white noise of peak amplitude amp: 30 is a quiet
// room, about -66 dBFS.
func noise(rng *rand.Rand, n int, amp int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(rng.IntN(2*amp+1) - amp)
	}
	return out
}

func addNoise(rng *rand.Rand, s []int16, amp int) []int16 {
	out := make([]int16, len(s))
	for i, v := range s {
		out[i] = audio.Clamp16(float64(v) + float64(rng.IntN(2*amp+1)-amp))
	}
	return out
}

// pacer sends PCM in 20 ms frames at real-time pace, as a microphone would.
type pacer struct {
	c     *websocket.Conn
	rate  int
	sent  int
	start time.Time
	buf   []byte
}

func newPacer(c *websocket.Conn, rate int) *pacer { return &pacer{c: c, rate: rate} }

func (p *pacer) position() time.Duration {
	return audio.Format{SampleRate: p.rate, Channels: 1}.Duration(p.sent)
}

func (p *pacer) send(ctx context.Context, t testing.TB, samples []int16) {
	t.Helper()
	frame := p.rate / 50
	if p.start.IsZero() {
		p.start = time.Now()
	}
	for len(samples) > 0 {
		n := min(frame, len(samples))
		if wait := time.Until(p.start.Add(p.position())); wait > 0 {
			time.Sleep(wait)
		}
		p.buf = audio.EncodePCM16(p.buf[:0], samples[:n])
		if err := p.c.Write(ctx, websocket.MessageBinary, p.buf); err != nil {
			t.Fatalf("send audio: %v", err)
		}
		p.sent += n
		samples = samples[n:]
	}
}

// piperVoice speaks as the offline default does, to know how long a reply
// takes to say.
type piperVoice struct{ s *piper.Synthesizer }

func newPiperVoice(t *testing.T) piperVoice {
	s, err := piper.New(piper.Config{Engines: 1})
	if err != nil {
		t.Fatalf("the offline default's voice: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return piperVoice{s}
}

// says returns how long Piper takes to say text.
func (v piperVoice) says(t *testing.T, text string) time.Duration {
	n := 0
	if err := v.s.Synthesize(context.Background(), text, func(pcm []int16) error { n += len(pcm); return nil }); err != nil {
		t.Fatal(err)
	}
	return v.s.Format().Duration(n)
}
