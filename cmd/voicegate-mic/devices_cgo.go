//go:build cgo

package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ebitengine/oto/v3"
	"github.com/gordonklaus/portaudio"
)

// listDevices prints the audio devices portaudio sees.
func listDevices(w io.Writer) error {
	var err error
	quietDevices(func() { err = portaudio.Initialize() })
	if err != nil {
		return fmt.Errorf("portaudio: %w", err)
	}
	defer portaudio.Terminate()
	devs, err := portaudio.Devices()
	if err != nil {
		return fmt.Errorf("portaudio: %w", err)
	}
	defIn, _ := portaudio.DefaultInputDevice()
	defOut, _ := portaudio.DefaultOutputDevice()
	fmt.Fprintf(w, "%-5s %-3s %-40s %-12s %4s %4s %8s\n", "INDEX", "", "NAME", "HOST API", "IN", "OUT", "RATE")
	for _, d := range devs {
		mark := ""
		if defIn != nil && d.Index == defIn.Index {
			mark += "i"
		}
		if defOut != nil && d.Index == defOut.Index {
			mark += "o"
		}
		fmt.Fprintf(w, "%-5d %-3s %-40s %-12s %4d %4d %8.0f\n", d.Index, mark, d.Name, d.HostApi.Name,
			d.MaxInputChannels, d.MaxOutputChannels, d.DefaultSampleRate)
	}
	fmt.Fprintln(w, "(i = default input, o = default output; pick one with --input-device NAME|INDEX)")
	return nil
}

// paMic captures from a portaudio input device at its native rate.
type paMic struct {
	stream    *portaudio.Stream
	buf       []int16
	rate      int
	name      string
	overflows int
}

// openMic opens the named input device (an index, an exact name, or a
// unique part of a name; "" for the default) and starts capturing.
func openMic(name string) (source, string, error) {
	var err error
	quietDevices(func() { err = portaudio.Initialize() })
	if err != nil {
		return nil, "", fmt.Errorf("portaudio: %w", err)
	}
	dev, err := findInput(name)
	if err != nil {
		portaudio.Terminate()
		return nil, "", err
	}
	rate := int(dev.DefaultSampleRate)
	frames := rate * int(chunk/time.Millisecond) / 1000
	m := &paMic{buf: make([]int16, frames), rate: rate, name: dev.Name}
	params := portaudio.StreamParameters{
		Input:           portaudio.StreamDeviceParameters{Device: dev, Channels: 1, Latency: dev.DefaultLowInputLatency},
		SampleRate:      dev.DefaultSampleRate,
		FramesPerBuffer: frames,
	}
	quietDevices(func() { m.stream, err = portaudio.OpenStream(params, m.buf) })
	if err != nil {
		portaudio.Terminate()
		return nil, "", fmt.Errorf("opening input device %q: %w", dev.Name, err)
	}
	if err := m.stream.Start(); err != nil {
		m.stream.Close()
		portaudio.Terminate()
		return nil, "", fmt.Errorf("starting input device %q: %w", dev.Name, err)
	}
	return m, fmt.Sprintf("%q (%s, %d Hz)", dev.Name, dev.HostApi.Name, rate), nil
}

func findInput(name string) (*portaudio.DeviceInfo, error) {
	if name == "" {
		dev, err := portaudio.DefaultInputDevice()
		if err != nil {
			return nil, fmt.Errorf("no default input device (%v); see --list-devices", err)
		}
		return dev, nil
	}
	devs, err := portaudio.Devices()
	if err != nil {
		return nil, fmt.Errorf("portaudio: %w", err)
	}
	var inputs []*portaudio.DeviceInfo
	for _, d := range devs {
		if d.MaxInputChannels > 0 {
			inputs = append(inputs, d)
		}
	}
	if idx, err := strconv.Atoi(name); err == nil {
		for _, d := range inputs {
			if d.Index == idx {
				return d, nil
			}
		}
		return nil, fmt.Errorf("no input device with index %d; see --list-devices", idx)
	}
	var partial []*portaudio.DeviceInfo
	for _, d := range inputs {
		if strings.EqualFold(d.Name, name) {
			return d, nil
		}
		if strings.Contains(strings.ToLower(d.Name), strings.ToLower(name)) {
			partial = append(partial, d)
		}
	}
	switch len(partial) {
	case 1:
		return partial[0], nil
	case 0:
		return nil, fmt.Errorf("no input device matches %q; see --list-devices", name)
	}
	names := make([]string, len(partial))
	for i, d := range partial {
		names[i] = fmt.Sprintf("%d %q", d.Index, d.Name)
	}
	return nil, fmt.Errorf("%q matches several input devices (%s); give an index", name, strings.Join(names, ", "))
}

func (m *paMic) Rate() int { return m.rate }

func (m *paMic) Next() ([]int16, error) {
	err := m.stream.Read()
	if errors.Is(err, portaudio.InputOverflowed) {
		// We were late and the device dropped audio: carry on.
		m.overflows++
		err = nil
	}
	return m.buf, err
}

func (m *paMic) Close() error {
	err := m.stream.Stop()
	if cerr := m.stream.Close(); err == nil {
		err = cerr
	}
	portaudio.Terminate()
	return err
}

// otoSpeaker plays a Player through the default output device.
type otoSpeaker struct {
	player  *oto.Player
	latency time.Duration
}

// deviceBuffer is the output device's buffer: small, so a cut reply stops
// soon and the echo guard's estimate of what is still audible is tight.
const deviceBuffer = 60 * time.Millisecond

// openSpeaker starts playing p on the default output device.
func openSpeaker(p *Player) (speaker, error) {
	var ctx *oto.Context
	var err error
	quietDevices(func() {
		var ready chan struct{}
		ctx, ready, err = oto.NewContext(&oto.NewContextOptions{
			SampleRate:   p.Rate(),
			ChannelCount: 1,
			Format:       oto.FormatSignedInt16LE,
			BufferSize:   deviceBuffer,
		})
		if err == nil {
			<-ready
			err = ctx.Err()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("opening the output device: %w", err)
	}
	pl := ctx.NewPlayer(p)
	// oto reads its source in pieces of this size and holds up to two:
	// 20 ms keeps the queue ahead of the device short.
	pl.SetBufferSize(2 * p.Rate() * int(chunk/time.Millisecond) / 1000)
	pl.Play()
	return &otoSpeaker{player: pl, latency: deviceBuffer + 2*chunk}, nil
}

func (s *otoSpeaker) Latency() time.Duration { return s.latency }

// Close stops playback. oto's context (one per process) stays open until
// the process exits.
func (s *otoSpeaker) Close() error {
	s.player.Pause() // oto ≥ 3.4 frees a player without Close
	return nil
}
