package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/pipeline"
)

// ScopeName is the instrumentation scope of the spans TurnTracer records.
const ScopeName = "github.com/voicegate/voicegate/telemetry"

// The span names, in the order a turn reaches them.
const (
	SpanTurn           = "turn"             // the root: from the end of speech (or typed text) to the end of the turn
	SpanEndpoint       = "vad.endpoint"     // end of speech → the endpoint was declared
	SpanASR            = "asr"              // endpoint → final transcript
	SpanLLMFirstToken  = "llm.first_token"  // final transcript (typed text: its arrival) → the model's first token
	SpanLLM            = "llm"              // the same start → the model's last call ended
	SpanTTSFirstAudio  = "tts.first_audio"  // first sentence ready → its first synthesized audio
	SpanTTS            = "tts"              // the same start → the last sentence's synthesis ended
	SpanWireFirstAudio = "wire.first_audio" // first synthesized audio → first audio on the wire
)

// The attributes of the spans. Provider names and the session's ID; never
// what was said.
const (
	AttrSession      = attribute.Key("voicegate.session.id")
	AttrProtocol     = attribute.Key("voicegate.protocol")
	AttrTurn         = attribute.Key("voicegate.turn")
	AttrTextInput    = attribute.Key("voicegate.text_input")
	AttrCancelled    = attribute.Key("voicegate.cancelled")
	AttrCancelReason = attribute.Key("voicegate.cancel_reason")
	AttrProvider     = attribute.Key("voicegate.provider") // on a stage span: who answered it
	AttrVAD          = attribute.Key("voicegate.provider.vad")
	AttrASR          = attribute.Key("voicegate.provider.asr")
	AttrLLM          = attribute.Key("voicegate.provider.llm")
	AttrTTS          = attribute.Key("voicegate.provider.tts")
	AttrErrorStage   = attribute.Key("voicegate.error.stage")
	// AttrErrorType is the OpenTelemetry error.type: the kind of a stage's
	// failure (timeout, rate_limited, …), not its message, which may quote
	// a provider's answer.
	AttrErrorType = attribute.Key("error.type")
)

// TurnTracer records each finished turn as a trace. It is a
// gateway.TurnTracer; its methods may be called concurrently.
type TurnTracer struct {
	tracer trace.Tracer
}

var _ gateway.TurnTracer = (*TurnTracer)(nil)

// NewTurnTracer returns a TurnTracer recording on tp's tracer for
// ScopeName.
func NewTurnTracer(tp trace.TracerProvider) *TurnTracer {
	return &TurnTracer{tracer: tp.Tracer(ScopeName)}
}

// stageSpan is one stage of a turn, from one milestone to another.
type stageSpan struct {
	name     string
	stage    pipeline.Stage // whose failure it reports
	provider string
	from, to time.Time
}

// TraceTurn records ft as a trace: the root span "turn" and a child per
// stage that ran, each with the times of the Trace, so their durations are
// the differences of the turn.latency milestones. A turn without a start
// (no end of speech, no endpoint) records nothing.
func (t *TurnTracer) TraceTurn(ft gateway.FinishedTurn) {
	tr := ft.Trace
	if tr == nil || tr.Start().IsZero() {
		return
	}
	start := tr.Start()
	llmFrom := tr.ASRFinal
	if llmFrom.IsZero() {
		llmFrom = tr.Endpoint
	}
	stages := [...]stageSpan{
		{SpanEndpoint, pipeline.StageVAD, ft.VAD, tr.SpeechEnd, tr.Endpoint},
		{SpanASR, pipeline.StageASR, tr.ASR, tr.Endpoint, tr.ASRFinal},
		{SpanLLMFirstToken, pipeline.StageLLM, tr.LLM, llmFrom, tr.LLMFirstToken},
		{SpanLLM, pipeline.StageLLM, tr.LLM, llmFrom, tr.LLMDone},
		{SpanTTSFirstAudio, pipeline.StageTTS, tr.TTS, tr.FirstSentence, tr.TTSFirstAudio},
		{SpanTTS, pipeline.StageTTS, tr.TTS, tr.FirstSentence, tr.TTSDone},
		{SpanWireFirstAudio, "", "gateway", tr.TTSFirstAudio, ft.FirstAudioSent},
	}
	end := latest(start, tr.Done, ft.FirstAudioSent)
	for _, s := range stages {
		end = latest(end, s.to)
	}

	attrs := []attribute.KeyValue{
		AttrSession.String(ft.Session),
		AttrProtocol.String(ft.Protocol),
		AttrTurn.Int64(int64(tr.Turn)),
		AttrTextInput.Bool(tr.TextInput),
		AttrCancelled.Bool(ft.Reason != 0),
	}
	if ft.Reason != 0 {
		attrs = append(attrs, AttrCancelReason.String(ft.Reason.String()))
	}
	for _, p := range []struct {
		key  attribute.Key
		name string
	}{{AttrVAD, ft.VAD}, {AttrASR, tr.ASR}, {AttrLLM, tr.LLM}, {AttrTTS, tr.TTS}} {
		if p.name != "" {
			attrs = append(attrs, p.key.String(p.name))
		}
	}
	ctx, root := t.tracer.Start(context.Background(), SpanTurn, trace.WithNewRoot(), trace.WithTimestamp(start),
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))

	failed := tr.Err
	for _, s := range stages {
		if s.from.IsZero() || s.to.IsZero() || s.to.Before(s.from) {
			continue
		}
		if s.stage == pipeline.StageVAD && tr.TextInput {
			continue // typed text is not endpointed
		}
		_, sp := t.tracer.Start(ctx, s.name, trace.WithTimestamp(s.from), trace.WithAttributes(AttrProvider.String(s.provider)))
		if failed != nil && failed.Stage == s.stage && (s.name == SpanLLM || s.name == SpanTTS || s.name == SpanASR) {
			setError(sp, failed)
		}
		sp.End(trace.WithTimestamp(s.to))
	}
	switch {
	case failed != nil:
		setError(root, failed)
	case ft.Reason == pipeline.CancelError:
		root.SetStatus(codes.Error, "cut by an error")
	}
	root.End(trace.WithTimestamp(end))
}

// setError marks sp as failed by err, by its stage and kind only.
func setError(sp trace.Span, err *pipeline.StageError) {
	kind := errorKind(err)
	sp.SetAttributes(AttrErrorStage.String(string(err.Stage)), AttrErrorType.String(kind))
	sp.SetStatus(codes.Error, string(err.Stage)+" "+err.Provider+": "+kind)
}

// errorKinds names the provider error kinds, as error.type.
var errorKinds = []struct {
	err  error
	name string
}{
	{pipeline.ErrTimeout, "timeout"},
	{pipeline.ErrRateLimited, "rate_limited"},
	{pipeline.ErrUnavailable, "unavailable"},
	{pipeline.ErrRejected, "rejected"},
	{pipeline.ErrBadResponse, "bad_response"},
	{context.DeadlineExceeded, "timeout"},
}

// errorKind returns the kind of err, or "_OTHER", as OpenTelemetry's
// error.type names an unknown one.
func errorKind(err error) string {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "_OTHER"
}

// latest returns the latest of ts.
func latest(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if u.After(t) {
			t = u
		}
	}
	return t
}
