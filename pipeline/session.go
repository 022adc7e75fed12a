package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/resample"
	"github.com/voicegate/voicegate/audio/vad"
)

// Config configures a Session. Zero fields take the defaults noted.
type Config struct {
	Stages       Stages
	Conversation *Conversation // required; survives reconnects
	// Turns is how the end of the user's turn is found; the zero fields
	// of its VAD are VAD's. SetTurnTaking changes it.
	Turns TurnTaking
	// Tools are the session's own tools, run on the server (each has a
	// Call); they are offered in every turn, beside the client's
	// (SetTools). They need a Stages.LLM that is a ToolGenerator.
	Tools    []Tool
	Input    audio.Format // the client's audio; default audio.Mono16k
	Output   audio.Format // the client's playback format; default the synthesizer's
	TextOnly bool         // reply with text only, no synthesis
	VAD      vad.Config
	// Turn tunes barge-in and the end of the user's turn; its zero
	// fields are DefaultTurnConfig's, its word lists Language's.
	Turn TurnConfig
	// Language is the conversation's language, which picks the default
	// backchannel and hesitation words: "en" (default) or "zh".
	Language     string
	MaxTextBytes int           // cap on SubmitText; default DefaultMaxTextBytes
	InboxFrames  int           // 20 ms slots of audio queued before the oldest is dropped; default 50 (1 s)
	PlayoutLead  time.Duration // how far reply audio may run ahead of real time; default DefaultPlayoutLead; <0 sends unpaced
	OutputChunk  time.Duration // reply audio is sent in chunks of at most this; default 100ms
	// PlaybackPauses says the client holds its playback on
	// EventReplyPaused until EventReplyResumed, so the audio it has
	// queued waits out the pause. False: it plays on through the pause,
	// and the pacing refills its queue at the resume.
	PlaybackPauses bool
	Now            func() time.Time
}

// Defaults of Config and NewConversation that callers compose into their own.
const (
	DefaultMaxTextBytes = 4096
	DefaultPlayoutLead  = 500 * time.Millisecond
	DefaultMaxHistory   = 40
	// DefaultMaxHistoryBytes is a history byte cap (Conversation.SetMaxBytes)
	// that holds DefaultMaxHistory messages of a spoken conversation.
	DefaultMaxHistoryBytes = 16 << 10
)

