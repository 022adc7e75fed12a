package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/resample"
	"github.com/voicegate/voicegate/client"
	"github.com/voicegate/voicegate/gateway/protocol"
)

// sessionRate is the rate the microphone is sent at: what speech
// recognisers want, and the gateway's default.
const sessionRate = 16000

// Echo guards.
const (
	guardOff        = "off"
	guardHalfDuplex = "half-duplex"
	guardAEC        = "aec"
)

// app ties the pieces together: the client session's events drive the
// Player and the Status; the capture loop feeds the session.
type app struct {
	status   *Status
	player   *Player // nil when text-only
	guard    string
	hangover time.Duration
	outDelay time.Duration // the speaker's latency
	aec      echoCanceller
	sess     *client.Session

	// Used only by the client's Handler goroutine.
	playRS  *resample.Resampler // reply rate → player rate
	playBuf []int16
	reply   strings.Builder

	mu        sync.Mutex
	stoppedAt map[uint64]time.Time // speech.stopped, by turn
	pending   bool                 // a user turn awaits the end of its reply
	replies   chan struct{}        // one per finished reply (text-only stdin waits on it)
}

func newApp(status *Status, player *Player) *app {
	return &app{status: status, player: player, stoppedAt: make(map[uint64]time.Time), replies: make(chan struct{}, 16)}
}

// handle is the client.Handler: it runs on the session's reader goroutine
// and must not block.
func (a *app) handle(ev client.Event) {
	switch e := ev.(type) {
	case *client.Connected:
		a.connected(e)
	case *client.Disconnected:
		a.status.Printf("disconnected: %v; reconnecting (attempt %d) in %v", e.Err, e.Attempt, e.Retry.Round(time.Millisecond))
		a.status.SetState("reconnecting")
		a.endReply() // what was received still plays; the rest will not come
	case *protocol.Speech:
		if e.Type == protocol.TypeSpeechStarted {
			a.setPending(true)
			a.status.SetState("hearing you")
			return
		}
		a.mu.Lock()
		a.stoppedAt[e.Turn] = time.Now()
		a.mu.Unlock()
		a.status.SetState("thinking")
	case *protocol.Transcript:
		if e.Type == protocol.TypeTranscriptPartial {
			a.status.SetPartial(e.Text)
			return
		}
		a.status.SetPartial("")
		if strings.TrimSpace(e.Text) == "" {
			a.status.Printf("you: (nothing recognised)")
			a.finishReply()
			return
		}
		a.status.Printf("you: %s", e.Text)
	case *protocol.TextDelta:
		a.reply.WriteString(e.Delta)
		a.status.SetPartial("assistant: " + a.reply.String())
	case *protocol.AudioStart:
		a.startAudio(e)
	case *client.Audio:
		if a.player != nil && a.playRS != nil {
			a.playBuf = a.playRS.Process(a.playBuf[:0], e.Samples)
			a.player.Push(a.playBuf)
		}
	case *protocol.AudioDone:
		a.endReply()
	case *protocol.ResponseDone:
		a.status.SetPartial("")
		a.status.Printf("assistant: %s", e.Text)
		a.reply.Reset()
		a.status.SetState("listening")
		a.finishReply()
	case *protocol.ResponseCancelled:
		if a.player != nil {
			a.player.Flush()
		}
		if a.playRS != nil {
			a.playRS.Reset()
		}
		a.status.SetPartial("")
		a.status.Printf("assistant (cut short, %s): %s", e.Reason, e.Text)
		a.reply.Reset()
		a.status.SetState("listening")
		a.finishReply()
	case *protocol.TurnLatency:
		a.latency(e)
	case *client.Heartbeat:
		a.status.SetRTT(e.RTT)
	case *client.Error:
		a.status.Printf("error: %v", e)
		if e.Turn != 0 || e.Fatal {
			a.finishReply()
		}
	}
}

func (a *app) connected(e *client.Connected) {
	st := e.Started
	switch {
	case !e.Reconnect:
		p := st.Providers
		a.status.Printf("connected: session %s (vad %s, asr %s, llm %s, tts %s); mic sent at %d Hz, replies at %d Hz",
			st.SessionID, p.VAD, p.ASR, p.LLM, p.TTS, st.InputAudio.SampleRate, st.OutputAudio.SampleRate)
	case e.ResumeFailed:
		a.status.Printf("reconnected: new session %s (the gateway could not resume the old one)", st.SessionID)
	case st.Resumed:
		a.status.Printf("reconnected: resumed session %s", st.SessionID)
	default:
		a.status.Printf("reconnected: session %s", st.SessionID)
	}
	a.setPending(false)
	a.status.SetState("listening")
}

