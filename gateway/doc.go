// Package gateway serves voicegate's WebSocket protocol (gateway/protocol,
// described for clients in docs/protocol.md) and OpenAI's Realtime
// protocol (gateway/realtime, docs/realtime.md): it authenticates and
// upgrades connections, runs one pipeline.Session per connection, and
// carries audio and events between the two.
//
// Start with New and Options (every field says its default), then
// Server.Handler, which serves /ws, /v1/tickets, /v1/realtime,
// /v1/realtime/client_secrets, the Twilio endpoints /v1/twilio and
// /v1/twilio/voice, /healthz and /readyz,
// Server.MetricsHandler, for an operators' listener, and Server.Shutdown,
// which drains. Package app wires it:
//
//	gw, err := gateway.New(gateway.Options{Logger: log, Registry: reg, Stages: stages})
//	mux := http.NewServeMux()
//	mux.Handle("/", web.Handler())
//	for _, p := range []string{gateway.PathWS, gateway.PathTickets, gateway.PathRealtime, gateway.PathClientSecrets,
//		gateway.PathTwilio, gateway.PathTwilioVoice, gateway.PathHealthz, gateway.PathReadyz} {
//		mux.Handle(p, gw.Handler())
//	}
//	admin := http.NewServeMux() // on a loopback address
//	admin.Handle(gateway.PathMetrics, gw.MetricsHandler())
//	// serve mux from an http.Server with ReadHeaderTimeout, ReadTimeout and
//	// IdleTimeout; on the first signal: gw.Shutdown(ctx), then
//	// httpServer.Shutdown(ctx).
//
// Access: auth.go holds the checks made before an upgrade (Host, Origin,
// API keys) and the principal a connection acts for; tickets.go the
// single-use tickets a browser connects with; a session belongs to the
// principal that created it (resume.go).
//
// Inside, conn.go is a connection's life: the reader (the handler's own
// goroutine) parses messages and feeds the session; writer.go is its Output
// and its single writer, with a control lane drained before the stream
// lane and a slow-consumer policy instead of back-pressure; audioin.go is
// the per-frame hot path (no allocation; see BenchmarkFrameHotPath);
// errors.go is the one map from errors to error codes and close statuses;
// resume.go keeps sessions across dropped connections, detached.go caps and
// expires those waiting to be resumed, persist.go and sessionfile.go keep
// them in Options.SessionFile across restarts; store.go is the
// SessionStore nodes share (package redisstore is Redis's, memstore.go one
// in memory), storesync.go saves the sessions to it at each turn's end and
// claims them from it on resume, and cluster.go shares the per-key limits; admission.go is each
// client's share (connections per address and per key, a session-start
// rate); metrics.go holds the Prometheus collectors and the turn latency
// trace; tools.go follows the client's tools and the calls waiting for
// their results, and continues a reply once they are in.
//
// Other wire protocols are adapters over the same transport (conn.go's
// adapter; serveUpgrade's checks, the same writer and lanes, watchdog,
// drain and close). The Realtime endpoint is realtime*.go, whose reader
// and Output speak Realtime events; realtime.go says which file does
// what. twilio.go serves Twilio Media Streams (the X-Twilio-Signature
// check, the TwiML of the voice webhook) and twilio_call.go is a call,
// 8 kHz μ-law both ways, whose marks tell what the caller heard; the
// messages themselves are gateway/twilio's (docs/twilio.md).
//
// Concurrency: a connection owns exactly one reader, one writer, a watchdog
// (session.start timeout, pings), its session's Run and the short-lived
// requests that continue a reply after tool results; it waits for all of
// them before its handler returns, and Shutdown waits for every handler.
package gateway
