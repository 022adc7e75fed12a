package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/pipeline"
)

// TestContentKeyFile: a key file gives the same fingerprints to every
// process that reads it; without one each process has its own.
func TestContentKeyFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "content-key")
	if err := os.WriteFile(file, []byte("  0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first, err := newContentHasher(configs.Log{ContentKeyFile: file})
	if err != nil {
		t.Fatal(err)
	}
	restarted, _ := newContentHasher(configs.Log{ContentKeyFile: file})
	own, _ := newContentHasher(configs.Log{})
	if first.Sum("yes") != restarted.Sum("yes") {
		t.Error("one key file, two fingerprints")
	}
	if own.Sum("yes") == first.Sum("yes") {
		t.Error("no key file, yet the key file's fingerprint")
	}

	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{short: "at least 16", filepath.Join(dir, "none"): "no such file"} {
		if _, err := newContentHasher(configs.Log{ContentKeyFile: path}); err == nil || !strings.Contains(err.Error(), "log.content_key_file") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want log.content_key_file and %q", path, err, want)
		}
	}
}

// TestExecStderrFollowsLogContent: the exec providers get log.log_content
// and the process's hasher through Deps: an engine's stderr, which here
// echoes what it was asked to say, is in the error only with log_content,
// else its fingerprint is, under the same key as the gateway's.
func TestExecStderrFollowsLogContent(t *testing.T) {
	const said = "my PIN is 4921"
	const stderr = "speaking: " + said
	hasher, err := pipeline.NewContentHasher([]byte("operator-content-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := configs.Default()
	doc := `providers: {tts: [{name: exec, command: [sh, -c, 'echo "speaking: $(cat)" >&2; exit 1'], sample_rate: 16000}]}`
	if err := configs.Parse([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, logContent := range []bool{false, true} {
		t.Run(fmt.Sprint("log_content=", logContent), func(t *testing.T) {
			b, err := buildStages(cfg.Providers, Builtin(), Deps{Log: zap.NewNop(), LogContent: logContent, ContentHasher: hasher})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			err = b.stages.TTS.Synthesize(context.Background(), said, func([]int16) error { return nil })
			if err == nil {
				t.Fatal("the engine's failure was not reported")
			}
			if got := strings.Contains(err.Error(), stderr); got != logContent {
				t.Errorf("stderr in the error: %v, want %v: %v", got, logContent, err)
			}
			if want := "hmac " + hasher.Sum(stderr); !logContent && !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want the fingerprint under the configured key, %q", err, want)
			}
		})
	}

	// log_content is the log: section's, not a key of a provider entry.
	cfg = configs.Default()
	if err := configs.Parse([]byte(`providers: {tts: [{name: exec, command: [cat], sample_rate: 16000, log_content: true}]}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if b, err := buildStages(cfg.Providers, Builtin(), Deps{Log: zap.NewNop()}); err == nil {
		b.Close()
		t.Error("log_content accepted in a provider entry")
	}
}
