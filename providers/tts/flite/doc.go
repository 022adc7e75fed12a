// Package flite is an offline speech synthesiser (pipeline.Synthesizer) built
// on CMU Flite 2.2 (Debian's flite1-dev) with the cmu_us_slt voice: a US
// English female voice, 16 kHz mono.
//
// Start here: New, then Synthesizer.Synthesize, which streams audio to its
// emit callback while Flite is still synthesising (through Flite's
// audio_streaming_info callback), and stops within one chunk (about 25 ms of
// audio) when ctx is cancelled.
//
// # Concurrency
//
// Flite is not safe for concurrent synthesis: the voice is a process-wide
// singleton (cmu_us_slt_cg) whose features every synthesis reads and writes
// (the streaming callback's state, which Flite points at the utterance in
// progress, and the speaking rate), errors longjmp through one global
// jmp_buf, and its regex compiler keeps its state in statics. So all
// synthesis in a process is serialised on one lock, held only while Flite
// computes, never while emit runs: the audio is queued for the caller's
// goroutine, which calls emit. Synthesize may be called concurrently and
// waits its turn.
//
// The lock caps a process's Flite throughput at one core. Measured on the
// development machine (2 shared cores, under load), Flite makes 65–85
// seconds of speech per second of CPU, so one process can voice about 65
// realtime streams at once; first audio comes 5–20 ms after the call (it
// follows the analysis of the first sentence, whatever the text's length).
//
// # Build
//
// The engine needs cgo on Linux. Elsewhere, or with CGO_ENABLED=0, the package
// still compiles: Available reports false and New returns an error.
package flite
