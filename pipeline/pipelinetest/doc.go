// Package pipelinetest provides stage implementations for tests, demos and
// load runs — a scripted recognizer and a tone synthesizer, each with a
// configurable latency — and helpers to drive a session: a Recorder for its
// events and speech-like test signals.
//
// It is not a provider: the offline language model is providers/llm/echo,
// and the checks every provider runs are in pipeline/conformance. It does
// not import package testing, so a load generator may link it.
package pipelinetest
