//go:build cgo && linux

package espeakng

/*
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

static int vg_init(int chunk_ms, const char *data) {
	int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, chunk_ms, data, espeakINITIALIZE_DONT_EXIT);
	if (rate > 0) {
		espeak_SetSynthCallback(vg_callback);
	}
	return rate;
}

// vg_claim makes this package's callback eSpeak NG's again, after another
// user of the process's eSpeak NG may have set its own.
static void vg_claim(void) {
	espeak_SetSynthCallback(vg_callback);
}

static int vg_synth(const char *text, uintptr_t h) {
	return espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0,
		espeakCHARS_UTF8, NULL, (void *)h);
}
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/cgo"
	"sync"
	"unsafe"

	// The eSpeak NG this package calls is the one inside sherpa-onnx's
	// shared library, which this import links (see the package doc).
	_ "github.com/k2-fsa/sherpa-onnx-go-linux"

	"github.com/voicegate/voicegate/providers/internal/espeakgate"
	"github.com/voicegate/voicegate/providers/internal/pcmstream"
)

const (
	sampleRate = 22050
	// chunkMillis is how much audio eSpeak NG hands the callback at once.
	chunkMillis = 20
)

// engine is this package's view of the process's eSpeak NG.
var engine struct {
	once sync.Once
	err  error
	// user is this package's identity at the eSpeak NG gate, whose
	// Exclusive turn is held while eSpeak NG is configured or synthesises.
	user espeakgate.User
	// cur is the configuration eSpeak NG holds; guarded by the gate.
	cur Config
}

func initEngine() error {
	engine.once.Do(func() {
		if _, err := os.Stat(filepath.Join(espeakgate.DataDir, "phontab")); err != nil {
			engine.err = fmt.Errorf("espeakng: no eSpeak NG data (install Debian's espeak-ng-data): %w", err)
			return
		}
		release, _, err := espeakgate.Exclusive(context.Background(), &engine.user)
		if err != nil {
			engine.err = err
			return
		}
		defer release()
		data := C.CString(espeakgate.DataDir)
		defer C.free(unsafe.Pointer(data))
		switch rate := int(C.vg_init(chunkMillis, data)); {
		case rate <= 0:
			engine.err = fmt.Errorf("espeakng: cannot initialise eSpeak NG with %s", espeakgate.DataDir)
		case rate != sampleRate:
			engine.err = fmt.Errorf("espeakng: eSpeak NG produces %d Hz, want %d", rate, sampleRate)
		}
	})
	return engine.err
}

// turn takes the gate alone, until ctx is done. When another user had
// eSpeak NG since this package's last turn, the callback is claimed again
// and the configuration is set afresh on the next apply.
func turn(ctx context.Context) (release func(), err error) {
	release, intact, err := espeakgate.Exclusive(ctx, &engine.user)
	if err != nil {
		return nil, err
	}
	if !intact {
		C.vg_claim()
		engine.cur = Config{}
	}
	return release, nil
}

// apply makes cfg eSpeak NG's configuration. The caller holds a turn.
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

// configure takes a turn and applies cfg: New's check of the voice.
func configure(cfg Config) error {
	release, err := turn(context.Background())
	if err != nil {
		return err
	}
	defer release()
	return apply(cfg)
}

// synthesize runs eSpeak NG on text with cfg, streaming into s. It waits for
// a turn until ctx is done.
func synthesize(ctx context.Context, cfg Config, text string, s *pcmstream.Stream) error {
	release, err := turn(ctx)
	if err != nil {
		return err
	}
	defer release()
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
