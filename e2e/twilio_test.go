//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/audio/g711"
	"github.com/voicegate/voicegate/audio/resample"
)

// The messages of Twilio Media Streams, as Twilio publishes them (docs:
// Media Streams - WebSocket Messages): what this test's "Twilio" sends, and
// what it reads back from the gateway.
type (
	twStart struct {
		Event          string `json:"event"`
		SequenceNumber string `json:"sequenceNumber"`
		Start          struct {
			AccountSid       string            `json:"accountSid"`
			StreamSid        string            `json:"streamSid"`
			CallSid          string            `json:"callSid"`
			Tracks           []string          `json:"tracks"`
			CustomParameters map[string]string `json:"customParameters"`
			MediaFormat      struct {
				Encoding   string `json:"encoding"`
				SampleRate int    `json:"sampleRate"`
				Channels   int    `json:"channels"`
			} `json:"mediaFormat"`
		} `json:"start"`
		StreamSid string `json:"streamSid"`
	}
	twMedia struct {
		Event          string `json:"event"`
		SequenceNumber string `json:"sequenceNumber,omitempty"`
		Media          struct {
			Track     string `json:"track,omitempty"`
			Chunk     string `json:"chunk,omitempty"`
			Timestamp string `json:"timestamp,omitempty"`
			Payload   string `json:"payload"`
		} `json:"media"`
		StreamSid string `json:"streamSid"`
	}
	twMark struct {
		Event          string `json:"event"`
		SequenceNumber string `json:"sequenceNumber,omitempty"`
		StreamSid      string `json:"streamSid"`
		Mark           struct {
			Name string `json:"name"`
		} `json:"mark"`
	}
	twStop struct {
		Event          string `json:"event"`
		SequenceNumber string `json:"sequenceNumber"`
		Stop           struct {
			AccountSid string `json:"accountSid"`
			CallSid    string `json:"callSid"`
		} `json:"stop"`
		StreamSid string `json:"streamSid"`
	}
)

const (
	twStream  = "MZ5e1f0c8e2b7a4d3c9f6e1d2c3b4a5f60"
	twAccount = "AC0123456789abcdef0123456789abcdef"
	twCall    = "CA0123456789abcdef0123456789abcdef"
)

// fakeTwilio is Twilio's side of one call: it streams the caller's audio
// as inbound media, paced in real time, and "plays" what the gateway sends
// as Twilio does: media in order at real-time pace, each mark echoed when
// the audio before it has played, and on clear the rest dropped and every
// pending mark echoed at once.
type fakeTwilio struct {
	t  *testing.T
	ws *websocket.Conn

	seq   atomic.Int64
	chunk int
	sent  int // inbound samples sent
	start time.Time

	mu        sync.Mutex
	playEnd   time.Time              // when the queued audio has played
	pending   map[string]*time.Timer // marks not played yet
	played    []string               // marks echoed as played, in order
	flushed   []string               // marks echoed because of a clear
	clears    []time.Time
	media     []time.Time // arrival of each media message
	audio     int         // μ-law bytes received
	lateMarks []string    // marks of turn 2 (the one cut) sent after the clear
	readErr   error
	closed    chan struct{}
}

func (f *fakeTwilio) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		f.t.Error(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.ws.Write(ctx, websocket.MessageText, b); err != nil && !f.isClosed() {
		f.t.Errorf("write: %v", err)
	}
}

func (f *fakeTwilio) isClosed() bool {
	select {
	case <-f.closed:
		return true
	default:
		return false
	}
}

func (f *fakeTwilio) nextSeq() string { return strconv.FormatInt(f.seq.Add(1), 10) }

func (f *fakeTwilio) begin() {
	f.send(map[string]string{"event": "connected", "protocol": "Call", "version": "1.0.0"})
	var m twStart
	m.Event, m.SequenceNumber, m.StreamSid = "start", f.nextSeq(), twStream
	m.Start.AccountSid, m.Start.StreamSid, m.Start.CallSid = twAccount, twStream, twCall
	m.Start.Tracks = []string{"inbound"}
	m.Start.CustomParameters = map[string]string{}
	m.Start.MediaFormat.Encoding, m.Start.MediaFormat.SampleRate, m.Start.MediaFormat.Channels = "audio/x-mulaw", 8000, 1
	f.send(m)
}

// stream sends 8 kHz samples as μ-law media, 20 ms a message, at the pace
// of a phone line.
func (f *fakeTwilio) stream(samples []int16) {
	if f.start.IsZero() {
		f.start = time.Now()
	}
	for len(samples) > 0 {
		n := min(160, len(samples))
		if wait := time.Until(f.start.Add(g711.Format.Duration(f.sent))); wait > 0 {
			time.Sleep(wait)
		}
		f.chunk++
		var m twMedia
		m.Event, m.SequenceNumber, m.StreamSid = "media", f.nextSeq(), twStream
		m.Media.Track, m.Media.Chunk = "inbound", strconv.Itoa(f.chunk)
		m.Media.Timestamp = strconv.FormatInt(g711.Format.Duration(f.sent).Milliseconds(), 10)
		m.Media.Payload = base64.StdEncoding.EncodeToString(g711.EncodeMuLaw(nil, samples[:n]))
		f.send(m)
		f.sent += n
		samples = samples[n:]
	}
}

