package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/resample"
)

// responder runs one turn: finish recognition, stream the LLM's reply through
// the chunker into synthesis, pace the audio out, and keep in the history
// only what the client was sent. A reply that calls tools runs in rounds:
// the server's tools run and the model goes on with their results; a
// client's tool ends the reply, to be continued by Respond.
type responder struct {
	s   *Session
	t   *job
	out Output

	item        string // the ID of the reply message being streamed ("" between rounds)
	stored      string // the ID of the reply's last message in the history
	storedStart int    // the first of spoken that belongs to it

	mu   sync.Mutex
	sent strings.Builder // text-only replies: this round's deltas sent so far

	spoken     []string // sentences whose audio has started going to the Output
	roundStart int      // the first of spoken that belongs to this round
	audioOn    bool     // EventAudioStart sent
	rs         *resample.Resampler
	buf        []int16
	firstAudio time.Time
	pauseBase  time.Duration // the reply's pauses before its first audio
	sentAudio  int           // samples sent, in the output format
	timer      *time.Timer
	said       []string // the text of the rounds before this one
}

// maxToolRounds bounds the model calls of one reply: the last is offered
// no tools, so it answers in words.
const maxToolRounds = 5

func (r *responder) send(ev Event) {
	ev.Turn, ev.Handle = r.t.id, r.t.handle
	if ev.Item == "" {
		ev.Item = r.item
	}
	r.out.Send(ev)
}

func (r *responder) now() time.Time { return r.s.cfg.Now() }

func (r *responder) run() {
	if !r.t.fromHistory && !r.userTurn() {
		return
	}
	if !r.t.respond {
		return
	}
	cfg := r.s.cfg
	tools := r.t.tools
	r.item = cfg.Conversation.NewID()
	for round := 1; ; round++ {
		if round == maxToolRounds {
			tools = nil
		}
		text, calls, err, ttsErr := r.round(tools)
		switch {
		case ttsErr != nil:
			r.t.trace.Err = &StageError{Stage: StageTTS, Provider: r.s.provider(r.t, StageTTS), Turn: r.t.id, Err: ttsErr}
			r.send(Event{Kind: EventError, Err: r.t.trace.Err})
			r.cancelled(CancelError)
			return
		case r.t.ctx.Err() != nil:
			r.cancelled(context.Cause(r.t.ctx))
			return
		case err != nil:
			r.t.trace.Err = &StageError{Stage: StageLLM, Provider: r.s.provider(r.t, StageLLM), Turn: r.t.id, Err: err}
			r.send(Event{Kind: EventError, Err: r.t.trace.Err})
			r.cancelled(CancelError)
			return
		}
		if text != "" || len(calls) > 0 {
			cfg.Conversation.Append(Message{ID: r.item, Role: RoleAssistant, Content: text, ToolCalls: calls})
			r.said = append(r.said, text)
			r.stored, r.storedStart = r.item, r.roundStart
		}
		if len(calls) == 0 {
			break
		}
		more := r.runTools(calls)
		r.nextRound("") // this round is in the history
		if r.t.ctx.Err() != nil {
			r.cancelled(context.Cause(r.t.ctx))
			return
		}
		if !more {
			break
		}
		r.nextRound(cfg.Conversation.NewID())
	}
	r.item = r.stored // the closing events name the reply's last message, if any
	r.t.gate.end()    // a reply paused now, with nothing more to send, hears no resume after its end
	if r.audioOn {
		r.send(Event{Kind: EventAudioDone})
	}
	r.t.finish()
	r.send(Event{Kind: EventResponseDone, Text: r.reply()})
	r.send(Event{Kind: EventTurnLatency, Trace: r.trace()})
}

// nextRound starts a round whose message will be item: what was said
// before it is in the history.
func (r *responder) nextRound(item string) {
	r.item = item
	r.roundStart = len(r.spoken)
	r.mu.Lock()
	r.sent.Reset()
	r.mu.Unlock()
}

// reply is the whole reply's text, its rounds joined.
func (r *responder) reply() string {
	said := slices.DeleteFunc(slices.Clone(r.said), func(s string) bool { return s == "" })
	return strings.Join(said, " ")
}

