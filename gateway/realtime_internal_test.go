package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/gateway/realtime"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// TestTurnTaking: Realtime turn detection onto the pipeline's.
func TestTurnTaking(t *testing.T) {
	base := vad.Config{ThresholdDB: 12, Silence: 400 * time.Millisecond}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	server := func(threshold float64, prefix, silence int, create, interrupt bool) *realtime.TurnDetection {
		return &realtime.TurnDetection{Type: realtime.ServerVAD, Threshold: threshold, PrefixPaddingMS: prefix, SilenceDurationMS: silence, CreateResponse: create, InterruptResponse: interrupt}
	}
	semantic := func(eagerness string) *realtime.TurnDetection {
		return &realtime.TurnDetection{Type: realtime.SemanticVAD, Eagerness: eagerness, CreateResponse: true, InterruptResponse: true}
	}
	for _, tc := range []struct {
		name string
		in   *realtime.TurnDetection
		want pipeline.TurnTaking
	}{
		{"null is push-to-talk", nil, pipeline.TurnTaking{Manual: true, NoResponse: true}},
		{"server default", server(0.5, 300, 500, true, true), pipeline.TurnTaking{VAD: vad.Config{ThresholdDB: 12, Silence: ms(500), PrefixPadding: ms(300)}}},
		{"louder", server(1, 0, 200, true, true), pipeline.TurnTaking{VAD: vad.Config{ThresholdDB: 24, Silence: ms(200), PrefixPadding: ms(1)}}},
		{"threshold 0 keeps a floor", server(0, 300, 500, true, true), pipeline.TurnTaking{VAD: vad.Config{ThresholdDB: 0.5, Silence: ms(500), PrefixPadding: ms(300)}}},
		{"no response, no barge-in", server(0.5, 300, 500, false, false), pipeline.TurnTaking{NoResponse: true, NoBargeIn: true, VAD: vad.Config{ThresholdDB: 12, Silence: ms(500), PrefixPadding: ms(300)}}},
		{"semantic auto", semantic("auto"), pipeline.TurnTaking{}},
		{"semantic low", semantic("low"), pipeline.TurnTaking{VAD: vad.Config{Silence: ms(1000)}}},
		{"semantic high", semantic("high"), pipeline.TurnTaking{VAD: vad.Config{Silence: ms(250)}}},
	} {
		if got := turnTaking(tc.in, base); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestRealtimeBigReads: messages over bigMessage are read a few at a time
// server-wide; one that finds no place is refused (naming its event_id),
// and the connection goes on.
func TestRealtimeBigReads(t *testing.T) {
	srv, err := New(Options{Stages: pipeline.Stages{LLM: echo.New(echo.Config{})}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+PathRealtime, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	big := `{"type":"input_audio_buffer.append","event_id":"big","audio":"` + base64.StdEncoding.EncodeToString(make([]byte, 2<<20)) + `"}`
	next := func(typ string) map[string]any {
		t.Helper()
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			json.Unmarshal(b, &m)
			if m["type"] == typ {
				return m
			}
			if m["type"] == "error" {
				t.Fatalf("error %s while waiting for %s", b, typ)
			}
		}
	}
	next(realtime.EventSessionCreated)
	for range maxBigReads {
		srv.rt.bigRead <- struct{}{}
	}
	ws.Write(ctx, websocket.MessageText, []byte(big))
	e := next(realtime.EventError)["error"].(map[string]any)
	if e["type"] != realtime.TypeServer || e["event_id"] != "big" {
		t.Fatalf("error %v", e)
	}
	for range maxBigReads {
		<-srv.rt.bigRead
	}
	// With a place free, the same append is taken: a clear after it is
	// answered, and no error came between.
	ws.Write(ctx, websocket.MessageText, []byte(big))
	ws.Write(ctx, websocket.MessageText, []byte(`{"type":"input_audio_buffer.clear"}`))
	next(realtime.EventCleared)
	if n := len(srv.rt.bigRead); n != 0 {
		t.Errorf("%d places still held", n)
	}
}

// TestRealtimeConfigValidate names each bad setting's key.
func TestRealtimeConfigValidate(t *testing.T) {
	if err := DefaultRealtimeConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		change func(*RealtimeConfig)
		want   string
	}{
		{func(c *RealtimeConfig) { c.Models = []RealtimeModel{} }, "server.realtime.models"},
		{func(c *RealtimeConfig) { c.Models = []RealtimeModel{{Name: "a"}, {Name: "a"}} }, "named twice"},
		{func(c *RealtimeConfig) { c.Models = []RealtimeModel{{Name: "["}} }, "server.realtime.models[0]"},
		{func(c *RealtimeConfig) { c.Models = []RealtimeModel{{}} }, "needs a name"},
		{func(c *RealtimeConfig) { c.ClientSecretTTL = time.Second }, "client_secret_ttl"},
		{func(c *RealtimeConfig) { c.MaxClientSecrets = -1 }, "max_client_secrets"},
		{func(c *RealtimeConfig) { c.MaxAppendBytes = 100 }, "max_append_bytes"},
		{func(c *RealtimeConfig) { c.MaxEventBytes = 1 << 30 }, "max_event_bytes"},
	} {
		c := DefaultRealtimeConfig()
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, tc.want)
		}
	}
	// A model list set in a file replaces the defaults; one left out keeps them.
	o := Options{Stages: pipeline.Stages{LLM: echo.New(echo.Config{})}}
	o.Realtime.ClientSecretTTL = time.Minute
	if err := o.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if len(o.Realtime.Models) != 3 || o.Realtime.ClientSecretTTL != time.Minute || o.Realtime.MaxAppendBytes != 15<<20 {
		t.Errorf("partial settings filled to %+v", o.Realtime)
	}
}

