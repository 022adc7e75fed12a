//go:build cgo && linux

package espeakng

// #include <stdint.h>
import "C"

import (
	"github.com/voicegate/voicegate/providers/internal/pcmstream"
	"runtime/cgo"
	"unsafe"
)

// goEspeakAudio receives n samples from eSpeak NG's synthesis callback on the
// synthesising goroutine; h is the cgo.Handle of the synthesis's *pcmstream.Stream. It
// returns 1 to abort the synthesis, 0 to go on.
//
//export goEspeakAudio
func goEspeakAudio(h C.uintptr_t, samples *C.short, n C.int) C.int {
	s := cgo.Handle(h).Value().(*pcmstream.Stream)
	if samples != nil && n > 0 && !s.Push(unsafe.Slice((*int16)(unsafe.Pointer(samples)), int(n))) {
		return 1
	}
	if s.Stopped() {
		return 1
	}
	return 0
}