// userTurn finishes the user's side of the turn: the transcript of their
// speech, or their text, goes into the history. It reports whether there
// is anything to reply to.
func (r *responder) userTurn() bool {
	ctx, tr, cfg := r.t.ctx, r.t.trace, r.s.cfg
	userText := r.t.text
	if r.t.utt != nil || r.t.transcribed {
		text := r.t.heard // decided on the input loop, over a paused reply
		if r.t.utt != nil {
			var err error
			text, err = r.t.utt.Finish(r.t.asrCtx)
			r.t.utt.Close()
			if err != nil {
				if ctx.Err() != nil {
					if r.t.respond {
						r.cancelled(context.Cause(ctx)) // the client still hears how the turn ended
					}
					return false
				}
				r.send(Event{Kind: EventError, Item: r.t.userItem, Err: &StageError{Stage: StageASR, Provider: r.s.provider(r.t, StageASR), Turn: r.t.id, Err: err}})
				return false
			}
			tr.ASRFinal = r.now()
		}
		userText = strings.TrimSpace(text)
		r.send(Event{Kind: EventTranscriptFinal, Item: r.t.userItem, Text: userText})
		if userText == "" {
			return false // nothing heard; no reply
		}
	}
	cfg.Conversation.Append(Message{ID: r.t.userItem, Role: RoleUser, Content: userText})
	return true
}

// prompt is what the model is given: the history, with this reply's
// instructions in place of the system prompt when Respond gave some.
func (r *responder) prompt() []Message {
	p := pairToolResults(r.s.cfg.Conversation.Prompt())
	if in := r.t.instructions; in != "" {
		if len(p) > 0 && p[0].Role == RoleSystem {
			p[0].Content = in
		} else {
			p = append([]Message{{Role: RoleSystem, Content: in}}, p...)
		}
	}
	return p
}

// runTools runs the server's tools among calls, their results going into
// the history, and tells the client of the others. It reports whether the
// model should go on: every call ran here.
func (r *responder) runTools(calls []ToolCall) bool {
	ctx := r.t.ctx
	clientCalls := false
	for i := range calls {
		call := calls[i]
		tool := findTool(r.t.tools, call.Name)
		if tool != nil && tool.Call == nil {
			clientCalls = true
			r.send(Event{Kind: EventToolCall, Call: &call})
			continue
		}
		if ctx.Err() != nil {
			return false
		}
		var result string
		var err error
		switch {
		case tool == nil:
			// A name no one offered: the model hears so and goes on.
			result = fmt.Sprintf("error: there is no tool named %q", call.Name)
		default:
			result, err = runTool(ctx, tool, call.Arguments)
			var p panicked
			switch {
			case err != nil && ctx.Err() != nil:
				return false
			case errors.As(err, &p):
				result = "error: the tool failed"
			case err != nil:
				result = "error: " + err.Error()
			}
		}
		r.s.cfg.Conversation.Append(Message{Role: RoleTool, ToolCallID: call.ID, Content: result})
		r.send(Event{Kind: EventToolResult, Call: &call, Text: result, Err: err})
	}
	return !clientCalls
}

// panicked is the error of a tool that panicked.
type panicked struct {
	tool  string
	value any
	stack []byte
}

func (p panicked) Error() string {
	return fmt.Sprintf("tool %s panicked: %v\n%s", p.tool, p.value, p.stack)
}

// runTool runs a server tool; a tool that panics fails its call, not the
// server.
func runTool(ctx context.Context, tool *Tool, args string) (result string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicked{tool: tool.Name, value: p, stack: debug.Stack()}
		}
	}()
	return tool.Call(ctx, args)
}

// noResult stands in for the result of a call the client never answered.
const noResult = "(no result)"

// pairToolResults returns msgs with each assistant message's tool calls
// followed at once by their results, in the calls' order, as chat APIs
// require. A result answers the nearest call of its ID before it (a model
// may reuse IDs); one that came later (after other messages) moves up, a
// call never answered gets noResult, a second answer to a call and a
// result of no call before it are dropped.
func pairToolResults(msgs []Message) []Message {
	type key struct {
		at int // the index of the assistant message of the call
		id string
	}
	results := make(map[key]Message)
	latest := make(map[string]int) // call ID → the newest message so far that calls it
	calls := 0
	for i, m := range msgs {
		for _, c := range m.ToolCalls {
			latest[c.ID] = i
			calls++
		}
		if m.Role != RoleTool {
			continue
		}
		if at, ok := latest[m.ToolCallID]; ok {
			k := key{at, m.ToolCallID}
			if _, dup := results[k]; !dup {
				results[k] = m
			}
		}
	}
	out := make([]Message, 0, len(msgs)+calls)
	for i, m := range msgs {
		if m.Role == RoleTool {
			continue
		}
		out = append(out, m)
		for _, c := range m.ToolCalls {
			res, ok := results[key{i, c.ID}]
			if !ok {
				res = Message{Role: RoleTool, ToolCallID: c.ID, Content: noResult}
			}
			out = append(out, res)
		}
	}
	return out
}

