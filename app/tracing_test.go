package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
)

// TestTracingByEnvironment: with OTEL_EXPORTER_OTLP_ENDPOINT set, the
// server sends each turn to the collector as a trace named by
// OTEL_SERVICE_NAME, and the drain flushes the spans still queued.
func TestTracingByEnvironment(t *testing.T) {
	var mu sync.Mutex
	var got []*tracepb.ResourceSpans
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &req)
		}
		if r.URL.Path != "/v1/traces" || err != nil {
			t.Errorf("collector got %s %s: %v", r.Method, r.URL.Path, err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, req.ResourceSpans...)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(resp)
	}))
	defer collector.Close()
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL,
		"OTEL_SERVICE_NAME":           "voicegate-test",
		"OTEL_BSP_SCHEDULE_DELAY":     "600000", // ten minutes: only the drain's flush sends them
	}
	for k, v := range env {
		t.Setenv(k, v) // the exporter reads the process's environment
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER"} {
		t.Setenv(k, "")
	}

	t.Run("serve", func(t *testing.T) {
		r := serve(t, "", env, "-addr", "127.0.0.1:0", "-admin-addr", "off")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws://"+r.public.String()+gateway.PathWS, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		for _, msg := range []string{`{"type":"session.start","text_only":true}`, `{"type":"input.text","text":"hello"}`} {
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
		}
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var m struct{ Type string }
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m.Type == protocol.TypeError {
				t.Fatalf("error %s", b)
			}
			if m.Type == protocol.TypeTurnLatency {
				break
			}
		}
		ws.Close(websocket.StatusNormalClosure, "")
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 0 {
			t.Fatalf("spans exported before the drain, with a ten-minute batch delay")
		}
	}) // its cleanup drains the server

	mu.Lock()
	defer mu.Unlock()
	var names []string
	for _, rs := range got {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				service = kv.Value.GetStringValue()
			}
		}
		if service != "voicegate-test" {
			t.Errorf("service.name %q, want OTEL_SERVICE_NAME's", service)
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				names = append(names, s.Name)
			}
		}
	}
	want := []string{"llm.first_token", "llm", "turn"}
	if len(names) != len(want) {
		t.Fatalf("spans flushed at the drain %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("spans flushed at the drain %v, want %v", names, want)
		}
	}
}
