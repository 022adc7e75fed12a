package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type harness struct {
	t    *testing.T
	sess *pipeline.Session
	rec  *pipelinetest.Recorder
	conv *pipeline.Conversation
	ctx  context.Context
	done chan error
}

func start(t *testing.T, cfg pipeline.Config) *harness {
	t.Helper()
	if cfg.Conversation == nil {
		cfg.Conversation = pipeline.NewConversation("be brief", 0)
	}
	if cfg.VAD == (vad.Config{}) {
		cfg.VAD = vad.Config{Silence: 200 * time.Millisecond}
	}
	cfg.InboxFrames = 2000
	sess, err := pipeline.NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	h := &harness{t: t, sess: sess, rec: pipelinetest.NewRecorder(), conv: cfg.Conversation, ctx: ctx, done: make(chan error, 1)}
	go func() { h.done <- sess.Run(ctx, h.rec) }()
	t.Cleanup(func() {
		cancel()
		if err := <-h.done; !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run returned %v", err)
		}
	})
	return h
}

// speak feeds an utterance (silence, voice, silence) in 20 ms frames.
func (h *harness) speak(rate int, voice time.Duration) {
	sig := pipelinetest.Concat(pipelinetest.Silence(300*time.Millisecond, rate), pipelinetest.Voice(voice, rate), pipelinetest.Silence(400*time.Millisecond, rate))
	frame := audio.Format{SampleRate: rate, Channels: 1}.Samples(20 * time.Millisecond)
	for len(sig) > 0 {
		n := min(frame, len(sig))
		h.sess.WriteAudio(sig[:n])
		sig = sig[n:]
	}
}

func (h *harness) wait(from int, k pipeline.EventKind) (pipeline.Event, int) {
	h.t.Helper()
	ev, i, err := h.rec.Wait(h.ctx, from, pipelinetest.Kind(k))
	if err != nil {
		h.t.Fatal(err)
	}
	return ev, i
}

func stages(asr *pipelinetest.Scripted, tts *pipelinetest.Tone) pipeline.Stages {
	return pipeline.Stages{ASR: asr, LLM: &echo.Echo{}, TTS: tts}
}

