//go:build cgo && linux

package espeakng

/*
#cgo pkg-config: espeak-ng
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <espeak-ng/speak_lib.h>

// Defined in callback.go.
extern int goEspeakAudio(uintptr_t h, short *samples, int n);

// vg_callback hands audio to Go. The synthesis's cgo.Handle rides in every
// event's user_data; the event list always holds at least its terminator.
static int vg_callback(short *wav, int n, espeak_EVENT *events) {
	uintptr_t h = events ? (uintptr_t)events->user_data : 0;
	if (h == 0) {
		return 0;
	}
	return goEspeakAudio(h, wav, n);
}

static int vg_init(int chunk_ms) {
	int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, chunk_ms, NULL, espeakINITIALIZE_DONT_EXIT);
	if (rate > 0) {
		espeak_SetSynthCallback(vg_callback);
	}
	return rate;
}

static int vg_synth(const char *text, uintptr_t h) {
	return espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0,
		espeakCHARS_UTF8, NULL, (void *)h);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"github.com/voicegate/voicegate/providers/internal/pcmstream"
	"runtime/cgo"
	"sync"
	"unsafe"
)

const (
	sampleRate = 22050
	// chunkMillis is how much audio eSpeak NG hands the callback at once.
	chunkMillis = 20
)

// engine is eSpeak NG's process-wide state.
var engine struct {
	once sync.Once
	err  error
	// lock is held, as a one-slot semaphore so that waiting can be
	// cancelled, while eSpeak NG is configured or synthesises.
	lock chan struct{}
	// cur is the configuration eSpeak NG holds; guarded by lock.
	cur Config
}

func initEngine() error {
	engine.once.Do(func() {
		engine.lock = make(chan struct{}, 1)
		switch rate := int(C.vg_init(chunkMillis)); {
		case rate <= 0:
			engine.err = errors.New("espeakng: cannot initialise eSpeak NG (is espeak-ng-data installed?)")
		case rate != sampleRate:
			engine.err = fmt.Errorf("espeakng: eSpeak NG produces %d Hz, want %d", rate, sampleRate)
		}
	})
	return engine.err
}

// apply makes cfg eSpeak NG's configuration. The caller holds engine.lock.
func apply(cfg Config) error {
	if cfg.Voice != engine.cur.Voice {
		name := C.CString(cfg.Voice)
		rc := C.espeak_SetVoiceByName(name)
		C.free(unsafe.Pointer(name))
		if rc != C.EE_OK {
			engine.cur = Config{} // unknown state: set everything next time
			return fmt.Errorf("espeakng: unknown voice %q", cfg.Voice)
		}
		// A voice brings its own defaults: set rate and pitch again.
		engine.cur = Config{Voice: cfg.Voice}
	}
	if cfg.Rate != engine.cur.Rate {
		if C.espeak_SetParameter(C.espeakRATE, C.int(cfg.Rate), 0) != C.EE_OK {
			return fmt.Errorf("espeakng: cannot set rate %d", cfg.Rate)
		}
		engine.cur.Rate = cfg.Rate
	}
	if cfg.Pitch != engine.cur.Pitch {
		if C.espeak_SetParameter(C.espeakPITCH, C.int(cfg.Pitch), 0) != C.EE_OK {
			return fmt.Errorf("espeakng: cannot set pitch %d", cfg.Pitch)
		}
		engine.cur.Pitch = cfg.Pitch
	}
	return nil
}

// configure takes the engine lock and applies cfg: New's check of the voice.
func configure(cfg Config) error {
	engine.lock <- struct{}{}
	defer func() { <-engine.lock }()
	return apply(cfg)
}

// synthesize runs eSpeak NG on text with cfg, streaming into s. It waits for
// the engine lock unless s is stopped first.
func synthesize(cfg Config, text string, s *pcmstream.Stream) error {
	select {
	case engine.lock <- struct{}{}:
	case <-s.Quit():
		return nil
	}
	defer func() { <-engine.lock }()
	if s.Stopped() {
		return nil
	}
	if err := apply(cfg); err != nil {
		return err
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	h := cgo.NewHandle(s)
	defer h.Delete()
	if rc := C.vg_synth(ctext, C.uintptr_t(h)); rc != C.EE_OK && !s.Stopped() {
		return fmt.Errorf("espeakng: synthesis failed (error %d)", int(rc))
	}
	return nil
}
