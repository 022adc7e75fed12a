package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/gateway/realtime"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

func rtDialRaw(t *testing.T, srv *Server, path string) (*websocket.Conn, context.Context, func(string) map[string]any) {
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(1 << 22)
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
				t.Logf("error %s", b)
			}
		}
	}
	return ws, ctx, next
}

// Records of assistant messages are pruned too when responses come from
// response.create alone.
func TestRealtimeItemRecordsBounded(t *testing.T) {
	o := Options{Stages: pipeline.Stages{LLM: echo.New(echo.Config{})}}
	o.MaxHistory = 8
	srv := rtEchoServer(t, o)
	ws, ctx, next := rtDialRaw(t, srv, PathRealtime)
	textSession(ctx, ws, next, "hello there")
	const n = 600
	for i := 0; i < n; i++ {
		ws.Write(ctx, websocket.MessageText, []byte(`{"type":"response.create"}`))
		next("response.done")
	}
	srv.sessions.mu.Lock()
	var items int
	for _, st := range srv.sessions.byKey {
		st.rt.mu.Lock()
		items = len(st.rt.items)
		st.rt.mu.Unlock()
	}
	srv.sessions.mu.Unlock()
	t.Logf("records after %d responses: %d (maxItemInfo %d)", n, items, maxItemInfo)
	if items > maxItemInfo+16 {
		t.Errorf("item records unbounded: %d", items)
	}
}

// A truncation of an unknown item while a reply streams races nothing
// (run with -race).
func TestRealtimeTruncateWhileStreaming(t *testing.T) {
	rt, _, _ := hotRT(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			rt.Send(pipeline.Event{Kind: pipeline.EventTextDelta, Turn: uint64(i + 2), Item: "item_x" + string(rune('a'+i%26)) + itoa(i), Text: "hi", Handle: &pipeline.Turn{}})
			rt.Send(pipeline.Event{Kind: pipeline.EventResponseDone, Turn: uint64(i + 2)})
			drain(rt)
		}
	}()
	for i := 0; i < 2000; i++ {
		rt.truncateItem(&realtime.ItemTruncateEvent{ItemID: "nope", AudioEndMS: 10})
	}
	<-done
}

func itoa(i int) string { return strconv.Itoa(i) }

// A response that finishes before response.create's handler takes the
// connection's lock again is announced once, never after its
// response.done.
func TestRealtimeResponseCreatedOnce(t *testing.T) {
	o := Options{Stages: pipeline.Stages{LLM: echo.New(echo.Config{})}}
	srv := rtEchoServer(t, o)
	ws, ctx, next := rtDialRaw(t, srv, PathRealtime)
	textSession(ctx, ws, next, "hi")
	done := map[string]bool{}
	for i := 0; i < 300; i++ {
		ws.Write(ctx, websocket.MessageText, []byte(`{"type":"response.create"}`))
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				Type     string              `json:"type"`
				Response struct{ ID string } `json:"response"`
			}
			json.Unmarshal(b, &m)
			if m.Type == "response.created" && done[m.Response.ID] {
				t.Fatalf("response.created for %s after its response.done (iteration %d)", m.Response.ID, i)
			}
			if m.Type == "error" {
				t.Logf("%s", b)
			}
			if m.Type == "response.done" {
				done[m.Response.ID] = true
				break
			}
		}
	}
}

// After one big append, an idle connection gives back the big buffer.
func TestRealtimeBigBufferReleased(t *testing.T) {
	o := Options{Stages: pipeline.Stages{LLM: echo.New(echo.Config{})}}
	srv := rtEchoServer(t, o)
	ws, ctx, next := rtDialRaw(t, srv, PathRealtime)
	next("session.created")
	big := `{"type":"input_audio_buffer.append","audio":"` + base64.StdEncoding.EncodeToString(make([]byte, 8<<20)) + `"}`
	ws.Write(ctx, websocket.MessageText, []byte(big))
	// The next event's answer says the big one has been handled.
	ws.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","session":{"type":"realtime","instructions":"x"}}`))
	next("session.updated")
	srv.mu.Lock()
	for c := range srv.conns {
		if cap(c.rt.buf) > bigMessage {
			t.Errorf("big read buffer retained")
		}
	}
	srv.mu.Unlock()
}

// Committed turns cut before their transcript do not grow the followed
// transcriptions beyond their cap.
func TestRealtimeTranscriptsBounded(t *testing.T) {
	rt, _, _ := hotRT(t)
	rt.st.rt.cfg.TurnDetection = nil
	for i := 0; i < 1000; i++ {
		item := "item_u" + itoa(i)
		rt.Send(pipeline.Event{Kind: pipeline.EventTranscriptPartial, Item: item, Text: "some words"})
		rt.Send(pipeline.Event{Kind: pipeline.EventInputCommitted, Turn: uint64(i + 10), Item: item})
		rt.Send(pipeline.Event{Kind: pipeline.EventResponseCancelled, Turn: uint64(i + 10), Reason: pipeline.CancelBargeIn})
		drain(rt)
	}
	if n := len(rt.out.transcripts); n > maxTranscripts {
		t.Errorf("%d transcripts followed (max %d)", n, maxTranscripts)
	}
}

// rtEchoServer is a gateway with options o, shut down with the test.
func rtEchoServer(t *testing.T, o Options) *Server {
	t.Helper()
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// textSession makes the Realtime session on ws text-only and puts the
// user's text in its conversation.
func textSession(ctx context.Context, ws *websocket.Conn, next func(string) map[string]any, text string) {
	next("session.created")
	ws.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","session":{"type":"realtime","output_modalities":["text"]}}`))
	next("session.updated")
	ws.Write(ctx, websocket.MessageText, []byte(`{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_text","text":"`+text+`"}]}}`))
	next("conversation.item.done")
}
