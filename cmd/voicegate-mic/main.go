// Command voicegate-mic is a desktop client for a voicegate gateway: it
// speaks from the microphone (or a WAV file) and plays the replies on the
// speaker, with a live status line, an echo guard, and a session that
// survives dropped connections. See docs/mic.md.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/resample"
	"github.com/voicegate/voicegate/audio/wav"
	"github.com/voicegate/voicegate/client"
)

// verbose keeps the audio libraries' diagnostics on stderr (-v).
var verbose bool

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "voicegate-mic:", err)
		os.Exit(1)
	}
}

type options struct {
	url         string
	apiKey      string
	in, out     string
	inputDevice string
	listDevices bool
	echoGuard   string
	hangover    time.Duration
	textOnly    bool
	mute        bool
	playRate    int
	jitter      time.Duration
	inTail      time.Duration
	verbose     bool
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("voicegate-mic", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:8080/ws", "gateway WebSocket `URL`")
	fs.StringVar(&o.apiKey, "api-key", os.Getenv("VOICEGATE_API_KEY"), "API `key` (default $VOICEGATE_API_KEY)")
	fs.StringVar(&o.in, "in", "", "stream this WAV `file` in real time instead of the microphone")
	fs.StringVar(&o.out, "out", "", "save the reply audio as played to this WAV `file`")
	fs.StringVar(&o.inputDevice, "input-device", "", "capture from this device: `NAME|INDEX` (see --list-devices)")
	fs.BoolVar(&o.listDevices, "list-devices", false, "list audio devices and exit")
	fs.StringVar(&o.echoGuard, "echo-guard", "", "keep the speaker out of the microphone: off|half-duplex|aec (default half-duplex with a microphone, off with --in)")
	fs.DurationVar(&o.hangover, "hangover", 300*time.Millisecond, "half-duplex: keep the microphone gated this long after the reply's last sound")
	fs.BoolVar(&o.textOnly, "text-only", false, "type instead of speaking: lines from stdin are turns, replies are text only")
	fs.BoolVar(&o.mute, "mute", false, "do not open the speaker; replies are still paced in real time (and saved with --out)")
	fs.IntVar(&o.playRate, "play-rate", 48000, "playback sample `rate` (Hz)")
	fs.DurationVar(&o.jitter, "jitter-buffer", 60*time.Millisecond, "reply audio gathered before playback starts")
	fs.DurationVar(&o.inTail, "in-tail", 30*time.Second, "with --in: the longest wait for replies after the file ends")
	fs.BoolVar(&o.verbose, "v", false, "log the client's workings to stderr")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch o.echoGuard {
	case "":
		o.echoGuard = guardHalfDuplex
		if o.in != "" {
			o.echoGuard = guardOff // no air between a file and the speaker
		}
	case guardOff, guardHalfDuplex:
	case guardAEC:
		if !haveAEC {
			_, err := newEchoCanceller(sessionRate)
			return o, err
		}
	default:
		return o, fmt.Errorf("--echo-guard %q: want off, half-duplex or aec", o.echoGuard)
	}
	if o.textOnly && (o.in != "" || o.out != "") {
		return o, errors.New("--text-only has no audio: it cannot take --in or --out")
	}
	if !audio.IsSupportedRate(o.playRate) {
		return o, fmt.Errorf("--play-rate %d: want one of %v", o.playRate, audio.SupportedRates)
	}
	return o, nil
}

// run is the program: stdin carries typed turns, stdout the transcript and
// status.
func run(args []string, stdin, stdout *os.File) error {
	o, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	verbose = o.verbose
	if o.listDevices {
		return listDevices(stdout)
	}

	// The first signal ends the session cleanly; stop() then restores the
	// default handling, so a second one kills the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := zap.NewNop()
	if o.verbose {
		if logger, err = zap.NewDevelopment(); err != nil {
			return err
		}
	}
	status := NewStatus(stdout, isTerminal(stdout))
	defer status.Close()

	var player *Player
	if !o.textOnly {
		player = NewPlayer(o.playRate, o.jitter)
	}
	a := newApp(status, player)
	a.guard, a.hangover = o.echoGuard, o.hangover

	// Devices first: fail before connecting.
	var src source
	var file *fileSource
	switch {
	case o.in != "":
		if file, err = openFile(o.in); err != nil {
			return err
		}
		src = file
		status.Printf("input: %s (%d Hz), in real time", o.in, file.Rate())
	case !o.textOnly:
		var desc string
		if src, desc, err = openMic(o.inputDevice); err != nil {
			return err
		}
		status.Printf("input: %s → %d Hz", desc, sessionRate)
	}
	if src != nil {
		defer src.Close()
	}
	var spk speaker
	if player != nil {
		if !o.mute {
			spk, err = openSpeaker(player)
			if err != nil && o.in == "" {
				return fmt.Errorf("%w (use --mute to run without a speaker)", err)
			}
			if err != nil {
				status.Printf("no speaker (%v): replies are paced in real time but not played", err)
			}
		}
		if spk == nil {
			spk = newClockSpeaker(player, player.Rate())
		}
		defer spk.Close()
		a.outDelay = spk.Latency()
		player.OnFirstSound = a.firstSound
		status.SetSpeaking(player.Busy)
	}
	if o.echoGuard == guardAEC {
		if a.aec, err = newEchoCanceller(sessionRate); err != nil {
			return err
		}
		defer a.aec.Close()
		farRS, err := resample.New(o.playRate, sessionRate)
		if err != nil {
			return err
		}
		var far []int16
		player.OnPlayed = func(s []int16) {
			far = farRS.Process(far[:0], s)
			a.aec.Far(far)
		}
	}
	if o.out != "" {
		f, err := os.Create(o.out)
		if err != nil {
			return err
		}
		w, err := wav.NewWriter(f, audio.Format{SampleRate: o.playRate, Channels: 1})
		if err != nil {
			f.Close()
			return err
		}
		player.Record(w)
		defer func() {
			if err := player.StopRecording(); err != nil {
				status.Printf("error: finishing %s: %v", o.out, err)
			}
			f.Close()
		}()
	}

	dialCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	sess, err := client.Dial(dialCtx, client.Config{
		URL:       o.url,
		APIKey:    o.apiKey,
		InputRate: sessionRate,
		TextOnly:  o.textOnly,
		Handler:   a.handle,
		Logger:    logger,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", o.url, err)
	}
	a.sess = sess
	defer sess.Close()

	// The capture loop and its end.
	capCtx, stopCapture := context.WithCancel(ctx)
	defer stopCapture()
	capErr := make(chan error, 1)
	var wg sync.WaitGroup
	if src != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			capErr <- a.capture(capCtx, src)
		}()
	}
	defer wg.Wait()

	// stdin: typed turns. Its reader is the one goroutine not waited for:
	// a read from a terminal cannot be cancelled, and the process exits.
	typed := make(chan string)
	stdinDone := make(chan struct{})
	if o.textOnly || isTerminal(stdin) {
		go readLines(stdin, typed, stdinDone)
	}

	var inDone <-chan time.Time
	if file != nil {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		inDone = t.C
	}

	// Typed turns from a pipe go one at a time: the next line waits for
	// the reply to the last.
	lines := typed
	var result error
	drain := false
loop:
	for {
		select {
		case <-ctx.Done():
			status.Printf("interrupted: closing the session")
			break loop
		case <-sess.Done():
			result = sess.Err()
			break loop
		case err := <-capErr:
			result = err
			break loop
		case line := <-lines:
			a.typed(line)
			if o.textOnly {
				lines = nil
			}
		case <-a.replies:
			if a.idle() {
				lines = typed
			}
		case <-stdinDone:
			if o.textOnly {
				a.waitReplies(ctx)
				break loop
			}
			stdinDone = nil
		case <-inDone:
			ended := file.Ended()
			if ended.IsZero() {
				continue
			}
			since := time.Since(ended)
			if (since > 1500*time.Millisecond && a.idle()) || since > o.inTail {
				drain = true
				break loop
			}
		}
	}
	stop()
	stopCapture()
	wg.Wait()
	if player != nil {
		if drain {
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = player.Drain(dctx)
			cancel()
			time.Sleep(a.outDelay) // the device's buffer
		} else {
			player.Flush()
		}
	}
	_ = sess.Close()
	status.SetState("closed")
	return result
}

// typed sends a line from stdin: text is a turn, an empty line interrupts
// the reply.
func (a *app) typed(line string) {
	line = strings.TrimSpace(line)
	var err error
	if line == "" {
		err = a.sess.Interrupt()
	} else {
		a.status.Printf("you (typed): %s", line)
		a.setPending(true)
		err = a.sess.SendText(line)
	}
	if err != nil {
		a.status.Printf("error: %v", err)
		a.setPending(false)
	}
}

// waitReplies waits until the typed turns have been answered.
func (a *app) waitReplies(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(60 * time.Second)
	for !a.idle() {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			return
		case <-t.C:
		}
	}
}

func readLines(r io.Reader, out chan<- string, done chan<- struct{}) {
	defer close(done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out <- sc.Text()
	}
}
