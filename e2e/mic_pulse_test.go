//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
)

// A private PulseAudio daemon with a virtual microphone and speaker, as
// measured in RECIPES.md: the pipe source "mic" captures what is written to
// mic.fifo (s16le, 16 kHz, mono) and the null sink "spk" (48 kHz, mono)
// swallows what is played, for parec to record from spk.monitor. ALSA's
// default reaches it through the pulse plugin, so portaudio and oto need
// nothing but PULSE_SERVER.

const (
	micRate = 16000 // mic.fifo
	spkRate = 48000 // the null sink, and what parec records
)

type micPulse struct {
	dir  string
	env  []string // for every client of the daemon
	pid  int
	fifo string
}

// startMicPulse starts the daemon; t.Cleanup stops it by its pid.
func startMicPulse(t *testing.T) *micPulse {
	t.Helper()
	// A short directory: the socket path must fit in sun_path (108 bytes).
	dir, err := os.MkdirTemp("", "vgmic")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	home, run := filepath.Join(dir, "home"), filepath.Join(dir, "run")
	for _, d := range []string{home, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	p := &micPulse{dir: dir, fifo: filepath.Join(dir, "mic.fifo")}
	p.env = append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+run, "PULSE_SERVER=unix:"+filepath.Join(dir, "native"))
	// module-pipe-source makes the fifo itself (and removes it on exit).
	conf := fmt.Sprintf(`load-module module-native-protocol-unix auth-anonymous=1 socket=%s/native
load-module module-null-sink sink_name=spk rate=%d channels=1
load-module module-pipe-source source_name=mic file=%s format=s16le rate=%d channels=1
set-default-sink spk
set-default-source mic
`, dir, spkRate, p.fifo, micRate)
	pa := filepath.Join(dir, "default.pa")
	if err := os.WriteFile(pa, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--system=false", "-n", "-F", pa,
		"--disallow-exit", "--use-pid-file=yes", "--log-target=file:"+filepath.Join(dir, "pulse.log"))
	cmd.Env = p.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pulseaudio: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := p.command("pactl", "list", "short", "sources").Output()
		if err == nil && bytes.Contains(out, []byte("mic")) {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "pulse.log"))
			t.Fatalf("pulseaudio did not come up with its sources (%v): %s\n%s", err, out, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, err := os.ReadFile(filepath.Join(run, "pulse", "pid"))
	if err != nil {
		t.Fatalf("pulseaudio pid: %v", err)
	}
	if p.pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		t.Fatalf("pulseaudio pid %q: %v", b, err)
	}
	t.Cleanup(p.stop)
	return p
}

func (p *micPulse) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = p.env
	return cmd
}

