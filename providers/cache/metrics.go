package cache

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the caches' Prometheus collectors, labelled by cache ("tts"
// or "llm"). Make one set with NewMetrics and give it to every cache of
// the process; a nil *Metrics counts nothing.
type Metrics struct {
	hits        *prometheus.CounterVec // {cache, tier}
	misses      *prometheus.CounterVec // {cache}
	stores      *prometheus.CounterVec // {cache, tier}
	skipped     *prometheus.CounterVec // {cache, reason}
	evictions   *prometheus.CounterVec // {cache, reason}
	bytes       *prometheus.GaugeVec   // {cache}
	entries     *prometheus.GaugeVec   // {cache}
	redisErrors *prometheus.CounterVec // {cache, op}
}

// The tiers, as the tier label.
const (
	tierMemory = "memory"
	tierRedis  = "redis"
)

// Why a result was not stored, as the reason label of
// voicegate_cache_skipped_total.
const (
	skipCut      = "cut"       // cancelled, or its emit failed: the listener did not take it all
	skipFailed   = "failed"    // the provider returned an error
	skipTooLarge = "too_large" // over max_entry (max_entry_bytes)
	skipToolCall = "tool_call" // an answer that calls a tool
	skipEmpty    = "empty"     // nothing was made
	skipFallback = "fallback"  // a fallback chain's other member answered (Options.Primary)
)

// NewMetrics makes the collectors and registers them on reg (never the
// global registry).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_cache_hits_total", Help: "Sentences (cache=tts) and answers (cache=llm) served from a cache, by the tier that had them: memory or redis.",
		}, []string{"cache", "tier"}),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_cache_misses_total", Help: "Lookups no tier answered: the provider was asked.",
		}, []string{"cache"}),
		stores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_cache_stores_total", Help: "Results stored, by tier (a Redis write is counted once it succeeded).",
		}, []string{"cache", "tier"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_cache_skipped_total", Help: "Results not stored, by reason: cut (cancelled or not taken whole), failed, too_large, tool_call, empty.",
		}, []string{"cache", "reason"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_cache_evictions_total", Help: "In-process entries dropped, by reason: size (to stay within max_bytes) or expired (ttl).",
		}, []string{"cache", "reason"}),
		bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "voicegate_cache_bytes", Help: "Bytes held by the in-process cache, keys and bookkeeping included.",
		}, []string{"cache"}),
		entries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "voicegate_cache_entries", Help: "Entries held by the in-process cache.",
		}, []string{"cache"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voicegate_cache_redis_errors_total", Help: "Failed Redis reads (op=get, each one a miss) and writes (op=set), and writes dropped while too many were pending (op=queue).",
		}, []string{"cache", "op"}),
	}
	for _, c := range []prometheus.Collector{m.hits, m.misses, m.stores, m.skipped, m.evictions, m.bytes, m.entries, m.redisErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) hit(cache, tier string) {
	if m != nil {
		m.hits.WithLabelValues(cache, tier).Inc()
	}
}

func (m *Metrics) miss(cache string) {
	if m != nil {
		m.misses.WithLabelValues(cache).Inc()
	}
}

func (m *Metrics) store(cache, tier string) {
	if m != nil {
		m.stores.WithLabelValues(cache, tier).Inc()
	}
}

func (m *Metrics) skip(cache, reason string) {
	if m != nil {
		m.skipped.WithLabelValues(cache, reason).Inc()
	}
}

func (m *Metrics) evict(cache, reason string) {
	if m != nil {
		m.evictions.WithLabelValues(cache, reason).Inc()
	}
}

func (m *Metrics) held(cache string, bytes int64, entries int) {
	if m != nil {
		m.bytes.WithLabelValues(cache).Set(float64(bytes))
		m.entries.WithLabelValues(cache).Set(float64(entries))
	}
}

func (m *Metrics) redisError(cache, op string) {
	if m != nil {
		m.redisErrors.WithLabelValues(cache, op).Inc()
	}
}
