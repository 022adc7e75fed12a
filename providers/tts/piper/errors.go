package piper

import "errors"

// ErrClosed is returned by Synthesize after the Synthesizer is closed.
var ErrClosed = errors.New("piper: closed")
