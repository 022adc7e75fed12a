// Package twilio holds the wire side of Twilio Media Streams, the protocol
// a phone call's audio takes over a WebSocket when Twilio executes
// <Connect><Stream>: the messages Twilio sends (connected, start, media,
// mark, dtmf, stop) and those a bidirectional stream sends back (media,
// mark, clear), with the field names and shapes Twilio publishes; a strict
// decoder for the first, encoders for the second; the X-Twilio-Signature
// check Twilio's requests carry; and the TwiML that connects a call to a
// stream.
//
// It knows nothing of sessions or audio codecs: media payloads are the
// bytes Twilio carries (8 kHz μ-law, see audio/g711), and package gateway
// turns these messages into pipeline.Session calls (gateway/twilio_call.go).
// Everything here is pure and safe for concurrent use, except a Decoder,
// which belongs to one connection's reader.
//
// Start with Decoder.Decode, AppendMedia, Signature and TwiML.
package twilio
