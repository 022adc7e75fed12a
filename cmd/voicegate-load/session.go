package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/gateway/protocol"
)

// clock is monotonic time since a run began, cheap to store in an atomic.
type clock struct{ epoch time.Time }

func (c clock) now() time.Duration { return time.Since(c.epoch) }

// latencies are the provider delays the gateway was configured with; what
// the gateway adds is what is measured beyond them.
type latencies struct {
	Silence       time.Duration `json:"vad_silence"`
	ASR           time.Duration `json:"asr"`
	LLMFirstToken time.Duration `json:"llm_first_token"`
	TTS           time.Duration `json:"tts"`
}

func (c latencies) providers() time.Duration { return c.ASR + c.LLMFirstToken + c.TTS }

// load is the client side of one run: its sessions and what they saw.
type load struct {
	clk      clock
	fr       *frames
	pat      pattern
	cfg      latencies
	protocol bool          // speak voicegate's protocol; false against the bare baseline server
	maxLag   time.Duration // a shard further behind than this skips frames
	// echoEvery is the baseline's: it echoes every echoEvery-th frame
	// of a connection, and the client times those round trips.
	echoEvery int

	mode      atomic.Int32 // modeIdle, modeSilence or modeSpeech
	measuring atomic.Bool  // record send lag
	closing   atomic.Bool  // disconnects from now on are ours

	readers sync.WaitGroup

	connectErrs, writeErrs, disconnects, errorEvents atomic.Int64
	responses, cancelled, traces, replies            atomic.Int64
	audioMsgs, audioBytes, textMsgs                  atomic.Int64

	e2e    samples // end of speech → first reply audio byte
	echo   samples // baseline: an echoed frame written → its echo read
	hidden samples // e2e − the trace's first_audio_sent_ms, per turn
	// beyondVAD is e2e − the trace's endpoint_ms (the silence the VAD
	// waited, its window included) − the providers' latencies, per turn.
	beyondVAD samples
	stage     [nStages]samples // turn.latency milestones, as sent
	hop       [nHops]samples   // turn.latency hops minus their configured provider latency
	mu        sync.Mutex       // guards errs
	errs      map[string]int   // error descriptions, for the report
}

// The milestones of turn.latency and the hops between them.
const (
	stEndpoint = iota
	stASRFinal
	stLLMFirst
	stFirstSentence
	stTTSFirst
	stFirstAudioSent
	nStages
)

var stageNames = [nStages]string{"endpoint", "asr_final", "llm_first_token", "first_sentence", "tts_first_audio", "first_audio_sent"}

const (
	hopVAD     = iota // endpoint − VAD silence
	hopASR            // asr_final − endpoint − ASR latency
	hopLLM            // llm_first_token − asr_final − LLM first-token latency
	hopChunker        // first_sentence − llm_first_token
	hopTTS            // tts_first_audio − first_sentence − TTS latency
	hopSend           // first_audio_sent − tts_first_audio
	nHops
)

var hopNames = [nHops]string{"vad", "asr", "llm", "chunker", "tts", "send"}

// session is one client connection. The sender fields belong to the
// session's scheduler shard, the reader fields to its reader goroutine.
type session struct {
	id   int
	conn *websocket.Conn
	dead atomic.Bool

	// Sender state.
	voicing bool
	left    int // frames left in the current utterance or pause
	vi      int // next voice frame
	rng     uint64
	sentN   int // frames written
	// echoAt is, against the baseline, when the last frame it will echo
	// was written (clock time), until the echo is read.
	echoAt atomic.Int64

	// Written by the sender when an utterance's last voiced frame is out,
	// read by the reader when the reply's first audio arrives.
	lastVoiceEnd atomic.Int64 // clock time
	utterances   atomic.Int64

	// Reader state.
	armed, matched int64   // utterance a reply was announced for; the last one timed
	lastE2E        float64 // ms, the last reply's end of speech → first audio, until its trace arrives
}

