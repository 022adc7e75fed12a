package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Status is the terminal UI: the transcript scrolls, and on a terminal a
// status line below it (state, level meter, partial transcript, RTT, the
// last turn's latency) is redrawn in place ten times a second. When the
// output is not a terminal there is no status line: state changes and
// the transcript come out as plain lines, for logs and tests.
//
// All methods are safe for concurrent use.
type Status struct {
	w     io.Writer
	tty   bool
	width int

	mu       sync.Mutex
	speaking func() bool // see SetSpeaking
	state    string
	partial  string
	latency  string
	level    float64 // dBFS of the last microphone chunk
	meter    bool    // show the level meter
	muted    bool    // the echo guard is sending silence
	rtt      time.Duration
	shown    bool // a status line is on screen

	done chan struct{}
	wg   sync.WaitGroup
}

// NewStatus writes to w; tty turns on the redrawn status line.
func NewStatus(w io.Writer, tty bool) *Status {
	s := &Status{w: w, tty: tty, width: 100, level: -96, state: "connecting", done: make(chan struct{})}
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 20 {
		s.width = c
	}
	if tty {
		s.wg.Add(1)
		go s.redraw()
	}
	return s
}

// isTerminal reports whether f is a character device (a terminal, on the
// systems we run on), without a dependency on x/term.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Close stops redrawing and leaves the cursor on a fresh line.
func (s *Status) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
}

// Printf prints a transcript line above the status line.
func (s *Status) Printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
	fmt.Fprintf(s.w, format+"\n", args...)
	s.draw()
}

// SetState sets what the session is doing; without a terminal a change is
// printed as a line "state: …".
func (s *Status) SetState(state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if state == s.state {
		return
	}
	s.state = state
	if !s.tty {
		fmt.Fprintf(s.w, "state: %s\n", state)
	}
}

// SetSpeaking gives the status line a way to tell whether a reply is still
// playing: it then says "speaking" rather than "listening" (a reply's
// events end before its sound does). fn is called with the Status locked.
func (s *Status) SetSpeaking(fn func() bool) {
	s.mu.Lock()
	s.speaking = fn
	s.mu.Unlock()
}

// SetPartial shows a partial transcript (terminal only).
func (s *Status) SetPartial(text string) {
	s.mu.Lock()
	s.partial = text
	s.mu.Unlock()
}

// SetLevel shows the microphone level (terminal only).
func (s *Status) SetLevel(dbfs float64, muted bool) {
	s.mu.Lock()
	s.level, s.muted, s.meter = dbfs, muted, true
	s.mu.Unlock()
}

// SetLatency shows the last turn's latency on the status line.
func (s *Status) SetLatency(text string) {
	s.mu.Lock()
	s.latency = text
	s.mu.Unlock()
}

// SetRTT shows the heartbeat round trip (terminal only).
func (s *Status) SetRTT(d time.Duration) {
	s.mu.Lock()
	s.rtt = d
	s.mu.Unlock()
}

func (s *Status) redraw() {
	defer s.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.mu.Lock()
			s.draw()
			s.mu.Unlock()
		}
	}
}

// clear erases the status line; s.mu is held.
func (s *Status) clear() {
	if s.shown {
		io.WriteString(s.w, "\r\x1b[K")
		s.shown = false
	}
}

// draw writes the status line in place; s.mu is held.
func (s *Status) draw() {
	if !s.tty {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	var b strings.Builder
	state := s.state
	if s.speaking != nil && state == "listening" && s.speaking() {
		state = "speaking"
	}
	b.WriteString("\r\x1b[K\x1b[1m")
	b.WriteString(state)
	b.WriteString("\x1b[0m")
	if s.meter {
		b.WriteString(" │ mic ")
		if s.muted {
			b.WriteString("[  muted   ]")
		} else {
			b.WriteString(meter(s.level, 10))
		}
	}
	if s.rtt > 0 {
		fmt.Fprintf(&b, " │ rtt %s", s.rtt.Round(100*time.Microsecond))
	}
	if s.latency != "" {
		b.WriteString(" │ ")
		b.WriteString(s.latency)
	}
	line := b.String()
	if s.partial != "" {
		line += " │ \x1b[2m" + s.partial + "\x1b[0m"
	}
	io.WriteString(s.w, truncate(line, s.width))
	s.shown = true
}

// meter draws dbfs from -60 to 0 dB as a bar of width cells.
func meter(dbfs float64, width int) string {
	n := int((dbfs + 60) / 60 * float64(width))
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// truncate cuts s to width visible runes, skipping ANSI escapes in the count.
func truncate(s string, width int) string {
	visible, inEsc := 0, false
	for i, r := range s {
		switch {
		case r == '\x1b':
			inEsc = true
		case inEsc:
			if r == 'm' || r == 'K' {
				inEsc = false
			}
		case r == '\r':
		default:
			visible++
			if visible > width {
				return s[:i] + "\x1b[0m"
			}
		}
	}
	return s
}