func TestVoiceTurn(t *testing.T) {
	tts := &pipelinetest.Tone{Rate: 16000}
	h := start(t, pipeline.Config{
		Stages: stages(pipelinetest.NewScripted("what time is it"), tts),
		Input:  audio.Format{SampleRate: 48000, Channels: 1},
		Output: audio.Mono24k,
	})
	h.speak(48000, time.Second)
	h.wait(0, pipeline.EventSpeechStarted)
	partial, _ := h.wait(0, pipeline.EventTranscriptPartial)
	_, stopped := h.wait(0, pipeline.EventSpeechStopped)
	final, fi := h.wait(0, pipeline.EventTranscriptFinal)
	if fi < stopped || final.Text != "what time is it" {
		t.Fatalf("final %q at %d, stopped at %d", final.Text, fi, stopped)
	}
	if !strings.HasPrefix("what time is it", partial.Text) {
		t.Fatalf("partial %q is not a prefix of the transcript", partial.Text)
	}
	start, _ := h.wait(0, pipeline.EventAudioStart)
	if start.Format != audio.Mono24k {
		t.Fatalf("audio format %v, want the client's %v", start.Format, audio.Mono24k)
	}
	done, _ := h.wait(0, pipeline.EventResponseDone)
	const reply = "You said: what time is it."
	if done.Text != reply {
		t.Fatalf("reply %q, want %q", done.Text, reply)
	}
	lat, _ := h.wait(0, pipeline.EventTurnLatency)
	var samples int
	var deltas strings.Builder
	for _, ev := range h.rec.Events() {
		switch ev.Kind {
		case pipeline.EventAudio:
			samples += len(ev.Audio)
		case pipeline.EventTextDelta:
			deltas.WriteString(ev.Text)
		}
	}
	if deltas.String() != reply {
		t.Fatalf("deltas %q", deltas.String())
	}
	got, want := audio.Mono24k.Duration(samples), tts.Duration(reply)
	if d := got - want; d < -30*time.Millisecond || d > 30*time.Millisecond {
		t.Fatalf("reply audio lasts %v, want %v", got, want)
	}
	tr := lat.Trace
	for name, at := range map[string]time.Time{"endpoint": tr.Endpoint, "asr": tr.ASRFinal, "llm": tr.LLMFirstToken, "sentence": tr.FirstSentence, "tts": tr.TTSFirstAudio} {
		if d := tr.Since(at); d < 0 || d > time.Second {
			t.Errorf("%s at %v after end of speech", name, d)
		}
	}
	if d := tr.Endpoint.Sub(tr.SpeechEnd); d < 150*time.Millisecond || d > 400*time.Millisecond {
		t.Errorf("endpoint %v after speech end, want about the VAD silence (200ms)", d)
	}
	// The ends of the reply: the model finishes before the last audio is
	// paced out, and the turn ends after both.
	order := []struct {
		name string
		at   time.Time
	}{{"llm_first_token", tr.LLMFirstToken}, {"llm_done", tr.LLMDone}, {"tts_done", tr.TTSDone}, {"done", tr.Done}}
	for i := 1; i < len(order); i++ {
		if order[i].at.IsZero() || order[i].at.Before(order[i-1].at) {
			t.Errorf("%s at %v, before %s at %v", order[i].name, tr.Since(order[i].at), order[i-1].name, tr.Since(order[i-1].at))
		}
	}
	if d, paced := tr.TTSDone.Sub(tr.TTSFirstAudio), want-pipeline.DefaultPlayoutLead; d < paced-100*time.Millisecond {
		t.Errorf("synthesis done %v after its first audio, want about the reply's %v paced out, less the playout lead: %v", d, want, paced)
	}
	if tr.Err != nil {
		t.Errorf("trace error %v on a turn that completed", tr.Err)
	}
	if h := h.conv.History(); len(h) != 2 || h[0].Content != "what time is it" || h[1].Content != reply {
		t.Fatalf("history %+v", h)
	}
}

func TestTextTurnTextOnly(t *testing.T) {
	h := start(t, pipeline.Config{Stages: pipeline.Stages{LLM: &echo.Echo{}}, TextOnly: true})
	if err := h.sess.SubmitText("hello there"); err != nil {
		t.Fatal(err)
	}
	done, _ := h.wait(0, pipeline.EventResponseDone)
	if done.Text != "You said: hello there." {
		t.Fatalf("reply %q", done.Text)
	}
	lat, _ := h.wait(0, pipeline.EventTurnLatency)
	if !lat.Trace.TextInput || lat.Trace.LLMFirstToken.IsZero() {
		t.Fatalf("trace %+v", lat.Trace)
	}
	for _, ev := range h.rec.Events() {
		if ev.Kind == pipeline.EventAudio || ev.Kind == pipeline.EventAudioStart {
			t.Fatal("text-only session sent audio")
		}
	}
	if err := h.sess.SubmitText(strings.Repeat("x", 5000)); !errors.Is(err, pipeline.ErrTextTooLong) {
		t.Fatalf("long text: %v", err)
	}
}

