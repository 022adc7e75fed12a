// Package realtime is the wire format of OpenAI's Realtime API as
// voicegate serves it on /v1/realtime: the client events a connection
// reads, decoded strictly (Decoder), and the server events it writes, in
// either dialect of the protocol: the generally available one (GA) or the
// beta one that clients select with "OpenAI-Beta: realtime=v1" (Beta).
// The two differ in a few event names (Dialect.Name), in the shape of the
// session object (SessionConfig's encodings) and in the names of content
// parts and audio formats (Format).
//
// The package knows nothing of the pipeline: package gateway turns these
// events into pipeline.Session calls and pipeline events into these
// events. docs/realtime.md is the table of what is supported, mapped or
// ignored.
//
// Start with Decoder.Decode for what comes in, and the constructors in
// server.go for what goes out. Every failure Decode reports is an *Error:
// the Realtime error object, which names its type, code and the client
// event_id it answers.
package realtime
