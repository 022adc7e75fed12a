// Package espeakng is an offline speech synthesiser (pipeline.Synthesizer)
// built on eSpeak NG: 22050 Hz mono, about a hundred languages, robotic but
// fast and small. The engine is the eSpeak NG 1.52 built into sherpa-onnx's
// shared library (linked through a blank import of sherpa-onnx-go-linux;
// only the header comes from Debian's libespeak-ng-dev), reading Debian's
// espeak-ng-data 1.51. The process never links a second eSpeak NG.
//
// Start here: New, then Synthesizer.Synthesize, which streams audio to its
// emit callback while eSpeak NG is still synthesising and stops at the next
// chunk (20 ms of audio) when ctx is cancelled.
//
// # Process-wide state, shared with tts/piper
//
// eSpeak NG keeps all its state in globals: one initialisation, one current
// voice and one synthesis at a time per process. This package initialises it
// once, on the first New, and synthesises during Exclusive turns of the
// process's eSpeak NG gate (providers/internal/espeakgate). Each
// Synthesizer's voice, rate and pitch are applied in its turn when they
// differ from the last synthesis's, so Synthesizers with different Configs
// can be mixed. A turn is held only while eSpeak NG computes, never while
// emit runs: the audio is queued for the caller's goroutine, which calls
// emit. eSpeak NG is fast enough for the turns not to matter: it makes about
// 850 seconds of speech per second of CPU here, first audio within a
// millisecond.
//
// The Piper voices (tts/piper) use the same eSpeak NG to phonemise, inside
// sherpa-onnx: sherpa-onnx initialises it again (same data directory,
// espeakgate.DataDir) when it creates its first engine, and sets its own
// voice at every sentence. So the two coexist like this: a Piper engine is
// created during an Exclusive turn; a Piper sentence is made during a
// Shared turn (sherpa-onnx serialises its engines' eSpeak NG calls on its
// own lock, so Piper sessions run in parallel with each other but never
// alongside an eSpeak NG synthesis); and after anyone else's turn this
// package sets its synthesis callback, voice, rate and pitch again. An
// eSpeak NG synthesis may so wait for the Piper sentences in progress
// (0.1–0.5 s each); its ctx bounds the wait. When sherpa-onnx initialises
// eSpeak NG after this package did, eSpeak NG keeps sherpa-onnx's buffer
// length (its default) instead of 20 ms: chunks, and so the steps at which
// a cancel is seen, may be larger. TestWithEspeakNG in tts/piper runs both
// interleaved and concurrently.
//
// Mandarin: voice "cmn" turns Hanzi into audio, but eSpeak NG reads them
// wrongly (1.51 read tone digits out in English; sherpa-onnx's 1.52 with
// Debian's 1.51 data makes other wrong phonemes). Pinyin with voice
// "cmn-latn-pinyin" ("ni3 hao3") is read right; so is Cantonese, "yue".
//
// # Build
//
// The engine needs cgo on Linux. Elsewhere, or with CGO_ENABLED=0, the package
// still compiles: Available reports false and New returns an error.
package espeakng