func TestBargeIn(t *testing.T) {
	tests := []struct {
		name     string
		tts      *pipelinetest.Tone
		wantKept func(kept string) error
	}{
		{
			name: "mid audio keeps the sentences sent",
			tts:  &pipelinetest.Tone{PerRune: 40 * time.Millisecond},
			wantKept: func(kept string) error {
				if kept != "You said: one two three four five six." {
					return fmt.Errorf("kept %q, want the first sentence only", kept)
				}
				return nil
			},
		},
		{
			name: "before the first audio keeps nothing",
			tts:  &pipelinetest.Tone{Latency: 1500 * time.Millisecond},
			wantKept: func(kept string) error {
				if kept != "" {
					return fmt.Errorf("kept %q, want nothing", kept)
				}
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asr := pipelinetest.NewScripted("one two three four five six. seven eight nine ten eleven twelve. thirteen fourteen", "stop")
			h := start(t, pipeline.Config{Stages: stages(asr, tt.tts), PlayoutLead: 100 * time.Millisecond})
			h.speak(16000, 600*time.Millisecond)
			if tt.tts.Latency == 0 {
				h.wait(0, pipeline.EventAudio)
			} else {
				h.wait(0, pipeline.EventTextDelta)
			}
			h.speak(16000, 600*time.Millisecond)
			c, _ := h.wait(0, pipeline.EventResponseCancelled)
			if c.Reason != pipeline.CancelBargeIn || c.Turn != 1 {
				t.Fatalf("cancelled %+v", c)
			}
			if err := tt.wantKept(c.Text); err != nil {
				t.Fatal(err)
			}
			h.wait(0, pipeline.EventResponseDone) // the second turn completes
			hist := h.conv.History()
			var roles []string
			for _, m := range hist {
				roles = append(roles, string(m.Role)+":"+m.Content)
			}
			want := []string{"user:" + asr.Transcripts[0]}
			if c.Text != "" {
				want = append(want, "assistant:"+c.Text)
			}
			want = append(want, "user:stop", "assistant:You said: stop.")
			if strings.Join(roles, "|") != strings.Join(want, "|") {
				t.Fatalf("history\n got %q\nwant %q", roles, want)
			}
		})
	}
}

func TestInterrupt(t *testing.T) {
	h := start(t, pipeline.Config{Stages: stages(pipelinetest.NewScripted(), &pipelinetest.Tone{Latency: 5 * time.Second})})
	if err := h.sess.SubmitText("tell me a story"); err != nil {
		t.Fatal(err)
	}
	h.wait(0, pipeline.EventTextDelta)
	h.sess.Interrupt()
	c, _ := h.wait(0, pipeline.EventResponseCancelled)
	if c.Reason != pipeline.CancelInterrupt {
		t.Fatalf("reason %v", c.Reason)
	}
}

func TestStageErrorKeepsSession(t *testing.T) {
	fails := true
	llm := named{"flaky", pipeline.GeneratorFunc(func(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
		if fails {
			fails = false
			return fmt.Errorf("upstream said 429: %w", pipeline.ErrRateLimited)
		}
		return emit("fine now.")
	})}
	h := start(t, pipeline.Config{Stages: pipeline.Stages{LLM: llm, TTS: &pipelinetest.Tone{}}})
	if err := h.sess.SubmitText("first"); err != nil {
		t.Fatal(err)
	}
	ev, i := h.wait(0, pipeline.EventError)
	var se *pipeline.StageError
	if !errors.As(ev.Err, &se) || se.Stage != pipeline.StageLLM || se.Provider != "flaky" || !errors.Is(ev.Err, pipeline.ErrRateLimited) {
		t.Fatalf("error event %v", ev.Err)
	}
	lat, i := h.wait(i, pipeline.EventTurnLatency)
	if lat.Trace.Err != se || lat.Reason != pipeline.CancelError {
		t.Fatalf("failed turn's trace error %v, reason %v; want the error event's %v", lat.Trace.Err, lat.Reason, se)
	}
	if lat.Trace.LLMDone.IsZero() || !lat.Trace.TTSDone.IsZero() {
		t.Fatalf("failed model call: llm done %v, tts done %v", lat.Trace.LLMDone, lat.Trace.TTSDone)
	}
	if err := h.sess.SubmitText("second"); err != nil {
		t.Fatal(err)
	}
	done, _ := h.wait(i, pipeline.EventResponseDone)
	if done.Text != "fine now." {
		t.Fatalf("second turn %q", done.Text)
	}
	if lat, _ := h.wait(i+1, pipeline.EventTurnLatency); lat.Trace.Err != nil {
		t.Fatalf("second turn's trace error %v", lat.Trace.Err)
	}
}

