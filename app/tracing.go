package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/telemetry"
)

// tracingFlushTimeout bounds the flush of queued spans at exit: a
// collector that is down must not hold up the stop.
const tracingFlushTimeout = 5 * time.Second

// newTracing returns the gateway's TurnTracer, exporting by OTLP/HTTP, when
// the standard OTEL_* environment asks for traces (telemetry.Enabled), and
// the function that flushes and stops it; without, a nil tracer (none,
// at no cost) and a stop that does nothing.
func newTracing(getenv func(string) string, log *zap.Logger) (gateway.TurnTracer, func(), error) {
	on, err := telemetry.Enabled(getenv)
	if err != nil || !on {
		return nil, func() {}, err
	}
	tp, err := telemetry.NewProvider(context.Background())
	if err != nil {
		return nil, nil, err
	}
	log.Info("tracing turns by OTLP/HTTP (OTEL_* environment)")
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("traces not all exported at exit", zap.Error(err))
		}
	}
	return telemetry.NewTurnTracer(tp), stop, nil
}
