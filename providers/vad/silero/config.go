package silero

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/voicegate/voicegate/providers/internal/models"
	"github.com/voicegate/voicegate/providers/internal/onnxfile"
)

// Config configures the Silero voice activity model. The zero value uses the
// model in the models directory.
type Config struct {
	// Model is the path of silero_vad_v5.onnx. Default: ModelPath in the
	// models directory, where scripts/models.sh puts it.
	Model string `yaml:"model"`
	// Threshold is the speech probability at which a 32 ms window counts
	// as speech; once speaking, 0.15 less keeps it so. Between 0 and 1;
	// 0 means 0.5.
	Threshold float32 `yaml:"threshold"`
	// Threads is the number of threads each session's model runs on,
	// 1 to 8; 0 means 1. One is plenty: a window takes well under a
	// millisecond.
	Threads int `yaml:"threads"`
	// Idle is how many model instances closed sessions leave loaded for
	// the next ones (each holds about 10 MB; loading one takes a few
	// hundred milliseconds), up to 1024; 0 means 4, -1 none.
	Idle int `yaml:"idle"`
	// MaxInstances caps the model instances loaded at once, in use and
	// idle (about 10 MB each): a session that starts beyond it listens
	// with the energy detector instead (pipeline.ErrVoiceActivityFull).
	// 0 means 256; at most 100000.
	MaxInstances int `yaml:"max_instances"`
}

// ModelPath is where the model lives in the models directory: the layout
// is by package name and version, and this model is the one published in
// the npm package @ricky0123/vad-web@0.0.31 (MIT).
const ModelPath = "npm/@ricky0123/vad-web@0.0.31/silero_vad_v5.onnx"

// ModelsDir returns voicegate's models directory: $VOICEGATE_MODELS, else
// $XDG_CACHE_HOME/voicegate/models, else ~/.cache/voicegate/models.
// getenv nil means os.Getenv.
func ModelsDir(getenv func(string) string) (string, error) {
	d, err := models.Dir(getenv)
	if err != nil {
		return "", fmt.Errorf("silero: %w", err)
	}
	return d, nil
}

// withDefaults fills the zero fields, the model's path from getenv.
func (c Config) withDefaults(getenv func(string) string) (Config, error) {
	if c.Model == "" {
		dir, err := ModelsDir(getenv)
		if err != nil {
			return c, err
		}
		c.Model = filepath.Join(dir, filepath.FromSlash(ModelPath))
	}
	if c.Threshold == 0 {
		c.Threshold = 0.5
	}
	if c.Threads == 0 {
		c.Threads = 1
	}
	if c.MaxInstances == 0 {
		c.MaxInstances = 256
	}
	switch c.Idle {
	case 0:
		c.Idle = 4
	case -1:
		c.Idle = 0
	}
	return c, nil
}

func (c Config) validate() error {
	var errs []error
	if !(c.Threshold > 0 && c.Threshold < 1) {
		errs = append(errs, fmt.Errorf("silero: threshold %v, want between 0 and 1", c.Threshold))
	}
	if c.Threads < 1 || c.Threads > 8 {
		errs = append(errs, fmt.Errorf("silero: threads %d, want 1 to 8", c.Threads))
	}
	if c.MaxInstances < 1 || c.MaxInstances > 100000 {
		errs = append(errs, fmt.Errorf("silero: max_instances %d, want 1 to 100000", c.MaxInstances))
	}
	if c.Idle < 0 || c.Idle > 1024 {
		errs = append(errs, fmt.Errorf("silero: idle %d, want -1 (none) to 1024", c.Idle))
	}
	return errors.Join(errs...)
}

// checkModel reports a model that is not there in words that say how to
// get it, and a file that is not Silero v5 before the engine, which aborts
// the process on a file it cannot parse, is given it.
func checkModel(path string) error {
	o, err := onnxfile.Check(path)
	if err != nil {
		return fmt.Errorf("silero: model %w (run scripts/models.sh to fetch it)", err)
	}
	if !slices.Equal(o.Inputs, []string{"input", "state", "sr"}) {
		return fmt.Errorf("silero: model %s has inputs %q, not Silero v5's [input state sr]", path, o.Inputs)
	}
	return nil
}