// round streams one model call: its text to the client and, sentence by
// sentence, through synthesis. It returns the round's text and tool calls,
// the model's error and the synthesizer's.
func (r *responder) round(tools []Tool) (text string, calls []ToolCall, llmErr, ttsErr error) {
	ctx, tr, cfg := r.t.ctx, r.t.trace, r.s.cfg
	prompt := r.prompt()
	sentences := make(chan string, 16)
	done := make(chan error, 1)
	var full strings.Builder // written by the producer only until done
	var assembled ToolCalls
	go func() {
		defer close(sentences)
		ch := NewChunker()
		push := func(s string) error {
			if tr.FirstSentence.IsZero() {
				tr.FirstSentence = r.now()
			}
			select {
			case sentences <- s:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		onText := func(delta string) error {
			if delta == "" {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			if tr.LLMFirstToken.IsZero() {
				tr.LLMFirstToken = r.now()
			}
			full.WriteString(delta)
			r.send(Event{Kind: EventTextDelta, Text: delta})
			r.mu.Lock()
			r.sent.WriteString(delta)
			r.mu.Unlock()
			for _, s := range ch.Push(delta) {
				if err := push(s); err != nil {
					return err
				}
			}
			return nil
		}
		llmCtx := r.t.handle.StageContext(ctx, StageLLM)
		var err error
		if tg, ok := cfg.Stages.LLM.(ToolGenerator); ok && len(tools) > 0 {
			err = tg.GenerateTools(llmCtx, prompt, tools, func(d Delta) error {
				if d.Call != nil {
					if err := ctx.Err(); err != nil {
						return context.Cause(ctx)
					}
					if tr.LLMFirstToken.IsZero() {
						tr.LLMFirstToken = r.now()
					}
					assembled.Add(*d.Call)
				}
				return onText(d.Text)
			})
		} else {
			err = cfg.Stages.LLM.Generate(llmCtx, prompt, onText)
		}
		tr.LLMDone = r.now()
		if err == nil {
			if rest := ch.Flush(); rest != "" {
				err = push(rest)
			}
		}
		done <- err
	}()

	ttsCtx := ctx
	if !cfg.TextOnly {
		ttsCtx = r.t.handle.StageContext(ctx, StageTTS)
	}
	for sentence := range sentences {
		if cfg.TextOnly || ttsErr != nil || ctx.Err() != nil {
			continue // drain, so the producer can finish
		}
		err := r.speak(ttsCtx, sentence)
		tr.TTSDone = r.now()
		if err != nil && ctx.Err() == nil {
			ttsErr = err
			r.t.cancel(CancelError)
		}
	}
	llmErr = <-done
	if r.timer != nil {
		r.timer.Stop()
	}
	calls = assembled.Calls()
	for i := range calls {
		if calls[i].ID == "" {
			calls[i].ID = fmt.Sprintf("call_%s_%d", r.item, i)
		}
	}
	return strings.TrimSpace(full.String()), calls, llmErr, ttsErr
}

// cancelled ends a cut turn: what the client got of this round stays in
// the history (the rounds before it are there already).
func (r *responder) cancelled(cause error) {
	onWire := r.t.handle.Cut() // nothing more of this turn goes out
	var kept string
	if r.s.cfg.TextOnly {
		r.mu.Lock()
		kept = strings.TrimSpace(r.sent.String())
		r.mu.Unlock()
	} else if onWire > r.roundStart {
		kept = strings.Join(r.spoken[r.roundStart:min(onWire, len(r.spoken))], " ")
	}
	if r.stored != "" && !r.s.cfg.TextOnly && onWire < r.roundStart {
		// Cut before all of the last round in the history went out (its
		// tools were running, or this round had barely begun): its
		// message keeps only what did.
		heard := strings.Join(r.spoken[r.storedStart:max(onWire, r.storedStart)], " ")
		r.s.cfg.Conversation.SetContent(r.stored, heard)
		r.said[len(r.said)-1] = heard
	}
	if kept != "" && r.item != "" {
		r.s.cfg.Conversation.Append(Message{ID: r.item, Role: RoleAssistant, Content: kept})
		r.stored = r.item
	}
	r.said = append(r.said, kept)
	r.item = r.stored
	reason := reasonOf(cause)
	r.t.finish()
	r.send(Event{Kind: EventResponseCancelled, Reason: reason, Text: r.reply()})
	r.send(Event{Kind: EventTurnLatency, Reason: reason, Trace: r.trace()})
}

// trace completes the turn's Trace with the providers that answered.
func (r *responder) trace() *Trace {
	tr := r.t.trace
	tr.Done = r.now()
	tr.ASR = r.s.provider(r.t, StageASR)
	tr.LLM = r.s.provider(r.t, StageLLM)
	tr.TTS = r.s.provider(r.t, StageTTS)
	return tr
}

// speak synthesises one sentence and sends its audio, paced.
func (r *responder) speak(ctx context.Context, sentence string) error {
	tts := r.t.tts
	started := false
	err := tts.Synthesize(ctx, sentence, func(pcm []int16) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if len(pcm) == 0 {
			return nil
		}
		if r.t.trace.TTSFirstAudio.IsZero() {
			r.t.trace.TTSFirstAudio = r.now()
		}
		if r.rs == nil {
			from := tts.Format().SampleRate
			rs, err := resample.New(from, r.s.cfg.Output.SampleRate)
			if err != nil {
				return err
			}
			r.rs = rs
		}
		if !r.audioOn {
			r.audioOn = true
			r.send(Event{Kind: EventAudioStart, Format: r.s.cfg.Output})
		}
		if !started {
			started = true
			r.spoken = append(r.spoken, sentence)
			r.send(Event{Kind: EventSentence, Text: sentence, Sentence: len(r.spoken)})
		}
		r.buf = r.rs.Process(r.buf, pcm)
		return r.sendAudio(ctx, false)
	})
	if err != nil || !started {
		return err
	}
	r.buf = r.rs.Flush(r.buf) // the filter's tail belongs to this sentence
	return r.sendAudio(ctx, true)
}

// sendAudio sends the sentence audio pending in r.buf in OutputChunk
// pieces, keeping at most PlayoutLead of audio ahead of real time so a
// barge-in has little to take back. A shorter remainder waits for more
// audio, which saves messages, but only while the client holds at least a
// chunk's worth: the turn's first audio, the sentence's end (final) and a
// synthesizer that is barely keeping up all send at once. While the reply
// is paused its audio stays in r.buf, the sentence's synthesis going on;
// at the sentence's end it waits for the reply to resume.
func (r *responder) sendAudio(ctx context.Context, final bool) error {
	out := r.s.cfg.Output
	chunk := max(out.Samples(r.s.cfg.OutputChunk), 1)
	gate := &r.t.gate
	sent := 0
	defer func() { r.buf = r.buf[:copy(r.buf, r.buf[sent:])] }()
	for sent < len(r.buf) {
		if gate.isPaused() {
			if !final {
				return nil
			}
			if err := gate.wait(ctx); err != nil {
				return err
			}
		}
		n := min(chunk, len(r.buf)-sent)
		if n < chunk && !final && !r.firstAudio.IsZero() &&
			out.Duration(r.sentAudio)-r.played() >= r.s.cfg.OutputChunk {
			return nil
		}
		if err := r.pace(ctx, out); err != nil {
			return err
		}
		if !gate.lockRunning() {
			continue // paused while pacing
		}
		if r.firstAudio.IsZero() {
			r.firstAudio = r.now()
			r.pauseBase = gate.pausedForLocked(r.firstAudio)
		}
		r.send(Event{Kind: EventAudio, Audio: r.buf[sent : sent+n], Sentence: len(r.spoken)})
		gate.mu.Unlock()
		r.sentAudio += n
		sent += n
	}
	return nil
}

// played returns how much of the reply's audio the client has played by
// now: the time since its first audio, less the pauses since when the
// client holds its playback through them (Config.PlaybackPauses).
func (r *responder) played() time.Duration {
	now := r.now()
	d := now.Sub(r.firstAudio)
	if r.s.cfg.PlaybackPauses {
		d -= r.t.gate.pausedFor(now) - r.pauseBase
	}
	return d
}

func (r *responder) pace(ctx context.Context, out audio.Format) error {
	lead := r.s.cfg.PlayoutLead
	if lead < 0 || r.firstAudio.IsZero() {
		return nil
	}
	ahead := out.Duration(r.sentAudio) - r.played()
	wait := ahead - lead
	if wait <= 0 {
		return nil
	}
	if r.timer == nil {
		r.timer = time.NewTimer(wait)
	} else {
		r.timer.Reset(wait)
	}
	select {
	case <-r.timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
