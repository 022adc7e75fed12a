// Package piper is an offline neural speech synthesiser (pipeline.Synthesizer)
// that speaks Piper voices through sherpa-onnx's VITS engine
// (github.com/k2-fsa/sherpa-onnx-go-linux, which brings its own
// onnxruntime). The default voice is Piper's "Jenny (Dioco)", British
// English, 22050 Hz mono, far more natural than Flite or eSpeak NG.
//
// Start here: scripts/models.sh prepares the voice in the models directory
// (DefaultDir; model.onnx with sherpa-onnx's metadata, tokens.txt, and the
// voice's MODEL_CARD, which carries the attribution its dataset asks for).
// Then New, then Synthesizer.Synthesize. New fails with a *MissingError
// naming the files when the directory is incomplete.
//
// # Streaming and cancellation
//
// VITS makes a sentence's audio in one pass, so Synthesize streams sentence
// by sentence: it splits the text into sentences (long ones at a clause
// break, at most 240 characters), emits each sentence's audio once it is
// made, while the engine makes the next. The sherpa-onnx Go API cannot stop
// a generation (its callback's return value, which stops sherpa-onnx's C
// API between sentences, is not exposed), so a cancel or an emit error
// returns at once and the engine finishes the sentence in hand, unheard,
// before it serves anyone else.
//
// # Engines
//
// A Synthesizer owns a pool of engines (Config.Engines, created as needed)
// shared by all its sessions; a session waits, bounded by its ctx, for a
// free one. Each engine runs Config.Threads compute threads. Piper
// phonemises with the eSpeak NG 1.52 inside sherpa-onnx's library, which
// sherpa-onnx initialises once per process (on the first engine, with its
// Config.DataDir) and whose calls it serialises itself. The espeakng
// provider speaks with another one: two eSpeak NG in one process,
// isolated, Debian's 1.51 with its data for the espeakng voices (loaded
// with dlopen, local symbols) and sherpa-onnx's 1.52 inside its library for
// Piper's phonemes. Neither waits for the other (see the espeakng doc).
//
// Measured on the development machine (2 cores shared with other work;
// TestFigures): first audio of a ten-word sentence 220–370 ms (the whole
// first sentence is made before it is heard); on one thread 0.085–0.11 s
// of CPU per second of speech, so one core keeps 9–12 sessions speaking
// without pause; resident memory about 155 MB for the first engine and
// 240–290 MB for each further one.
// PocketSphinx, whose acoustic model is US English, hears 77–82 % of the
// end-to-end test's words from this British voice, against 97 % from
// Flite's slt (TestRecognisedVersusFlite).
//
// # Build
//
// The engine needs cgo on Linux (amd64, arm64 or arm). Elsewhere, or with
// CGO_ENABLED=0, the package still compiles: Available reports false and
// New returns an error.
package piper
