package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/voicegate/voicegate/audio/vad"
)

// TurnTaking says how a Session finds the end of the user's turn and what
// it does then. The zero TurnTaking is the default: voice activity
// detection ends the turn, a reply follows, and speech over a reply cuts
// it (barge-in).
type TurnTaking struct {
	Manual     bool       // no voice activity detection: the user's turn ends at Commit
	VAD        vad.Config // the detector's settings when not Manual; zero fields are the session's (Config.VAD)
	NoResponse bool       // the end of the user's turn records their words; the reply waits for Respond
	NoBargeIn  bool       // speech during a reply does not cut it
}

// ResponseOptions shape one reply started with Respond.
type ResponseOptions struct {
	// Instructions replace the system prompt for this reply only; ""
	// keeps the conversation's.
	Instructions string
}

// Errors of the control methods.
var (
	ErrSessionClosed   = errors.New("pipeline: session closed")
	ErrNothingToCommit = errors.New("pipeline: no audio to commit")
	ErrResponseActive  = errors.New("pipeline: a reply is already in progress")
	ErrUnknownVoice    = errors.New("pipeline: unknown voice")
)

// MaxTools caps the tools a session offers the model (its own and the
// client's together).
const MaxTools = 128

// The control methods (SetTurnTaking, SetTools, SetVoice, Commit,
// ClearInput, Respond) run on the session's input loop and wait for it:
// call them while Run runs, from the connection's goroutines — never from
// the Output's Send, which the loop may be waiting on. Before Run starts
// they wait for it.

// control is a call the input loop runs between frames: after the audio
// already written, before any written later.
type control struct {
	fn   func(ctx context.Context, l *loop) error
	done chan error
}

// call runs fn on the input loop and returns its error.
func (s *Session) call(fn func(ctx context.Context, l *loop) error) error {
	c := control{fn: fn, done: make(chan error, 1)}
	select {
	case s.ctrl <- c:
	case <-s.stopped:
		return ErrSessionClosed
	}
	select {
	case err := <-c.done:
		return err
	case <-s.stopped:
		select {
		case err := <-c.done:
			return err
		default:
			return ErrSessionClosed
		}
	}
}

// SetTurnTaking changes how the end of the user's turn is found from now
// on. Speech already begun stays one turn: with new VAD settings the
// detector that heard it begin ends it; switching to Manual leaves it to
// Commit; leaving Manual ends it at once. Switching to Manual or NoBargeIn
// while speech holds a reply paused resumes the reply; the speech stays
// the user's turn, ended by Commit (Manual) or by its silence and queued
// after the reply (NoBargeIn). It waits for the audio written before it.
func (s *Session) SetTurnTaking(t TurnTaking) error {
	t.VAD = t.VAD.Or(s.cfg.VAD)
	if err := t.VAD.Validate(); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	return s.call(func(ctx context.Context, l *loop) error {
		l.nextDet = nil
		l.endHoldFor(t)
		switch {
		case t.Manual:
		case l.tt.Manual:
			if l.pending != nil {
				// A detector would not hear this speech begin, and would
				// never end it: the turn ends here, as at Commit.
				l.endTurn(ctx, 0)
			}
			l.det = l.newDetector(t.VAD)
		case t.VAD != l.tt.VAD:
			if d := l.newDetector(t.VAD); l.pending != nil {
				l.nextDet = d // the speech begun ends by the detector that heard it begin
			} else {
				l.det = d
			}
		}
		l.tt = t
		return nil
	})
}

// SetTools sets the client's tools, replacing those set before. They have
// no Call: the client runs them (see EventToolCall). The session's own
// tools (Config.Tools) are offered beside them and win a clash of names.
func (s *Session) SetTools(tools []Tool) error {
	if len(tools)+len(s.cfg.Tools) > MaxTools {
		return fmt.Errorf("pipeline: %d tools, limit %d", len(tools)+len(s.cfg.Tools), MaxTools)
	}
	own := make([]Tool, 0, len(tools))
	for _, t := range tools {
		if t.Name == "" {
			return errors.New("pipeline: a tool has no name")
		}
		t.Call = nil
		own = append(own, t)
	}
	return s.call(func(_ context.Context, l *loop) error {
		l.tools = own
		return nil
	})
}

