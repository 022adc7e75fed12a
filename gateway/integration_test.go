package gateway_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// TestVoiceTurns runs two spoken turns end to end over real TCP: audio in at
// 48 kHz, partial and final transcripts, text deltas, reply audio resampled
// to 24 kHz, and a complete turn.latency.
func TestVoiceTurns(t *testing.T) {
	s := newServer(t, nil)
	c := s.dial(t, dialOpts{})
	defer c.close()
	st := c.start(map[string]any{"input_audio": map[string]any{"sample_rate": 48000}, "output_audio": map[string]any{"sample_rate": 24000}})
	if st.SessionID == "" || len(st.ResumeToken) < 22 || st.Resumed {
		t.Fatalf("session.started = %+v", st)
	}
	if st.InputAudio.SampleRate != 48000 || st.OutputAudio.SampleRate != 24000 {
		t.Fatalf("formats = %+v %+v", st.InputAudio, st.OutputAudio)
	}
	if st.Providers != (protocol.Providers{VAD: "energy", ASR: "scripted", LLM: "echo", TTS: "tone"}) {
		t.Fatalf("providers = %+v", st.Providers)
	}

	tone := &pipelinetest.Tone{PerRune: 10 * time.Millisecond}
	for i, said := range []string{"hello there", "how are you"} {
		c.speak(48000, 600*time.Millisecond)
		tr := c.awaitTurn()
		want := "You said: " + said + "."
		for _, typ := range []string{protocol.TypeSpeechStarted, protocol.TypeSpeechStopped, protocol.TypeTranscriptPartial,
			protocol.TypeTranscriptFinal, protocol.TypeTextDelta, protocol.TypeAudioStart, "binary", protocol.TypeAudioDone, protocol.TypeResponseDone} {
			if _, ok := tr.first(typ); !ok {
				t.Fatalf("turn %d: no %s in %v", i+1, typ, tr.msgs)
			}
		}
		if got := tr.text(protocol.TypeTranscriptFinal, "text"); got != said {
			t.Errorf("turn %d: final transcript %q, want %q", i+1, got, said)
		}
		if got := tr.text(protocol.TypeTextDelta, "delta"); got != want {
			t.Errorf("turn %d: deltas %q, want %q", i+1, got, want)
		}
		if done, _ := tr.first(protocol.TypeResponseDone); done.str("text") != want || done.num("turn") != float64(i+1) {
			t.Errorf("turn %d: response.done %s", i+1, done.Raw)
		}
		if as, _ := tr.first(protocol.TypeAudioStart); as.num("sample_rate") != 24000 {
			t.Errorf("turn %d: audio.start %s", i+1, as.Raw)
		}
		// The reply's audio, resampled 16 → 24 kHz, all of it.
		wantBytes := 2 * 24000 * tone.Duration(want).Seconds()
		if math.Abs(float64(tr.audio)-wantBytes) > wantBytes/50 {
			t.Errorf("turn %d: %d bytes of audio, want about %.0f", i+1, tr.audio, wantBytes)
		}
		// Audio frames come between audio.start and audio.done.
		phase := 0
		for _, m := range tr.msgs {
			switch {
			case m.Type == protocol.TypeAudioStart:
				phase = 1
			case m.Type == protocol.TypeAudioDone:
				phase = 2
			case m.Type == "binary" && phase != 1:
				t.Errorf("turn %d: binary frame outside audio.start..audio.done", i+1)
			}
		}
		l := tr.latency
		if l.Turn != uint64(i+1) || !l.ResponseDone || l.Cancelled || l.TextInput {
			t.Errorf("turn %d: latency %+v", i+1, l)
		}
		for name, v := range map[string]*float64{"endpoint": l.EndpointMS, "asr_final": l.ASRFinalMS, "llm_first_token": l.LLMFirstMS,
			"first_sentence": l.FirstSentMS, "tts_first_audio": l.TTSFirstMS, "first_audio_sent": l.FirstAudioMS} {
			if v == nil || *v < 0 {
				t.Errorf("turn %d: turn.latency %s missing", i+1, name)
			}
		}
		if l.FirstAudioMS != nil && l.EndpointMS != nil && l.TTSFirstMS != nil {
			if *l.FirstAudioMS < *l.TTSFirstMS || *l.TTSFirstMS < *l.EndpointMS {
				t.Errorf("turn %d: milestones out of order: %+v", i+1, l)
			}
			t.Logf("turn %d: endpoint→first audio sent %.1f ms (asr_final %.1f, llm_first_token %.1f, tts_first_audio %.1f, first_audio_sent %.1f ms after end of speech)",
				i+1, *l.FirstAudioMS-*l.EndpointMS, *l.ASRFinalMS, *l.LLMFirstMS, *l.TTSFirstMS, *l.FirstAudioMS)
		}
	}
}

