//go:build cgo && speexdsp

package main

/*
#cgo pkg-config: speexdsp
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>

static void setup(SpeexEchoState *st, SpeexPreprocessState *pp, int rate) {
	speex_echo_ctl(st, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
	speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_ECHO_STATE, st);
}
*/
import "C"

import (
	"sync"
	"time"

	"github.com/voicegate/voicegate/audio"
)

const haveAEC = true

// speexAEC is speexdsp's acoustic echo canceller (MDF) followed by its
// preprocessor for residual echo suppression. The far end is what the
// Player handed to the speaker, resampled to the session rate; it is paired
// with the microphone frame by frame as both arrive, and kept short
// (maxLead), so the echo always lags its reference by no more than the
// filter's tail.
type speexAEC struct {
	st    *C.SpeexEchoState
	pp    *C.SpeexPreprocessState
	frame int

	mu      sync.Mutex
	far     []int16 // reference not yet paired with the microphone
	maxLead int

	near     []int16 // microphone samples short of a whole frame
	farFrame []int16
	out      []int16
}

// Echo-canceller geometry: 10 ms frames and a 250 ms tail (speaker, room
// and both device buffers).
const (
	aecFrame = 10 * time.Millisecond
	aecTail  = 250 * time.Millisecond
	aecLead  = 60 * time.Millisecond
)

func newEchoCanceller(rate int) (echoCanceller, error) {
	f := audio.Format{SampleRate: rate, Channels: 1}
	e := &speexAEC{frame: f.Samples(aecFrame), maxLead: f.Samples(aecLead)}
	e.st = C.speex_echo_state_init(C.int(e.frame), C.int(f.Samples(aecTail)))
	e.pp = C.speex_preprocess_state_init(C.int(e.frame), C.int(rate))
	C.setup(e.st, e.pp, C.int(rate))
	e.farFrame = make([]int16, e.frame)
	e.out = make([]int16, e.frame)
	return e, nil
}

// Far queues what was played. It does not retain samples.
func (e *speexAEC) Far(samples []int16) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.far = append(e.far, samples...)
	if over := len(e.far) - e.maxLead; over > 0 {
		e.far = e.far[:copy(e.far, e.far[over:])]
	}
}

// Process appends the echo-cancelled near signal to dst; it holds back
// less than one frame.
func (e *speexAEC) Process(dst, near []int16) []int16 {
	e.near = append(e.near, near...)
	for len(e.near) >= e.frame {
		e.mu.Lock()
		k := copy(e.farFrame, e.far)
		e.far = e.far[:copy(e.far, e.far[k:])]
		e.mu.Unlock()
		clear(e.farFrame[k:])
		C.speex_echo_cancellation(e.st, (*C.spx_int16_t)(&e.near[0]), (*C.spx_int16_t)(&e.farFrame[0]), (*C.spx_int16_t)(&e.out[0]))
		C.speex_preprocess_run(e.pp, (*C.spx_int16_t)(&e.out[0]))
		dst = append(dst, e.out...)
		e.near = e.near[:copy(e.near, e.near[e.frame:])]
	}
	return dst
}

func (e *speexAEC) Close() {
	C.speex_preprocess_state_destroy(e.pp)
	C.speex_echo_state_destroy(e.st)
}
