package pipeline

import (
	"errors"
	"fmt"
)

// Error kinds a provider wraps so the session can tell its client what went
// wrong. Providers return them with fmt.Errorf("...: %w", ErrRateLimited);
// callers branch on them with errors.Is.
var (
	// ErrTimeout: the provider did not answer in time (including a
	// time-to-first-byte watchdog).
	ErrTimeout = errors.New("provider timed out")
	// ErrRateLimited: the provider answered 429 and retries ran out.
	ErrRateLimited = errors.New("provider rate limited")
	// ErrUnavailable: connect errors, 5xx, an open circuit breaker.
	ErrUnavailable = errors.New("provider unavailable")
	// ErrRejected: the provider refused the request (4xx other than 429):
	// a bad key, an unknown model. Retrying will not help.
	ErrRejected = errors.New("provider rejected the request")
	// ErrBadResponse: the provider answered something that is not its
	// protocol (broken stream, malformed JSON, a mid-stream disconnect).
	ErrBadResponse = errors.New("provider sent a bad response")
)

// Stage names a pipeline stage in errors, events and metrics.
type Stage string

// The stages.
const (
	StageVAD Stage = "vad"
	StageASR Stage = "asr"
	StageLLM Stage = "llm"
	StageTTS Stage = "tts"
)

// StageError is a failure of one stage during one turn. The session goes on;
// only the turn is lost.
type StageError struct {
	Stage    Stage
	Provider string
	Turn     uint64
	Err      error
}

func (e *StageError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Stage, e.Provider, e.Err)
}

func (e *StageError) Unwrap() error { return e.Err }

// ErrTextTooLong is returned by Session.SubmitText for text over the limit.
var ErrTextTooLong = errors.New("pipeline: text input too long")
