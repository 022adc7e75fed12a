//go:build cgo && linux

package flite

// #include <stdint.h>
import "C"

import (
	"fmt"
	"github.com/voicegate/voicegate/providers/internal/pcmstream"
	"runtime/cgo"
	"unsafe"
)

// Flite's CST_AUDIO_STREAM_CONT and CST_AUDIO_STREAM_STOP.
const (
	streamCont = 0
	streamStop = -1
)

// goFliteAudio receives n samples from Flite's streaming callback on the
// synthesising goroutine. h is the cgo.Handle of the synthesis's *pcmstream.Stream.
//
//export goFliteAudio
func goFliteAudio(h C.uintptr_t, samples *C.short, n, rate C.int) C.int {
	s := cgo.Handle(h).Value().(*pcmstream.Stream)
	if rate != sampleRate {
		s.Fail(fmt.Errorf("flite: voice produces %d Hz, want %d", rate, sampleRate))
		return streamStop
	}
	if n > 0 && !s.Push(unsafe.Slice((*int16)(unsafe.Pointer(samples)), int(n))) {
		return streamStop
	}
	if s.Stopped() {
		return streamStop
	}
	return streamCont
}
