package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
)

// chunk is the capture granularity: 20 ms, the frame size speech
// recognisers and the gateway's VAD work in.
const chunk = 20 * time.Millisecond

// source is a microphone: chunks of mono PCM16 at Rate, at real-time pace.
// It is used by one goroutine.
type source interface {
	Rate() int
	// Next blocks until the next chunk is due and returns it; the slice is
	// valid until the next call.
	Next() ([]int16, error)
	Close() error
}

// speaker plays a Player until Close.
type speaker interface {
	// Latency is how long a sample handed to the device takes to be heard
	// (device and mixer buffers), as far as we can tell.
	Latency() time.Duration
	Close() error
}

// fileSource plays a WAV file as if it were a microphone, in real time,
// then silence (so the gateway's VAD can close the last utterance) until
// closed. Ended reports when the file's audio is all out.
type fileSource struct {
	rate    int
	samples []int16
	pos     int
	per     int
	silence []int16
	start   time.Time
	sent    int // samples handed out, silence included
	mu      sync.Mutex
	endedAt time.Time
}

func openFile(path string) (*fileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	format, samples, err := wav.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if format.SampleRate < 8000 || format.SampleRate > 192000 {
		return nil, fmt.Errorf("%s: sample rate %d Hz is out of range", path, format.SampleRate)
	}
	if format.Channels > 1 {
		samples = wav.ToMono(nil, samples, format.Channels)
	}
	per := audio.Format{SampleRate: format.SampleRate, Channels: 1}.Samples(chunk)
	return &fileSource{rate: format.SampleRate, samples: samples, per: per, silence: make([]int16, per)}, nil
}

func (s *fileSource) Rate() int { return s.rate }

func (s *fileSource) Next() ([]int16, error) {
	if s.start.IsZero() {
		s.start = time.Now()
	}
	// Pace by the total handed out, so the stream does not drift.
	due := s.start.Add(time.Duration(int64(s.sent) * int64(time.Second) / int64(s.rate)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
	var out []int16
	if s.pos < len(s.samples) {
		end := min(s.pos+s.per, len(s.samples))
		out = s.samples[s.pos:end]
		s.pos = end
		if s.pos == len(s.samples) {
			s.mu.Lock()
			s.endedAt = time.Now()
			s.mu.Unlock()
		}
	} else {
		out = s.silence
	}
	s.sent += len(out)
	return out, nil
}

// Ended returns when the file's last sample was handed out (zero before).
func (s *fileSource) Ended() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endedAt
}

func (s *fileSource) Close() error { return nil }

// clockSpeaker stands in for a sound card: it reads a Player in real time
// and throws the audio away (the Player may be recording it to --out).
type clockSpeaker struct {
	done chan struct{}
	wg   sync.WaitGroup
}

func newClockSpeaker(p io.Reader, rate int) *clockSpeaker {
	c := &clockSpeaker{done: make(chan struct{})}
	c.wg.Add(1)
	go c.run(p, rate)
	return c
}

func (c *clockSpeaker) run(p io.Reader, rate int) {
	defer c.wg.Done()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	start := time.Now()
	var played int64
	buf := make([]byte, 2*rate) // up to 1 s, should the process stall
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			due := int64(now.Sub(start)) * int64(rate) / int64(time.Second)
			n := min(int(due-played), len(buf)/2)
			if n <= 0 {
				continue
			}
			_, _ = p.Read(buf[:2*n])
			played += int64(n)
			if due-played > int64(rate) {
				played = due // drop a long stall rather than race to catch up
			}
		}
	}
}

func (c *clockSpeaker) Latency() time.Duration { return 0 }

func (c *clockSpeaker) Close() error {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	c.wg.Wait()
	return nil
}
