package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
)

// metrics are the gateway's Prometheus collectors, registered on the
// Registerer given in Options (never the global one).
type metrics struct {
	sessionsActive prometheus.Gauge
	sessionsTotal  *prometheus.CounterVec // {resumed}
	detached       prometheus.Gauge
	evicted        prometheus.Counter
	fileWrites     *prometheus.CounterVec // {result}
	storeOps       *prometheus.CounterVec // {op, result}
	storeUp        prometheus.Gauge
	framesIn       prometheus.Counter
	framesDropped  prometheus.Counter
	errors         *prometheus.CounterVec // {code}
	rejected       *prometheus.CounterVec // {reason}
	rateLimited    *prometheus.CounterVec // {limit}
	slowConsumer   prometheus.Counter
	turnLatency    *prometheus.HistogramVec // {stage, provider}: milestone since end of speech
	stageDuration  *prometheus.HistogramVec // {stage, provider}: one hop
}

// latencyBuckets spans what a voice turn's stages take, 5 ms to 10 s.
var latencyBuckets = []float64{.005, .01, .025, .05, .075, .1, .15, .2, .3, .4, .5, .75, 1, 1.5, 2, 3, 5, 10}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sessionsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "voicegate_sessions_active", Help: "WebSocket connections open now (each carries at most one session).",
		}),
		sessionsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_sessions_total", Help: "Sessions started, by whether they resumed an earlier one.",
		}, []string{"resumed"}),
		detached: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "voicegate_sessions_detached", Help: "Sessions without a connection, kept for resume.",
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "voicegate_sessions_evicted_total", Help: "Detached sessions forgotten before their resume window ended, to keep within max_detached_sessions.",
		}),
		fileWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_session_file_writes_total", Help: "Writes of the session file (server.session_file), by result: ok or error.",
		}, []string{"result"}),
		storeOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_store_operations_total", Help: "Calls to the shared session store (store.kind redis), by operation (save, claim, owner, ping; limits: an exchange of the cluster-wide limits' counts) and result: ok, miss (no such session, or claimed elsewhere), error or dropped (a save given up on for an outage; the next turn saves the session again).",
		}, []string{"op", "result"}),
		storeUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "voicegate_store_up", Help: "1 while the shared session store answers, 0 while it is degraded (live sessions go on; resumes fall back to this node's memory).",
		}),
		framesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "voicegate_audio_frames_in_total", Help: "Binary audio frames received from clients and fed to the pipeline.",
		}),
		framesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "voicegate_audio_frames_dropped_total", Help: "Queued input audio frames dropped because a session fell behind.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_errors_total", Help: "Error events sent to clients and requests refused, by error code.",
		}, []string{"code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_connections_rejected_total", Help: "Requests refused before a WebSocket upgrade or a ticket, by reason.",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_rate_limited_total", Help: "Connections refused and session starts refused for one client's share, by the setting that refused them: max_sessions_per_ip, max_sessions_per_key or session_rate.",
		}, []string{"limit"}),
		slowConsumer: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "voicegate_slow_consumer_closes_total", Help: "Connections closed because the client did not keep up with its output.",
		}),
		turnLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "voicegate_turn_latency_seconds",
			Help:    "Time from the end of the user's speech (or typed text) to each milestone of a turn, by stage and the provider that reached it.",
			Buckets: latencyBuckets,
		}, []string{"stage", "provider"}),
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "voicegate_stage_duration_seconds",
			Help:    "Time one stage of a turn took, from the previous milestone to its own, by stage and the provider that answered it.",
			Buckets: latencyBuckets,
		}, []string{"stage", "provider"}),
	}
	for _, c := range []prometheus.Collector{m.sessionsActive, m.sessionsTotal, m.detached, m.evicted, m.fileWrites, m.storeOps, m.storeUp, m.framesIn, m.framesDropped,
		m.errors, m.rejected, m.rateLimited, m.slowConsumer, m.turnLatency, m.stageDuration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// The milestones of a turn, as the stage label of voicegate_turn_latency_seconds
// and the fields of turn.latency.
const (
	stageEndpoint       = "endpoint"
	stageASRFinal       = "asr_final"
	stageLLMFirstToken  = "llm_first_token"
	stageFirstSentence  = "first_sentence"
	stageTTSFirstAudio  = "tts_first_audio"
	stageFirstAudioSent = "first_audio_sent"
)

// observeTurn builds the turn.latency event for ev, an EventTurnLatency,
// and observes its histograms: the Trace it carries is complete, and the
// turn's audio (queued ahead of it) has reached the wire.
func (m *metrics) observeTurn(ev pipeline.Event, vadName string) *protocol.TurnLatency {
	tr := ev.Trace
	msg := &protocol.TurnLatency{
		Type:         protocol.TypeTurnLatency,
		Turn:         ev.Turn,
		ResponseDone: ev.Reason == 0,
		Cancelled:    ev.Reason != 0,
	}
	if tr == nil {
		return msg
	}
	msg.TextInput = tr.TextInput
	msg.Providers = answered(tr)
	var sent time.Time
	if ev.Handle != nil {
		sent = ev.Handle.FirstAudioSent()
	}
	milestones := []struct {
		stage, provider string
		at              time.Time
		field           **float64
	}{
		{stageEndpoint, vadName, tr.Endpoint, &msg.EndpointMS},
		{stageASRFinal, tr.ASR, tr.ASRFinal, &msg.ASRFinalMS},
		{stageLLMFirstToken, tr.LLM, tr.LLMFirstToken, &msg.LLMFirstMS},
		{stageFirstSentence, tr.LLM, tr.FirstSentence, &msg.FirstSentMS},
		{stageTTSFirstAudio, tr.TTS, tr.TTSFirstAudio, &msg.TTSFirstMS},
		{stageFirstAudioSent, tr.TTS, sent, &msg.FirstAudioMS},
	}
	for _, ms := range milestones {
		d := tr.Since(ms.at)
		if d < 0 {
			continue
		}
		v := float64(d) / float64(time.Millisecond)
		*ms.field = &v
		if ms.stage == stageEndpoint && tr.TextInput {
			continue // typed text has no endpointing: always 0
		}
		m.turnLatency.WithLabelValues(ms.stage, providerLabel(ms.provider)).Observe(d.Seconds())
	}

	// Hops: each stage from the milestone before it.
	llmFrom := tr.ASRFinal
	if llmFrom.IsZero() {
		llmFrom = tr.Endpoint
	}
	hops := []struct {
		stage, provider string
		from, to        time.Time
	}{
		{"vad", vadName, tr.SpeechEnd, tr.Endpoint},
		{"asr", tr.ASR, tr.Endpoint, tr.ASRFinal},
		{"llm", tr.LLM, llmFrom, tr.LLMFirstToken},
		{"chunker", tr.LLM, tr.LLMFirstToken, tr.FirstSentence},
		{"tts", tr.TTS, tr.FirstSentence, tr.TTSFirstAudio},
		{"send", "gateway", tr.TTSFirstAudio, sent},
	}
	for _, h := range hops {
		if h.from.IsZero() || h.to.IsZero() || h.to.Before(h.from) {
			continue
		}
		m.stageDuration.WithLabelValues(h.stage, providerLabel(h.provider)).Observe(h.to.Sub(h.from).Seconds())
	}
	return msg
}

// answered names the provider of each stage that reached its milestone, or
// returns nil when none did.
func answered(tr *pipeline.Trace) *protocol.TurnProviders {
	var p protocol.TurnProviders
	if !tr.ASRFinal.IsZero() {
		p.ASR = tr.ASR
	}
	if !tr.LLMFirstToken.IsZero() {
		p.LLM = tr.LLM
	}
	if !tr.TTSFirstAudio.IsZero() {
		p.TTS = tr.TTS
	}
	if p == (protocol.TurnProviders{}) {
		return nil
	}
	return &p
}

func providerLabel(name string) string {
	if name == "" {
		return "unknown"
	}
	return name
}
