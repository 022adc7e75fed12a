// Package audio holds the PCM vocabulary every other package speaks: a
// Format (sample rate and channel count of signed 16-bit little-endian PCM),
// conversions between wire bytes and samples, and frame arithmetic.
//
// Everything here is a pure function over caller-owned buffers. Functions
// that take a dst slice append to it and return the result, so a caller that
// keeps the returned slice and passes it back as dst[:0] allocates nothing in
// the steady state.
//
// Subpackages: wav (WAV codec), g711 (μ-law and A-law, the telephone
// codecs), resample (streaming rate conversion) and vad (voice activity
// detection and endpointing).
package audio
