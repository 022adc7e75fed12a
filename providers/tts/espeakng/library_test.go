//go:build cgo && linux

package espeakng

import (
	"errors"
	"strings"
	"testing"
)

// TestNoLibrary: a library that cannot be loaded is ErrNoLibrary, whose
// words name the Debian packages to install.
func TestNoLibrary(t *testing.T) {
	for _, name := range []string{"libespeak-ng-absent.so.1", "/nonexistent/libespeak-ng.so.1", "libc.so.6"} {
		_, err := open(name)
		if !errors.Is(err, ErrNoLibrary) {
			t.Errorf("open(%q): %v, want ErrNoLibrary", name, err)
			continue
		}
		t.Logf("open(%q): %v", name, err)
		if msg := err.Error(); !strings.Contains(msg, "libespeak-ng1") || !strings.Contains(msg, name) {
			t.Errorf("open(%q): %q does not name the package and the library", name, msg)
		}
	}
}