// stop ends the daemon by its pid: SIGTERM, then SIGKILL after 3 s.
func (p *micPulse) stop() {
	if p.pid <= 0 {
		return
	}
	_ = syscall.Kill(p.pid, syscall.SIGTERM)
	for i := 0; i < 60; i++ {
		if syscall.Kill(p.pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
}

// micFeeder keeps a writer on mic.fifo: speech when asked, silence
// otherwise, in real time (a pipe source with no writer blocks capture).
type micFeeder struct {
	f     *os.File
	queue chan micUtterance
	done  chan struct{}
	wg    sync.WaitGroup
	err   error
}

type micUtterance struct {
	samples []int16
	ended   chan time.Time // when the last sample went into the fifo
}

func (p *micPulse) feed(t *testing.T) *micFeeder {
	t.Helper()
	// The daemon holds the fifo open for reading, so this does not block.
	f, err := os.OpenFile(p.fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("opening %s: %v", p.fifo, err)
	}
	m := &micFeeder{f: f, queue: make(chan micUtterance, 4), done: make(chan struct{})}
	m.wg.Add(1)
	go m.run()
	t.Cleanup(m.stop)
	return m
}

func (m *micFeeder) run() {
	defer m.wg.Done()
	per := audio.Mono16k.Samples(20 * time.Millisecond)
	silence := make([]int16, per)
	var buf []byte
	var cur *micUtterance
	start := time.Now()
	var written int64
	for {
		select {
		case <-m.done:
			return
		default:
		}
		if cur == nil {
			select {
			case u := <-m.queue:
				cur = &u
			default:
			}
		}
		chunk := silence
		if cur != nil {
			n := min(per, len(cur.samples))
			chunk, cur.samples = cur.samples[:n], cur.samples[n:]
		}
		// Pace by the total written, so the stream keeps real time.
		if d := time.Until(start.Add(audio.Mono16k.Duration(int(written)))); d > 0 {
			time.Sleep(d)
		}
		buf = audio.EncodePCM16(buf[:0], chunk)
		if _, err := m.f.Write(buf); err != nil {
			m.err = err
			return
		}
		written += int64(len(chunk))
		if cur != nil && len(cur.samples) == 0 {
			cur.ended <- time.Now()
			cur = nil
		}
	}
}

// say queues speech (16 kHz mono) and returns when its last sample will
// have been written.
func (m *micFeeder) say(samples []int16) <-chan time.Time {
	u := micUtterance{samples: samples, ended: make(chan time.Time, 1)}
	m.queue <- u
	return u.ended
}

func (m *micFeeder) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	close(m.done)
	m.wg.Wait()
	m.f.Close()
}

// micRecorder records the virtual speaker with parec. It reads parec's
// output as it comes, so it knows when each sample was heard: the
// recording's own timeline has gaps (parec takes a second or more to start,
// and loses its last fragment when interrupted), so samples cannot be
// dated by counting from either end. The recording is also saved as a WAV
// file for a human to listen to.
type micRecorder struct {
	path   string
	cmd    *exec.Cmd
	stderr lockedBuffer
	done   chan struct{}

	mu      sync.Mutex
	samples []int16
	marks   []micMark // arrival of each read, in order
}

// micMark says that the recording had n samples at time at.
type micMark struct {
	n  int
	at time.Time
}

func (p *micPulse) record(t *testing.T, path string) *micRecorder {
	t.Helper()
	r := &micRecorder{path: path, done: make(chan struct{})}
	// A small latency, so the samples arrive as they are played (the
	// default fragment is about a second).
	r.cmd = p.command("parec", "--latency-msec=20", "-d", "spk.monitor", "--rate="+strconv.Itoa(spkRate),
		"--channels=1", "--format=s16le", "--raw")
	r.cmd.Stderr = &r.stderr
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("parec: %v", err)
	}
	go r.read(stdout)
	t.Cleanup(func() { r.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.samples)
		r.mu.Unlock()
		if n > 0 {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("parec is not recording after 10s: %s", r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *micRecorder) read(stdout io.Reader) {
	defer close(r.done)
	buf := make([]byte, 4096)
	var odd []byte
	for {
		n, err := stdout.Read(buf)
		if n > 0 {
			now := time.Now()
			b := append(odd, buf[:n]...)
			whole := len(b) &^ 1
			r.mu.Lock()
			r.samples, _ = audio.DecodePCM16(r.samples, b[:whole])
			r.marks = append(r.marks, micMark{len(r.samples), now})
			r.mu.Unlock()
			odd = append([]byte(nil), b[whole:]...)
		}
		if err != nil {
			return
		}
	}
}

// stop ends the recording and writes the WAV file.
func (r *micRecorder) stop(t *testing.T) {
	if r.cmd.ProcessState != nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	<-r.done
	_ = r.cmd.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.Create(r.path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if err := wav.Encode(f, audio.Format{SampleRate: spkRate, Channels: 1}, r.samples); err != nil {
		t.Error(err)
	}
}

// recording returns the samples recorded so far.
func (r *micRecorder) recording() []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int16(nil), r.samples...)
}

// at returns when sample i was heard: the arrival of the read that brought
// it, less the samples that came after it in that read. It is late by at
// most parec's latency (20 ms).
func (r *micRecorder) at(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.marks {
		if m.n > i {
			return m.at.Add(-audio.Format{SampleRate: spkRate, Channels: 1}.Duration(m.n - i))
		}
	}
	return time.Time{}
}

// micBurst is a stretch of sound in a recording.
type micBurst struct {
	start, end time.Duration
}

// micBursts finds the sounds in s: samples above threshold, separated by
// at least gap of quiet.
func micBursts(s []int16, rate int, threshold int16, gap time.Duration) []micBurst {
	f := audio.Format{SampleRate: rate, Channels: 1}
	gapN := f.Samples(gap)
	var out []micBurst
	first, last := -1, -1
	for i, v := range s {
		if v > threshold || v < -threshold {
			if first >= 0 && i-last > gapN {
				out = append(out, micBurst{f.Duration(first), f.Duration(last + 1)})
				first = -1
			}
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first >= 0 {
		out = append(out, micBurst{f.Duration(first), f.Duration(last + 1)})
	}
	return out
}

// micClient is a running voicegate-mic; its stdout (plain lines: not a
// terminal) is kept line by line, with the time each arrived.
type micClient struct {
	cmd    *exec.Cmd
	stderr lockedBuffer
	done   chan struct{}

	mu    sync.Mutex
	lines []micLine
	more  chan struct{} // signalled (one slot) on every new line
	eof   bool
}

type micLine struct {
	text string
	at   time.Time
}

func startMicClient(t *testing.T, p *micPulse, args ...string) *micClient {
	t.Helper()
	c := &micClient{done: make(chan struct{}), more: make(chan struct{}, 1)}
	c.cmd = p.command(binary(t, "voicegate-mic"), args...)
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.add(micLine{sc.Text(), time.Now()}, false)
		}
		c.add(micLine{}, true)
	}()
	go func() { <-read; _ = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

func (c *micClient) add(l micLine, eof bool) {
	c.mu.Lock()
	if eof {
		c.eof = true
	} else {
		c.lines = append(c.lines, l)
	}
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
}

// output returns everything printed so far.
func (c *micClient) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, l := range c.lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// waitLine returns the first line at index ≥ from that starts with prefix,
// and its index, failing the test after timeout.
func (c *micClient) waitLine(t *testing.T, prefix string, from int, timeout time.Duration) (micLine, int) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		for i := from; i < len(c.lines); i++ {
			if strings.HasPrefix(c.lines[i].text, prefix) {
				l := c.lines[i]
				c.mu.Unlock()
				return l, i
			}
		}
		eof := c.eof
		c.mu.Unlock()
		if eof {
			t.Fatalf("voicegate-mic exited while we waited for %q\nstdout:\n%s\nstderr:\n%s", prefix, c.output(), c.stderr.String())
		}
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("no %q line from voicegate-mic within %v\nstdout:\n%s\nstderr:\n%s", prefix, timeout, c.output(), c.stderr.String())
		}
	}
}

// interrupt sends SIGINT, waits for the exit and returns its code.
func (c *micClient) interrupt(t *testing.T) int {
	t.Helper()
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("voicegate-mic did not exit within 10s of SIGINT\n%s", c.output())
	}
	return c.cmd.ProcessState.ExitCode()
}
