// Package models locates voicegate's models directory, which holds the
// model files of the providers laid out by package name and version
// (scripts/models.sh fills it).
package models

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrNoDir is returned by Dir when the environment names no directory.
var ErrNoDir = errors.New("no models directory: set VOICEGATE_MODELS (or HOME)")

// Dir returns the models directory: $VOICEGATE_MODELS, else
// $XDG_CACHE_HOME/voicegate/models, else $HOME/.cache/voicegate/models.
// getenv reads the environment; nil means os.Getenv.
func Dir(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("VOICEGATE_MODELS"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "voicegate", "models"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", ErrNoDir
	}
	return filepath.Join(home, ".cache", "voicegate", "models"), nil
}
