// Package espeakng is an offline speech synthesiser (pipeline.Synthesizer)
// built on eSpeak NG: 22050 Hz mono, about a hundred languages, robotic but
// fast and small. The engine is Debian's eSpeak NG 1.51 (libespeak-ng.so.1,
// package libespeak-ng1, which espeak-ng brings) with its data
// (espeak-ng-data). The package does not link it: New loads it once per
// process with dlopen, its symbols local to it and bound to itself
// (RTLD_LOCAL|RTLD_DEEPBIND), and calls it only through the functions it
// looks up there. Only the header comes from libespeak-ng-dev at build
// time. When the library is missing, New returns an error wrapping
// ErrNoLibrary, which names the package to install.
//
// Start here: New, then Synthesizer.Synthesize, which streams audio to its
// emit callback while eSpeak NG is still synthesising and stops at the next
// chunk (20 ms of audio) when ctx is cancelled. Synthesizer.Phonemes gives
// eSpeak NG's reading of a text in its phoneme mnemonics.
//
// # Process-wide state
//
// eSpeak NG keeps all its state in globals: one initialisation, one current
// voice and one synthesis at a time per process. This package loads and
// initialises it on the first New and synthesises in turns (a caller waits
// for its turn until its ctx is done). Each Synthesizer's voice, rate and
// pitch are applied in its turn when they differ from the last synthesis's,
// so Synthesizers with different Configs can be mixed. A turn is held only
// while eSpeak NG computes, never while emit runs: the audio is queued for
// the caller's goroutine, which calls emit. eSpeak NG is fast enough for
// the turns not to matter: it makes about 850 seconds of speech per second
// of CPU here, first audio within a millisecond.
//
// # Two eSpeak NG in one process, with tts/piper
//
// The Piper voices (tts/piper) phonemise with another eSpeak NG, the 1.52
// built into sherpa-onnx's shared library, which exports the same function
// names. The two are isolated: Debian's 1.51, loaded with local symbols and
// deep binding, speaks the espeakng voices with its data and never calls
// into sherpa-onnx's copy; sherpa-onnx's 1.52, inside its library, makes
// Piper's phonemes. Each has its own globals (data, voice, callback), so
// neither waits for nor disturbs the other: an espeakng synthesis runs
// while a Piper sentence is being made. Linking Debian's library into the
// binary instead would clash with sherpa-onnx's symbols, and sherpa-onnx's
// 1.52 reads Debian's 1.51 Mandarin dictionary wrongly. TestWithEspeakNG
// and TestPiperThenEspeakNG in tts/piper run both, interleaved and
// concurrently, in either order.
//
// Mandarin: voice "cmn" turns Hanzi into audio, but reads the tone digits
// of its dictionary's Pinyin out in English. Voice "cmn-latn-pinyin" reads
// Hanzi as the Mandarin syllables of their Pinyin ("今" is "tS;'i55n"), the
// same as the Pinyin itself ("jin1"). Cantonese, "yue", is read right too.
//
// # Build
//
// The engine needs cgo on Linux. Elsewhere, or with CGO_ENABLED=0, the package
// still compiles: Available reports false and New returns an error.
package espeakng
