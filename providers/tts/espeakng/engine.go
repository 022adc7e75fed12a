//go:build cgo && linux

package espeakng

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <espeak-ng/speak_lib.h>

// Defined in callback.go.
extern int goEspeakAudio(uintptr_t h, short *samples, int n);

// vg_espeak is the loaded library and the functions this package calls in
// it, all looked up by name: nothing here is linked against eSpeak NG.
typedef struct {
	void *lib;
	int (*initialize)(espeak_AUDIO_OUTPUT, int, const char *, int);
	void (*set_synth_callback)(t_espeak_callback *);
	espeak_ERROR (*set_voice_by_name)(const char *);
	espeak_ERROR (*set_parameter)(espeak_PARAMETER, int, int);
	espeak_ERROR (*synth)(const void *, size_t, unsigned int, espeak_POSITION_TYPE,
		unsigned int, unsigned int, unsigned int *, void *);
	const char *(*text_to_phonemes)(const void **, int, int);
} vg_espeak;

// vg_callback hands audio to Go. The synthesis's cgo.Handle rides in every
// event's user_data; the event list always holds at least its terminator.
static int vg_callback(short *wav, int n, espeak_EVENT *events) {
	uintptr_t h = events ? (uintptr_t)events->user_data : 0;
	if (h == 0) {
		return 0;
	}
	return goEspeakAudio(h, wav, n);
}

static void *vg_sym(vg_espeak *e, const char *name, const char **missing) {
	void *f = dlsym(e->lib, name);
	if (f == NULL && *missing == NULL) {
		*missing = name;
	}
	return f;
}

// vg_open loads the library at path into e with its own symbol scope:
// RTLD_LOCAL keeps its symbols out of the process's global scope, and
// RTLD_DEEPBIND makes the library resolve its own symbols before the
// process's, so it never calls into another eSpeak NG loaded already. It
// returns 0 on success; 1 when the library cannot be loaded, *why being
// dlerror's message; 2 when it lacks a function, *why being its name.
static int vg_open(vg_espeak *e, const char *path, const char **why) {
	e->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (e->lib == NULL) {
		*why = dlerror();
		return 1;
	}
	const char *missing = NULL;
	e->initialize = vg_sym(e, "espeak_Initialize", &missing);
	e->set_synth_callback = vg_sym(e, "espeak_SetSynthCallback", &missing);
	e->set_voice_by_name = vg_sym(e, "espeak_SetVoiceByName", &missing);
	e->set_parameter = vg_sym(e, "espeak_SetParameter", &missing);
	e->synth = vg_sym(e, "espeak_Synth", &missing);
	e->text_to_phonemes = vg_sym(e, "espeak_TextToPhonemes", &missing);
	if (missing != NULL) {
		dlclose(e->lib);
		e->lib = NULL;
		*why = missing;
		return 2;
	}
	return 0;
}

static int vg_init(vg_espeak *e, int chunk_ms, const char *data) {
	int rate = e->initialize(AUDIO_OUTPUT_SYNCHRONOUS, chunk_ms, data, espeakINITIALIZE_DONT_EXIT);
	if (rate > 0) {
		e->set_synth_callback(vg_callback);
	}
	return rate;
}

static int vg_set_voice(vg_espeak *e, const char *name) {
	return e->set_voice_by_name(name);
}

static int vg_set_parameter(vg_espeak *e, espeak_PARAMETER p, int value) {
	return e->set_parameter(p, value, 0);
}

static int vg_synth(vg_espeak *e, const char *text, uintptr_t h) {
	return e->synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0,
		espeakCHARS_UTF8, NULL, (void *)h);
}

// vg_phonemes translates the clause at *text into eSpeak NG's phoneme
// mnemonics and advances *text past it (to NULL at the end).
static const char *vg_phonemes(vg_espeak *e, const char **text) {
	return e->text_to_phonemes((const void **)text, espeakCHARS_UTF8, 0);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"

	"github.com/voicegate/voicegate/providers/internal/pcmstream"
)

const (
	sampleRate = 22050
	// chunkMillis is how much audio eSpeak NG hands the callback at once.
	chunkMillis = 20
	// libraryName is Debian's eSpeak NG (package libespeak-ng1).
	libraryName = "libespeak-ng.so.1"
	// dataDir is Debian's eSpeak NG data (package espeak-ng-data).
	dataDir = "/usr/lib/x86_64-linux-gnu/espeak-ng-data"
)

// library is the eSpeak NG this package loaded. It keeps its state in
// globals (one voice, one synthesis at a time), so every call into it is
// made during a turn.
type library struct {
	c *C.vg_espeak // allocated by C, kept for the life of the process
	// turn holds a token while a goroutine uses the library.
	turn chan struct{}
	// cur is the configuration the library holds; guarded by turn.
	cur Config
}

