//go:build cgo && linux

package espeakng

// #include <stdint.h>
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// goEspeakAudio receives n samples from eSpeak NG's synthesis callback on the
// synthesising goroutine; h is the cgo.Handle of the synthesis's *stream. It
// returns 1 to abort the synthesis, 0 to go on.
//
//export goEspeakAudio
func goEspeakAudio(h C.uintptr_t, samples *C.short, n C.int) C.int {
	s := cgo.Handle(h).Value().(*stream)
	if samples != nil && n > 0 && !s.push(unsafe.Slice((*int16)(unsafe.Pointer(samples)), int(n))) {
		return 1
	}
	if s.stopped.Load() {
		return 1
	}
	return 0
}
