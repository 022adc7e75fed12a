package telemetry_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/client"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
	"github.com/voicegate/voicegate/telemetry"
)

const waitFor = 10 * time.Second

// receiver is an OTLP/HTTP trace receiver: it decodes each export request
// as a collector would.
type receiver struct {
	t    *testing.T
	url  string
	mu   sync.Mutex
	reqs []*coltracepb.ExportTraceServiceRequest
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t}
	ts := httptest.NewServer(http.HandlerFunc(rc.serveHTTP))
	t.Cleanup(ts.Close)
	rc.url = ts.URL
	return rc
}

func (rc *receiver) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		rc.t.Errorf("receiver got %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		rc.t.Errorf("export request of content type %q", ct)
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, 4<<20)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		rc.t.Errorf("undecodable export request: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, &req)
	rc.mu.Unlock()
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// receivedSpan is a span with the resource it came from.
type receivedSpan struct {
	*tracepb.Span
	resource []*commonpb.KeyValue
	scope    string
}

// spans returns every span received, in the order they came.
func (rc *receiver) spans() []receivedSpan {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []receivedSpan
	for _, req := range rc.reqs {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, receivedSpan{Span: s, resource: rs.GetResource().GetAttributes(), scope: ss.GetScope().GetName()})
				}
			}
		}
	}
	return out
}

func strAttr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

func intAttr(kvs []*commonpb.KeyValue, key string) int64 {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value.GetIntValue()
		}
	}
	return -1
}

// otlpEnv points the standard OTEL_* variables at rc, clearing those that
// would send the spans elsewhere.
func otlpEnv(t *testing.T, rc *receiver, serviceName string) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rc.url)
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_PROTOCOL",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_EXPORTER_OTLP_HEADERS"} {
		t.Setenv(k, "")
	}
	t.Setenv("OTEL_SERVICE_NAME", serviceName)
}

