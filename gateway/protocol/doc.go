// Package protocol is voicegate's native wire protocol, version 1: the JSON
// messages exchanged as WebSocket text frames and the rules for binary
// frames. It knows nothing of sessions or pipelines; docs/protocol.md is its
// user-facing description.
//
// Binary frames carry raw PCM16LE mono audio: client→server at the input
// rate declared in session.start, server→client at the output rate announced
// in session.started, bracketed by response.audio.start and
// response.audio.done. Every other message is a JSON object with a "type".
package protocol
