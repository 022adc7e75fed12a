package sherpa

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/voicegate/voicegate/providers/internal/onnxfile"
)

// The model kinds.
const (
	KindZipformerStreaming = "zipformer-streaming"
	KindSenseVoice         = "sensevoice"
	KindWhisper            = "whisper"
	KindMoonshine          = "moonshine"
	KindParaformer         = "paraformer"
)

// Config configures a Recognizer.
type Config struct {
	// Dir holds the model's files, named as sherpa-onnx's releases name
	// them (Files lists them per kind). Required.
	Dir string `yaml:"dir"`
	// Kind is the model: zipformer-streaming, sensevoice, whisper,
	// moonshine or paraformer. Required.
	Kind string `yaml:"kind"`
	// Int8 picks the int8-quantized files (*.int8.onnx) where the
	// directory has both.
	Int8 bool `yaml:"int8"`
	// Threads is the number of threads a decode runs on, 1 to 16. 0 means 2.
	Threads int `yaml:"threads"`
	// Language is the spoken language, for the models that take one:
	// whisper ("en", "zh", ...; "" is the model's default) and sensevoice
	// ("auto", the default, "zh", "en", "yue", "ja", "ko").
	Language string `yaml:"language"`
	// PoolSize caps the utterances recognised at once (one model is
	// shared by all; each holds its own stream). Default 4.
	PoolSize int `yaml:"pool_size"`
	// MaxAudio caps the audio an offline model's utterance holds until
	// Finish. Default 60s.
	MaxAudio time.Duration `yaml:"max_audio"`
}

// file is one file a kind of model needs.
type file struct {
	role    string // what it is, for errors
	pattern string // its name in Dir, a glob
	// meta are metadata keys the engine reads from the model on loading
	// (the first of them, at least): it exits the process when one is
	// missing.
	meta []string
}

var tokens = file{role: "tokens", pattern: "tokens.txt"}

// kinds lists each kind's files.
var kinds = map[string][]file{
	KindZipformerStreaming: {
		{role: "encoder", pattern: "encoder*.onnx", meta: []string{"T", "decode_chunk_len"}},
		{role: "decoder", pattern: "decoder*.onnx", meta: []string{"vocab_size", "context_size"}},
		{role: "joiner", pattern: "joiner*.onnx"},
		tokens,
	},
	KindSenseVoice: {{role: "model", pattern: "model*.onnx", meta: []string{"vocab_size", "lfr_window_size"}}, tokens},
	KindParaformer: {{role: "model", pattern: "model*.onnx", meta: []string{"vocab_size", "lfr_window_size"}}, tokens},
	KindWhisper: {
		{role: "encoder", pattern: "*encoder*.onnx", meta: []string{"n_mels", "n_text_layer"}},
		{role: "decoder", pattern: "*decoder*.onnx"},
		{role: "tokens", pattern: "*tokens.txt"},
	},
	KindMoonshine: {
		{role: "preprocessor", pattern: "preprocess*.onnx"},
		{role: "encoder", pattern: "encode*.onnx"},
		{role: "uncached decoder", pattern: "uncached_decode*.onnx"},
		{role: "cached decoder", pattern: "cached_decode*.onnx"},
		tokens,
	},
}

// Kinds returns the model kinds, sorted.
func Kinds() []string {
	ks := make([]string, 0, len(kinds))
	for k := range kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Files returns the file names (globs) a kind of model needs in its
// directory, or nil for an unknown kind.
func Files(kind string) []string {
	var names []string
	for _, f := range kinds[kind] {
		names = append(names, f.pattern)
	}
	return names
}

// Limits.
const (
	maxThreads     = 16
	maxPool        = 64
	maxTokensBytes = 16 << 20
)

func (c Config) withDefaults() Config {
	if c.Threads == 0 {
		c.Threads = 2
	}
	if c.PoolSize == 0 {
		c.PoolSize = 4
	}
	if c.MaxAudio == 0 {
		c.MaxAudio = 60 * time.Second
	}
	if c.Kind == KindSenseVoice && c.Language == "" {
		c.Language = "auto"
	}
	return c
}

// validate checks c's settings, defaults applied; not its files.
func (c Config) validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("sherpa: dir is required: the directory holding the model's files"))
	}
	if _, ok := kinds[c.Kind]; !ok {
		errs = append(errs, fmt.Errorf("sherpa: kind %q: use one of %s", c.Kind, strings.Join(Kinds(), ", ")))
	}
	if c.Threads < 1 || c.Threads > maxThreads {
		errs = append(errs, fmt.Errorf("sherpa: threads %d, want 1 to %d", c.Threads, maxThreads))
	}
	if c.PoolSize < 1 || c.PoolSize > maxPool {
		errs = append(errs, fmt.Errorf("sherpa: pool_size %d, want 1 to %d", c.PoolSize, maxPool))
	}
	if c.MaxAudio < time.Second || c.MaxAudio > 10*time.Minute {
		errs = append(errs, fmt.Errorf("sherpa: max_audio %v, want 1s to 10m", c.MaxAudio))
	}
	switch c.Kind {
	case KindSenseVoice:
		if !slices.Contains([]string{"auto", "zh", "en", "yue", "ja", "ko"}, c.Language) {
			errs = append(errs, fmt.Errorf("sherpa: language %q: sensevoice knows auto, zh, en, yue, ja, ko", c.Language))
		}
	case KindWhisper:
		if len(c.Language) > 8 || strings.ContainsFunc(c.Language, func(r rune) bool { return r < 'a' || r > 'z' }) {
			errs = append(errs, fmt.Errorf("sherpa: language %q: a whisper language is a code such as en or zh", c.Language))
		}
	default:
		if c.Language != "" {
			errs = append(errs, fmt.Errorf("sherpa: language %q: only whisper and sensevoice take a language", c.Language))
		}
	}
	return errors.Join(errs...)
}