func (f *fakeTwilio) echo(name string) {
	var m twMark
	m.Event, m.SequenceNumber, m.StreamSid, m.Mark.Name = "mark", f.nextSeq(), twStream, name
	f.send(m)
}

// read plays what the gateway sends until the stream closes.
func (f *fakeTwilio) read() {
	defer close(f.closed)
	for {
		typ, b, err := f.ws.Read(context.Background())
		if err != nil {
			f.mu.Lock()
			f.readErr = err
			f.mu.Unlock()
			return
		}
		if typ != websocket.MessageText {
			f.t.Errorf("the gateway sent a binary message")
			continue
		}
		var env struct {
			Event     string `json:"event"`
			StreamSid string `json:"streamSid"`
		}
		if err := json.Unmarshal(b, &env); err != nil || env.StreamSid != twStream {
			f.t.Errorf("message %s: %v", b, err)
			continue
		}
		now := time.Now()
		f.mu.Lock()
		if f.playEnd.Before(now) {
			f.playEnd = now
		}
		switch env.Event {
		case "media":
			var m twMedia
			json.Unmarshal(b, &m)
			pcm, err := base64.StdEncoding.DecodeString(m.Media.Payload)
			if err != nil || len(pcm) == 0 {
				f.t.Errorf("media payload %q: %v", m.Media.Payload, err)
			}
			f.media = append(f.media, now)
			f.audio += len(pcm)
			f.playEnd = f.playEnd.Add(g711.Format.Duration(len(pcm)))
		case "mark":
			var m twMark
			json.Unmarshal(b, &m)
			name := m.Mark.Name
			if len(f.clears) > 0 && strings.HasPrefix(name, "2.") {
				f.lateMarks = append(f.lateMarks, name)
			}
			f.pending[name] = time.AfterFunc(f.playEnd.Sub(now), func() {
				f.mu.Lock()
				_, ok := f.pending[name]
				delete(f.pending, name)
				if ok {
					f.played = append(f.played, name)
				}
				f.mu.Unlock()
				if ok {
					f.echo(name)
				}
			})
		case "clear":
			f.clears = append(f.clears, now)
			f.playEnd = now
			var flush []string
			for name, tm := range f.pending {
				if tm.Stop() {
					flush = append(flush, name)
				}
				delete(f.pending, name)
			}
			f.flushed = append(f.flushed, flush...)
			f.mu.Unlock()
			for _, name := range flush {
				f.echo(name)
			}
			continue
		default:
			f.t.Errorf("the gateway sent %s", b)
		}
		f.mu.Unlock()
	}
}

// waitFor streams line noise until cond holds, or fails after d.
func (f *fakeTwilio) waitFor(rng *rand.Rand, what string, d time.Duration, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for {
		f.mu.Lock()
		ok := cond()
		f.mu.Unlock()
		if ok {
			return
		}
		if f.isClosed() {
			f.t.Fatalf("stream closed waiting for %s: %v", what, f.readErr)
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("no %s within %s", what, d)
		}
		f.stream(noise(rng, 160, noiseAmp))
	}
}

// phoneSpeech is flite's speech at 8 kHz, as a phone line carries it.
func phoneSpeech(t *testing.T, dir, name, text string) []int16 {
	t.Helper()
	rs, err := resample.New(16000, 8000)
	if err != nil {
		t.Fatal(err)
	}
	s := rs.Process(nil, loadWAV(t, flite(t, dir, name, text)))
	return rs.Flush(s)
}

