package pipeline_test

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// toolLLM calls the first tool it is offered, once, then answers in words
// with the tool's result. It records the prompts it was given.
type toolLLM struct {
	mu      sync.Mutex
	prompts [][]pipeline.Message
	hold    chan struct{} // when set, replies wait for it to close
	call    string        // when set, the tool it calls, offered or not
}

func (g *toolLLM) record(msgs []pipeline.Message) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.prompts = append(g.prompts, append([]pipeline.Message(nil), msgs...))
}

func (g *toolLLM) lastPrompt() []pipeline.Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.prompts[len(g.prompts)-1]
}

func (g *toolLLM) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	g.record(msgs)
	if g.hold != nil {
		select {
		case <-g.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return emit("Plain words.")
}

func (g *toolLLM) GenerateTools(ctx context.Context, msgs []pipeline.Message, tools []pipeline.Tool, emit func(pipeline.Delta) error) error {
	g.record(msgs)
	if last := msgs[len(msgs)-1]; last.Role == pipeline.RoleTool {
		return emit(pipeline.Delta{Text: "It is " + last.Content + "."})
	}
	for _, d := range []pipeline.Delta{
		{Text: "Checking."},
		{Call: &pipeline.ToolCallDelta{Index: 0, ID: "call_1", Name: cmp.Or(g.call, tools[0].Name), Arguments: `{"zone":`}},
		{Call: &pipeline.ToolCallDelta{Index: 0, Arguments: `"utc"}`}},
	} {
		if err := emit(d); err != nil {
			return err
		}
	}
	return nil
}

func roles(h []pipeline.Message) string {
	var b strings.Builder
	for _, m := range h {
		b.WriteString(string(m.Role[0]))
	}
	return b.String()
}

// TestPushToTalk: with manual turn taking and no automatic reply, Commit
// ends the turn, the words go into the history under the item Commit
// named, and Respond replies.
func TestPushToTalk(t *testing.T) {
	h := start(t, pipeline.Config{
		Stages: stages(pipelinetest.NewScripted("what time is it"), &pipelinetest.Tone{Rate: 16000}),
		Turns:  pipeline.TurnTaking{Manual: true, NoResponse: true},
	})
	if _, err := h.sess.Commit(); !errors.Is(err, pipeline.ErrNothingToCommit) {
		t.Fatalf("Commit with no audio: %v", err)
	}
	h.speak(16000, 500*time.Millisecond)
	item, err := h.sess.Commit()
	if err != nil || item == "" {
		t.Fatalf("Commit: %q, %v", item, err)
	}
	committed, ci := h.wait(0, pipeline.EventInputCommitted)
	final, fi := h.wait(0, pipeline.EventTranscriptFinal)
	if committed.Item != item || final.Item != item || fi < ci || final.Text != "what time is it" {
		t.Fatalf("committed %+v, final %+v, want item %q", committed, final, item)
	}
	for _, ev := range h.rec.Events() {
		if ev.Kind == pipeline.EventSpeechStarted || ev.Kind == pipeline.EventTextDelta {
			t.Fatalf("%v with manual turn taking and no reply asked for", ev.Kind)
		}
	}
	if m, ok := h.conv.Get(item); !ok || m.Content != "what time is it" || m.Role != pipeline.RoleUser {
		t.Fatalf("history item %q: %+v %v", item, m, ok)
	}
	turn, err := h.sess.Respond(pipeline.ResponseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done, _ := h.wait(fi, pipeline.EventResponseDone)
	if done.Turn != turn || done.Text != "You said: what time is it." || done.Item == "" {
		t.Fatalf("reply %+v to turn %d", done, turn)
	}
	if m, ok := h.conv.Get(done.Item); !ok || m.Content != done.Text {
		t.Fatalf("reply item %q: %+v", done.Item, m)
	}
}

// TestClearInput: cleared audio is never transcribed.
func TestClearInput(t *testing.T) {
	h := start(t, pipeline.Config{
		Stages: stages(pipelinetest.NewScripted("first", "second"), &pipelinetest.Tone{Rate: 16000}),
		Turns:  pipeline.TurnTaking{Manual: true},
	})
	h.speak(16000, 300*time.Millisecond)
	if err := h.sess.ClearInput(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sess.Commit(); !errors.Is(err, pipeline.ErrNothingToCommit) {
		t.Fatalf("Commit after ClearInput: %v", err)
	}
	h.speak(16000, 300*time.Millisecond)
	if _, err := h.sess.Commit(); err != nil {
		t.Fatal(err)
	}
	final, _ := h.wait(0, pipeline.EventTranscriptFinal)
	if final.Text != "second" {
		t.Fatalf("transcript %q: the cleared utterance was recognised", final.Text)
	}
}

// TestRespond: Respond replies to the history, with instructions for this
// reply only, and refuses a second reply while one runs.
func TestRespond(t *testing.T) {
	llm := &toolLLM{hold: make(chan struct{})}
	h := start(t, pipeline.Config{
		Stages:       pipeline.Stages{LLM: llm},
		TextOnly:     true,
		Conversation: pipeline.NewConversation("be brief", 0),
	})
	h.conv.Append(pipeline.Message{Role: pipeline.RoleUser, Content: "hello"})
	turn, err := h.sess.Respond(pipeline.ResponseOptions{Instructions: "speak French"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sess.Respond(pipeline.ResponseOptions{}); !errors.Is(err, pipeline.ErrResponseActive) {
		t.Fatalf("second Respond: %v", err)
	}
	close(llm.hold)
	done, _ := h.wait(0, pipeline.EventResponseDone)
	if done.Turn != turn || done.Text != "Plain words." {
		t.Fatalf("reply %+v", done)
	}
	if p := llm.lastPrompt(); p[0].Content != "speak French" || p[1].Content != "hello" {
		t.Fatalf("prompt %+v", p)
	}
	if h.conv.System() != "be brief" {
		t.Fatalf("the instructions outlived their reply: %q", h.conv.System())
	}
	if _, err := h.sess.Respond(pipeline.ResponseOptions{}); err != nil {
		t.Fatalf("Respond after the reply: %v", err)
	}
}

// TestServerTool: a server-side tool runs within the reply, and the model
// goes on with its result; the history holds every step.
func TestServerTool(t *testing.T) {
	var calls []string
	tool := pipeline.Tool{Name: "clock", Call: func(_ context.Context, args string) (string, error) {
		calls = append(calls, args)
		return "noon", nil
	}}
	h := start(t, pipeline.Config{
		Stages: pipeline.Stages{ASR: pipelinetest.NewScripted("what time is it"), LLM: &toolLLM{}, TTS: &pipelinetest.Tone{Rate: 16000}},
		Tools:  []pipeline.Tool{tool},
	})
	h.speak(16000, 500*time.Millisecond)
	done, _ := h.wait(0, pipeline.EventResponseDone)
	if done.Text != "Checking. It is noon." {
		t.Fatalf("reply %q", done.Text)
	}
	res, _ := h.wait(0, pipeline.EventToolResult)
	if res.Call.Name != "clock" || res.Call.Arguments != `{"zone":"utc"}` || res.Text != "noon" {
		t.Fatalf("tool result event %+v %+v", res, res.Call)
	}
	if len(calls) != 1 || calls[0] != `{"zone":"utc"}` {
		t.Fatalf("tool ran with %q", calls)
	}
	hist := h.conv.History()
	if roles(hist) != "uata" || len(hist[1].ToolCalls) != 1 || hist[2].ToolCallID != "call_1" || hist[3].Content != "It is noon." {
		t.Fatalf("history %+v", hist)
	}
	if done.Item != hist[3].ID || res.Item != hist[1].ID {
		t.Fatalf("items: done %q, tool result %q, history %+v", done.Item, res.Item, hist)
	}
	var sentences []string
	for _, ev := range h.rec.Events() {
		if ev.Kind == pipeline.EventSentence {
			sentences = append(sentences, ev.Text)
		}
	}
	if strings.Join(sentences, "|") != "Checking.|It is noon." {
		t.Fatalf("sentences %q", sentences)
	}
}

// TestClientTool: a client's tool ends the reply with EventToolCall; its
// result in the history and Respond continue it.
func TestClientTool(t *testing.T) {
	h := start(t, pipeline.Config{
		Stages:   pipeline.Stages{LLM: &toolLLM{}},
		TextOnly: true,
	})
	if err := h.sess.SetTools([]pipeline.Tool{{Name: "weather"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.sess.SubmitText("weather please"); err != nil {
		t.Fatal(err)
	}
	call, ci := h.wait(0, pipeline.EventToolCall)
	done, di := h.wait(0, pipeline.EventResponseDone)
	if call.Call.Name != "weather" || call.Call.ID != "call_1" || di < ci || done.Text != "Checking." {
		t.Fatalf("call %+v, done %+v", call.Call, done)
	}
	if m, ok := h.conv.Get(done.Item); !ok || done.Item != call.Item || len(m.ToolCalls) != 1 {
		t.Fatalf("response done names %q (call %q): %+v", done.Item, call.Item, m)
	}
	h.conv.Append(pipeline.Message{Role: pipeline.RoleTool, ToolCallID: call.Call.ID, Content: "sunny"})
	if _, err := h.sess.Respond(pipeline.ResponseOptions{}); err != nil {
		t.Fatal(err)
	}
	again, _ := h.wait(di+1, pipeline.EventResponseDone)
	if again.Text != "It is sunny." || roles(h.conv.History()) != "uata" {
		t.Fatalf("continued reply %q, history %+v", again.Text, h.conv.History())
	}
}

// TestNoBargeIn: with barge-in off, speech over a reply leaves it whole.
func TestNoBargeIn(t *testing.T) {
	tts := &pipelinetest.Tone{Rate: 16000}
	h := start(t, pipeline.Config{
		Stages:      pipeline.Stages{ASR: pipelinetest.NewScripted("tell me a long story about the sea", "and then"), LLM: &echo.Echo{}, TTS: tts},
		Turns:       pipeline.TurnTaking{NoBargeIn: true},
		PlayoutLead: 50 * time.Millisecond,
	})
	h.speak(16000, 500*time.Millisecond)
	_, ai := h.wait(0, pipeline.EventAudio)
	h.speak(16000, 300*time.Millisecond)
	first, fi := h.wait(ai, pipeline.EventResponseDone)
	if !strings.Contains(first.Text, "the sea") {
		t.Fatalf("first reply %q", first.Text)
	}
	second, _ := h.wait(fi+1, pipeline.EventResponseDone)
	if second.Text != "You said: and then." {
		t.Fatalf("second reply %q", second.Text)
	}
	for _, ev := range h.rec.Events() {
		if ev.Kind == pipeline.EventResponseCancelled {
			t.Fatalf("reply cut with barge-in off: %+v", ev)
		}
	}
}

// TestSetTurnTaking: switching to manual turn taking mid-session stops
// voice activity detection from ending turns.
func TestSetTurnTaking(t *testing.T) {
	h := start(t, pipeline.Config{Stages: stages(pipelinetest.NewScripted("one", "two"), &pipelinetest.Tone{Rate: 16000})})
	if err := h.sess.SetTurnTaking(pipeline.TurnTaking{Manual: true, NoResponse: true}); err != nil {
		t.Fatal(err)
	}
	h.speak(16000, 500*time.Millisecond)
	if _, err := h.sess.Commit(); err != nil {
		t.Fatal(err)
	}
	h.wait(0, pipeline.EventTranscriptFinal)
	for _, ev := range h.rec.Events() {
		if ev.Kind == pipeline.EventSpeechStarted || ev.Kind == pipeline.EventResponseDone {
			t.Fatalf("%v after switching to manual turn taking without replies", ev.Kind)
		}
	}
	if err := h.sess.SetTurnTaking(pipeline.TurnTaking{}); err != nil {
		t.Fatal(err)
	}
	h.speak(16000, 500*time.Millisecond)
	done, _ := h.wait(0, pipeline.EventResponseDone)
	if done.Text != "You said: two." {
		t.Fatalf("reply %q", done.Text)
	}
}

// TestControlAfterRun: once Run has returned, the control methods say so
// instead of waiting.
func TestControlAfterRun(t *testing.T) {
	sess, err := pipeline.NewSession(pipeline.Config{Stages: pipeline.Stages{LLM: &echo.Echo{}}, TextOnly: true, Conversation: pipeline.NewConversation("", 0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sess.Run(ctx, pipelinetest.NewRecorder())
	if _, err := sess.Respond(pipeline.ResponseOptions{}); !errors.Is(err, pipeline.ErrSessionClosed) {
		t.Fatalf("Respond after Run: %v", err)
	}
	if _, err := sess.Commit(); !errors.Is(err, pipeline.ErrSessionClosed) {
		t.Fatalf("Commit after Run: %v", err)
	}
}

type namedTone struct {
	*pipelinetest.Tone
	name string
}

func (n namedTone) Name() string { return n.name }

// voicedTone speaks in voices "low" and "high", tones named for them.
type voicedTone struct{ *pipelinetest.Tone }

func (v voicedTone) WithVoice(voice string) (pipeline.Synthesizer, error) {
	switch voice {
	case "low", "high":
		return namedTone{&pipelinetest.Tone{Rate: 8000}, "tone:" + voice}, nil
	}
	return nil, errors.New("voices: low, high")
}

// TestSetVoice: a new voice speaks the next reply; an unknown one is an
// error that leaves the voice as it was.
func TestSetVoice(t *testing.T) {
	h := start(t, pipeline.Config{
		Stages: pipeline.Stages{LLM: &echo.Echo{}, TTS: voicedTone{&pipelinetest.Tone{Rate: 16000}}},
	})
	if err := h.sess.SetVoice("shrill"); !errors.Is(err, pipeline.ErrUnknownVoice) || !strings.Contains(err.Error(), "low, high") {
		t.Fatalf("SetVoice(shrill): %v", err)
	}
	if err := h.sess.SetVoice("low"); err != nil {
		t.Fatal(err)
	}
	if err := h.sess.SubmitText("hello"); err != nil {
		t.Fatal(err)
	}
	lat, _ := h.wait(0, pipeline.EventTurnLatency)
	if lat.Trace.TTS != "tone:low" {
		t.Fatalf("reply spoken by %q, want tone:low", lat.Trace.TTS)
	}
}

// TestManualTurnCap: with manual turn taking, a turn longer than the
// detector's MaxUtterance ends by itself.
func TestManualTurnCap(t *testing.T) {
	h := start(t, pipeline.Config{
		Stages: stages(pipelinetest.NewScripted("on and on"), &pipelinetest.Tone{Rate: 16000}),
		Turns:  pipeline.TurnTaking{Manual: true, NoResponse: true, VAD: vad.Config{MaxUtterance: time.Second}},
	})
	h.speak(16000, 1500*time.Millisecond) // 2.2 s with its silences
	final, _ := h.wait(0, pipeline.EventTranscriptFinal)
	if final.Text != "on and on" {
		t.Fatalf("transcript %q", final.Text)
	}
	if _, err := h.sess.Commit(); err != nil {
		t.Fatalf("Commit of the rest: %v", err) // the second second is a turn of its own
	}
}

// TestSetTurnTakingMidTurn: speech begun before a change of turn taking
// stays one turn, recognised whole, and no utterance is left open.
func TestSetTurnTakingMidTurn(t *testing.T) {
	voice := func(d time.Duration) []int16 { return pipelinetest.Voice(d, 16000) }
	silence := func(d time.Duration) []int16 { return pipelinetest.Silence(d, 16000) }
	tests := []struct {
		name         string
		from, to     pipeline.TurnTaking
		before       []int16 // audio before the change
		after        []int16 // and after it
		speechStarts int
	}{
		{"manual to detector", pipeline.TurnTaking{Manual: true, NoResponse: true}, pipeline.TurnTaking{NoResponse: true},
			voice(400 * time.Millisecond), silence(100 * time.Millisecond), 0},
		{"new detector settings mid-speech", pipeline.TurnTaking{NoResponse: true}, pipeline.TurnTaking{NoResponse: true, VAD: vad.Config{Silence: 300 * time.Millisecond}},
			pipelinetest.Concat(silence(300*time.Millisecond), voice(400*time.Millisecond)), pipelinetest.Concat(voice(400*time.Millisecond), silence(600*time.Millisecond)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asr := &counting{Recognizer: pipelinetest.NewScripted("first words", "second words")}
			h := start(t, pipeline.Config{Stages: pipeline.Stages{ASR: asr, LLM: &echo.Echo{}, TTS: &pipelinetest.Tone{Rate: 16000}}, Turns: tt.from})
			h.sess.WriteAudio(tt.before)
			if err := h.sess.SetTurnTaking(tt.to); err != nil {
				t.Fatal(err)
			}
			h.sess.WriteAudio(tt.after)
			final, _ := h.wait(0, pipeline.EventTranscriptFinal)
			starts := 0
			for _, ev := range h.rec.Events() {
				if ev.Kind == pipeline.EventSpeechStarted {
					starts++
				}
			}
			if final.Text != "first words" || starts != tt.speechStarts {
				t.Fatalf("transcript %q after %d speech starts: %s", final.Text, starts, h.rec.Summary())
			}
			// The next speech is a turn of its own.
			h.speak(16000, 500*time.Millisecond)
			next, _, err := h.rec.Wait(h.ctx, 0, func(ev pipeline.Event) bool {
				return ev.Kind == pipeline.EventTranscriptFinal && ev.Text != "first words"
			})
			if err != nil || next.Text != "second words" {
				t.Fatalf("next transcript %q, %v", next.Text, err)
			}
			if n := asr.open.Load(); n != 0 {
				t.Fatalf("%d utterances left open", n)
			}
		})
	}
}

// TestToolFailures: a tool no one offered, and a server tool that panics,
// fail their calls; the model hears so and the reply goes on.
func TestToolFailures(t *testing.T) {
	boom := pipeline.Tool{Name: "boom", Call: func(context.Context, string) (string, error) { panic("out of cheese") }}
	tests := []struct {
		name, call, result string
		panicked           bool
	}{
		{"not offered", "ghost", `error: there is no tool named "ghost"`, false},
		{"panics", "boom", "error: the tool failed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, pipeline.Config{Stages: pipeline.Stages{LLM: &toolLLM{call: tt.call}}, TextOnly: true, Tools: []pipeline.Tool{boom}})
			if err := h.sess.SubmitText("go"); err != nil {
				t.Fatal(err)
			}
			res, _ := h.wait(0, pipeline.EventToolResult)
			done, _ := h.wait(0, pipeline.EventResponseDone)
			if res.Text != tt.result || done.Text != "Checking. It is "+tt.result+"." {
				t.Fatalf("result %q, reply %q", res.Text, done.Text)
			}
			if got := res.Err != nil && strings.Contains(res.Err.Error(), "out of cheese"); got != tt.panicked {
				t.Fatalf("result error %v", res.Err)
			}
			for _, ev := range h.rec.Events() {
				if ev.Kind == pipeline.EventToolCall {
					t.Fatalf("a server-side failure was sent to the client as a call: %+v", ev.Call)
				}
			}
		})
	}
}
