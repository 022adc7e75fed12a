package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/gateway/protocol"
)

// fakeGateway speaks just enough of the protocol for the load tool: it
// endpoints speech with the real VAD and answers each utterance with one
// audio frame and a turn.latency whose hops are all 0.5 ms.
type fakeGateway struct {
	silence time.Duration
	frames  atomic.Int64
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/metrics":
		fmt.Fprintf(w, "# HELP x\nvoicegate_audio_frames_in_total %d\nvoicegate_audio_frames_dropped_total 0\n", f.frames.Load())
		return
	case "/readyz":
		return
	case "/debug/pprof/heap":
		pprof.Handler("heap").ServeHTTP(w, r)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	send := func(v any) error { return c.Write(ctx, websocket.MessageText, must(json.Marshal(v))) }
	if _, _, err := c.Read(ctx); err != nil {
		return
	}
	if send(protocol.SessionStarted{Type: protocol.TypeSessionStarted, SessionID: "s"}) != nil {
		return
	}
	d := vad.New(vad.Config{Silence: f.silence}, 16000)
	var pcm []int16
	var turn uint64
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageBinary {
			continue
		}
		f.frames.Add(1)
		pcm, _ = audio.DecodePCM16(pcm[:0], b)
		if d.Process(pcm) != vad.SpeechEnd {
			continue
		}
		turn++
		ep := float64(d.TrailingSilence()) / float64(time.Millisecond)
		v := []float64{ep, ep + .5, ep + 1, ep + 1.5, ep + 2, ep + 2.5}
		_ = send(protocol.AudioStart{Type: protocol.TypeAudioStart, Turn: turn, SampleRate: 16000})
		_ = c.Write(ctx, websocket.MessageBinary, make([]byte, 640))
		_ = send(protocol.ResponseDone{Type: protocol.TypeResponseDone, Turn: turn, Text: "hello there"})
		_ = send(protocol.TurnLatency{Type: protocol.TypeTurnLatency, Turn: turn, EndpointMS: &v[0], ASRFinalMS: &v[1],
			LLMFirstMS: &v[2], FirstSentMS: &v[3], TTSFirstMS: &v[4], FirstAudioMS: &v[5], ResponseDone: true})
	}
}

func TestRunAgainstFakeGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for several seconds")
	}
	fg := &fakeGateway{silence: 300 * time.Millisecond}
	srv := httptest.NewServer(fg)
	defer srv.Close()
	o := options{
		url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", admin: srv.URL, pid: os.Getpid(),
		cfg:   latencies{Silence: 300 * time.Millisecond},
		voice: 400 * time.Millisecond, pauseMin: 400 * time.Millisecond, pauseMax: 600 * time.Millisecond,
		ramp: 200 * time.Millisecond, shards: 2, allocWindow: time.Second, logf: t.Logf,
	}
	g, err := o.runGateway(context.Background(), 20, 3*time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := g.errorsTotal(); n > 0 {
		t.Fatalf("%d errors: %v", n, g.Errors)
	}
	if g.Connected != 20 || g.OpenAtEnd != 20 {
		t.Fatalf("connected %d, open at end %d", g.Connected, g.OpenAtEnd)
	}
	if g.Utterances == 0 || g.Replies != g.Utterances {
		t.Fatalf("%d utterances, %d replies", g.Utterances, g.Replies)
	}
	// The fake answers as soon as its VAD endpoints: 300–320 ms after the
	// last voiced frame, plus scheduling.
	if g.E2E.P50 < 300 || g.E2E.P50 > 360 {
		t.Errorf("end of speech → first audio p50 = %.1f ms, want 300–360", g.E2E.P50)
	}
	if h := g.Hops["asr"]; h.N == 0 || h.P99 != 0.5 {
		t.Errorf("asr hop = %+v, want 0.5 ms", h)
	}
	if g.HandledPerSec < 20*50*0.9 {
		t.Errorf("handled %.0f frames/s, want about %d", g.HandledPerSec, 20*50)
	}
	if g.SendLag.N == 0 {
		t.Error("no send lag recorded")
	}
	rep := &Report{Machine: machine(), Runs: []*Result{{Sessions: 20, Duration: 3, Gateway: g, Config: o.cfg}}}
	rep.Targets = judge(rep.Runs, o.cfg)
	var b strings.Builder
	rep.writeMarkdown(&b)
	t.Log("\n" + b.String())
	if err := sanity(rep); err != nil {
		t.Error(err)
	}
}

func TestBaselineLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for a second")
	}
	b := &baseline{echoEvery: 10}
	srv := httptest.NewServer(b)
	defer srv.Close()
	o := options{voice: 400 * time.Millisecond, pauseMin: 400 * time.Millisecond, pauseMax: 400 * time.Millisecond, echoEvery: 10}
	l := o.newLoad(false)
	sessions := l.open(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), 10, 100*time.Millisecond)
	sc := newScheduler(l, sessions, 2)
	l.mode.Store(modeSpeech)
	l.measuring.Store(true)
	sc.start()
	time.Sleep(time.Second)
	sc.halt()
	l.closeAll(sessions)
	if l.connectErrs.Load()+l.disconnects.Load()+l.writeErrs.Load() > 0 {
		t.Fatalf("errors: %v", l.errs)
	}
	sent, got := sc.sent(), b.frames.Load()
	if sent < 10*45 || got != sent {
		t.Fatalf("sent %d frames, baseline counted %d; want about 500, equal", sent, got)
	}
	if echoes := l.audioMsgs.Load(); echoes < sent/10-10 {
		t.Fatalf("%d echoes for %d frames", echoes, sent)
	}
	// Every echo is timed against the frame it echoes: the 10th, 20th, …
	// of its connection.
	if d := l.echo.dist(); d.N < int(sent/10-10) || d.P50 <= 0 || d.Max > 1000 {
		t.Fatalf("echo round trips %+v for %d frames; want about one per 10 frames, each under a second", d, sent)
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP a b
# TYPE voicegate_errors_total counter
voicegate_errors_total{code="x"} 2
voicegate_errors_total{code="y",z="a b"} 3
go_memstats_heap_inuse_bytes 1.5e+06
plain 7 1700000000
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"voicegate_errors_total": 5, "go_memstats_heap_inuse_bytes": 1.5e6, "plain": 7}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
}

func TestMsgType(t *testing.T) {
	for in, want := range map[string]string{
		`{"type":"turn.latency","turn":1}`: protocol.TypeTurnLatency,
		`{"type":"response.audio.start"}`:  protocol.TypeAudioStart,
		`{"type":"transcript.partial"}`:    "other",
		`{"turn":1}`:                       "",
		`{"type":"trunc`:                   "",
	} {
		if got := msgType([]byte(in)); got != want {
			t.Errorf("msgType(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRuns(t *testing.T) {
	ns, ds, err := parseRuns("1000, 2000", "20s")
	if err != nil || len(ns) != 2 || ds[1] != 20*time.Second {
		t.Fatalf("got %v %v %v", ns, ds, err)
	}
	if _, _, err := parseRuns("1,2,3", "1s,2s"); err == nil {
		t.Fatal("mismatched lists accepted")
	}
}

// BenchmarkSend measures the client's per-frame cost against an in-process
// baseline server: what a frame costs the tool, and that it allocates nothing.
func BenchmarkSend(b *testing.B) {
	bs := &baseline{echoEvery: 1 << 30}
	srv := httptest.NewServer(bs)
	defer srv.Close()
	o := options{voice: time.Second, pauseMin: time.Second, pauseMax: time.Second}
	l := o.newLoad(false)
	sessions := l.open(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), 1, 0)
	if len(sessions) != 1 {
		b.Fatal(l.errs)
	}
	s := sessions[0]
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		frame, _ := s.next(l, modeSpeech)
		if err := s.conn.Write(ctx, websocket.MessageBinary, frame); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	l.closeAll(sessions)
}
