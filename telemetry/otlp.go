package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// ServiceName is the service.name of voicegate's traces unless
// OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) says
// otherwise.
const ServiceName = "voicegate"

// Enabled reports whether the environment, read with getenv, asks for
// traces: OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) with
// no exporter named. OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED=true
// turn them off. It fails on settings this exporter cannot honour: another
// exporter, or an OTLP protocol other than http/protobuf.
func Enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	on := getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "":
	case "none":
		return false, nil
	case "otlp":
		on = true
	default:
		return false, fmt.Errorf("telemetry: OTEL_TRACES_EXPORTER=%q: only otlp (or none) is supported", exp)
	}
	if !on {
		return false, nil
	}
	for _, key := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(key)); p != "" {
			if p != "http/protobuf" {
				return false, fmt.Errorf("telemetry: %s=%q: only http/protobuf is supported", key, p)
			}
			break // the traces setting overrides the general one
		}
	}
	return true, nil
}

// NewProvider returns a TracerProvider that batches spans and exports them
// by OTLP/HTTP. The exporter, the batching and the sampler take their
// settings from the process's standard OTEL_* environment variables
// (endpoint, headers, timeout, compression, certificates, OTEL_BSP_*,
// OTEL_TRACES_SAMPLER); the resource is service.name=ServiceName with
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over it. Nothing is sent
// until a span ends; the caller must Shutdown the provider, which flushes
// what is queued.
func NewProvider(ctx context.Context) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP/HTTP exporter: %w", err)
	}
	// Later options win: the environment's over the default name.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", ServiceName)), resource.WithFromEnv())
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
