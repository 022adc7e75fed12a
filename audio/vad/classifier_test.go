package vad

import (
	"testing"
	"time"
)

// scripted is a Classifier that gives each window the probability its
// first sample encodes (sample/1000), and counts its calls.
type scripted struct {
	win            int
	calls, resets  int
	short, nonZero int // windows of the wrong length; windows not all one value
}

func (s *scripted) Window() int { return s.win }
func (s *scripted) Reset()      { s.resets++ }
func (s *scripted) Speech(w []int16) float32 {
	s.calls++
	if len(w) != s.win {
		s.short++
	}
	for _, v := range w {
		if v != w[0] {
			s.nonZero++
			break
		}
	}
	return float32(w[0]) / 1000
}

// probs renders per-window probabilities (in thousandths) as a stream.
func probs(win int, p ...int16) []int16 {
	out := make([]int16, 0, win*len(p))
	for _, v := range p {
		for range win {
			out = append(out, v)
		}
	}
	return out
}

func repeat(v int16, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestClassifierDecides(t *testing.T) {
	const win = 512 // 32 ms at 16 kHz
	cfg := Config{Silence: 320 * time.Millisecond, MinSpeech: 96 * time.Millisecond, PrefixPadding: 64 * time.Millisecond}
	tests := []struct {
		name string
		p    []int16 // per window, in thousandths
		// want: the windows where SpeechStart and SpeechEnd are reported
		// (-1: none), and the utterance's start window.
		startAt, endAt, from int
	}{
		{"below SpeechProb never starts", append(repeat(0, 5), repeat(499, 20)...), -1, -1, 0},
		{"three windows at SpeechProb start", append(repeat(0, 5), append(repeat(500, 3), repeat(0, 20)...)...), 7, 17, 5},
		{"HoldProb keeps it going", append(repeat(0, 5), append(repeat(900, 3), append(repeat(350, 12), repeat(0, 20)...)...)...), 7, 29, 5},
		{"below HoldProb ends it", append(repeat(0, 5), append(repeat(900, 3), append(repeat(349, 12), repeat(0, 20)...)...)...), 7, 17, 5},
		{"one gap does not restart the count", append(repeat(0, 2), append([]int16{800, 0, 800, 800}, repeat(0, 20)...)...), 5, 15, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &scripted{win: win}
			d := NewWith(cfg, 16000, c)
			stream := probs(win, tt.p...)
			startAt, endAt := -1, -1
			frame := 320 // 20 ms frames: windows span frames
			for pos := 0; pos < len(stream); pos += frame {
				end := min(pos+frame, len(stream))
				switch d.Process(stream[pos:end]) {
				case SpeechStart:
					startAt = end/win - 1 // the window just completed
					if got, want := d.StartPosition(), time.Duration(tt.from)*32*time.Millisecond; got != want {
						t.Errorf("StartPosition %v, want %v", got, want)
					}
				case SpeechEnd:
					endAt = end/win - 1
				}
			}
			if startAt != tt.startAt || endAt != tt.endAt {
				t.Errorf("start reported in window %d, end in %d; want %d, %d", startAt, endAt, tt.startAt, tt.endAt)
			}
			if c.calls != len(tt.p) || c.short != 0 || c.nonZero != 0 {
				t.Errorf("%d calls (want %d), %d of the wrong length, %d mixing windows", c.calls, len(tt.p), c.short, c.nonZero)
			}
		})
	}
}

func TestClassifierKeepsLevelAndReset(t *testing.T) {
	c := &scripted{win: 512}
	d := NewWith(Config{}, 16000, c)
	if d.Level() != quietestLevel {
		t.Fatalf("level %v before any audio", d.Level())
	}
	d.Process(repeat(1000, 512)) // probability 1, a DC level the high-pass removes over time
	d.Process(probs(512, 100))
	if d.Level() <= quietestLevel || d.NoiseFloor() <= quietestLevel {
		t.Errorf("level %v, floor %v: not measured", d.Level(), d.NoiseFloor())
	}
	if c.resets != 0 {
		t.Fatalf("%d resets before Reset", c.resets)
	}
	d.Reset()
	if c.resets != 1 || d.Position() != 0 {
		t.Errorf("after Reset: %d classifier resets, position %v", c.resets, d.Position())
	}
	// A nil Classifier is the energy detector.
	if e := NewWith(Config{}, 16000, nil); e.win != 160 {
		t.Errorf("nil classifier: window %d, want 160", e.win)
	}
}

func TestClassifierProcessAllocs(t *testing.T) {
	c := &scripted{win: 512}
	d := NewWith(Config{}, 16000, c)
	frame := probs(320, 900)
	d.Process(frame)
	if n := testing.AllocsPerRun(200, func() { d.Process(frame) }); n != 0 {
		t.Errorf("Process allocates %v times per frame", n)
	}
}
