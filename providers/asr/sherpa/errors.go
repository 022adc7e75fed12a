package sherpa

import "errors"

var (
	// ErrClosed is returned by Start after the Recognizer is closed, and
	// by Write and Finish after the Utterance is closed.
	ErrClosed = errors.New("sherpa: closed")
	// ErrTooLong is returned by Write when an offline model's utterance
	// would hold more than Config.MaxAudio.
	ErrTooLong = errors.New("sherpa: utterance longer than max_audio")

	errFinished = errors.New("sherpa: utterance already finished")
)