func (c *Config) setDefaults() error {
	if c.Conversation == nil {
		return errors.New("pipeline: Config.Conversation is required")
	}
	if c.Stages.LLM == nil {
		return errors.New("pipeline: Config.Stages.LLM is required")
	}
	if c.Stages.TTS == nil && !c.TextOnly {
		return errors.New("pipeline: Config.Stages.TTS is required unless TextOnly")
	}
	if c.Input == (audio.Format{}) {
		c.Input = audio.Mono16k
	}
	if err := c.Input.Validate(); err != nil {
		return fmt.Errorf("pipeline: input: %w", err)
	}
	if c.Output == (audio.Format{}) && c.Stages.TTS != nil {
		c.Output = c.Stages.TTS.Format()
	}
	if c.MaxTextBytes <= 0 {
		c.MaxTextBytes = DefaultMaxTextBytes
	}
	if c.InboxFrames <= 0 {
		c.InboxFrames = 50
	}
	if c.PlayoutLead == 0 {
		c.PlayoutLead = DefaultPlayoutLead
	}
	if c.OutputChunk <= 0 {
		// Fewer, larger messages cost the gateway less; a barge-in is
		// unaffected, as the client flushes whatever it has queued.
		c.OutputChunk = 100 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.VAD = c.VAD.WithDefaults()
	c.Turns.VAD = c.Turns.VAD.Or(c.VAD)
	if c.Language == "" {
		c.Language = "en"
	}
	def := DefaultTurnConfig()
	def.Backchannels, def.Hesitations = Backchannels(c.Language), Hesitations(c.Language)
	c.Turn = c.Turn.Or(def)
	if err := c.Turn.Validate(); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	if len(c.Tools) > MaxTools {
		return fmt.Errorf("pipeline: %d tools, limit %d", len(c.Tools), MaxTools)
	}
	for _, t := range c.Tools {
		if t.Name == "" || t.Call == nil {
			return fmt.Errorf("pipeline: Config.Tools: tool %q needs a name and a Call", t.Name)
		}
	}
	return nil
}

// ErrBusy is returned by SubmitText when earlier text is still queued.
var ErrBusy = errors.New("pipeline: session busy, text input queue full")

// Session is one conversation's pipeline: audio and text in, events out.
// Run owns its goroutines; WriteAudio, SubmitText and Interrupt feed it from
// the connection and never block.
type Session struct {
	cfg   Config
	names stageNames

	// Used only by the WriteAudio caller.
	toPipeline *resample.Resampler // nil when the input is 16 kHz already
	scratch    []int16

	// mu guards the input loop's state: the loop holds it while it works,
	// and WriteAudio, when it gets it at once, may run the VAD itself
	// (loop.inline). live is the running loop; nil before Run and after.
	mu   sync.Mutex
	live *loop

	inbox     *inbox
	texts     chan string
	interrupt chan struct{}
	ctrl      chan control
	stopped   chan struct{} // closed when Run's input loop has stopped
}

// slotSamples is one inbox slot: 20 ms at 16 kHz. Larger frames span slots.
const slotSamples = 320

// NewSession checks cfg and returns a Session ready to Run.
func NewSession(cfg Config) (*Session, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	rs, err := resample.New(cfg.Input.SampleRate, audio.Mono16k.SampleRate)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if cfg.Input.SampleRate == audio.Mono16k.SampleRate {
		rs = nil // no conversion: WriteAudio skips the copy
	}
	return &Session{
		cfg:        cfg,
		names:      stageNames{asr: NameOf(cfg.Stages.ASR), llm: NameOf(cfg.Stages.LLM), tts: NameOf(cfg.Stages.TTS)},
		toPipeline: rs,
		inbox:      newInbox(cfg.InboxFrames, slotSamples),
		texts:      make(chan string, 4),
		interrupt:  make(chan struct{}, 1),
		ctrl:       make(chan control, 8),
		stopped:    make(chan struct{}),
	}, nil
}

// Config returns the session's configuration with defaults applied.
func (s *Session) Config() Config { return s.cfg }

// WriteAudio queues samples in the Input format. It copies samples, never
// blocks, and drops the oldest queued audio when the session falls behind.
// It must be called from one goroutine at a time (the connection's reader).
//
// Between turns, with nothing queued and the loop idle, it runs the voice
// activity detector on the caller's goroutine instead, and wakes the loop
// only when speech starts: silence, most of a session's audio, then costs
// no hand-off to the loop.
func (s *Session) WriteAudio(samples []int16) {
	if s.toPipeline != nil {
		s.scratch = s.toPipeline.Process(s.scratch[:0], samples)
		samples = s.scratch
	}
	if s.mu.TryLock() { // never waits: a busy loop gets the audio queued
		if l := s.live; l != nil {
			samples = l.inline(samples)
		}
		s.mu.Unlock()
	}
	s.inbox.push(samples)
}

// DroppedFrames returns how many queued audio frames were dropped because
// the session fell behind.
func (s *Session) DroppedFrames() uint64 { return s.inbox.droppedFrames() }

// SubmitText starts a text turn, cutting any reply in progress.
func (s *Session) SubmitText(text string) error {
	if len(text) > s.cfg.MaxTextBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTextTooLong, len(text), s.cfg.MaxTextBytes)
	}
	select {
	case s.texts <- text:
		return nil
	default:
		return ErrBusy
	}
}

// Interrupt cuts the reply in progress, if any.
func (s *Session) Interrupt() {
	select {
	case s.interrupt <- struct{}{}:
	default:
	}
}

