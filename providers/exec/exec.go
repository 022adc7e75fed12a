// Package exec runs speech engines as child processes: a recogniser that
// reads a WAV file on stdin and prints the transcript, and a synthesiser that
// reads text on stdin and writes raw PCM16LE to stdout, streamed as produced.
//
// Commands are argv slices run without a shell (write ["sh", "-c", "..."]
// when you want one). One process runs per utterance or per reply. It is
// killed, with its whole process group on Unix, when the call's context ends
// or its timeout passes.
//
// When a process fails, the error says what its stderr held (the last 4 KiB)
// only if LogContent is set (log.log_content): an engine that echoes its
// input would otherwise put the conversation into the logs. Without it the
// error carries the stderr's length and keyed fingerprint, which tell
// failures apart without saying what they were about.
package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"strings"
	"sync"
	"time"

	"github.com/voicegate/voicegate/pipeline"
)

// Content is what both Configs take from the composition root rather than
// from the provider's entry (their yaml tag is "-"): the process-wide
// log.log_content and the fingerprint of content in the logs.
type Content struct {
	// LogContent puts a failed process's stderr into the error as it is.
	// Default false: its length and ContentHasher's fingerprint only.
	LogContent bool `yaml:"-"`
	// ContentHasher fingerprints stderr. Default: one with a random key of
	// the provider's own, whose fingerprints match nobody else's.
	ContentHasher *pipeline.ContentHasher `yaml:"-"`
}

// waitDelay is how long Wait waits for stdout and stderr to close after the
// process was killed (a grandchild may hold them) before closing them itself.
const waitDelay = time.Second

// stderrTail is how much of a process's stderr an error carries.
const stderrTail = 4 << 10

// command is what NewRecognizer and NewSynthesizer share.
type command struct {
	name    string
	argv    []string
	env     []string
	dir     string
	timeout time.Duration
	content Content
}

// label names the provider by its name and program, e.g. "exec:piper".
func (c command) label() string { return c.name + ":" + c.argv[0] }

func newCommand(name, kind string, argv, env []string, dir string, timeout, def time.Duration, content Content) (command, error) {
	if name == "" {
		name = "exec"
	}
	if len(argv) == 0 || argv[0] == "" {
		return command{}, fmt.Errorf("provider %s: command is required", name)
	}
	if _, err := osexec.LookPath(argv[0]); err != nil {
		return command{}, fmt.Errorf("provider %s: %s command: %w", name, kind, err)
	}
	for _, kv := range env {
		if !strings.Contains(kv, "=") {
			return command{}, fmt.Errorf("provider %s: env entry %q is not KEY=VALUE", name, kv)
		}
	}
	if timeout < 0 {
		return command{}, fmt.Errorf("provider %s: timeout must not be negative", name)
	}
	if timeout == 0 {
		timeout = def
	}
	if content.ContentHasher == nil {
		content.ContentHasher = pipeline.NewRandomContentHasher()
	}
	return command{name: name, argv: append([]string(nil), argv...), env: env, dir: dir, timeout: timeout, content: content}, nil
}

// cmd builds the process for one call; ctx kills it.
func (c command) cmd(ctx context.Context) (*osexec.Cmd, *tailBuffer) {
	cmd := osexec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	if len(c.env) > 0 {
		cmd.Env = append(os.Environ(), c.env...)
	}
	cmd.Dir = c.dir
	cmd.WaitDelay = waitDelay
	stderr := &tailBuffer{max: stderrTail}
	cmd.Stderr = stderr
	killGroup(cmd)
	return cmd, stderr
}

var errTimeout = errors.New("command timed out")

// fail maps a failed run: the caller's cancel is returned as is; our
// timeout is ErrTimeout; anything else (could not start, non-zero exit) is
// ErrUnavailable with what stderrText says of the tail of stderr.
func (c command) fail(parent, ctx context.Context, err error, stderr *tailBuffer) error {
	if parent.Err() != nil {
		return parent.Err()
	}
	if context.Cause(ctx) == errTimeout {
		return fmt.Errorf("%s: %w: %s did not finish within %v", c.name, pipeline.ErrTimeout, c.argv[0], c.timeout)
	}
	msg := strings.TrimSpace(stderr.String())
	if msg != "" {
		return fmt.Errorf("%s: %w: %s: %w: %s", c.name, pipeline.ErrUnavailable, c.argv[0], err, c.stderrText(msg))
	}
	return fmt.Errorf("%s: %w: %s: %w", c.name, pipeline.ErrUnavailable, c.argv[0], err)
}

// stderrText is what an error says of stderr text s: s itself when content
// may be logged, else its length and fingerprint.
func (c command) stderrText(s string) string {
	if c.content.LogContent {
		return s
	}
	return fmt.Sprintf("stderr withheld, %d bytes, hmac %s (log.log_content shows it)", len(s), c.content.ContentHasher.Sum(s))
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu        sync.Mutex
	max       int
	buf       []byte
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		p = p[len(p)-t.max:]
		t.buf = t.buf[:0]
		t.truncated = true
	} else if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.truncated = true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.ToValidUTF8(string(t.buf), "\uFFFD")
	if t.truncated {
		s = "…" + s
	}
	return s
}
