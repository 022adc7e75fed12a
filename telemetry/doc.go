// Package telemetry records voicegate's turns as OpenTelemetry traces: one
// trace per turn, a span per stage, built after the turn from its
// pipeline.Trace so that the spans' times are the turn.latency message's
// exactly. Start with TurnTracer (the gateway.TurnTracer that builds the
// spans) and NewProvider (the OTLP/HTTP export, configured by the standard
// OTEL_* environment variables). docs/telemetry.md lists the spans and
// their attributes.
package telemetry
