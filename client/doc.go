// Package client is a Go client for voicegate's native protocol
// (gateway/protocol, docs/protocol.md): it dials the gateway, starts a
// session, streams microphone audio up and hands reply text, audio and the
// other server events to a Handler, and keeps the session alive across
// dropped connections by reconnecting with exponential backoff and full
// jitter, resuming with the session's resume token. It reconnects after a
// fatal error only when the gateway's error event says retryable, and
// after any failure without one (a dropped network, a silent gateway).
//
// Tools: the client's tools (Config.Tools, Session.SetTools) are offered
// to the model; when it calls one, the Handler gets a *protocol.ToolCall,
// and Session.SendToolResult answers it; once every call of a reply has
// its result, the reply goes on.
//
// Start with Dial and Config. A Session owns three goroutines per
// connection (reader, writer, heartbeat) and one supervisor; Close ends
// them all and waits for them.
//
// Concurrency: every Session method may be called from any goroutine,
// except that the Handler must not call Close (Close waits for the
// goroutine that runs the Handler). Events reach the Handler one at a time,
// in order.
//
// Slow links: control messages (text, interrupt, ping) are written before
// queued audio; audio waits in a bounded queue (Config.AudioQueue) whose
// oldest frames are dropped when it is full, so a stalled network never
// blocks the caller of SendAudio.
package client