func (l *load) noteErr(kind string, err error) {
	msg := kind
	if err != nil {
		msg += ": " + err.Error()
		if len(msg) > 160 {
			msg = msg[:160]
		}
	}
	l.mu.Lock()
	if l.errs == nil {
		l.errs = make(map[string]int)
	}
	l.errs[msg]++
	l.mu.Unlock()
}

// lost marks s dead after a failed read or write, counting it on counter
// unless the run is closing its sessions.
func (l *load) lost(s *session, err error, counter *atomic.Int64) {
	if s.dead.Swap(true) || l.closing.Load() {
		return
	}
	counter.Add(1)
	l.noteErr("disconnected", err)
	s.conn.CloseNow()
}

// startMsg opens a voicegate session with 16 kHz audio both ways.
var startMsg = must(json.Marshal(protocol.SessionStart{
	Type: protocol.TypeSessionStart, Version: protocol.Version,
	InputAudio: &protocol.AudioFormat{SampleRate: 16000}, OutputAudio: &protocol.AudioFormat{SampleRate: 16000},
}))

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// dial opens session id and, against the gateway, starts it; its reader
// runs until the connection ends.
func (l *load) dial(ctx context.Context, url string, id int) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	if l.protocol {
		if err := c.Write(ctx, websocket.MessageText, startMsg); err != nil {
			c.CloseNow()
			return nil, err
		}
		for {
			_, msg, err := c.Read(ctx)
			if err != nil {
				c.CloseNow()
				return nil, err
			}
			t := msgType(msg)
			if t == protocol.TypeSessionStarted {
				break
			}
			if t == protocol.TypeError {
				c.CloseNow()
				return nil, fmt.Errorf("session.start refused: %s", msg)
			}
		}
	}
	s := &session{id: id, conn: c, rng: uint64(id)*0x9E3779B97F4A7C15 | 1}
	// Stagger: start somewhere in the first cycle, part-way through a pause.
	s.left = 1 + int(xorshift(&s.rng)%uint64(len(l.fr.voice)+l.pat.pauseMax))
	l.readers.Add(1)
	go func() {
		defer l.readers.Done()
		l.read(s)
	}()
	return s, nil
}

// readBuf holds one text message; binary messages and the tail of an
// oversized text message are read into the scratch half and dropped.
const readBuf = 4096

func (l *load) read(s *session) {
	buf := make([]byte, 2*readBuf)
	ctx := context.Background()
	for {
		typ, r, err := s.conn.Reader(ctx)
		if err != nil {
			l.lost(s, err, &l.disconnects)
			return
		}
		var n int
		if typ == websocket.MessageBinary {
			n, err = drain(r, buf[readBuf:])
		} else {
			n, err = readText(r, buf)
		}
		if err != nil {
			l.lost(s, err, &l.disconnects)
			return
		}
		now := l.clk.now()
		if typ == websocket.MessageBinary {
			l.audioMsgs.Add(1)
			l.audioBytes.Add(int64(n))
			if !l.protocol {
				if at := s.echoAt.Swap(0); at > 0 && l.measuring.Load() {
					l.echo.add(now - time.Duration(at))
				}
				continue
			}
			if s.armed > s.matched {
				s.matched = s.armed
				e2e := now - time.Duration(s.lastVoiceEnd.Load())
				l.e2e.add(e2e)
				s.lastE2E = float64(e2e) / float64(time.Millisecond)
				l.replies.Add(1)
			}
			continue
		}
		l.textMsgs.Add(1)
		if l.protocol {
			l.event(s, buf[:min(n, readBuf)])
		}
	}
}

