// Package pocketsphinx is an offline, streaming speech recogniser
// (pipeline.Recognizer) built on CMU PocketSphinx 0.8 (Debian's
// libpocketsphinx-dev and libsphinxbase-dev) and its en-us model
// (pocketsphinx-en-us).
//
// Start here: New loads the models, Recognizer.Start hands out an Utterance,
// Utterance.Write feeds 16 kHz mono audio and returns the current partial
// transcript, Finish returns the final one, Close gives the decoder back.
//
// # Decoders and the pool
//
// A PocketSphinx decoder is not safe for concurrent use, costs 0.2–0.5 s to
// create and holds its own copy of the models (about 95 MB with the en-us
// model; PocketSphinx 0.8 has no API to share an acoustic or language model
// between decoders, and its language model keeps mutable caches). So a
// Recognizer keeps a pool of at most Config.PoolSize decoders: New creates
// Config.Preload of them, Start takes an idle one or creates another while
// fewer than PoolSize exist, and otherwise blocks until an Utterance is
// closed or ctx is done. An Utterance owns its decoder from Start until Close.
//
// # Process-wide state
//
// sphinxbase logs through process-global state. The first New in a process
// switches that log off for good (err_set_logfp(NULL)) rather than passing
// -logfn per decoder, because -logfn re-opens the global log file and closes
// the previous one on every decoder creation, which races with decoders
// logging on other goroutines. Decoder creation and destruction are
// serialised process-wide for the same reason; decoding itself runs in
// parallel.
//
// # Build
//
// The engine needs cgo on Linux. Elsewhere, or with CGO_ENABLED=0, the package
// still compiles: Available reports false and New returns an error.
package pocketsphinx
