package pipeline

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/resample"
)

// responder runs one turn: finish recognition, stream the LLM's reply through
// the chunker into synthesis, pace the audio out, and keep in the history
// only what the client was sent.
type responder struct {
	s   *Session
	t   *job
	out Output

	mu   sync.Mutex
	sent strings.Builder // text-only replies: the deltas sent so far

	spoken     []string // sentences whose audio has started going to the Output
	audioOn    bool     // EventAudioStart sent
	rs         *resample.Resampler
	buf        []int16
	firstAudio time.Time
	sentAudio  int // samples sent, in the output format
	timer      *time.Timer
}

func (r *responder) send(ev Event) {
	ev.Turn, ev.Handle = r.t.id, r.t.handle
	r.out.Send(ev)
}

func (r *responder) now() time.Time { return r.s.cfg.Now() }

func (r *responder) run() {
	ctx, tr, cfg := r.t.ctx, r.t.trace, r.s.cfg
	userText := r.t.text
	if r.t.utt != nil {
		text, err := r.t.utt.Finish(r.t.asrCtx)
		r.t.utt.Close()
		if err != nil {
			if ctx.Err() != nil {
				r.cancelled(context.Cause(ctx)) // the client still hears how the turn ended
				return
			}
			r.send(Event{Kind: EventError, Err: &StageError{Stage: StageASR, Provider: r.s.provider(r.t, StageASR), Turn: r.t.id, Err: err}})
			return
		}
		tr.ASRFinal = r.now()
		userText = strings.TrimSpace(text)
		r.send(Event{Kind: EventTranscriptFinal, Text: userText})
		if userText == "" {
			return // nothing heard; no reply
		}
	}
	cfg.Conversation.Append(Message{Role: RoleUser, Content: userText})
	prompt := cfg.Conversation.Prompt()

	sentences := make(chan string, 16)
	llmErr := make(chan error, 1)
	var full strings.Builder // written by the producer only until llmErr
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
		err := cfg.Stages.LLM.Generate(r.t.handle.StageContext(ctx, StageLLM), prompt, func(delta string) error {
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
		})
		if err == nil {
			if rest := ch.Flush(); rest != "" {
				err = push(rest)
			}
		}
		llmErr <- err
	}()

	ttsCtx := ctx
	if !cfg.TextOnly {
		ttsCtx = r.t.handle.StageContext(ctx, StageTTS)
	}
	var ttsErr error
	for sentence := range sentences {
		if cfg.TextOnly || ttsErr != nil || ctx.Err() != nil {
			continue // drain, so the producer can finish
		}
		if err := r.speak(ttsCtx, sentence); err != nil && ctx.Err() == nil {
			ttsErr = err
			r.t.cancel(CancelError)
		}
	}
	err := <-llmErr
	if r.timer != nil {
		r.timer.Stop()
	}

	switch {
	case ttsErr != nil:
		r.send(Event{Kind: EventError, Err: &StageError{Stage: StageTTS, Provider: r.s.provider(r.t, StageTTS), Turn: r.t.id, Err: ttsErr}})
		r.cancelled(CancelError)
	case ctx.Err() != nil:
		r.cancelled(context.Cause(ctx))
	case err != nil:
		r.send(Event{Kind: EventError, Err: &StageError{Stage: StageLLM, Provider: r.s.provider(r.t, StageLLM), Turn: r.t.id, Err: err}})
		r.cancelled(CancelError)
	default:
		if r.audioOn {
			r.send(Event{Kind: EventAudioDone})
		}
		reply := strings.TrimSpace(full.String())
		if reply != "" {
			cfg.Conversation.Append(Message{Role: RoleAssistant, Content: reply})
		}
		r.send(Event{Kind: EventResponseDone, Text: reply})
		r.send(Event{Kind: EventTurnLatency, Trace: r.trace()})
	}
}

// cancelled ends a cut turn: what the client got stays in the history.
func (r *responder) cancelled(cause error) {
	onWire := r.t.handle.Cut() // nothing more of this turn goes out
	var kept string
	if r.s.cfg.TextOnly {
		r.mu.Lock()
		kept = strings.TrimSpace(r.sent.String())
		r.mu.Unlock()
	} else {
		kept = strings.Join(r.spoken[:min(onWire, len(r.spoken))], " ")
	}
	if kept != "" {
		r.s.cfg.Conversation.Append(Message{Role: RoleAssistant, Content: kept})
	}
	reason := reasonOf(cause)
	r.send(Event{Kind: EventResponseCancelled, Reason: reason, Text: kept})
	r.send(Event{Kind: EventTurnLatency, Reason: reason, Trace: r.trace()})
}

// trace completes the turn's Trace with the providers that answered.
func (r *responder) trace() *Trace {
	tr := r.t.trace
	tr.ASR = r.s.provider(r.t, StageASR)
	tr.LLM = r.s.provider(r.t, StageLLM)
	tr.TTS = r.s.provider(r.t, StageTTS)
	return tr
}

// speak synthesises one sentence and sends its audio, paced.
func (r *responder) speak(ctx context.Context, sentence string) error {
	tts := r.s.cfg.Stages.TTS
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
// synthesizer that is barely keeping up all send at once.
func (r *responder) sendAudio(ctx context.Context, final bool) error {
	out := r.s.cfg.Output
	chunk := max(out.Samples(r.s.cfg.OutputChunk), 1)
	sent := 0
	defer func() { r.buf = r.buf[:copy(r.buf, r.buf[sent:])] }()
	for sent < len(r.buf) {
		n := min(chunk, len(r.buf)-sent)
		if n < chunk && !final && !r.firstAudio.IsZero() &&
			out.Duration(r.sentAudio)-r.now().Sub(r.firstAudio) >= r.s.cfg.OutputChunk {
			return nil
		}
		if err := r.pace(ctx, out); err != nil {
			return err
		}
		if r.firstAudio.IsZero() {
			r.firstAudio = r.now()
		}
		r.send(Event{Kind: EventAudio, Audio: r.buf[sent : sent+n], Sentence: len(r.spoken)})
		r.sentAudio += n
		sent += n
	}
	return nil
}

func (r *responder) pace(ctx context.Context, out audio.Format) error {
	lead := r.s.cfg.PlayoutLead
	if lead < 0 || r.firstAudio.IsZero() {
		return nil
	}
	ahead := out.Duration(r.sentAudio) - r.now().Sub(r.firstAudio)
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