// loadLibrary loads and initialises Debian's eSpeak NG, once per process.
var loadLibrary = sync.OnceValues(func() (*library, error) {
	if _, err := os.Stat(filepath.Join(dataDir, "phontab")); err != nil {
		return nil, fmt.Errorf("espeakng: no eSpeak NG data (install Debian's espeak-ng-data): %w", err)
	}
	lib, err := open(libraryName)
	if err != nil {
		return nil, err
	}
	data := C.CString(dataDir)
	defer C.free(unsafe.Pointer(data))
	switch rate := int(C.vg_init(lib.c, chunkMillis, data)); {
	case rate <= 0:
		return nil, fmt.Errorf("espeakng: cannot initialise eSpeak NG with %s", dataDir)
	case rate != sampleRate:
		return nil, fmt.Errorf("espeakng: eSpeak NG produces %d Hz, want %d", rate, sampleRate)
	}
	return lib, nil
})

// open loads the eSpeak NG library named name, isolated from any other
// eSpeak NG in the process (see vg_open), without initialising it.
func open(name string) (*library, error) {
	c := (*C.vg_espeak)(C.calloc(1, C.size_t(unsafe.Sizeof(C.vg_espeak{}))))
	if c == nil {
		return nil, errors.New("espeakng: out of memory")
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var why *C.char
	switch C.vg_open(c, cname, &why) {
	case 0:
	case 1:
		C.free(unsafe.Pointer(c))
		return nil, fmt.Errorf("%w: %s", ErrNoLibrary, C.GoString(why))
	default:
		C.free(unsafe.Pointer(c))
		return nil, fmt.Errorf("%w: %s has no %s", ErrNoLibrary, name, C.GoString(why))
	}
	return &library{c: c, turn: make(chan struct{}, 1)}, nil
}

// take waits for a turn until ctx is done; call the release it returns.
func (l *library) take(ctx context.Context) (release func(), err error) {
	select {
	case l.turn <- struct{}{}:
		return func() { <-l.turn }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// apply makes cfg the library's configuration. The caller holds a turn.
func (l *library) apply(cfg Config) error {
	if cfg.Voice != l.cur.Voice {
		name := C.CString(cfg.Voice)
		rc := C.vg_set_voice(l.c, name)
		C.free(unsafe.Pointer(name))
		if rc != C.EE_OK {
			l.cur = Config{} // unknown state: set everything next time
			return fmt.Errorf("espeakng: unknown voice %q", cfg.Voice)
		}
		// A voice brings its own defaults: set rate and pitch again.
		l.cur = Config{Voice: cfg.Voice}
	}
	if cfg.Rate != l.cur.Rate {
		if C.vg_set_parameter(l.c, C.espeakRATE, C.int(cfg.Rate)) != C.EE_OK {
			return fmt.Errorf("espeakng: cannot set rate %d", cfg.Rate)
		}
		l.cur.Rate = cfg.Rate
	}
	if cfg.Pitch != l.cur.Pitch {
		if C.vg_set_parameter(l.c, C.espeakPITCH, C.int(cfg.Pitch)) != C.EE_OK {
			return fmt.Errorf("espeakng: cannot set pitch %d", cfg.Pitch)
		}
		l.cur.Pitch = cfg.Pitch
	}
	return nil
}

// configure applies cfg in a turn of its own: New's check of the voice.
func (l *library) configure(cfg Config) error {
	release, err := l.take(context.Background())
	if err != nil {
		return err
	}
	defer release()
	return l.apply(cfg)
}

// synthesize runs eSpeak NG on text with cfg, streaming into s. It waits for
// a turn until ctx is done.
func (l *library) synthesize(ctx context.Context, cfg Config, text string, s *pcmstream.Stream) error {
	release, err := l.take(ctx)
	if err != nil {
		return err
	}
	defer release()
	if s.Stopped() {
		return nil
	}
	if err := l.apply(cfg); err != nil {
		return err
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	h := cgo.NewHandle(s)
	defer h.Delete()
	if rc := C.vg_synth(l.c, ctext, C.uintptr_t(h)); rc != C.EE_OK && !s.Stopped() {
		return fmt.Errorf("espeakng: synthesis failed (error %d)", int(rc))
	}
	return nil
}

// phonemes is eSpeak NG's reading of text with cfg's voice, in its phoneme
// mnemonics ("tS;'i55n" for 今 in cmn-latn-pinyin), one clause after
// another, separated by spaces.
func (l *library) phonemes(ctx context.Context, cfg Config, text string) (string, error) {
	release, err := l.take(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	if err := l.apply(cfg); err != nil {
		return "", err
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	var clauses []string
	for p := ctext; p != nil; {
		if ph := strings.TrimSpace(C.GoString(C.vg_phonemes(l.c, &p))); ph != "" {
			clauses = append(clauses, ph)
		}
	}
	return strings.Join(clauses, " "), nil
}