func TestPacing(t *testing.T) {
	// 3 s of audio with a 200 ms lead must take about 2.8 s to send.
	tts := &pipelinetest.Tone{PerRune: 3 * time.Second / time.Duration(len("You said: pace.")), Rate: 16000}
	h := start(t, pipeline.Config{Stages: stages(pipelinetest.NewScripted(), tts), PlayoutLead: 200 * time.Millisecond})
	if err := h.sess.SubmitText("pace"); err != nil {
		t.Fatal(err)
	}
	h.wait(0, pipeline.EventAudioStart)
	t0 := time.Now()
	h.wait(0, pipeline.EventAudioDone)
	if d := time.Since(t0); d < 2600*time.Millisecond || d > 3300*time.Millisecond {
		t.Fatalf("3 s of audio sent in %v, want about 2.8 s", d)
	}
}

func TestNewSessionValidates(t *testing.T) {
	conv := pipeline.NewConversation("", 0)
	tests := []struct {
		name string
		cfg  pipeline.Config
	}{
		{"no conversation", pipeline.Config{Stages: pipeline.Stages{LLM: &echo.Echo{}}, TextOnly: true}},
		{"no llm", pipeline.Config{Conversation: conv, TextOnly: true}},
		{"no tts", pipeline.Config{Conversation: conv, Stages: pipeline.Stages{LLM: &echo.Echo{}}}},
		{"bad rate", pipeline.Config{Conversation: conv, Stages: pipeline.Stages{LLM: &echo.Echo{}}, TextOnly: true, Input: audio.Format{SampleRate: 11025, Channels: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pipeline.NewSession(tt.cfg); err == nil {
				t.Fatal("NewSession accepted a bad config")
			}
		})
	}
}

// BenchmarkWriteAudio is the per-frame input path: resample 48 kHz to 16 kHz
// and queue. It must not allocate.
func BenchmarkWriteAudio(b *testing.B) {
	sess, err := pipeline.NewSession(pipeline.Config{
		Conversation: pipeline.NewConversation("", 0), Stages: pipeline.Stages{LLM: &echo.Echo{}}, TextOnly: true,
		Input: audio.Format{SampleRate: 48000, Channels: 1},
	})
	if err != nil {
		b.Fatal(err)
	}
	frame := pipelinetest.Voice(20*time.Millisecond, 48000)
	b.ReportAllocs()
	for b.Loop() {
		sess.WriteAudio(frame)
	}
}

// feed writes samples in 20 ms frames.
func (h *harness) feed(sig []int16) {
	for len(sig) > 0 {
		n := min(320, len(sig))
		h.sess.WriteAudio(sig[:n])
		sig = sig[n:]
	}
}

// TestTypedWhileSpeaking: text typed while the user is still speaking runs
// at once; when the spoken turn follows, the typed one is cut, and a later
// interrupt reaches the spoken one.
func TestTypedWhileSpeaking(t *testing.T) {
	asr := pipelinetest.NewScripted("spoken words")
	h := start(t, pipeline.Config{Stages: stages(asr, &pipelinetest.Tone{Latency: 2 * time.Second})})
	h.feed(pipelinetest.Concat(pipelinetest.Silence(300*time.Millisecond, 16000), pipelinetest.Voice(600*time.Millisecond, 16000)))
	started, _ := h.wait(0, pipeline.EventSpeechStarted)
	if err := h.sess.SubmitText("typed words"); err != nil {
		t.Fatal(err)
	}
	typed, _ := h.wait(0, pipeline.EventTextDelta)
	h.feed(pipelinetest.Silence(400*time.Millisecond, 16000))
	cut, i := h.wait(0, pipeline.EventResponseCancelled)
	if cut.Turn != typed.Turn || cut.Reason != pipeline.CancelBargeIn {
		t.Fatalf("cancelled %+v, want the typed turn %d cut by speech", cut, typed.Turn)
	}
	h.wait(0, pipeline.EventTranscriptFinal)
	h.sess.Interrupt()
	cut2, _, err := h.rec.Wait(h.ctx, i+1, pipelinetest.Kind(pipeline.EventResponseCancelled))
	if err != nil {
		t.Fatal(err)
	}
	if cut2.Turn != started.Turn || cut2.Reason != pipeline.CancelInterrupt {
		t.Fatalf("interrupt cut %+v, want the spoken turn %d", cut2, started.Turn)
	}
}

// TestCutDuringRecognition: a barge-in while the recogniser is finishing
// still ends the turn with response.cancelled and its latency report.
func TestCutDuringRecognition(t *testing.T) {
	asr := pipelinetest.NewScripted("first", "second")
	asr.Latency = 3 * time.Second
	h := start(t, pipeline.Config{Stages: stages(asr, &pipelinetest.Tone{})})
	h.speak(16000, 600*time.Millisecond)
	h.wait(0, pipeline.EventSpeechStopped)
	h.speak(16000, 600*time.Millisecond)
	cut, _ := h.wait(0, pipeline.EventResponseCancelled)
	if cut.Turn != 1 || cut.Reason != pipeline.CancelBargeIn || cut.Text != "" {
		t.Fatalf("cancelled %+v", cut)
	}
	lat, _, err := h.rec.Wait(h.ctx, 0, func(ev pipeline.Event) bool { return ev.Kind == pipeline.EventTurnLatency && ev.Turn == 1 })
	if err != nil || lat.Reason != pipeline.CancelBargeIn {
		t.Fatalf("latency for the cut turn: %+v %v", lat, err)
	}
}

// counting wraps a Recognizer and counts utterances not yet closed.
type counting struct {
	pipeline.Recognizer
	open atomic.Int64
}

func (c *counting) Start(ctx context.Context) (pipeline.Utterance, error) {
	u, err := c.Recognizer.Start(ctx)
	if err != nil {
		return nil, err
	}
	c.open.Add(1)
	return &countedUtterance{Utterance: u, c: c}, nil
}

type countedUtterance struct {
	pipeline.Utterance
	c    *counting
	once sync.Once
}

func (u *countedUtterance) Close() error {
	u.once.Do(func() { u.c.open.Add(-1) })
	return u.Utterance.Close()
}

// TestRunClosesUtterances: however Run is stopped, every utterance it
// started is closed by the time it returns.
func TestRunClosesUtterances(t *testing.T) {
	speech := pipelinetest.Concat(pipelinetest.Voice(300*time.Millisecond, 16000), pipelinetest.Silence(250*time.Millisecond, 16000))
	for i := range 30 {
		asr := &counting{Recognizer: pipelinetest.NewScripted("a", "b")}
		sess, err := pipeline.NewSession(pipeline.Config{
			Conversation: pipeline.NewConversation("", 0),
			Stages:       pipeline.Stages{ASR: asr, LLM: &echo.Echo{}, TTS: &pipelinetest.Tone{}},
			VAD:          vad.Config{Silence: 200 * time.Millisecond}, InboxFrames: 2000,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- sess.Run(ctx, pipeline.OutputFunc(func(pipeline.Event) {})) }()
		for range 4 {
			for f := speech; len(f) > 0; f = f[min(320, len(f)):] {
				sess.WriteAudio(f[:min(320, len(f))])
			}
		}
		time.Sleep(time.Duration(i%5) * time.Millisecond)
		cancel()
		<-done
		if n := asr.open.Load(); n != 0 {
			t.Fatalf("run %d: %d utterances left open", i, n)
		}
	}
}
