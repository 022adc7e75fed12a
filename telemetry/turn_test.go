package telemetry_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/telemetry"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }

// span is what a test expects of one recorded span.
type span struct {
	name       string
	from, to   float64 // ms after t0
	provider   string
	errorType  string // "" for a span that did not fail
	statusCode codes.Code
}

func TestTraceTurn(t *testing.T) {
	spoken := func() *pipeline.Trace {
		return &pipeline.Trace{Turn: 3, ASR: "sphinx", LLM: "openai", TTS: "flite",
			SpeechEnd: at(0), Endpoint: at(210), ASRFinal: at(240.5), LLMFirstToken: at(400), FirstSentence: at(450),
			TTSFirstAudio: at(470), LLMDone: at(900), TTSDone: at(2100), Done: at(2150)}
	}
	cases := []struct {
		name  string
		turn  gateway.FinishedTurn
		spans []span // the children, in order; the root comes last
		root  span
		attrs map[attribute.Key]attribute.Value
	}{
		{
			name: "spoken",
			turn: gateway.FinishedTurn{Session: "s1", Protocol: gateway.ProtocolNative, VAD: "energy", Trace: spoken(), FirstAudioSent: at(471.25)},
			spans: []span{
				{name: telemetry.SpanEndpoint, from: 0, to: 210, provider: "energy"},
				{name: telemetry.SpanASR, from: 210, to: 240.5, provider: "sphinx"},
				{name: telemetry.SpanLLMFirstToken, from: 240.5, to: 400, provider: "openai"},
				{name: telemetry.SpanLLM, from: 240.5, to: 900, provider: "openai"},
				{name: telemetry.SpanTTSFirstAudio, from: 450, to: 470, provider: "flite"},
				{name: telemetry.SpanTTS, from: 450, to: 2100, provider: "flite"},
				{name: telemetry.SpanWireFirstAudio, from: 470, to: 471.25, provider: "gateway"},
			},
			root: span{name: telemetry.SpanTurn, from: 0, to: 2150},
			attrs: map[attribute.Key]attribute.Value{
				telemetry.AttrSession: attribute.StringValue("s1"), telemetry.AttrProtocol: attribute.StringValue("native"),
				telemetry.AttrTurn: attribute.Int64Value(3), telemetry.AttrTextInput: attribute.BoolValue(false),
				telemetry.AttrCancelled: attribute.BoolValue(false), telemetry.AttrVAD: attribute.StringValue("energy"),
				telemetry.AttrASR: attribute.StringValue("sphinx"), telemetry.AttrLLM: attribute.StringValue("openai"),
				telemetry.AttrTTS: attribute.StringValue("flite"),
			},
		},
		{
			name: "text, text only",
			turn: gateway.FinishedTurn{Session: "s2", Protocol: gateway.ProtocolRealtime, VAD: "energy",
				Trace: &pipeline.Trace{Turn: 1, LLM: "echo", TextInput: true, Endpoint: at(0), LLMFirstToken: at(12), FirstSentence: at(13), LLMDone: at(20), Done: at(21)}},
			spans: []span{
				{name: telemetry.SpanLLMFirstToken, from: 0, to: 12, provider: "echo"},
				{name: telemetry.SpanLLM, from: 0, to: 20, provider: "echo"},
			},
			root: span{name: telemetry.SpanTurn, from: 0, to: 21},
			attrs: map[attribute.Key]attribute.Value{
				telemetry.AttrProtocol: attribute.StringValue("realtime"), telemetry.AttrTextInput: attribute.BoolValue(true),
				telemetry.AttrLLM: attribute.StringValue("echo"),
			},
		},
		{
			name: "cut by barge-in",
			turn: func() gateway.FinishedTurn {
				tr := spoken()
				tr.TTSDone, tr.LLMDone, tr.Done = at(800), at(790), at(805)
				// The wire's first audio came after the turn ended: the root
				// still covers it.
				return gateway.FinishedTurn{Session: "s3", Protocol: gateway.ProtocolTwilio, VAD: "energy", Trace: tr, FirstAudioSent: at(806), Reason: pipeline.CancelBargeIn}
			}(),
			spans: []span{
				{name: telemetry.SpanEndpoint, from: 0, to: 210, provider: "energy"},
				{name: telemetry.SpanASR, from: 210, to: 240.5, provider: "sphinx"},
				{name: telemetry.SpanLLMFirstToken, from: 240.5, to: 400, provider: "openai"},
				{name: telemetry.SpanLLM, from: 240.5, to: 790, provider: "openai"},
				{name: telemetry.SpanTTSFirstAudio, from: 450, to: 470, provider: "flite"},
				{name: telemetry.SpanTTS, from: 450, to: 800, provider: "flite"},
				{name: telemetry.SpanWireFirstAudio, from: 470, to: 806, provider: "gateway"},
			},
			root: span{name: telemetry.SpanTurn, from: 0, to: 806},
			attrs: map[attribute.Key]attribute.Value{
				telemetry.AttrProtocol: attribute.StringValue("twilio"), telemetry.AttrCancelled: attribute.BoolValue(true),
				telemetry.AttrCancelReason: attribute.StringValue("barge_in"),
			},
		},
		{
			name: "model failed",
			turn: gateway.FinishedTurn{Session: "s4", Protocol: gateway.ProtocolNative, VAD: "energy", Reason: pipeline.CancelError,
				Trace: &pipeline.Trace{Turn: 2, ASR: "sphinx", LLM: "openai", TTS: "flite", SpeechEnd: at(0), Endpoint: at(200), ASRFinal: at(230), LLMDone: at(1230), Done: at(1231),
					Err: &pipeline.StageError{Stage: pipeline.StageLLM, Provider: "openai", Turn: 2,
						Err: fmt.Errorf("upstream said %q: %w", "the user's words here", pipeline.ErrRateLimited)}}},
			spans: []span{
				{name: telemetry.SpanEndpoint, from: 0, to: 200, provider: "energy"},
				{name: telemetry.SpanASR, from: 200, to: 230, provider: "sphinx"},
				{name: telemetry.SpanLLM, from: 230, to: 1230, provider: "openai", errorType: "rate_limited", statusCode: codes.Error},
			},
			root: span{name: telemetry.SpanTurn, from: 0, to: 1231, errorType: "rate_limited", statusCode: codes.Error},
			attrs: map[attribute.Key]attribute.Value{
				telemetry.AttrCancelled: attribute.BoolValue(true), telemetry.AttrCancelReason: attribute.StringValue("error"),
				telemetry.AttrErrorStage: attribute.StringValue("llm"),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			telemetry.NewTurnTracer(tp).TraceTurn(tc.turn)

			got := exp.GetSpans()
			if len(got) != len(tc.spans)+1 {
				names := make([]string, len(got))
				for i, s := range got {
					names[i] = s.Name
				}
				t.Fatalf("spans %v, want %d children and the root", names, len(tc.spans))
			}
			root := got[len(got)-1]
			checkSpan(t, root, tc.root)
			if root.Parent.IsValid() {
				t.Errorf("root span has a parent %v", root.Parent)
			}
			for i, want := range tc.spans {
				s := got[i]
				checkSpan(t, s, want)
				if s.Parent.SpanID() != root.SpanContext.SpanID() || s.SpanContext.TraceID() != root.SpanContext.TraceID() {
					t.Errorf("%s: parent %v in trace %v, want the root %v in %v", s.Name, s.Parent.SpanID(), s.SpanContext.TraceID(), root.SpanContext.SpanID(), root.SpanContext.TraceID())
				}
				if provider := attrOf(s.Attributes, telemetry.AttrProvider); provider.AsString() != want.provider {
					t.Errorf("%s: provider %q, want %q", s.Name, provider.AsString(), want.provider)
				}
			}
			for k, want := range tc.attrs {
				if v := attrOf(root.Attributes, k); v != want {
					t.Errorf("root attribute %s = %v, want %v", k, v.String(), want.String())
				}
			}
			for _, s := range got {
				for _, kv := range s.Attributes {
					if kv.Value.Type() == attribute.STRING && strings.Contains(kv.Value.AsString(), "user's words") {
						t.Errorf("%s: attribute %s carries the provider's message: %q", s.Name, kv.Key, kv.Value.AsString())
					}
				}
				if strings.Contains(s.Status.Description, "user's words") {
					t.Errorf("%s: status carries the provider's message: %q", s.Name, s.Status.Description)
				}
			}
		})
	}
}

