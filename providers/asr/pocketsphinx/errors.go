package pocketsphinx

import "errors"

var (
	// ErrClosed is returned by Start after the Recognizer is closed, and by
	// Write and Finish after the Utterance is closed.
	ErrClosed = errors.New("pocketsphinx: closed")

	errFinished = errors.New("pocketsphinx: utterance already finished")
)
