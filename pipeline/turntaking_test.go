package pipeline_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// longReply is what the first turn of these tests says: echoed, it is a
// reply of three sentences that takes seconds to play.
const longReply = "one two three four five six. seven eight nine ten eleven twelve. thirteen fourteen"

// cough returns d of a noise burst, as loud as speech: the detector takes
// it for speech, the recogniser hears no words in it.
func cough(d time.Duration) []int16 {
	rng := rand.New(rand.NewPCG(7, 7))
	out := make([]int16, audio.Mono16k.Samples(d))
	for i := range out {
		env := math.Sin(math.Pi * float64(i) / float64(len(out)))
		out[i] = audio.Clamp16(5000 * env * rng.NormFloat64())
	}
	return out
}

// history returns the conversation as role:content.
func history(h *harness) string {
	var out []string
	for _, m := range h.conv.History() {
		out = append(out, string(m.Role)+":"+m.Content)
	}
	return strings.Join(out, "|")
}

// count returns how many events of kind k the recorder has from index from.
func count(h *harness, from int, k pipeline.EventKind) int {
	n := 0
	for _, ev := range h.rec.Events()[from:] {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// TestFalseInterruption: speech over a reply that is no barge-in, a cough
// or a backchannel, pauses the reply and resumes it; the reply completes
// whole, nothing is cut, and the interruption leaves no trace in the
// history.
func TestFalseInterruption(t *testing.T) {
	tests := []struct {
		name   string
		heard  string // the recogniser's transcript of the interruption
		signal []int16
	}{
		{"300 ms cough", "", cough(300 * time.Millisecond)},
		{"mm-hm", "Mm-hm.", pipelinetest.Voice(600*time.Millisecond, 16000)},
		{"uh huh, as two words", "uh huh", pipelinetest.Voice(500*time.Millisecond, 16000)},
		{"嗯嗯 in Mandarin", "嗯嗯", pipelinetest.Voice(600*time.Millisecond, 16000)},
		{"um, a hesitation", "um", pipelinetest.Voice(600*time.Millisecond, 16000)},
		{"uh hmm, two hesitations", "uh hmm", pipelinetest.Voice(600*time.Millisecond, 16000)},
		{"呃 in Mandarin", "呃", pipelinetest.Voice(600*time.Millisecond, 16000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lang := ""
			if strings.ContainsAny(tc.heard, "嗯呃") {
				lang = "zh"
			}
			asr := pipelinetest.NewScripted(longReply, tc.heard)
			tts := &pipelinetest.Tone{PerRune: 20 * time.Millisecond}
			h := start(t, pipeline.Config{Stages: stages(asr, tts), PlayoutLead: 100 * time.Millisecond, Language: lang})
			h.speak(16000, 600*time.Millisecond)
			_, first := h.wait(0, pipeline.EventAudio)
			h.feed(pipelinetest.Concat(pipelinetest.Silence(200*time.Millisecond, 16000), tc.signal, pipelinetest.Silence(600*time.Millisecond, 16000)))
			paused, pi := h.wait(first, pipeline.EventReplyPaused)
			if c, ci, err := h.rec.Wait(h.ctx, pi, func(ev pipeline.Event) bool {
				return ev.Kind == pipeline.EventReplyResumed || ev.Kind == pipeline.EventResponseCancelled
			}); err != nil || c.Kind == pipeline.EventResponseCancelled {
				t.Fatalf("reply cut (%v, reason %v) at %d: %s", err, c.Reason, ci, h.rec.Summary())
			}
			resumed, ri := h.wait(pi, pipeline.EventReplyResumed)
			if paused.Turn != 1 || resumed.Turn != 1 {
				t.Fatalf("paused turn %d, resumed turn %d, want the reply's, 1", paused.Turn, resumed.Turn)
			}
			done, di := h.wait(0, pipeline.EventResponseDone)
			const reply = "You said: " + longReply + "."
			if done.Text != reply || di < ri {
				t.Fatalf("reply %q done at %d, resumed at %d; want %q after the resume", done.Text, di, ri, reply)
			}
			for i, ev := range h.rec.Events()[pi:ri] {
				if ev.Kind == pipeline.EventAudio {
					t.Fatalf("audio sent at %d while the reply was paused", pi+i)
				}
			}
			if n := count(h, first, pipeline.EventSpeechStarted) + count(h, first, pipeline.EventTranscriptPartial) + count(h, first, pipeline.EventInputCommitted); n != 0 {
				t.Fatalf("the interruption sent %d events of a user turn: %s", n, h.rec.Summary())
			}
			var samples int
			for _, ev := range h.rec.Events() {
				if ev.Kind == pipeline.EventAudio && ev.Turn == 1 {
					samples += len(ev.Audio)
				}
			}
			// Each sentence is spoken alone: the spaces between them are not.
			if got, want := tts.Format().Duration(samples), tts.Duration(strings.ReplaceAll(reply, ". ", ".")); (got - want).Abs() > 30*time.Millisecond {
				t.Errorf("reply audio %v, want the whole reply's %v", got, want)
			}
			if got, want := history(h), "user:"+longReply+"|assistant:"+reply; got != want {
				t.Errorf("history\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestBargeInQualifies: words over a reply cut it, after
// BargeInMinSpeech of voice, and are the user's next turn whole. Audio
// is written in real time to time the cut from the start of the voice.
func TestBargeInQualifies(t *testing.T) {
	asr := pipelinetest.NewScripted(longReply, "please stop now")
	tts := &pipelinetest.Tone{PerRune: 40 * time.Millisecond}
	turn := pipeline.TurnConfig{BargeInMinSpeech: 300 * time.Millisecond}
	h := start(t, pipeline.Config{Stages: stages(asr, tts), PlayoutLead: 100 * time.Millisecond, Turn: turn})
	h.speak(16000, 600*time.Millisecond)
	_, first := h.wait(0, pipeline.EventAudio)
	voice := pipelinetest.Voice(time.Second, 16000)
	began := time.Now()
	for i := 0; i < len(voice); i += 320 {
		h.sess.WriteAudio(voice[i : i+320])
		time.Sleep(time.Until(began.Add(time.Duration(i/320+1) * 20 * time.Millisecond)))
		if count(h, first, pipeline.EventResponseCancelled) > 0 {
			break
		}
	}
	cut, ci := h.wait(first, pipeline.EventResponseCancelled)
	took := time.Since(began)
	if cut.Reason != pipeline.CancelBargeIn || cut.Turn != 1 {
		t.Fatalf("cancelled %+v", cut)
	}
	_, pi := h.wait(first, pipeline.EventReplyPaused)
	started, si := h.wait(first, pipeline.EventSpeechStarted)
	if !(pi < si && si < ci) {
		t.Fatalf("paused at %d, speech started at %d, cancelled at %d: want that order", pi, si, ci)
	}
	// The detector confirms speech after MinSpeech (100 ms), which counts
	// as voiced: the cut comes when 300 ms of voice have been heard.
	t.Logf("voice start → cut: %v (barge_in_min_speech %v)", took, turn.BargeInMinSpeech)
	if took < turn.BargeInMinSpeech || took > turn.BargeInMinSpeech+250*time.Millisecond {
		t.Errorf("cut %v after the voice began, want %v to %v", took, turn.BargeInMinSpeech, turn.BargeInMinSpeech+250*time.Millisecond)
	}
	if count(h, first, pipeline.EventReplyResumed) != 0 {
		t.Error("a cut reply was resumed")
	}
	h.feed(pipelinetest.Silence(500*time.Millisecond, 16000))
	final, _ := h.wait(si, pipeline.EventTranscriptFinal)
	if final.Turn != started.Turn || final.Text != "please stop now" {
		t.Fatalf("final %q of turn %d, want the barge-in's words, turn %d", final.Text, final.Turn, started.Turn)
	}
	h.wait(ci, pipeline.EventResponseDone)
	want := "user:" + longReply + "|assistant:" + cut.Text + "|user:please stop now|assistant:You said: please stop now."
	if cut.Text == "" {
		want = strings.Replace(want, "|assistant:|", "|", 1)
	}
	if got := history(h); got != want {
		t.Errorf("history\n got %q\nwant %q", got, want)
	}
}

// TestBargeInAtSpeechEnd: a short word that is no backchannel, over before
// it proves a barge-in by its length, cuts the reply once its final
// transcript says so; a recogniser without partials decides the same way.
func TestBargeInAtSpeechEnd(t *testing.T) {
	asr := pipelinetest.NewScripted(longReply, "stop")
	asr.PartialEvery = time.Hour // no partials
	tts := &pipelinetest.Tone{PerRune: 40 * time.Millisecond}
	h := start(t, pipeline.Config{Stages: stages(asr, tts), PlayoutLead: 100 * time.Millisecond})
	h.speak(16000, 600*time.Millisecond)
	_, first := h.wait(0, pipeline.EventAudio)
	h.feed(pipelinetest.Concat(pipelinetest.Voice(250*time.Millisecond, 16000), pipelinetest.Silence(400*time.Millisecond, 16000)))
	cut, ci := h.wait(first, pipeline.EventResponseCancelled)
	if cut.Reason != pipeline.CancelBargeIn {
		t.Fatalf("cancelled %+v", cut)
	}
	final, fi := h.wait(first, pipeline.EventTranscriptFinal)
	if final.Text != "stop" || fi < ci {
		t.Fatalf("final %q at %d, the cut at %d", final.Text, fi, ci)
	}
	h.wait(ci, pipeline.EventResponseDone)
	if got := history(h); !strings.HasSuffix(got, "|user:stop|assistant:You said: stop.") {
		t.Errorf("history %q", got)
	}
}

// TestResumeAfterTimeout: a final transcript that does not come in
// ResumeAfter leaves the reply paused no longer.
func TestResumeAfterTimeout(t *testing.T) {
	asr := pipelinetest.NewScripted(longReply, "")
	tts := &pipelinetest.Tone{PerRune: 20 * time.Millisecond}
	h := start(t, pipeline.Config{Stages: stages(asr, tts), PlayoutLead: 100 * time.Millisecond,
		Turn: pipeline.TurnConfig{ResumeAfter: 200 * time.Millisecond}})
	h.speak(16000, 600*time.Millisecond)
	_, first := h.wait(0, pipeline.EventAudio)
	asr.Latency = 3 * time.Second // the second utterance's Finish
	h.feed(pipelinetest.Concat(cough(300*time.Millisecond), pipelinetest.Silence(400*time.Millisecond, 16000)))
	_, pi := h.wait(first, pipeline.EventReplyPaused)
	began := time.Now()
	h.wait(pi, pipeline.EventReplyResumed)
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("resumed %v after the pause, want within resume_after (200ms) of the speech end", d)
	}
	h.wait(0, pipeline.EventResponseDone)
	if n := count(h, 0, pipeline.EventResponseCancelled); n != 0 {
		t.Fatalf("%d replies cancelled", n)
	}
}

// TestAdaptiveEndOfTurn: the silence that ends a turn follows what was
// said: a hesitation, or a rising pitch, holds the turn open over a pause
// that ends a finished sentence.
func TestAdaptiveEndOfTurn(t *testing.T) {
	rising := func(d time.Duration) []int16 { return glide(d, 160, 280) }
	tests := []struct {
		name    string
		heard   string
		voice   []int16
		pause   time.Duration
		wantEnd bool
		chosen  time.Duration // a silence the client chose (TurnTaking.VAD), kept as it is
	}{
		{"um then 700ms", "so I want um", pipelinetest.Voice(time.Second, 16000), 700 * time.Millisecond, false, 0},
		{"dangling and then 700ms", "coffee and", pipelinetest.Voice(600*time.Millisecond, 16000), 700 * time.Millisecond, false, 0},
		{"那个 then 700ms", "我想要那个", pipelinetest.Voice(time.Second, 16000), 700 * time.Millisecond, false, 0},
		{"finished sentence then 500ms", "what time is it", pipelinetest.Voice(time.Second, 16000), 500 * time.Millisecond, true, 0},
		{"finished sentence then 350ms", "what time is it", pipelinetest.Voice(time.Second, 16000), 350 * time.Millisecond, true, 0},
		// "so", "to" and "of" may end a finished phrase or not: the
		// detector's own silence, neither the shortest nor the longest.
		{"I think so then 700ms", "I think so", pipelinetest.Voice(time.Second, 16000), 700 * time.Millisecond, true, 0},
		{"I think so then 350ms", "I think so", pipelinetest.Voice(time.Second, 16000), 350 * time.Millisecond, false, 0},
		{"who did you talk to then 700ms", "who did you talk to", pipelinetest.Voice(time.Second, 16000), 700 * time.Millisecond, true, 0},
		{"a cup of then 350ms", "a cup of", pipelinetest.Voice(time.Second, 16000), 350 * time.Millisecond, false, 0},
		{"rising pitch, no words, then 700ms", "", rising(800 * time.Millisecond), 700 * time.Millisecond, false, 0},
		{"level pitch, no words, then 700ms", "", pipelinetest.Voice(800*time.Millisecond, 16000), 700 * time.Millisecond, true, 0},
		{"um then 700ms, the client's 600ms", "so I want um", pipelinetest.Voice(time.Second, 16000), 700 * time.Millisecond, true, 600 * time.Millisecond},
		{"finished then 400ms, the client's 600ms", "what time is it", pipelinetest.Voice(time.Second, 16000), 400 * time.Millisecond, false, 600 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lang := ""
			if strings.ContainsRune(tc.heard, '那') {
				lang = "zh"
			}
			h := start(t, pipeline.Config{
				Stages:   stages(pipelinetest.NewScripted(tc.heard), &pipelinetest.Tone{}),
				VAD:      vad.Config{Silence: 500 * time.Millisecond},
				Turns:    pipeline.TurnTaking{VAD: vad.Config{Silence: tc.chosen}},
				Language: lang,
			})
			h.feed(pipelinetest.Concat(pipelinetest.Silence(300*time.Millisecond, 16000), tc.voice, pipelinetest.Silence(tc.pause, 16000)))
			// A control call runs after the audio written before it.
			if err := h.sess.SetTools(nil); err != nil {
				t.Fatal(err)
			}
			h.wait(0, pipeline.EventSpeechStarted)
			ended := count(h, 0, pipeline.EventSpeechStopped) > 0
			if ended != tc.wantEnd {
				t.Fatalf("turn ended %v after %v of silence, want %v: %s", ended, tc.pause, tc.wantEnd, h.rec.Summary())
			}
			if !ended {
				// The longest silence ends it all the same.
				h.feed(pipelinetest.Silence(max(pipeline.DefaultTurnConfig().EndSilenceMax, tc.chosen)-tc.pause+100*time.Millisecond, 16000))
				h.wait(0, pipeline.EventSpeechStopped)
			}
		})
	}
}

// glide is a voice at 16 kHz whose pitch moves from f0 to f1 Hz.
func glide(d time.Duration, f0, f1 float64) []int16 {
	const rate = 16000
	out := make([]int16, audio.Mono16k.Samples(d))
	phase := 0.0
	for i := range out {
		f := f0 * math.Pow(f1/f0, float64(i)/float64(len(out)))
		phase += 2 * math.Pi * f / rate
		v := 0.0
		for h, a := range []float64{1, 0.6, 0.4, 0.25, 0.15} {
			v += a * math.Sin(float64(h+1)*phase)
		}
		out[i] = audio.Clamp16(2600 * v)
	}
	return out
}

// heldReply starts a session whose first turn's reply is paused by a
// cough over it, the cough's speech not yet ended; it returns the harness
// and the index of EventReplyPaused.
func heldReply(t *testing.T, asr *pipelinetest.Scripted, cfg pipeline.Config) (*harness, int) {
	t.Helper()
	cfg.Stages = stages(asr, &pipelinetest.Tone{PerRune: 20 * time.Millisecond})
	cfg.PlayoutLead = 100 * time.Millisecond
	h := start(t, cfg)
	h.speak(16000, 600*time.Millisecond)
	_, first := h.wait(0, pipeline.EventAudio)
	h.feed(cough(300 * time.Millisecond))
	_, pi := h.wait(first, pipeline.EventReplyPaused)
	return h, pi
}

// firstEnd returns the first event at or after from that resumes or ends
// turn, and its index.
func firstEnd(t *testing.T, h *harness, from int, turn uint64) (pipeline.Event, int) {
	t.Helper()
	ev, i, err := h.rec.Wait(h.ctx, from, func(ev pipeline.Event) bool {
		return ev.Turn == turn && (ev.Kind == pipeline.EventReplyResumed || ev.Kind == pipeline.EventResponseCancelled || ev.Kind == pipeline.EventResponseDone)
	})
	if err != nil {
		t.Fatalf("%v: %s", err, h.rec.Summary())
	}
	return ev, i
}

// TestSwitchTurnTakingWhileHeld: a client that turns barge-in off, or
// takes over the turn's end (a Realtime turn_detection: null), while
// speech holds a reply paused gets the reply back whole: it resumes and
// completes. The speech is the user's turn all the same: with NoBargeIn
// it is committed at its end, with Manual at Commit.
func TestSwitchTurnTakingWhileHeld(t *testing.T) {
	for name, tt := range map[string]pipeline.TurnTaking{"manual": {Manual: true}, "no barge-in": {NoBargeIn: true}} {
		t.Run(name, func(t *testing.T) {
			h, pi := heldReply(t, pipelinetest.NewScripted(longReply, "and another thing"), pipeline.Config{})
			if err := h.sess.SetTurnTaking(tt); err != nil {
				t.Fatal(err)
			}
			if ev, i := firstEnd(t, h, pi, 1); ev.Kind != pipeline.EventReplyResumed {
				t.Fatalf("after the switch the reply got %v at %d, want it resumed: %s", ev.Kind, i, h.rec.Summary())
			}
			done, _ := h.wait(pi, pipeline.EventResponseDone)
			if want := "You said: " + longReply + "."; done.Turn != 1 || done.Text != want {
				t.Fatalf("done %d %q, want turn 1 whole", done.Turn, done.Text)
			}
			if tt.Manual {
				if _, err := h.sess.Commit(); err != nil {
					t.Fatalf("Commit of the speech begun before the switch: %v", err)
				}
			} else {
				h.feed(pipelinetest.Silence(800*time.Millisecond, 16000))
			}
			final, _ := h.wait(pi, pipeline.EventTranscriptFinal)
			if final.Turn == 1 || final.Text != "and another thing" {
				t.Fatalf("final transcript %d %q, want the held speech's", final.Turn, final.Text)
			}
			if n := count(h, 0, pipeline.EventResponseCancelled); n != 0 {
				t.Errorf("%d replies cut: %s", n, h.rec.Summary())
			}
		})
	}
}

// TestClearInputWhileDeciding: speech over a reply that ended before it
// proved a barge-in, its final transcript awaited, is discarded by
// ClearInput: it commits no turn and the reply resumes.
func TestClearInputWhileDeciding(t *testing.T) {
	asr := pipelinetest.NewScripted(longReply, "stop please")
	asr.Latency = 600 * time.Millisecond // each Finish: the held speech's is awaited
	h, pi := heldReply(t, asr, pipeline.Config{})
	h.feed(pipelinetest.Silence(400*time.Millisecond, 16000))
	// A control call runs after the audio written before it: the speech
	// has ended when ClearInput runs.
	if err := h.sess.SetTools(nil); err != nil {
		t.Fatal(err)
	}
	if err := h.sess.ClearInput(); err != nil {
		t.Fatal(err)
	}
	if ev, i := firstEnd(t, h, pi, 1); ev.Kind != pipeline.EventReplyResumed {
		t.Fatalf("after ClearInput the reply got %v at %d, want it resumed: %s", ev.Kind, i, h.rec.Summary())
	}
	h.wait(pi, pipeline.EventResponseDone)
	time.Sleep(800 * time.Millisecond) // past the transcript's latency
	if n := count(h, pi, pipeline.EventInputCommitted) + count(h, pi, pipeline.EventSpeechStarted); n != 0 {
		t.Errorf("cleared speech sent %d events of a turn: %s", n, h.rec.Summary())
	}
	if got, want := history(h), "user:"+longReply+"|assistant:You said: "+longReply+"."; got != want {
		t.Errorf("history\n got %q\nwant %q", got, want)
	}
}

// TestClientTurnWhileHeld: a typed turn or an interrupt while speech holds
// a reply paused takes the turn: the speech is dropped, not made a turn
// that would cut the typed turn's reply when it ends.
func TestClientTurnWhileHeld(t *testing.T) {
	for _, typed := range []bool{true, false} {
		name := "interrupt"
		if typed {
			name = "typed turn"
		}
		t.Run(name, func(t *testing.T) {
			h, pi := heldReply(t, pipelinetest.NewScripted(longReply, ""), pipeline.Config{})
			if typed {
				if err := h.sess.SubmitText("what is the weather"); err != nil {
					t.Fatal(err)
				}
			} else {
				h.sess.Interrupt()
			}
			if ev, _ := firstEnd(t, h, pi, 1); ev.Kind != pipeline.EventResponseCancelled || ev.Reason != pipeline.CancelInterrupt {
				t.Fatalf("reply 1 got %v (%v), want cancelled for the interrupt: %s", ev.Kind, ev.Reason, h.rec.Summary())
			}
			h.feed(pipelinetest.Silence(800*time.Millisecond, 16000))
			if err := h.sess.SetTools(nil); err != nil { // after that audio
				t.Fatal(err)
			}
			if typed {
				done, _ := h.wait(pi, pipeline.EventResponseDone)
				if done.Text != "You said: what is the weather." {
					t.Fatalf("typed turn's reply %q: %s", done.Text, h.rec.Summary())
				}
			} else {
				time.Sleep(300 * time.Millisecond)
			}
			for _, k := range []pipeline.EventKind{pipeline.EventSpeechStarted, pipeline.EventInputCommitted, pipeline.EventReplyResumed} {
				if n := count(h, pi, k); n != 0 {
					t.Errorf("%d %v after the pause: %s", n, k, h.rec.Summary())
				}
			}
			if n := count(h, pi, pipeline.EventResponseCancelled); n != 1 {
				t.Errorf("%d replies cut, want reply 1 only: %s", n, h.rec.Summary())
			}
		})
	}
}

// slowWords streams a text-only reply slowly, so speech lands over it.
var slowWords = pipeline.GeneratorFunc(func(ctx context.Context, _ []pipeline.Message, emit func(string) error) error {
	for range 15 {
		if err := emit("word "); err != nil {
			return err
		}
		if err := pipeline.Sleep(ctx, 30*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
})

// TestNoResumeAfterDone: a reply that ends while paused (a text-only one
// goes on while paused, having no audio to hold) ends with
// response.done, and no response.resumed follows it.
func TestNoResumeAfterDone(t *testing.T) {
	asr := pipelinetest.NewScripted("hello there", "")
	asr.Latency = 1200 * time.Millisecond
	h := start(t, pipeline.Config{Stages: pipeline.Stages{ASR: asr, LLM: slowWords}, TextOnly: true})
	h.speak(16000, 600*time.Millisecond)
	_, first := h.wait(0, pipeline.EventTextDelta)
	h.feed(pipelinetest.Concat(cough(300*time.Millisecond), pipelinetest.Silence(600*time.Millisecond, 16000)))
	_, pi := h.wait(first, pipeline.EventReplyPaused)
	_, di := h.wait(pi, pipeline.EventResponseDone)
	time.Sleep(1500 * time.Millisecond) // past the held speech's transcript and ResumeAfter
	if n := count(h, di, pipeline.EventReplyResumed); n != 0 {
		t.Errorf("response.resumed after response.done: %s", h.rec.Summary())
	}
	if n := count(h, 0, pipeline.EventResponseCancelled); n != 0 {
		t.Errorf("%d replies cut", n)
	}
}

// TestBargeInAfterDone: speech that pauses a reply which then ends, and
// proves a barge-in only afterwards, is the user's next turn; the ended
// reply keeps its one response.done: no cancel, no resume follows it.
func TestBargeInAfterDone(t *testing.T) {
	asr := pipelinetest.NewScripted("hello there", "stop please")
	h := start(t, pipeline.Config{Stages: pipeline.Stages{ASR: asr, LLM: slowWords}, TextOnly: true,
		Turn: pipeline.TurnConfig{BargeInMinSpeech: 1500 * time.Millisecond}})
	h.speak(16000, 600*time.Millisecond)
	_, first := h.wait(0, pipeline.EventTextDelta)
	voice := pipelinetest.Concat(pipelinetest.Voice(2*time.Second, 16000), pipelinetest.Silence(600*time.Millisecond, 16000))
	began := time.Now()
	for i := 0; i < len(voice); i += 320 {
		h.sess.WriteAudio(voice[i:min(i+320, len(voice))])
		time.Sleep(time.Until(began.Add(time.Duration(i/320+1) * 20 * time.Millisecond)))
	}
	_, pi := h.wait(first, pipeline.EventReplyPaused)
	_, di := h.wait(pi, pipeline.EventResponseDone)
	h.wait(di, pipeline.EventSpeechStarted) // held until the barge-in was proved, after the done
	final, _ := h.wait(di, pipeline.EventTranscriptFinal)
	if final.Text != "stop please" {
		t.Fatalf("final %q: %s", final.Text, h.rec.Summary())
	}
	for i, ev := range h.rec.Events()[di+1:] {
		if ev.Turn == 1 && ev.Kind != pipeline.EventTurnLatency {
			t.Errorf("turn 1 got %v at %d after its response.done: %s", ev.Kind, di+1+i, h.rec.Summary())
		}
	}
	if n := count(h, 0, pipeline.EventSpeechStarted); n != 2 {
		t.Errorf("%d speech.started, want the question's and the barge-in's: %s", n, h.rec.Summary())
	}
}
