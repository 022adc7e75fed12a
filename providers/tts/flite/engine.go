//go:build cgo && linux

package flite

/*
#cgo CFLAGS: -I/usr/include/flite
#cgo LDFLAGS: -lflite_cmu_us_slt -lflite_usenglish -lflite_cmulex -lflite -lm
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <flite.h>

// Not in any header: the voice library's entry point.
cst_voice *register_cmu_us_slt(const char *voxdir);

// Defined in callback.go.
extern int goFliteAudio(uintptr_t h, short *samples, int n, int rate);

static cst_voice *vg_voice;
static cst_audio_streaming_info *vg_asi;
static float vg_base_stretch;

static int vg_stream(const cst_wave *w, int start, int size, int last,
		cst_audio_streaming_info *asi) {
	if (asi->userdata == NULL) { // vg_init's warm-up
		return CST_AUDIO_STREAM_CONT;
	}
	return goFliteAudio((uintptr_t)asi->userdata, w->samples + start, size, w->sample_rate);
}

// vg_init registers the voice, installs the streaming callback and warms
// the engine up. Flite's registration functions are not thread-safe: call
// once.
static int vg_init(int min_chunk) {
	flite_init();
	vg_voice = register_cmu_us_slt(NULL);
	if (vg_voice == NULL) {
		return -1;
	}
	vg_asi = new_audio_streaming_info();
	vg_asi->min_buffsize = min_chunk;
	vg_asi->asc = vg_stream;
	vg_asi->userdata = NULL;
	flite_feat_set(vg_voice->features, "streaming_info", audio_streaming_info_val(vg_asi));
	vg_base_stretch = flite_get_param_float(vg_voice->features, "duration_stretch", 1.0);
	// The first synthesis pages in the voice and lexicon (some 30 ms): do
	// it here rather than in a caller's first reply.
	delete_utterance(flite_synth_text("Hello.", vg_voice));
	return 0;
}

// vg_synth synthesises text, streaming audio to goFliteAudio(h, ...). Like
// flite's own file reader it splits the text into utterances at sentence
// ends and synthesises them in turn, so the first audio follows the first
// sentence, and an interruption ends the loop. It returns 0, or -1 when Flite
// reported an error. The caller serialises it.
static int vg_synth(const char *text, uintptr_t h, float rate) {
	jmp_buf env;
	cst_tokenstream *ts;
	int rc = 0;

	ts = ts_open_string(text,
		flite_get_param_string(vg_voice->features, "text_whitespace", NULL),
		flite_get_param_string(vg_voice->features, "text_singlecharsymbols", NULL),
		flite_get_param_string(vg_voice->features, "text_prepunctuation", NULL),
		flite_get_param_string(vg_voice->features, "text_postpunctuation", NULL));
	if (ts == NULL) {
		return -1;
	}
	vg_asi->userdata = (void *)h;
	flite_feat_set_float(vg_voice->features, "duration_stretch", vg_base_stretch / rate);
	// Flite's errors longjmp through cst_errjmp, or exit the process when it
	// is unset. The leak after a longjmp beats an exit.
	cst_errjmp = &env;
	if (setjmp(env) == 0) {
		flite_ts_to_speech(ts, vg_voice, "none"); // closes ts
	} else {
		rc = -1;
	}
	cst_errjmp = NULL;
	vg_asi->userdata = NULL;
	return rc;
}
*/
import "C"

import (
	"errors"
	"github.com/voicegate/voicegate/providers/internal/pcmstream"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// minChunk is the fewest samples Flite hands the callback at once (20 ms);
// with its 5 ms frames chunks come out at 25 ms.
const minChunk = 320

// engine is Flite's process-wide state: the voice and the lock that
// serialises synthesis.
var engine struct {
	once sync.Once
	err  error
	// lock is held, as a one-slot semaphore so that waiting can be
	// cancelled, while Flite synthesises.
	lock chan struct{}
}

func initEngine() error {
	engine.once.Do(func() {
		engine.lock = make(chan struct{}, 1)
		if C.vg_init(minChunk) != 0 {
			engine.err = errors.New("flite: cannot register voice cmu_us_slt")
		}
	})
	return engine.err
}

// synthesize runs Flite on text, streaming into s. It waits for the engine
// lock unless s is stopped first.
func synthesize(text string, rate float64, s *pcmstream.Stream) error {
	select {
	case engine.lock <- struct{}{}:
	case <-s.Quit():
		return nil
	}
	defer func() { <-engine.lock }()
	if s.Stopped() {
		return nil
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	h := cgo.NewHandle(s)
	defer h.Delete()
	if C.vg_synth(ctext, C.uintptr_t(h), C.float(rate)) != 0 {
		return errors.New("flite: synthesis failed")
	}
	return nil
}