// drain reads a message to its end, returning its length.
func drain(r io.Reader, scratch []byte) (int, error) {
	n := 0
	for {
		m, err := r.Read(scratch)
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// readText reads a message into buf[:readBuf], dropping whatever does not fit.
func readText(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < readBuf {
		m, err := r.Read(buf[n:readBuf])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	m, err := drain(r, buf[readBuf:])
	return n + m, err
}

// msgType finds a server message's "type" without decoding it: the gateway
// writes it first, and this runs for every event of every session.
func msgType(msg []byte) string {
	const key = `"type":"`
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return ""
	}
	rest := msg[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	switch t := rest[:j]; string(t) { // the switch on string(t) does not allocate
	case protocol.TypeAudioStart:
		return protocol.TypeAudioStart
	case protocol.TypeResponseDone:
		return protocol.TypeResponseDone
	case protocol.TypeResponseCancelled:
		return protocol.TypeResponseCancelled
	case protocol.TypeTurnLatency:
		return protocol.TypeTurnLatency
	case protocol.TypeError:
		return protocol.TypeError
	case protocol.TypeSessionStarted:
		return protocol.TypeSessionStarted
	default:
		return "other"
	}
}

func (l *load) event(s *session, msg []byte) {
	switch msgType(msg) {
	case protocol.TypeAudioStart:
		s.armed = s.utterances.Load()
	case protocol.TypeResponseDone:
		l.responses.Add(1)
	case protocol.TypeResponseCancelled:
		l.cancelled.Add(1)
	case protocol.TypeTurnLatency:
		var tl protocol.TurnLatency
		if err := json.Unmarshal(msg, &tl); err != nil {
			l.noteErr("bad turn.latency", err)
			return
		}
		l.traces.Add(1)
		l.trace(&tl)
		if s.lastE2E > 0 && tl.FirstAudioMS != nil && !tl.Cancelled {
			l.hidden.addMS(s.lastE2E - *tl.FirstAudioMS)
		}
		if s.lastE2E > 0 && tl.EndpointMS != nil && !tl.Cancelled && !tl.TextInput {
			l.beyondVAD.addMS(s.lastE2E - *tl.EndpointMS - float64(l.cfg.providers())/float64(time.Millisecond))
		}
		s.lastE2E = 0
	case protocol.TypeError:
		var e protocol.Error
		_ = json.Unmarshal(msg, &e)
		l.errorEvents.Add(1)
		l.noteErr("error event", errors.New(string(e.Code)+": "+e.Message))
	}
}

// trace records a turn's milestones and, where both ends of a hop are
// present, what the hop took beyond its provider's configured latency.
func (l *load) trace(tl *protocol.TurnLatency) {
	if tl.TextInput || tl.Cancelled {
		return
	}
	ms := [nStages]*float64{tl.EndpointMS, tl.ASRFinalMS, tl.LLMFirstMS, tl.FirstSentMS, tl.TTSFirstMS, tl.FirstAudioMS}
	for i, v := range ms {
		if v != nil {
			l.stage[i].addMS(*v)
		}
	}
	msOf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	hop := func(h int, from, to *float64, configured time.Duration) {
		if from != nil && to != nil {
			l.hop[h].addMS(*to - *from - msOf(configured))
		}
	}
	zero := 0.0
	hop(hopVAD, &zero, tl.EndpointMS, l.cfg.Silence)
	hop(hopASR, tl.EndpointMS, tl.ASRFinalMS, l.cfg.ASR)
	hop(hopLLM, tl.ASRFinalMS, tl.LLMFirstMS, l.cfg.LLMFirstToken)
	hop(hopChunker, tl.LLMFirstMS, tl.FirstSentMS, 0)
	hop(hopTTS, tl.FirstSentMS, tl.TTSFirstMS, l.cfg.TTS)
	hop(hopSend, tl.TTSFirstMS, tl.FirstAudioMS, 0)
}

// closeAll ends every session with a normal closure and waits for the readers.
func (l *load) closeAll(sessions []*session) {
	l.closing.Store(true)
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, s := range sessions {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.conn.Close(websocket.StatusNormalClosure, "load run over"); err != nil && !errors.Is(err, net.ErrClosed) {
				s.conn.CloseNow()
			}
		}()
	}
	wg.Wait()
	l.readers.Wait()
}

// utterances sums what the sessions have finished saying.
func utterances(sessions []*session) int64 {
	var n int64
	for _, s := range sessions {
		n += s.utterances.Load()
	}
	return n
}
