package espeakng

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoLibrary reports that Debian's eSpeak NG library, libespeak-ng.so.1,
// cannot be loaded: install the espeak-ng package (or libespeak-ng1 alone).
var ErrNoLibrary = errors.New("espeakng: cannot load eSpeak NG (install Debian's espeak-ng or libespeak-ng1)")

// Config configures a Synthesizer. The zero value works.
type Config struct {
	// Voice is an eSpeak NG voice or language name, such as "en-us", "de"
	// or "fr" (see `espeak-ng --voices`). Default "en-us".
	Voice string `yaml:"voice"`
	// Rate is the speaking rate in words per minute, 80 to 450. Default 175.
	Rate int `yaml:"rate"`
	// Pitch is the base pitch, 1 to 100; 50 is the voice's normal pitch.
	// 0 means 50.
	Pitch int `yaml:"pitch"`
}

func (c Config) withDefaults() Config {
	if c.Voice == "" {
		c.Voice = "en-us"
	}
	if c.Rate == 0 {
		c.Rate = 175
	}
	if c.Pitch == 0 {
		c.Pitch = 50
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if !voiceName(c.Voice) {
		errs = append(errs, fmt.Errorf("espeakng: voice %q: a voice is named by letters, digits and - _ + (e.g. en-us, cmn-latn-pinyin, en+f3), at most 40", clip(c.Voice)))
	}
	if c.Rate < 80 || c.Rate > 450 {
		errs = append(errs, fmt.Errorf("espeakng: Rate %d words per minute, want 80 to 450", c.Rate))
	}
	if c.Pitch < 1 || c.Pitch > 100 {
		errs = append(errs, fmt.Errorf("espeakng: Pitch %d, want 1 to 100", c.Pitch))
	}
	return errors.Join(errs...)
}

// voiceName reports whether v has the shape of an eSpeak NG voice name
// (a language, a variant after +): a name a client sends never reaches the
// library as a path.
func voiceName(v string) bool {
	if v == "" || len(v) > 40 {
		return false
	}
	for _, r := range v {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '+') {
			return false
		}
	}
	return true
}

// clip shortens a name for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}