// TestOTLPExportMatchesTurnLatency runs spoken turns through a real
// gateway whose traces go by OTLP/HTTP to a receiver: each turn is one
// trace, its stage spans in order under the root, their times those of the
// turn.latency the client got, within a millisecond.
func TestOTLPExportMatchesTurnLatency(t *testing.T) {
	rc := newReceiver(t)
	otlpEnv(t, rc, "")
	if on, err := telemetry.Enabled(getenvOS); err != nil || !on {
		t.Fatalf("Enabled = %v, %v with an endpoint set", on, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitFor)
	defer cancel()
	tp, err := telemetry.NewProvider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(context.Background())

	transcripts := []string{"hello there", "how are you"}
	srv, err := gateway.New(gateway.Options{
		Stages: pipeline.Stages{
			ASR: &pipelinetest.Scripted{Transcripts: transcripts, Latency: 20 * time.Millisecond, PartialEvery: 100 * time.Millisecond},
			LLM: echo.New(echo.Config{FirstToken: 10 * time.Millisecond, PerToken: 2 * time.Millisecond}),
			TTS: &pipelinetest.Tone{Rate: 16000, Latency: 10 * time.Millisecond, PerRune: 10 * time.Millisecond},
		},
		VADName:    "energy",
		VAD:        vad.Config{Silence: 250 * time.Millisecond},
		TurnTracer: telemetry.NewTurnTracer(tp),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), waitFor)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	}()

	latencies := make(chan protocol.TurnLatency, len(transcripts))
	sess, err := client.Dial(ctx, client.Config{
		URL:          "ws" + strings.TrimPrefix(hs.URL, "http") + gateway.PathWS,
		PingInterval: -1,
		Handler: func(ev client.Event) {
			if tl, ok := ev.(*protocol.TurnLatency); ok {
				latencies <- *tl
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	sessionID := sess.Started().SessionID

	var got []protocol.TurnLatency
	for range transcripts {
		speak(t, sess)
		select {
		case tl := <-latencies:
			if !tl.ResponseDone || tl.FirstAudioMS == nil {
				t.Fatalf("turn %d did not complete with audio: %+v", tl.Turn, tl)
			}
			got = append(got, tl)
		case <-ctx.Done():
			t.Fatalf("no turn.latency after %d turns", len(got))
		}
	}
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}

	traces := map[string][]receivedSpan{} // by trace ID, in the order received
	var order []string
	for _, s := range rc.spans() {
		id := string(s.TraceId)
		if _, ok := traces[id]; !ok {
			order = append(order, id)
		}
		traces[id] = append(traces[id], s)
		if name := strAttr(s.resource, "service.name"); name != telemetry.ServiceName {
			t.Errorf("span %s from service %q, want %q", s.Name, name, telemetry.ServiceName)
		}
		if s.scope != telemetry.ScopeName {
			t.Errorf("span %s from scope %q", s.Name, s.scope)
		}
	}
	if len(traces) != len(got) {
		t.Fatalf("%d traces for %d turns", len(traces), len(got))
	}
	for i, id := range order {
		checkTurnTrace(t, traces[id], got[i], sessionID)
	}
}

// checkTurnTrace checks one turn's trace against its turn.latency.
func checkTurnTrace(t *testing.T, spans []receivedSpan, lat protocol.TurnLatency, sessionID string) {
	t.Helper()
	var root *receivedSpan
	var children []receivedSpan
	for i := range spans {
		if spans[i].Name == telemetry.SpanTurn {
			if root != nil {
				t.Fatalf("turn %d: two root spans", lat.Turn)
			}
			root = &spans[i]
			continue
		}
		children = append(children, spans[i])
	}
	if root == nil {
		t.Fatalf("turn %d: no root span among %d", lat.Turn, len(spans))
	}
	if len(root.ParentSpanId) != 0 {
		t.Errorf("turn %d: the root has a parent", lat.Turn)
	}
	if n := intAttr(root.Attributes, string(telemetry.AttrTurn)); n != int64(lat.Turn) {
		t.Errorf("trace of turn %d is of turn %d", lat.Turn, n)
	}
	if s := strAttr(root.Attributes, string(telemetry.AttrSession)); s != sessionID {
		t.Errorf("turn %d: session %q, want %q", lat.Turn, s, sessionID)
	}
	if p := strAttr(root.Attributes, string(telemetry.AttrProtocol)); p != gateway.ProtocolNative {
		t.Errorf("turn %d: protocol %q", lat.Turn, p)
	}

	// Each span's start and end, as ms after the root's start, and the
	// turn.latency milestones they must be.
	ms := func(ns uint64) float64 { return float64(int64(ns)-int64(root.StartTimeUnixNano)) / 1e6 }
	zero := 0.0
	want := []struct {
		name     string
		from, to *float64
	}{
		{telemetry.SpanEndpoint, &zero, lat.EndpointMS},
		{telemetry.SpanASR, lat.EndpointMS, lat.ASRFinalMS},
		{telemetry.SpanLLMFirstToken, lat.ASRFinalMS, lat.LLMFirstMS},
		{telemetry.SpanLLM, lat.ASRFinalMS, nil},
		{telemetry.SpanTTSFirstAudio, lat.FirstSentMS, lat.TTSFirstMS},
		{telemetry.SpanTTS, lat.FirstSentMS, nil},
		{telemetry.SpanWireFirstAudio, lat.TTSFirstMS, lat.FirstAudioMS},
	}
	if len(children) != len(want) {
		names := make([]string, len(children))
		for i, c := range children {
			names[i] = c.Name
		}
		t.Fatalf("turn %d: stage spans %v, want %d", lat.Turn, names, len(want))
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1 }
	var prevStart uint64
	for i, w := range want {
		c := children[i]
		if c.Name != w.name {
			t.Errorf("turn %d: stage span %d is %q, want %q", lat.Turn, i, c.Name, w.name)
			continue
		}
		if !bytes.Equal(c.ParentSpanId, root.SpanId) {
			t.Errorf("turn %d: %s's parent is not the root", lat.Turn, c.Name)
		}
		if c.StartTimeUnixNano < prevStart {
			t.Errorf("turn %d: %s starts before the stage before it", lat.Turn, c.Name)
		}
		prevStart = c.StartTimeUnixNano
		if c.StartTimeUnixNano < root.StartTimeUnixNano || c.EndTimeUnixNano > root.EndTimeUnixNano {
			t.Errorf("turn %d: %s is not within the turn", lat.Turn, c.Name)
		}
		from, to := ms(c.StartTimeUnixNano), ms(c.EndTimeUnixNano)
		if w.from == nil {
			t.Errorf("turn %d: turn.latency lacks the start of %s", lat.Turn, c.Name)
			continue
		}
		if !near(from, *w.from) {
			t.Errorf("turn %d: %s starts at %.3f ms, turn.latency says %.3f", lat.Turn, c.Name, from, *w.from)
		}
		if w.to == nil {
			if to <= from {
				t.Errorf("turn %d: %s ends at %.3f ms, not after its start %.3f", lat.Turn, c.Name, to, from)
			}
			continue
		}
		if !near(to, *w.to) {
			t.Errorf("turn %d: %s ends at %.3f ms, turn.latency says %.3f", lat.Turn, c.Name, to, *w.to)
		}
		if d := to - from; !near(d, *w.to-*w.from) {
			t.Errorf("turn %d: %s lasts %.3f ms, turn.latency's milestones %.3f", lat.Turn, c.Name, d, *w.to-*w.from)
		}
	}
}

// speak sends an utterance (silence, voice, silence) in 20 ms frames, four
// times faster than real time: the VAD counts samples, not wall time.
func speak(t *testing.T, sess *client.Session) {
	t.Helper()
	const rate = 16000
	sig := pipelinetest.Concat(pipelinetest.Silence(200*time.Millisecond, rate), pipelinetest.Voice(600*time.Millisecond, rate),
		pipelinetest.Silence(400*time.Millisecond, rate))
	const frame = rate / 50
	for len(sig) > 0 {
		n := min(frame, len(sig))
		if err := sess.SendAudio(sig[:n]); err != nil {
			t.Fatal(err)
		}
		sig = sig[n:]
		time.Sleep(5 * time.Millisecond)
	}
}