// job is one turn's work for the turn worker: its context, its Turn
// handle and Trace, and its input.
type job struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	id       uint64
	handle   *Turn
	trace    *Trace
	asrCtx   context.Context // spoken turns: the recogniser's stage context
	utt      Utterance       // spoken turns: the utterance to finish
	text     string          // text turns
	userItem string          // the ID of the user message this turn adds

	respond      bool        // a reply follows the user's words
	fromHistory  bool        // no user input: a reply to the history (Respond)
	instructions string      // Respond's instructions, for this reply only
	tools        []Tool      // offered to the model
	tts          Synthesizer // the reply's voice

	gate        replyGate // holds the reply's audio while speech over it may be a barge-in
	heard       string    // spoken turns decided off the loop: the final transcript
	transcribed bool      // heard is the transcript; utt is nil

	done     chan struct{} // closed by finish
	doneOnce sync.Once
}

// finish marks the turn done: its reply no longer counts as in progress.
// The responder calls it just before the reply's last events, so a client
// that answers them with Respond is not refused; the worker calls it
// after the turn, whatever happened.
func (j *job) finish() { j.doneOnce.Do(func() { close(j.done) }) }

// finished reports whether the worker is done with the turn.
func (j *job) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// Run processes audio and text until ctx is done, sending events to out. It
// returns ctx's error (or, before starting, the error of Stages.VAD making the
// session's classifier), after every goroutine it started has exited. Run may be
// called once.
func (s *Session) Run(ctx context.Context, out Output) error {
	cls, release, err := s.newClassifier()
	if err != nil {
		close(s.stopped)
		return err
	}
	defer release()
	ctx, cancel := context.WithCancel(ctx)
	turns := make(chan *job, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.turnWorker(ctx, turns, out)
	}()
	l := &loop{s: s, out: out, tt: s.cfg.Turns, cls: cls, turns: turns}
	l.det = l.newDetector(s.cfg.Turns.VAD)
	l.prepare()
	s.mu.Lock()
	s.live = l
	s.mu.Unlock()
	err = l.run(ctx)
	s.mu.Lock()
	s.live = nil // the loop's state is this goroutine's alone from here
	s.mu.Unlock()
	close(s.stopped)
	cancel()
	wg.Wait()
	l.wg.Wait()
	l.abandonUtterance()
	l.endHold()
	// The worker is gone; close the utterances of turns it never took.
	for {
		select {
		case t := <-turns:
			t.cancel(ctx.Err())
			if t.utt != nil {
				t.utt.Close()
			}
			t.finish()
		default:
			return err
		}
	}
}

// loop is the session's input side: it owns the VAD and the utterance being
// recognised, and starts and cuts turns.
type loop struct {
	s       *Session
	out     Output
	tt      TurnTaking
	det     *vad.Detector
	nextDet *vad.Detector  // takes over from det when the pending turn ends (SetTurnTaking)
	cls     vad.Classifier // every detector's, one per session; nil: energy
	turns   chan *job
	tools   []Tool      // the client's (SetTools)
	tts     Synthesizer // the voice of new turns (SetVoice); nil: Stages.TTS

	frame   []int16
	prefix  []int16
	started bool // inline found speech starting; the loop begins the turn (catchUp)
	pending *job // the turn being spoken, until the end of speech hands it to the worker
	uttFail bool // its utterance failed; ignore audio until speech ends
	partial string
	heard   int    // samples of the pending turn (Manual turn taking)
	replies []*job // turns handed to the worker that reply, until they finish

	hold     *hold        // speech over a paused reply, not yet a barge-in; nil for none
	verdicts chan verdict // final transcripts of tentative turns
	wg       sync.WaitGroup
	ts       turnState
}

