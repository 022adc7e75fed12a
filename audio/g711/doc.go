// Package g711 converts between 16-bit linear PCM and the two ITU-T G.711
// companding laws: μ-law (PCMU, North America and Japan) and A-law (PCMA,
// everywhere else). One G.711 byte carries one sample.
//
// It is the codec under the telephone edges of the gateway. Twilio Media
// Streams carry base64 μ-law in their media messages, and the OpenAI Realtime
// protocol names its telephone formats audio/pcmu and audio/pcma; the Twilio
// and Realtime adapters decode what arrives with DecodeMuLaw or DecodeALaw and
// encode what they send with EncodeMuLaw or EncodeALaw. Base64 and framing
// belong to those adapters, not here.
//
// G.711 is 8 kHz mono by definition (Format), and nothing here resamples:
// samples going out must already be at 8 kHz, and samples coming in are
// 8 kHz. The gateway converts to and from the pipeline's rate with
// audio/resample.
//
// The four functions are pure and safe for concurrent use. Each appends to
// the dst it is given and returns the extended slice, as the audio package's
// own conversions do: a caller that keeps the result and passes it back as
// dst[:0] for the next 20 ms frame allocates nothing. They do not retain dst
// or their input.
//
// The conversions are those of the classic Sun/CCITT g711.c reference: for
// μ-law, linear2ulaw (bias 0x84, magnitudes clipped at 32635); for A-law,
// linear2alaw with the 0x55 toggle of even bits, in the form that takes a
// negative sample's magnitude as its one's complement, as the ITU-T G.191
// alaw_compress does. Decoding is a 256-entry table.
package g711
