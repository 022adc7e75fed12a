//go:build !(cgo && linux)

package silero

import (
	"errors"
	"testing"
)

func TestUnavailable(t *testing.T) {
	if Available() {
		t.Fatal("Available in a build without the engine")
	}
	if _, err := New(Config{}); !errors.Is(err, errNotBuilt) {
		t.Fatalf("New: %v", err)
	}
	if _, err := (&VAD{}).NewClassifier(); !errors.Is(err, errNotBuilt) {
		t.Fatalf("NewClassifier: %v", err)
	}
}