// TestTextTurn: typed input gets a spoken reply and a text_input trace.
func TestTextTurn(t *testing.T) {
	s := newServer(t, nil)
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(nil)
	c.sendJSON(map[string]any{"type": "input.text", "text": "good morning"})
	tr := c.awaitTurn()
	if got := tr.text(protocol.TypeTextDelta, "delta"); got != "You said: good morning." {
		t.Errorf("deltas %q", got)
	}
	if _, ok := tr.first(protocol.TypeTranscriptFinal); ok {
		t.Errorf("text turn sent a transcript")
	}
	if tr.audio == 0 {
		t.Errorf("no reply audio")
	}
	l := tr.latency
	if !l.TextInput || !l.ResponseDone || l.ASRFinalMS != nil || l.FirstAudioMS == nil || l.LLMFirstMS == nil {
		t.Errorf("latency %+v", l)
	}
}

// TestTextOnlySession: no audio either way.
func TestTextOnlySession(t *testing.T) {
	s := newServer(t, nil)
	c := s.dial(t, dialOpts{})
	defer c.close()
	if st := c.start(map[string]any{"text_only": true}); !st.TextOnly {
		t.Fatalf("text_only not set: %+v", st)
	}
	c.sendJSON(map[string]any{"type": "input.text", "text": "hi"})
	tr := c.awaitTurn()
	if tr.audio != 0 || tr.text(protocol.TypeResponseDone, "text") != "You said: hi." {
		t.Errorf("text-only turn: %v", tr.msgs)
	}
}

// bargeInStages speak slowly enough (60 ms per rune, paced) that a reply of
// several sentences is still going out when the user speaks again.
func bargeInStages(ttsLatency time.Duration, transcripts ...string) pipeline.Stages {
	st := fastStages(transcripts...)
	st.TTS = &pipelinetest.Tone{Rate: 16000, Latency: ttsLatency, PerRune: 60 * time.Millisecond}
	return st
}

// TestBargeIn: speech during the reply cuts it; queued audio of the cut turn
// is not sent after response.cancelled, and the history keeps only the
// sentence that was being spoken.
func TestBargeIn(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) {
		o.Stages = bargeInStages(10*time.Millisecond, "one two three. four five six seven. eight nine ten eleven.", "stop")
	})
	c := s.dial(t, dialOpts{})
	st := c.start(nil)
	c.speak(16000, 600*time.Millisecond)
	c.expect("binary") // the reply is playing
	c.sendPCM(16000, pipelinetest.Voice(600*time.Millisecond, 16000))

	cancelled, _ := c.expect(protocol.TypeResponseCancelled)
	if cancelled.num("turn") != 1 || cancelled.str("reason") != "barge_in" {
		t.Fatalf("response.cancelled = %s", cancelled.Raw)
	}
	kept := cancelled.str("text")
	if kept != "You said: one two three." {
		t.Errorf("kept %q, want only the first sentence", kept)
	}
	c.sendPCM(16000, pipelinetest.Silence(400*time.Millisecond, 16000))

	// Nothing of turn 1's audio after the cut; turn 2 completes.
	var afterCut []message
	for {
		m := c.next()
		afterCut = append(afterCut, m)
		if m.Type == protocol.TypeAudioStart {
			break
		}
		if m.Type == "binary" {
			t.Fatalf("audio of the cut turn after response.cancelled: %v", afterCut)
		}
	}
	if l, _ := c.expect(protocol.TypeResponseDone); l.num("turn") != 2 || l.str("text") != "You said: stop." {
		t.Fatalf("turn 2: %s", l.Raw)
	}
	c.expect(protocol.TypeTurnLatency)
	c.close()

	want := []protocol.HistoryEntry{
		{Role: "user", Text: "one two three. four five six seven. eight nine ten eleven."},
		{Role: "assistant", Text: kept},
		{Role: "user", Text: "stop"},
		{Role: "assistant", Text: "You said: stop."},
	}
	checkHistory(t, s, st.ResumeToken, want)
}

