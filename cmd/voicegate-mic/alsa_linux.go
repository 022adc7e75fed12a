//go:build cgo && linux

package main

/*
#cgo pkg-config: alsa
#include <alsa/asoundlib.h>
#include <fcntl.h>
#include <unistd.h>

// alsa-lib reports every device it probes and fails to open (dozens of
// lines when portaudio scans a desktop's devices) to stderr; errors that
// matter come back to us as return values anyway.
static void silent(const char *file, int line, const char *function, int err, const char *fmt, ...) {}
static void quiet_alsa(void) { snd_lib_error_set_handler(silent); }

// libjack, which portaudio and ALSA's jack plugin load, prints its failure
// to find a JACK server straight to stderr; only hiding fd 2 stops it.
static int hide_stderr(void) {
	int saved = dup(2);
	int null = open("/dev/null", O_WRONLY);
	if (null >= 0) {
		dup2(null, 2);
		close(null);
	}
	return saved;
}
static void restore_stderr(int saved) {
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
}
*/
import "C"

// quietDevices, unless verbose is set, runs fn (which opens audio devices)
// with alsa-lib's and libjack's diagnostics kept off stderr.
func quietDevices(fn func()) {
	C.quiet_alsa()
	if verbose {
		fn()
		return
	}
	saved := C.hide_stderr()
	defer C.restore_stderr(saved)
	fn()
}