// hotRT is a Realtime connection's two per-chunk paths without a socket:
// appends read into a session that does not run, and reply audio queued
// on the stream lane, which the caller drains.
func hotRT(tb testing.TB) (rt *rtConn, appendMsg []byte, audioEv pipeline.Event) {
	tb.Helper()
	srv, err := New(Options{Stages: pipeline.Stages{LLM: echo.New(echo.Config{}), TTS: &pipelinetest.Tone{Rate: 16000}}})
	if err != nil {
		tb.Fatal(err)
	}
	c := newConnection(srv, "bench")
	tb.Cleanup(c.cancel)
	rt = &rtConn{srv: srv, c: c, ev: realtime.NewEvents(realtime.GA, "b_"), dec: realtime.Decoder{Limits: realtime.Limits{MaxAudioBytes: 1 << 20}}}
	c.rt = rt
	rt.st = &sessionState{id: "bench", conv: srv.newConversation(), rt: &rtState{items: map[string]*rtItem{}}}
	rt.st.rt.cfg = realtime.Session{Audio: true, InputFormat: realtime.FormatPCM, OutputFormat: realtime.FormatPCM}
	rt.sess, err = pipeline.NewSession(pipeline.Config{Stages: srv.opts.Stages, Conversation: rt.st.conv, InboxFrames: rtInboxFrames})
	if err != nil {
		tb.Fatal(err)
	}
	rt.in.setFormat(realtime.FormatPCM)
	rt.out.from = 16000
	rt.out.setFormat(realtime.FormatPCM)
	appendMsg = []byte(`{"type":"input_audio_buffer.append","audio":"` + base64.StdEncoding.EncodeToString(audio.EncodePCM16(nil, pipelinetest.Voice(20*time.Millisecond, 24000))) + `"}`)
	// A reply under way: its first words open the message.
	turn := &pipeline.Turn{}
	rt.Send(pipeline.Event{Kind: pipeline.EventTextDelta, Turn: 1, Item: "item_2", Text: "hello", Handle: turn})
	drain(rt)
	audioEv = pipeline.Event{Kind: pipeline.EventAudio, Turn: 1, Item: "item_2", Audio: pipelinetest.Voice(100*time.Millisecond, 16000), Sentence: 1, Handle: turn}
	return rt, appendMsg, audioEv
}

func drain(rt *rtConn) {
	for {
		select {
		case it := <-rt.c.stream:
			if it.pcm != nil {
				rt.srv.putBuf(it.pcm)
			}
		default:
			return
		}
	}
}

// TestRealtimeHotPathsAllocate holds both per-chunk paths to no allocation
// once warm: an append in, and a chunk of reply audio out.
func TestRealtimeHotPathsAllocate(t *testing.T) {
	rt, msg, ev := hotRT(t)
	for range 3 { // warm the buffers
		rt.handle(msg)
		rt.Send(ev)
		drain(rt)
	}
	if n := testing.AllocsPerRun(200, func() { rt.handle(msg) }); n != 0 {
		t.Errorf("%v allocations per append", n)
	}
	most := 0.0
	if raceEnabled {
		most = 1 // the pooled message buffer, now and then
	}
	if n := testing.AllocsPerRun(200, func() { rt.Send(ev); drain(rt) }); n > most {
		t.Errorf("%v allocations per chunk of reply audio", n)
	}
}

// BenchmarkRealtimeAppend: one input_audio_buffer.append of 20 ms at
// 24 kHz, decoded, resampled and handed to the session.
func BenchmarkRealtimeAppend(b *testing.B) {
	rt, msg, _ := hotRT(b)
	b.ReportAllocs()
	for b.Loop() {
		rt.handle(msg)
	}
}

// BenchmarkRealtimeAudioOut: one 100 ms chunk of reply audio, resampled to
// 24 kHz and queued as a response.output_audio.delta.
func BenchmarkRealtimeAudioOut(b *testing.B) {
	rt, _, ev := hotRT(b)
	b.ReportAllocs()
	for b.Loop() {
		rt.Send(ev)
		drain(rt)
	}
}