// TestBargeInBeforeAudio: with a slow synthesizer the cut comes before any
// audio went out, and the history keeps no reply for the cut turn.
func TestBargeInBeforeAudio(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) {
		o.Stages = bargeInStages(700*time.Millisecond, "first question", "second")
	})
	c := s.dial(t, dialOpts{})
	st := c.start(nil)
	c.speak(16000, 600*time.Millisecond)
	c.expect(protocol.TypeTextDelta) // the reply exists, its audio does not yet
	c.speak(16000, 600*time.Millisecond)
	cancelled, skipped := c.expect(protocol.TypeResponseCancelled)
	for _, m := range skipped {
		if m.Type == "binary" || m.Type == protocol.TypeAudioStart {
			t.Fatalf("audio before the cut: %v", skipped)
		}
	}
	if cancelled.str("text") != "" || cancelled.str("reason") != "barge_in" {
		t.Fatalf("response.cancelled = %s", cancelled.Raw)
	}
	if m, _ := c.expect(protocol.TypeResponseDone); m.num("turn") != 2 {
		t.Fatalf("turn 2: %s", m.Raw)
	}
	c.expect(protocol.TypeTurnLatency)
	c.close()
	checkHistory(t, s, st.ResumeToken, []protocol.HistoryEntry{
		{Role: "user", Text: "first question"},
		{Role: "user", Text: "second"},
		{Role: "assistant", Text: "You said: second."},
	})
}

// TestInterrupt: the interrupt message cuts a reply like a barge-in.
func TestInterrupt(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.Stages = bargeInStages(10 * time.Millisecond) })
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(nil)
	c.sendJSON(map[string]any{"type": "input.text", "text": "tell me a long story about the sea."})
	c.expect("binary")
	c.sendJSON(map[string]any{"type": "interrupt"})
	m, _ := c.expect(protocol.TypeResponseCancelled)
	if m.str("reason") != "interrupt" {
		t.Fatalf("response.cancelled = %s", m.Raw)
	}
	l, _ := c.expect(protocol.TypeTurnLatency)
	if !l.flag("cancelled") || l.flag("response_done") {
		t.Fatalf("turn.latency of a cut turn: %s", l.Raw)
	}
}

// checkHistory resumes the session and compares the history it reports.
func checkHistory(t *testing.T, s *testServer, token string, want []protocol.HistoryEntry) {
	t.Helper()
	c := s.dial(t, dialOpts{})
	defer c.close()
	st := c.start(map[string]any{"resume_token": token})
	if !st.Resumed {
		t.Fatalf("not resumed: %+v", st)
	}
	if fmt.Sprint(st.History) != fmt.Sprint(want) {
		t.Errorf("history:\n got %v\nwant %v", st.History, want)
	}
}

// TestResume: a session outlives a dropped socket; resuming restores its
// id, settings and history and rotates the token.
func TestResume(t *testing.T) {
	s := newServer(t, nil)
	c := s.dial(t, dialOpts{})
	st := c.start(map[string]any{"text_only": true, "output_audio": map[string]any{"sample_rate": 24000}})
	c.sendJSON(map[string]any{"type": "input.text", "text": "remember me"})
	c.expect(protocol.TypeTurnLatency)
	c.ws.CloseNow() // dropped, no close handshake
	<-c.done

	c2 := s.dial(t, dialOpts{})
	defer c2.close()
	st2 := c2.start(map[string]any{"resume_token": st.ResumeToken})
	if !st2.Resumed || st2.SessionID != st.SessionID || !st2.TextOnly || st2.OutputAudio.SampleRate != 24000 {
		t.Fatalf("resumed session.started = %+v", st2)
	}
	if st2.ResumeToken == st.ResumeToken || st2.ResumeToken == "" {
		t.Errorf("resume token not rotated")
	}
	want := []protocol.HistoryEntry{{Role: "user", Text: "remember me"}, {Role: "assistant", Text: "You said: remember me."}}
	if fmt.Sprint(st2.History) != fmt.Sprint(want) {
		t.Errorf("history %v, want %v", st2.History, want)
	}
	// The conversation goes on with the history.
	c2.sendJSON(map[string]any{"type": "input.text", "text": "again"})
	c2.expect(protocol.TypeResponseDone)

	// The old token is spent.
	c3 := s.dial(t, dialOpts{})
	defer c3.close()
	c3.sendJSON(map[string]any{"type": "session.start", "resume_token": st.ResumeToken})
	c3.expectError(protocol.CodeResumeFailed)
	if st3, _ := c3.expect(protocol.TypeSessionStarted); st3.flag("resumed") || st3.str("session_id") == st.SessionID {
		t.Fatalf("spent token resumed: %s", st3.Raw)
	}
}

// TestResumeSupersedes: resuming while the old socket still looks alive
// closes the old one with superseded.
func TestResumeSupersedes(t *testing.T) {
	s := newServer(t, nil)
	old := s.dial(t, dialOpts{})
	st := old.start(nil)
	c := s.dial(t, dialOpts{})
	defer c.close()
	if st2 := c.start(map[string]any{"resume_token": st.ResumeToken}); !st2.Resumed || st2.SessionID != st.SessionID {
		t.Fatalf("not resumed: %+v", st2)
	}
	old.expectError(protocol.CodeSuperseded)
	if status := old.closed(); status != websocket.StatusNormalClosure {
		t.Errorf("old connection closed with %v, want 1000", status)
	}
	c.ping()
}