// SetVoice makes the replies of turns begun from now on speak in voice,
// through the synthesizer's Voiced; "" is the synthesizer's own voice. An
// error wraps ErrUnknownVoice.
func (s *Session) SetVoice(voice string) error {
	tts := s.cfg.Stages.TTS
	if voice != "" {
		v, ok := tts.(Voiced)
		if !ok {
			return fmt.Errorf("%w %q: %s speaks in one voice", ErrUnknownVoice, voice, NameOf(tts))
		}
		t, err := v.WithVoice(voice)
		if err != nil {
			return fmt.Errorf("%w %q: %w", ErrUnknownVoice, voice, err)
		}
		tts = t
	}
	return s.call(func(_ context.Context, l *loop) error {
		l.tts = tts
		return nil
	})
}

// Commit ends the user's turn now, as the end of speech would: the audio
// since the turn began is transcribed into a user message, whose ID it
// returns. It returns ErrNothingToCommit when no turn has begun: with
// voice activity detection, before speech is heard; with Manual turn
// taking, before any audio.
func (s *Session) Commit() (string, error) {
	var item string
	err := s.call(func(ctx context.Context, l *loop) error {
		t := l.pending
		switch {
		case t == nil:
			return ErrNothingToCommit
		case t.utt == nil:
			// Its recognition failed (the client was told): no message
			// will come of it.
			l.abandonUtterance()
			return fmt.Errorf("%w: this turn's speech recognition failed", ErrNothingToCommit)
		}
		item = t.userItem
		l.endTurn(ctx, 0)
		if !l.tt.Manual {
			l.det.Reset() // the detector's utterance ended with the commit
		}
		return nil
	})
	return item, err
}

// ClearInput discards the audio of the user's turn not yet committed,
// and the speech over a paused reply whose final transcript is awaited:
// the reply resumes.
func (s *Session) ClearInput() error {
	return s.call(func(_ context.Context, l *loop) error {
		l.abandonUtterance()
		l.expire()
		if !l.tt.Manual {
			l.det.Reset()
		}
		return nil
	})
}

// Respond starts a reply to the conversation as it stands (after any
// turn still being transcribed), and returns its turn number. It returns
// ErrResponseActive while a reply is in progress.
func (s *Session) Respond(o ResponseOptions) (uint64, error) {
	if len(o.Instructions) > s.cfg.MaxTextBytes*4 {
		return 0, fmt.Errorf("%w: instructions of %d bytes, limit %d", ErrTextTooLong, len(o.Instructions), s.cfg.MaxTextBytes*4)
	}
	var turn uint64
	err := s.call(func(ctx context.Context, l *loop) error {
		if l.replying() {
			return ErrResponseActive
		}
		t := l.newTurn(ctx)
		t.fromHistory, t.instructions = true, o.Instructions
		t.trace.TextInput = true
		t.trace.Endpoint = l.s.cfg.Now()
		turn = t.id
		l.enqueue(ctx, t)
		return nil
	})
	return turn, err
}

// offered returns the tools a new turn offers: the session's own, then
// the client's whose names they do not take.
func (l *loop) offered() []Tool {
	own := l.s.cfg.Tools
	if len(l.tools) == 0 {
		return own
	}
	out := append(make([]Tool, 0, len(own)+len(l.tools)), own...)
	for _, t := range l.tools {
		if findTool(own, t.Name) == nil {
			out = append(out, t)
		}
	}
	return out
}

func findTool(tools []Tool, name string) *Tool {
	for i := range tools {
		if tools[i].Name == name {
			return &tools[i]
		}
	}
	return nil
}