// locate finds each of the kind's files in c.Dir and checks it, returning
// the paths by role. Its error names every file missing or unfit.
func (c Config) locate() (map[string]string, error) {
	if st, err := os.Stat(c.Dir); err != nil {
		return nil, fmt.Errorf("sherpa: dir: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("sherpa: dir %s is not a directory", c.Dir)
	}
	paths := map[string]string{}
	var missing []string
	var errs []error
	for _, f := range kinds[c.Kind] {
		path, err := c.pick(f)
		switch {
		case errors.Is(err, os.ErrNotExist):
			missing = append(missing, f.pattern+" ("+f.role+")")
			continue
		case err == nil:
			err = check(path, f)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		paths[f.role] = path
	}
	if len(missing) > 0 {
		errs = append([]error{fmt.Errorf("sherpa: %s model in %s: missing %s", c.Kind, c.Dir, strings.Join(missing, ", "))}, errs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return paths, nil
}

// pick returns the one file of Dir that is f: with Int8, the quantized
// one where there are both.
func (c Config) pick(f file) (string, error) {
	all, err := filepath.Glob(filepath.Join(c.Dir, f.pattern))
	if err != nil {
		return "", fmt.Errorf("sherpa: %s: %w", f.pattern, err)
	}
	if len(all) == 0 {
		return "", os.ErrNotExist
	}
	if len(all) == 1 {
		return all[0], nil
	}
	var preferred []string
	for _, p := range all {
		if strings.Contains(filepath.Base(p), ".int8.") == c.Int8 {
			preferred = append(preferred, p)
		}
	}
	if len(preferred) == 1 {
		return preferred[0], nil
	}
	names := make([]string, len(all))
	for i, p := range all {
		names[i] = filepath.Base(p)
	}
	return "", fmt.Errorf("sherpa: %s model in %s: %d files are the %s (%s): keep one (or one plain and one .int8.)", c.Kind, c.Dir, len(all), f.role, strings.Join(names, ", "))
}

// check tells whether the file at path can be given to the engine as f.
func check(path string, f file) error {
	if strings.HasSuffix(f.pattern, ".txt") {
		return checkTokens(path)
	}
	o, err := onnxfile.Check(path)
	if err != nil {
		return fmt.Errorf("sherpa: %s: %w", f.role, err)
	}
	var lacks []string
	for _, k := range f.meta {
		if _, ok := o.Metadata[k]; !ok {
			lacks = append(lacks, k)
		}
	}
	if len(lacks) > 0 {
		return fmt.Errorf("sherpa: %s %s lacks the metadata %s: not a model of this kind, or not exported for sherpa-onnx", f.role, path, strings.Join(lacks, ", "))
	}
	return nil
}

// checkTokens checks a token table: lines of "symbol id", or of an id
// alone (the symbol is then a space), as the engine reads them.
func checkTokens(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sherpa: tokens: %w", err)
	}
	defer fh.Close()
	if st, err := fh.Stat(); err != nil || !st.Mode().IsRegular() || st.Size() > maxTokensBytes {
		return fmt.Errorf("sherpa: tokens %s: not a token table (a file of at most %d MB)", path, maxTokensBytes>>20)
	}
	sc := bufio.NewScanner(fh)
	n := 0
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if _, err := strconv.Atoi(fields[len(fields)-1]); err != nil || len(fields) > 2 {
			return fmt.Errorf("sherpa: tokens %s line %d: want \"symbol id\"", path, line)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("sherpa: tokens %s: %w", path, err)
	}
	if n == 0 {
		return fmt.Errorf("sherpa: tokens %s is empty", path)
	}
	return nil
}