// TestResumeExpired: a detached session is gone after ResumeWindow.
func TestResumeExpired(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.ResumeWindow = 100 * time.Millisecond })
	c := s.dial(t, dialOpts{})
	st := c.start(nil)
	c.close()
	time.Sleep(250 * time.Millisecond)
	c2 := s.dial(t, dialOpts{})
	defer c2.close()
	c2.sendJSON(map[string]any{"type": "session.start", "resume_token": st.ResumeToken})
	c2.expectError(protocol.CodeResumeFailed)
	if m, _ := c2.expect(protocol.TypeSessionStarted); m.flag("resumed") {
		t.Fatalf("expired session resumed")
	}
}

// TestShutdownDrains: clients are told shutting_down and closed with 1012;
// readiness and new upgrades turn 503.
func TestShutdownDrains(t *testing.T) {
	s := newServer(t, nil)
	if code, _ := s.get(t, gateway.PathReadyz); code != 200 {
		t.Fatalf("readyz %d before drain", code)
	}
	c := s.dial(t, dialOpts{})
	c.start(nil)
	c2 := s.dial(t, dialOpts{}) // not started yet: told too

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, cl := range []*client{c, c2} {
		cl.expectError(protocol.CodeShuttingDown)
		if status := cl.closed(); status != websocket.StatusServiceRestart {
			t.Errorf("closed with %v, want 1012", status)
		}
	}
	if code, _ := s.get(t, gateway.PathReadyz); code != 503 {
		t.Errorf("readyz %d while draining, want 503", code)
	}
	if code, _ := s.get(t, gateway.PathHealthz); code != 200 {
		t.Errorf("healthz %d while draining, want 200", code)
	}
	if _, resp, err := s.tryDial(dialOpts{}); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("upgrade while draining: err %v, resp %v; want 503", err, resp)
	}
}