func checkSpan(t *testing.T, s tracetest.SpanStub, want span) {
	t.Helper()
	if s.Name != want.name {
		t.Errorf("span %q, want %q", s.Name, want.name)
		return
	}
	if !s.StartTime.Equal(at(want.from)) || !s.EndTime.Equal(at(want.to)) {
		t.Errorf("%s: from %v to %v, want %vms to %vms", s.Name, s.StartTime.Sub(t0), s.EndTime.Sub(t0), want.from, want.to)
	}
	if s.Status.Code != want.statusCode {
		t.Errorf("%s: status %v %q, want %v", s.Name, s.Status.Code, s.Status.Description, want.statusCode)
	}
	if et := attrOf(s.Attributes, telemetry.AttrErrorType).AsString(); et != want.errorType {
		t.Errorf("%s: error.type %q, want %q", s.Name, et, want.errorType)
	}
}

func attrOf(kvs []attribute.KeyValue, k attribute.Key) attribute.Value {
	for _, kv := range kvs {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestTraceTurnWithoutStart records nothing for a turn that never started
// its clock, and nothing for a missing Trace.
func TestTraceTurnWithoutStart(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tt := telemetry.NewTurnTracer(tp)
	tt.TraceTurn(gateway.FinishedTurn{Trace: &pipeline.Trace{Turn: 1, LLMFirstToken: at(3)}})
	tt.TraceTurn(gateway.FinishedTurn{})
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans recorded", n)
	}
}

// BenchmarkTraceTurn is the cost of recording a spoken turn (eight spans)
// on the SDK with a batching exporter that discards.
func BenchmarkTraceTurn(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	tt := telemetry.NewTurnTracer(tp)
	ft := gateway.FinishedTurn{Session: "s1", Protocol: gateway.ProtocolNative, VAD: "energy", FirstAudioSent: at(471),
		Trace: &pipeline.Trace{Turn: 3, ASR: "sphinx", LLM: "openai", TTS: "flite", SpeechEnd: at(0), Endpoint: at(210), ASRFinal: at(240),
			LLMFirstToken: at(400), FirstSentence: at(450), TTSFirstAudio: at(470), LLMDone: at(900), TTSDone: at(2100), Done: at(2150)}}
	b.ReportAllocs()
	for b.Loop() {
		tt.TraceTurn(ft)
	}
}
