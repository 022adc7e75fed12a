package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// socketPair returns a connection whose socket is one end of a real
// WebSocket (its writer not started) and the client's end.
func socketPair(t *testing.T) (*connection, *websocket.Conn) {
	t.Helper()
	o := Options{Stages: pipeline.Stages{LLM: echo.New(echo.Config{}), TTS: &pipelinetest.Tone{Rate: 16000}}}
	o.WriteTimeout = time.Minute // a write that waited for the socket would show
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	type conns struct {
		ws  *websocket.Conn
		raw net.Conn
	}
	accepted := make(chan conns, 1)
	hold := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &hijackRecorder{ResponseWriter: w}
		ws, err := websocket.Accept(rec, r, nil)
		if err != nil {
			return
		}
		accepted <- conns{ws, rec.conn}
		<-hold // the handler's return would end the socket
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newConnection(srv, "test")
	a := <-accepted
	c.ws, c.netConn = a.ws, a.raw
	t.Cleanup(func() {
		c.ws.CloseNow()
		client.CloseNow()
		c.cancel()
		close(hold)
		hs.Close()
	})
	return c, client
}

// TestSendWritesWhenNothingIsQueued: with the lanes empty and no write in
// progress, Send puts the message on the socket before it returns (the
// reply's first audio waits for no scheduler hop); with anything ahead of
// it, it queues behind, and the writer keeps the order.
func TestSendWritesWhenNothingIsQueued(t *testing.T) {
	samples := pipelinetest.Voice(20*time.Millisecond, 16000)
	start := func(turn *pipeline.Turn) pipeline.Event {
		return pipeline.Event{Kind: pipeline.EventAudioStart, Turn: 1, Format: audio.Mono16k, Handle: turn}
	}
	chunk := func(turn *pipeline.Turn) pipeline.Event {
		return pipeline.Event{Kind: pipeline.EventAudio, Turn: 1, Audio: samples, Sentence: 1, Handle: turn}
	}
	for _, tc := range []struct {
		name        string
		busy        bool // a write is in progress when Send is called
		wantQueued  int  // items on the lanes after both Sends
		wantOnWire  bool // the turn's first audio is on the wire when Send returns
		startWriter bool
	}{
		{name: "idle: written by Send", wantQueued: 0, wantOnWire: true},
		{name: "busy: queued in order", busy: true, wantQueued: 2, startWriter: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, client := socketPair(t)
			turn := &pipeline.Turn{}
			if tc.busy {
				c.wmu.Lock()
			}
			c.Send(start(turn))
			if tc.busy {
				c.wmu.Unlock()
			}
			c.Send(chunk(turn)) // after audio.start, whether that was written or queued
			if got := len(c.stream) + len(c.control); got != tc.wantQueued || c.queued.Load() != int64(tc.wantQueued) {
				t.Fatalf("%d items on the lanes (queued count %d), want %d", got, c.queued.Load(), tc.wantQueued)
			}
			if onWire := !turn.FirstAudioSent().IsZero(); onWire != tc.wantOnWire {
				t.Fatalf("first audio on the wire when Send returned: %v, want %v", onWire, tc.wantOnWire)
			}
			if tc.startWriter {
				c.wg.Add(1)
				go func() {
					defer c.wg.Done()
					c.writeLoop()
				}()
				t.Cleanup(func() {
					c.fail(closeReason{peer: true})
					c.wg.Wait()
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			typ, msg, err := client.Read(ctx)
			if err != nil || typ != websocket.MessageText || !strings.Contains(string(msg), `"type":"`+protocol.TypeAudioStart+`"`) {
				t.Fatalf("first message: %v %q %v, want audio.start", typ, msg, err)
			}
			typ, msg, err = client.Read(ctx)
			if err != nil || typ != websocket.MessageBinary || len(msg) != 2*len(samples) {
				t.Fatalf("second message: %v, %d bytes, %v; want the %d bytes of audio", typ, len(msg), err, 2*len(samples))
			}
			for deadline := time.Now().Add(2 * time.Second); c.queued.Load() != 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond) // the writer counts a write done just after it
			}
			if c.queued.Load() != 0 {
				t.Errorf("queued count %d after the writer caught up, want 0", c.queued.Load())
			}
		})
	}
}

// TestSendNeverWaitsForTheSocket: a client that stops reading fills the
// socket's buffers; Send then queues instead of writing, and returns at
// once, until the lane is full and the client is dropped as a slow
// consumer.
func TestSendNeverWaitsForTheSocket(t *testing.T) {
	c, _ := socketPair(t) // the client never reads
	turn := &pipeline.Turn{}
	second := pipelinetest.Voice(time.Second, 16000)
	start := time.Now()
	inline := 0
	for i := 0; i < 2000 && !c.isClosing(); i++ {
		t0 := time.Now()
		c.Send(pipeline.Event{Kind: pipeline.EventAudio, Turn: 1, Audio: second, Sentence: 1, Handle: turn})
		if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("Send %d took %v: it waited for the socket", i, d)
		}
		if c.queued.Load() == 0 {
			inline++
		}
	}
	if inline == 0 {
		t.Error("no message was written by Send: the socket had room at first")
	}
	if !c.isClosing() || c.reason.class.Code != protocol.CodeSlowConsumer {
		t.Errorf("after %d seconds of audio unread (%d written by Send): closing %v, reason %q; want slow_consumer",
			2000, inline, c.isClosing(), c.reason.class.Code)
	}
	t.Logf("%d seconds of audio written by Send before the socket was full; %v in all", inline, time.Since(start))
}
