package piper

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/voicegate/voicegate/providers/internal/models"
)

// Voice is the Go module scripts/models.sh prepares the default voice from,
// "Jenny (Dioco)" (en_GB; its dataset asks for attribution, see MODEL_CARD
// in its directory).
const Voice = "github.com/amitybell/piper-voice-jenny@v0.0.0-20231030195502-2afb5ebf3c45"

// Config configures a Synthesizer. The zero value works once
// scripts/models.sh has prepared the default voice.
type Config struct {
	// Dir holds a Piper voice prepared for sherpa-onnx: model.onnx (with
	// sherpa-onnx's VITS metadata) and tokens.txt. Default: Voice's
	// directory in the models directory (see ModelsDir).
	Dir string `yaml:"dir"`
	// Speed scales the speaking rate, 0.5 to 2. 0 means 1.
	Speed float64 `yaml:"speed"`
	// Engines caps the voice's engines, and so the sentences synthesised at
	// once; each holds about 275 MB. They are created as needed, the first
	// by New. Default GOMAXPROCS, at least 2; at most 64.
	Engines int `yaml:"engines"`
	// Threads is the compute threads per engine, 1 to 16. Default 1.
	Threads int `yaml:"threads"`
	// DataDir is the data of the eSpeak NG inside sherpa-onnx, which
	// phonemises the text. Default Debian's espeak-ng-data (DefaultDataDir).
	// sherpa-onnx initialises that eSpeak NG once per process, with the
	// first engine's directory: give every voice the same one.
	DataDir string `yaml:"data_dir"`
}

// DefaultDataDir is Debian's eSpeak NG data (package espeak-ng-data).
const DefaultDataDir = "/usr/lib/x86_64-linux-gnu/espeak-ng-data"

// ModelsDir is the models directory: $VOICEGATE_MODELS, else
// voicegate/models in the user's cache directory ($XDG_CACHE_HOME, else
// ~/.cache); "" when the environment names none (no HOME either).
func ModelsDir() string {
	d, _ := models.Dir(os.Getenv)
	return d
}

// DefaultDir is where scripts/models.sh prepares Voice.
// It is "" when there is no models directory.
func DefaultDir() string {
	d := ModelsDir()
	if d == "" {
		return ""
	}
	return filepath.Join(d, "go", filepath.FromSlash(Voice))
}

func (c Config) withDefaults() Config {
	if c.Dir == "" {
		c.Dir = DefaultDir()
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	if c.Engines == 0 {
		c.Engines = max(runtime.GOMAXPROCS(0), 2)
	}
	if c.Threads == 0 {
		c.Threads = 1
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Speed < 0.5 || c.Speed > 2 {
		errs = append(errs, fmt.Errorf("piper: Speed %g, want 0.5 to 2", c.Speed))
	}
	if c.Engines < 1 || c.Engines > 64 {
		errs = append(errs, fmt.Errorf("piper: Engines %d, want 1 to 64", c.Engines))
	}
	if c.Threads < 1 || c.Threads > 16 {
		errs = append(errs, fmt.Errorf("piper: Threads %d, want 1 to 16", c.Threads))
	}
	return errors.Join(errs...)
}

// Files a voice directory and eSpeak NG's data directory must hold.
var (
	voiceFiles = []string{"model.onnx", "tokens.txt"}
	dataFiles  = []string{"phontab", "phonindex", "phondata", "intonations"}
)

// MissingError reports a voice or eSpeak NG data directory without the
// files a Synthesizer needs.
type MissingError struct {
	Dir     string
	Missing []string // file names in Dir
	Hint    string   // how to get them
}

// Unwrap returns fs.ErrNotExist: the files are not there.
func (e *MissingError) Unwrap() error { return fs.ErrNotExist }

func (e *MissingError) Error() string {
	return fmt.Sprintf("piper: %s lacks %s (%s)", e.Dir, strings.Join(e.Missing, ", "), e.Hint)
}

// checkFiles returns a *MissingError when dir lacks any of names.
func checkFiles(dir string, names []string, hint string) error {
	var missing []string
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return &MissingError{Dir: dir, Missing: missing, Hint: hint}
	}
	return nil
}