// run is the loop. It holds s.mu whenever it acts, so that WriteAudio's
// inline runs of the detector come between its steps, never within one.
func (l *loop) run(ctx context.Context) error {
	l.frame = make([]int16, 0, slotSamples) // l.prefix grows on the first utterance
	mu := &l.s.mu
	for {
		// Control first: an interrupt never waits behind queued audio.
		// (A length check, not a select: this runs for every frame.)
		if len(l.s.interrupt) > 0 {
			<-l.s.interrupt
			mu.Lock()
			l.interrupt(CancelInterrupt)
			mu.Unlock()
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.s.interrupt:
			mu.Lock()
			l.interrupt(CancelInterrupt)
			mu.Unlock()
		case text := <-l.s.texts:
			mu.Lock()
			l.startTextTurn(ctx, text)
			mu.Unlock()
		case c := <-l.s.ctrl:
			mu.Lock()
			l.drainInbox(ctx)
			err := c.fn(ctx, l)
			mu.Unlock()
			c.done <- err
		case v := <-l.verdicts:
			mu.Lock()
			l.decide(ctx, v)
			mu.Unlock()
		case <-l.holdTimeout():
			mu.Lock()
			l.expire()
			mu.Unlock()
		case <-l.s.inbox.ready:
			mu.Lock()
			l.catchUp(ctx)
			for {
				var ok bool
				if l.frame, ok = l.s.inbox.pop(l.frame); !ok {
					break
				}
				l.processFrame(ctx)
				if len(l.s.interrupt) > 0 || len(l.s.texts) > 0 || len(l.s.ctrl) > 0 {
					// Leave the rest queued; ready is re-armed below.
					select {
					case l.s.inbox.ready <- struct{}{}:
					default:
					}
					break
				}
			}
			mu.Unlock()
		}
	}
}

// inline runs the detector over samples on WriteAudio's goroutine, with
// s.mu held, when the loop has nothing to do with them: no turn pending
// (the detector is all a frame meets then), nothing queued ahead of them,
// voice activity detection on. It returns what it left for the loop: all
// of samples when the loop is not idle, the rest after a speech start,
// which the loop acts on when it wakes (catchUp), before them.
func (l *loop) inline(samples []int16) []int16 {
	if l.tt.Manual || l.pending != nil || l.started || !l.s.inbox.empty() {
		return samples
	}
	for len(samples) > 0 {
		k := min(len(samples), slotSamples) // the inbox's slots: the same calls as the loop's
		ev := l.det.Process(samples[:k])
		samples = samples[k:]
		if ev == vad.SpeechStart {
			l.started = true
			l.s.inbox.wake()
			break
		}
	}
	return samples
}

// catchUp begins the turn whose speech inline found starting.
func (l *loop) catchUp(ctx context.Context) {
	if l.started {
		l.started = false
		l.speechStart(ctx)
	}
}

// drainInbox processes the audio already written, so that a control call
// comes after it.
func (l *loop) drainInbox(ctx context.Context) {
	l.catchUp(ctx)
	for {
		var ok bool
		if l.frame, ok = l.s.inbox.pop(l.frame); !ok {
			return
		}
		l.processFrame(ctx)
	}
}

// cutTurn cuts every reply not yet finished. Speech that had paused one
// is the user's turn from here on.
func (l *loop) cutTurn(why CancelReason) {
	for _, t := range l.replies {
		t.cancel(why)
	}
	l.prune()
	if l.hold != nil {
		l.releasePending()
		l.cutHeld(why)
	}
}

// replying reports whether a reply is queued or running.
func (l *loop) replying() bool {
	l.prune()
	return len(l.replies) > 0
}

func (l *loop) prune() {
	l.replies = slices.DeleteFunc(l.replies, (*job).finished)
}

func (l *loop) newTurn(ctx context.Context) *job {
	id := l.s.cfg.Conversation.NextTurn()
	tctx, cancel := context.WithCancelCause(ctx)
	tts := l.tts
	if tts == nil {
		tts = l.s.cfg.Stages.TTS
	}
	return &job{ctx: tctx, cancel: cancel, id: id, handle: &Turn{}, trace: &Trace{Turn: id},
		userItem: l.s.cfg.Conversation.NewID(), respond: true, tts: tts, done: make(chan struct{})}
}

