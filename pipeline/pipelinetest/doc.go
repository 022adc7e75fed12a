// Package pipelinetest provides stage implementations for tests, demos and
// load runs — a scripted recognizer, an echo language model and a tone
// synthesizer, each with a configurable latency. The checks every provider
// runs are in pipeline/conformance.
//
// Echo is also a real provider: it is the offline default's language model
// until a model is configured.
package pipelinetest
