//go:build cgo && linux

package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <string.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

// cmd_ln_init is variadic, which cgo cannot call.
static cmd_ln_t *vg_config(const char *hmm, const char *lm, const char *dict) {
	return cmd_ln_init(NULL, ps_args(), TRUE,
		"-hmm", hmm, "-lm", lm, "-dict", dict, "-samprate", "16000", NULL);
}

typedef struct {
	int rc;          // ps_process_raw's result, <0 on error
	const char *hyp; // owned by the decoder, valid until its next call
	size_t len;
} vg_result;

// vg_process decodes n samples and reads the hypothesis in one cgo call.
static vg_result vg_process(ps_decoder_t *ps, const int16 *data, size_t n) {
	vg_result r = {0, NULL, 0};
	if (n > 0) {
		r.rc = ps_process_raw(ps, data, n, 0, 0);
		if (r.rc < 0) {
			return r;
		}
	}
	r.hyp = ps_get_hyp(ps, NULL);
	if (r.hyp != NULL) {
		r.len = strlen(r.hyp);
	}
	return r;
}

static vg_result vg_end(ps_decoder_t *ps) {
	vg_result r = {0, NULL, 0};
	r.rc = ps_end_utt(ps);
	if (r.rc < 0) {
		return r;
	}
	r.hyp = ps_get_hyp(ps, NULL);
	if (r.hyp != NULL) {
		r.len = strlen(r.hyp);
	}
	return r;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

var (
	// silenceLog switches sphinxbase's process-global log off, once.
	silenceLog sync.Once
	// libMu serialises decoder creation and destruction process-wide:
	// loading touches sphinxbase globals (the log, the frequency warping
	// tables).
	libMu sync.Mutex
)

// decoder is one ps_decoder_t. It is used by one goroutine at a time.
type decoder struct {
	ps *C.ps_decoder_t
	// inUtt reports that ps_start_utt was called and ps_end_utt was not.
	inUtt bool
}

func newDecoder(cfg Config) (*decoder, error) {
	silenceLog.Do(func() { C.err_set_logfp(nil) })

	hmm, lm, dict := C.CString(cfg.HMM), C.CString(cfg.LM), C.CString(cfg.Dict)
	defer C.free(unsafe.Pointer(hmm))
	defer C.free(unsafe.Pointer(lm))
	defer C.free(unsafe.Pointer(dict))

	libMu.Lock()
	defer libMu.Unlock()
	conf := C.vg_config(hmm, lm, dict)
	if conf == nil {
		return nil, errors.New("pocketsphinx: invalid decoder configuration")
	}
	ps := C.ps_init(conf)
	C.cmd_ln_free_r(conf) // ps_init took its own reference
	if ps == nil {
		return nil, fmt.Errorf("pocketsphinx: cannot load models (HMM %s, LM %s, Dict %s)", cfg.HMM, cfg.LM, cfg.Dict)
	}
	return &decoder{ps: ps}, nil
}

func (d *decoder) free() {
	libMu.Lock()
	C.ps_free(d.ps)
	libMu.Unlock()
	d.ps = nil
}

func (d *decoder) start() error {
	if C.ps_start_utt(d.ps) < 0 {
		return errors.New("pocketsphinx: cannot start utterance")
	}
	d.inUtt = true
	return nil
}

// process decodes samples and returns the hypothesis so far. It returns prev
// itself, allocating nothing, when the hypothesis equals prev.
//
// samples is passed to C without a copy: C reads it only during the call.
func (d *decoder) process(samples []int16, prev string) (string, error) {
	var p *C.int16
	if len(samples) > 0 {
		p = (*C.int16)(unsafe.Pointer(&samples[0]))
	}
	r := C.vg_process(d.ps, p, C.size_t(len(samples)))
	if r.rc < 0 {
		return prev, errors.New("pocketsphinx: decoding failed")
	}
	return hypString(r, prev), nil
}

// end ends the utterance and returns the final hypothesis.
func (d *decoder) end() (string, error) {
	d.inUtt = false
	r := C.vg_end(d.ps)
	if r.rc < 0 {
		return "", errors.New("pocketsphinx: cannot end utterance")
	}
	return hypString(r, ""), nil
}

func hypString(r C.vg_result, prev string) string {
	if r.hyp == nil || r.len == 0 {
		return ""
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(r.hyp)), int(r.len))
	if string(b) == prev { // compiled without a conversion
		return prev
	}
	return string(b)
}