func (a *app) startAudio(e *protocol.AudioStart) {
	if a.player == nil {
		return
	}
	if a.playRS == nil || func() bool { from, _ := a.playRS.Rates(); return from != e.SampleRate }() {
		rs, err := resample.New(e.SampleRate, a.player.Rate())
		if err != nil {
			a.status.Printf("error: reply audio at %d Hz: %v", e.SampleRate, err)
			a.playRS = nil
			return
		}
		a.playRS = rs
	}
	a.playRS.Reset()
	a.player.Start(e.Turn)
	a.status.SetState("speaking")
}

// endReply plays out what has arrived of the reply's audio.
func (a *app) endReply() {
	if a.player == nil {
		return
	}
	if a.playRS != nil {
		a.playBuf = a.playRS.Flush(a.playBuf[:0])
		a.player.Push(a.playBuf)
	}
	a.player.End()
}

func (a *app) setPending(v bool) {
	a.mu.Lock()
	a.pending = v
	a.mu.Unlock()
}

func (a *app) finishReply() {
	a.setPending(false)
	select {
	case a.replies <- struct{}{}:
	default:
	}
}

// idle reports whether no user turn awaits a reply and nothing is playing.
func (a *app) idle() bool {
	a.mu.Lock()
	pending := a.pending
	a.mu.Unlock()
	return !pending && (a.player == nil || !a.player.Busy())
}

// firstSound is the Player's OnFirstSound: it reports the client-side
// latency from the gateway's end-of-speech to the reply's first audio
// going out to the speaker.
func (a *app) firstSound(turn uint64, at time.Time) {
	a.mu.Lock()
	stopped, ok := a.stoppedAt[turn]
	delete(a.stoppedAt, turn)
	a.mu.Unlock()
	if !ok {
		return
	}
	d := at.Sub(stopped).Round(time.Millisecond)
	if a.outDelay > 0 {
		a.status.Printf("heard: turn %d, reply audio went to the speaker %v after speech.stopped (+~%v in device buffers)",
			turn, d, a.outDelay)
		return
	}
	a.status.Printf("heard: turn %d, reply audio went out %v after speech.stopped", turn, d)
}

func (a *app) latency(e *protocol.TurnLatency) {
	var parts []string
	add := func(name string, v *float64) {
		if v != nil {
			parts = append(parts, fmt.Sprintf("%s %.0f ms", name, *v))
		}
	}
	add("endpoint", e.EndpointMS)
	add("asr final", e.ASRFinalMS)
	add("llm first token", e.LLMFirstMS)
	add("first sentence", e.FirstSentMS)
	add("tts first audio", e.TTSFirstMS)
	add("first audio sent", e.FirstAudioMS)
	kind := ""
	if e.TextInput {
		kind = " (typed)"
	}
	if e.Cancelled {
		kind += " (cancelled)"
	}
	a.status.Printf("latency: turn %d%s: %s", e.Turn, kind, strings.Join(parts, ", "))
	if e.FirstAudioMS != nil {
		a.status.SetLatency(fmt.Sprintf("last turn: first audio %.0f ms", *e.FirstAudioMS))
	}
}

// echoActive reports whether the speaker may still be sounding: reply
// audio queued, or handed out within the device latency plus the
// hang-over (room echo, and the VAD's own attack).
func (a *app) echoActive() bool {
	if a.player == nil {
		return false
	}
	last, now := a.player.LastSound()
	return now || (!last.IsZero() && time.Since(last) < a.outDelay+a.hangover)
}

// capture runs the microphone loop until ctx ends: resample to the session
// rate, cancel or gate the echo, show the level, send.
func (a *app) capture(ctx context.Context, src source) error {
	rs, err := resample.New(src.Rate(), sessionRate)
	if err != nil {
		return err
	}
	var buf, clean []int16
	for ctx.Err() == nil {
		in, err := src.Next()
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		buf = rs.Process(buf[:0], in)
		if a.aec != nil {
			clean = a.aec.Process(clean[:0], buf)
			buf, clean = clean, buf
		}
		level := audio.DBFS(audio.RMS(buf))
		muted := a.guard == guardHalfDuplex && a.echoActive()
		if muted {
			clear(buf)
		}
		a.status.SetLevel(level, muted)
		if err := a.sess.SendAudio(buf); err != nil && !errors.Is(err, client.ErrNotConnected) {
			if errors.Is(err, client.ErrClosed) {
				return nil
			}
			return err
		}
	}
	return nil
}