// TestTwilioCall calls the real voicegate binary (the offline default:
// VAD, pocketsphinx, echo, flite) as Twilio does: it fetches the TwiML from
// the voice webhook, opens the stream it names, streams flite speech as
// 8 kHz μ-law paced at 20 ms, and plays the reply in real time, echoing
// each mark as its audio ends. Then it speaks over a reply: the gateway
// must send clear, and no more of that reply. A stop ends the call with a
// normal close.
func TestTwilioCall(t *testing.T) {
	need(t, "flite")
	g := startGateway(t, "")
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))

	// The voice webhook, as Twilio posts it when the call comes in.
	form := url.Values{"CallSid": {twCall}, "AccountSid": {twAccount}, "From": {"+15550100"}, "To": {"+15550199"}, "CallStatus": {"ringing"}}
	resp, err := http.PostForm(g.URL("/v1/twilio/voice"), form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var twiml struct {
		XMLName xml.Name `xml:"Response"`
		Stream  struct {
			URL string `xml:"url,attr"`
		} `xml:"Connect>Stream"`
	}
	if err := xml.Unmarshal(body, &twiml); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("voice webhook: HTTP %d %s (%v)", resp.StatusCode, body, err)
	}
	if want := "ws://" + g.Addr + "/v1/twilio"; twiml.Stream.URL != want {
		t.Fatalf("TwiML stream URL %q, want %q", twiml.Stream.URL, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, twiml.Stream.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	f := &fakeTwilio{t: t, ws: ws, pending: map[string]*time.Timer{}, closed: make(chan struct{})}
	go f.read()
	f.begin()

	// Turn 1: a question, and the whole reply played.
	said := "what is the weather like today"
	f.stream(noise(rng, 8000*6/10, noiseAmp))
	q1 := phoneSpeech(t, dir, "q1", said)
	f.stream(addNoise(rng, q1, noiseAmp))
	// The voice ends before the file does: flite leaves silence after it.
	endOfSpeech := time.Now().Add(-g711.Format.Duration(len(q1) - lastVoiced(q1)))
	f.waitFor(rng, "the reply's mark played", 20*time.Second, func() bool { return len(f.played) > 0 })
	f.mu.Lock()
	firstMedia, replyBytes, marks := f.media[0], f.audio, append([]string(nil), f.played...)
	f.mu.Unlock()
	if marks[0] != "1.1" {
		t.Errorf("first mark played %q, want 1.1 (turn 1, sentence 1)", marks[0])
	}
	// The echo model's reply is "You said: <what it heard>."; the offline
	// voice says it in about as long as the question plus the preamble
	// (pocketsphinx may mishear a word or two of a call's first words).
	replyDur := g711.Format.Duration(replyBytes)
	minDur := newPiperVoice(t).says(t, "You said: "+said+".")
	if replyDur < minDur/2 || replyDur > 2*minDur {
		t.Errorf("reply audio %v, Piper says the full reply in %v", replyDur, minDur)
	}
	latency := firstMedia.Sub(endOfSpeech)
	t.Logf("turn 1: end of voiced speech → first reply media %v (the VAD's 500 ms of silence included); reply audio %v (μ-law, 8 kHz); marks played %v",
		latency.Round(time.Millisecond), replyDur.Round(time.Millisecond), marks)

	// Turn 2: a long question, and a barge-in while its reply plays.
	f.stream(noise(rng, 8000*6/10, noiseAmp))
	f.mu.Lock()
	before := len(f.media)
	f.mu.Unlock()
	f.stream(addNoise(rng, phoneSpeech(t, dir, "q2", "please turn on the kitchen lights and play some music in the living room"), noiseAmp))
	f.waitFor(rng, "turn 2's reply", 20*time.Second, func() bool { return len(f.media) > before })
	f.stream(noise(rng, 8000*8/10, noiseAmp)) // it plays for a while
	bargeAt := time.Now()
	f.stream(addNoise(rng, phoneSpeech(t, dir, "q3", "set a timer for ten minutes"), noiseAmp))
	f.waitFor(rng, "clear", 10*time.Second, func() bool { return len(f.clears) > 0 })
	f.mu.Lock()
	clearAfter := f.clears[0].Sub(bargeAt)
	flushed := append([]string(nil), f.flushed...)
	f.mu.Unlock()
	t.Logf("barge-in: clear %v after the caller started speaking over the reply; marks flushed by it %v", clearAfter.Round(time.Millisecond), flushed)

	// Turn 3 answers the barge-in; nothing of turn 2 comes after the clear.
	f.waitFor(rng, "turn 3's reply played", 25*time.Second, func() bool {
		return len(f.played) > 0 && strings.HasPrefix(f.played[len(f.played)-1], "3.")
	})
	f.mu.Lock()
	if len(f.lateMarks) > 0 {
		t.Errorf("marks of the cut reply after the clear: %v", f.lateMarks)
	}
	if len(f.clears) != 1 {
		t.Errorf("%d clears, want 1", len(f.clears))
	}
	f.mu.Unlock()

	var stop twStop
	stop.Event, stop.SequenceNumber, stop.StreamSid = "stop", f.nextSeq(), twStream
	stop.Stop.AccountSid, stop.Stop.CallSid = twAccount, twCall
	f.send(stop)
	select {
	case <-f.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not close the stream after stop")
	}
	if st := websocket.CloseStatus(f.readErr); st != websocket.StatusNormalClosure {
		t.Errorf("close status %d after stop, want 1000", st)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(g.Log(), "call ended: stream stopped"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway did not log the call's end:\n%s", g.Log())
		}
	}
}

// lastVoiced returns the index after the last sample of s louder than
// -30 dBFS.
func lastVoiced(s []int16) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] > 1000 || s[i] < -1000 {
			return i + 1
		}
	}
	return 0
}
