// Package espeakng is an offline speech synthesiser (pipeline.Synthesizer)
// built on eSpeak NG 1.51 (Debian's libespeak-ng-dev): 22050 Hz mono, about a
// hundred languages, robotic but fast and small.
//
// Start here: New, then Synthesizer.Synthesize, which streams audio to its
// emit callback while eSpeak NG is still synthesising and stops at the next
// chunk (20 ms of audio) when ctx is cancelled.
//
// # Process-wide state
//
// eSpeak NG keeps all its state in globals: one initialisation, one current
// voice and one synthesis at a time per process. This package initialises it
// once, on the first New, and serialises all synthesis on one process-wide
// lock. Each Synthesizer's voice, rate and pitch are applied under that lock
// when they differ from the last synthesis's, so Synthesizers with different
// Configs can be mixed. The lock is held only while eSpeak NG computes, never
// while emit runs: the audio is queued for the caller's goroutine, which
// calls emit. eSpeak NG is fast enough for the lock not to matter: it makes
// about 850 seconds of speech per second of CPU here, first audio within a
// millisecond.
//
// Synthesis of Chinese from Hanzi is broken in eSpeak NG 1.51 (tone digits
// are read out in English); Pinyin with voice "cmn-latn-pinyin" works.
//
// # Build
//
// The engine needs cgo on Linux. Elsewhere, or with CGO_ENABLED=0, the package
// still compiles: Available reports false and New returns an error.
package espeakng