// enqueue hands t to the worker. Unless barge-in is off, a reply still
// running is cut first: a turn spoken while a typed one ran must not leave
// that one beyond reach of the next interrupt.
func (l *loop) enqueue(ctx context.Context, t *job) {
	if t.respond {
		if !l.tt.NoBargeIn || t.text != "" {
			l.cutTurn(CancelBargeIn)
		}
		t.tools = l.offered()
		l.prune()
		l.replies = append(l.replies, t)
	}
	select {
	case l.turns <- t:
	case <-ctx.Done():
		t.cancel(ctx.Err())
		if t.utt != nil {
			t.utt.Close()
		}
		t.finish()
	}
}

func (l *loop) startTextTurn(ctx context.Context, text string) {
	l.interrupt(CancelInterrupt)
	t := l.newTurn(ctx)
	t.text = text
	t.trace.TextInput = true
	t.trace.Endpoint = l.s.cfg.Now()
	l.enqueue(ctx, t)
}

func (l *loop) processFrame(ctx context.Context) {
	if l.tt.Manual {
		if l.pending == nil {
			l.beginTurn(ctx, nil, false)
		}
		l.write(l.frame)
		// As the detector does, cut a turn that goes on too long: the
		// recogniser's memory is bounded by it, not by the client.
		if l.heard += len(l.frame); l.heard >= audio.Mono16k.Samples(l.tt.VAD.MaxUtterance) {
			l.endTurn(ctx, 0)
		}
		return
	}
	switch l.det.Process(l.frame) {
	case vad.SpeechStart:
		l.speechStart(ctx)
	case vad.None:
		if l.pending != nil {
			l.write(l.frame)
			l.ts.pitch.Write(l.frame)
			if l.holding() {
				l.heldFrame()
			}
			l.adaptSilence()
		}
	case vad.SpeechEnd:
		if t := l.pending; t != nil {
			stopped := Event{Kind: EventSpeechStopped, Turn: t.id, Item: t.userItem, Offset: l.det.Position() - l.det.TrailingSilence(), Handle: t.handle}
			if l.holding() {
				l.heldEnd(ctx, stopped)
				return
			}
			l.send(stopped)
			l.endTurn(ctx, l.det.TrailingSilence())
		}
	}
}

// speechStart begins a turn at the speech the detector found starting.
// Speech over a reply pauses it; it cuts the reply once it proves a
// barge-in (heldFrame, decide).
func (l *loop) speechStart(ctx context.Context) {
	held := !l.tt.NoBargeIn && l.pauseReplies()
	l.prefix = l.det.Prefix(l.prefix[:0])
	l.beginTurn(ctx, l.prefix, held)
}

// beginTurn starts the user's turn: its utterance, fed prefix first. With
// voice activity detection the client is told speech started, unless the
// turn is held: tentative, over a paused reply.
func (l *loop) beginTurn(ctx context.Context, prefix []int16, held bool) {
	l.abandonUtterance() // none is pending; if one were, it must not leak
	t := l.newTurn(ctx)
	t.respond = !l.tt.NoResponse
	l.pending = t
	if !l.tt.Manual {
		start := l.det.Position() - audio.Mono16k.Duration(len(prefix))
		ev := Event{Kind: EventSpeechStarted, Turn: t.id, Item: t.userItem, Offset: start, Handle: t.handle}
		if held {
			l.hold.pendingHeld, l.hold.started, l.hold.voiced = true, ev, l.tt.VAD.MinSpeech
		} else {
			l.send(ev)
		}
		l.ts.pitch.Reset()
		l.ts.pitch.Write(prefix)
		l.ts.counted, l.ts.hesitant, l.ts.open = 0, false, false
		l.setSilence(l.tt.VAD.Silence)
	}
	l.partial, l.uttFail, l.heard = "", false, 0
	if l.s.cfg.Stages.ASR == nil {
		return
	}
	t.asrCtx = t.handle.StageContext(t.ctx, StageASR)
	utt, err := l.s.cfg.Stages.ASR.Start(t.asrCtx)
	if err != nil {
		l.fail(err)
		return
	}
	t.utt = utt
	l.write(prefix)
}

