package pocketsphinx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Default model files, as installed by Debian's pocketsphinx-en-us.
const (
	DefaultHMM  = "/usr/share/pocketsphinx/model/en-us/en-us"
	DefaultLM   = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
	DefaultDict = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
)

// Config configures a Recognizer. The zero value works where
// pocketsphinx-en-us is installed.
type Config struct {
	// HMM is the acoustic model directory. Default DefaultHMM.
	HMM string `yaml:"hmm"`
	// LM is the n-gram language model, ARPA or binary. Default DefaultLM.
	LM string `yaml:"lm"`
	// Dict is the pronunciation dictionary. Default DefaultDict.
	Dict string `yaml:"dict"`
	// PoolSize caps the decoders, and so the utterances recognised at once.
	// Each decoder holds its own copy of the models (about 95 MB with the
	// en-us model). Default 4.
	PoolSize int `yaml:"pool_size"`
	// Preload is how many decoders New creates before it returns; the rest
	// are created when Start first needs them. 0 means 1, so that New reports
	// unusable models; a negative value creates none. At most PoolSize.
	Preload int `yaml:"preload"`
}

const defaultPoolSize = 4

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.HMM == "" {
		c.HMM = DefaultHMM
	}
	if c.LM == "" {
		c.LM = DefaultLM
	}
	if c.Dict == "" {
		c.Dict = DefaultDict
	}
	if c.PoolSize == 0 {
		c.PoolSize = defaultPoolSize
	}
	switch {
	case c.Preload == 0:
		c.Preload = 1
	case c.Preload < 0:
		c.Preload = 0
	}
	return c
}

// validate checks c, defaults applied. It checks that the model files exist
// because sphinxbase handles some missing files by exiting the process.
func (c Config) validate() error {
	var errs []error
	if c.PoolSize < 1 {
		errs = append(errs, fmt.Errorf("pocketsphinx: PoolSize %d, want at least 1", c.PoolSize))
	}
	if c.Preload > c.PoolSize {
		errs = append(errs, fmt.Errorf("pocketsphinx: Preload %d exceeds PoolSize %d", c.Preload, c.PoolSize))
	}
	for _, f := range []struct{ name, path string }{
		{"HMM", filepath.Join(c.HMM, "mdef")},
		{"LM", c.LM},
		{"Dict", c.Dict},
	} {
		if fi, err := os.Stat(f.path); err != nil {
			errs = append(errs, fmt.Errorf("pocketsphinx: %s: %w", f.name, err))
		} else if fi.IsDir() {
			errs = append(errs, fmt.Errorf("pocketsphinx: %s: %s is a directory", f.name, f.path))
		}
	}
	return errors.Join(errs...)
}