// TestShutdownForcesStuckClients: a client that never reads cannot hold a
// drain past its deadline.
func TestShutdownForcesStuckClients(t *testing.T) {
	s := newServer(t, nil)
	c := s.dial(t, dialOpts{noRead: true})
	c.t = t
	c.sendJSON(map[string]any{"type": "session.start"})
	eventually(t, "session", func() bool { return metric(t, s.reg, "voicegate_sessions_total", nil) == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.srv.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("forced shutdown took %s", d)
	}
	c.ws.CloseNow()
}

// TestProviderError: an LLM failure reaches the client as a typed error for
// that turn, and the next turn works.
func TestProviderError(t *testing.T) {
	calls := 0
	gen := &echo.Echo{}
	s := newServer(t, func(o *gateway.Options) {
		o.Stages.LLM = pipeline.GeneratorFunc(func(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
			calls++ // turns run one at a time
			if calls == 1 {
				return fmt.Errorf("upstream said 429 for key sk-do-not-leak: %w", pipeline.ErrRateLimited)
			}
			return gen.Generate(ctx, msgs, emit)
		})
	})
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(nil)
	c.sendJSON(map[string]any{"type": "input.text", "text": "first"})
	e := c.expectError(protocol.CodeProviderRateLimit)
	if e.str("stage") != "llm" || e.num("turn") != 1 || e.flag("fatal") || !e.flag("retryable") {
		t.Errorf("error event %s", e.Raw)
	}
	if strings.Contains(string(e.Raw), "sk-do-not-leak") {
		t.Errorf("provider detail leaked to the client: %s", e.Raw)
	}
	if m, _ := c.expect(protocol.TypeResponseCancelled); m.str("reason") != "error" {
		t.Errorf("cancelled %s", m.Raw)
	}
	c.sendJSON(map[string]any{"type": "input.text", "text": "second"})
	if m, _ := c.expect(protocol.TypeResponseDone); m.str("text") != "You said: second." {
		t.Errorf("next turn: %s", m.Raw)
	}
	if n := metric(t, s.reg, "voicegate_errors_total", map[string]string{"code": "provider_rate_limited"}); n != 1 {
		t.Errorf("errors_total{provider_rate_limited} = %v", n)
	}
}

// TestMetrics: MetricsHandler serves the stage histograms after a turn;
// the public Handler does not serve /metrics.
func TestMetrics(t *testing.T) {
	s := newServer(t, nil)
	c := s.dial(t, dialOpts{})
	c.start(nil)
	c.speak(16000, 600*time.Millisecond)
	c.awaitTurn()
	c.close()
	// The server notices the close a moment after the client has made it.
	eventually(t, "sessions_active back to 0", func() bool {
		_, body := s.scrape(t)
		return strings.Contains(body, "voicegate_sessions_active 0")
	})
	code, body := s.scrape(t)
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	if code, body := s.get(t, gateway.PathMetrics); code != http.StatusNotFound {
		t.Errorf("the public handler answers /metrics: %d %.80s", code, body)
	}
	for _, want := range []string{
		`voicegate_turn_latency_seconds_bucket{provider="scripted",stage="asr_final"`,
		`voicegate_turn_latency_seconds_bucket{provider="echo",stage="llm_first_token"`,
		`voicegate_turn_latency_seconds_bucket{provider="echo",stage="first_sentence"`,
		`voicegate_turn_latency_seconds_bucket{provider="tone",stage="tts_first_audio"`,
		`voicegate_turn_latency_seconds_bucket{provider="tone",stage="first_audio_sent"`,
		`voicegate_stage_duration_seconds_bucket{provider="scripted",stage="asr"`,
		`voicegate_stage_duration_seconds_bucket{provider="tone",stage="tts"`,
		`voicegate_stage_duration_seconds_bucket{provider="gateway",stage="send"`,
		`voicegate_sessions_total{resumed="false"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if n := metric(t, s.reg, "voicegate_audio_frames_in_total", nil); n < 50 {
		t.Errorf("frames in = %v", n)
	}
}

// TestHeartbeatTimeout: a peer that answers nothing is closed.
func TestHeartbeatTimeout(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) {
		o.HeartbeatInterval = 50 * time.Millisecond
		o.HeartbeatTimeout = 200 * time.Millisecond
		o.WriteTimeout = 300 * time.Millisecond
	})
	c := s.dial(t, dialOpts{noRead: true}) // not reading: pings go unanswered
	c.t = t
	c.sendJSON(map[string]any{"type": "session.start"})
	eventually(t, "heartbeat close", func() bool {
		return metric(t, s.reg, "voicegate_errors_total", map[string]string{"code": "heartbeat_timeout"}) == 1
	})
	eventually(t, "connection gone", func() bool { return metric(t, s.reg, "voicegate_sessions_active", nil) == 0 })
	// The socket is gone: the client's own reads fail (answering the
	// buffered pings breaks the pipe before it reaches the error event).
	c.startReading()
	c.closed()
}

// TestAppPing: ping gets pong on the control lane, before a session too.
func TestAppPing(t *testing.T) {
	s := newServer(t, nil)
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.sendJSON(map[string]any{"type": "ping", "id": "7", "client_time": 12.5})
	m, _ := c.expect(protocol.TypePong)
	if m.str("id") != "7" || m.num("client_time") != 12.5 || m.num("server_time_ms") == 0 {
		t.Fatalf("pong %s", m.Raw)
	}
}

// TestResumeAcrossRestart: with a SessionFile, a session saved by one
// server's drain is resumed on the next server, history and settings intact;
// the file holds no resume token.
func TestResumeAcrossRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sessions.json")
	withFile := func(o *gateway.Options) { o.SessionFile = file }
	first := newServer(t, withFile)
	c := first.dial(t, dialOpts{})
	st := c.start(map[string]any{"text_only": true})
	c.sendJSON(map[string]any{"type": "input.text", "text": "remember me"})
	c.expect(protocol.TypeTurnLatency)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := first.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.expectError(protocol.CodeShuttingDown)
	saved, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(saved), st.ResumeToken) {
		t.Fatal("the session file holds the resume token")
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("session file mode %v, want 0600", fi.Mode().Perm())
	}

	second := newServer(t, withFile)
	c2 := second.dial(t, dialOpts{})
	defer c2.close()
	st2 := c2.start(map[string]any{"resume_token": st.ResumeToken})
	want := []protocol.HistoryEntry{{Role: "user", Text: "remember me"}, {Role: "assistant", Text: "You said: remember me."}}
	if !st2.Resumed || st2.SessionID != st.SessionID || !st2.TextOnly || fmt.Sprint(st2.History) != fmt.Sprint(want) {
		t.Fatalf("after restart: %+v", st2)
	}
	// Turn numbers go on where they stopped.
	c2.sendJSON(map[string]any{"type": "input.text", "text": "and now"})
	if done, _ := c2.expect(protocol.TypeResponseDone); done.num("turn") != 2 {
		t.Fatalf("first turn after the restart is %v, want 2", done.num("turn"))
	}
}