// endTurn ends the user's turn, whose speech ended trailing ago, and hands
// it to the worker.
func (l *loop) endTurn(ctx context.Context, trailing time.Duration) {
	l.releasePending() // committed before it proved a barge-in: the user's turn all the same
	t := l.pending
	l.pending = nil
	l.swapDetector()
	now := l.s.cfg.Now()
	t.trace.Endpoint = now
	t.trace.SpeechEnd = now.Add(-trailing)
	if t.utt == nil {
		t.cancel(nil)
		t.finish()
		return
	}
	l.send(Event{Kind: EventInputCommitted, Turn: t.id, Item: t.userItem, Handle: t.handle})
	l.enqueue(ctx, t)
}

func (l *loop) write(samples []int16) {
	t := l.pending
	if t == nil || t.utt == nil || l.uttFail {
		return
	}
	partial, err := t.utt.Write(samples)
	if err != nil {
		l.fail(err)
		return
	}
	if partial != "" && partial != l.partial {
		l.partial = partial
		l.noteWords(partial)
		if !l.holding() { // a tentative turn's partials wait for it to prove a barge-in
			l.send(Event{Kind: EventTranscriptPartial, Turn: t.id, Item: t.userItem, Text: partial, Handle: t.handle})
		}
	}
}

// fail reports an ASR failure; the rest of the utterance is ignored.
func (l *loop) fail(err error) {
	t := l.pending
	l.uttFail = true
	if t.utt != nil {
		t.utt.Close()
		t.utt = nil
	}
	l.send(Event{Kind: EventError, Turn: t.id, Item: t.userItem, Handle: t.handle, Err: &StageError{Stage: StageASR, Provider: l.s.provider(t, StageASR), Turn: t.id, Err: err}})
}

// abandonUtterance closes the utterance of a turn that never ran.
// swapDetector puts in place the detector SetTurnTaking left waiting.
func (l *loop) swapDetector() {
	if l.nextDet != nil {
		l.det, l.nextDet = l.nextDet, nil
		l.ts.silence = 0 // the new detector's is its own
	}
}

func (l *loop) abandonUtterance() {
	l.swapDetector()
	if t := l.pending; t != nil {
		if t.utt != nil {
			t.utt.Close()
		}
		t.cancel(nil)
		t.finish()
		l.pending = nil
		if l.holding() {
			l.hold.pendingHeld = false // dropped unheard: the replies it paused resume
			l.settle()
		}
	}
}

func (l *loop) send(ev Event) { l.out.Send(ev) }

// stageNames are the stage providers' names (NameOf).
type stageNames struct{ asr, llm, tts string }

// provider names the provider of stage st in turn j: the one that reported
// it answered (Answered), else the stage's own.
func (s *Session) provider(j *job, st Stage) string {
	if name := j.handle.AnsweredBy(st); name != "" {
		return name
	}
	switch st {
	case StageASR:
		return s.names.asr
	case StageLLM:
		return s.names.llm
	case StageTTS:
		if j.tts != nil && j.tts != s.cfg.Stages.TTS {
			return NameOf(j.tts)
		}
		return s.names.tts
	}
	return ""
}

// turnWorker runs turns one after another, so history stays in order.
func (s *Session) turnWorker(ctx context.Context, turns <-chan *job, out Output) {
	for {
		select {
		case <-ctx.Done():
			return // Run closes what is left in turns
		case t := <-turns:
			r := responder{s: s, t: t, out: out}
			r.run()
			t.cancel(nil)
			t.finish()
		}
	}
}
