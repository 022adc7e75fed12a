// Package httpx is the resilience layer every HTTP speech and language
// provider shares: one [Client] per configured provider wraps a tuned
// [net/http.Transport] with authentication, retries, a time-to-first-byte
// watchdog, an adaptive concurrency limit and a circuit breaker, and maps
// every failure to one of the pipeline error kinds (pipeline.ErrTimeout,
// ErrRateLimited, ErrUnavailable, ErrRejected, ErrBadResponse).
//
// Start with [New] and [Config]. A Client satisfies go-openai's HTTPDoer, so
// it plugs into openai.ClientConfig.HTTPClient as is; providers that speak
// HTTP directly call [Client.Do].
//
// # What Do promises
//
//   - A returned response is always 2xx and its body has already yielded its
//     first byte: the watchdog ([Config.TTFB]) covers connect, headers and the
//     first body byte. Non-2xx answers come back as an [*Error] whose Message
//     is the provider's own words from its JSON error body.
//   - Retries happen only before the caller has seen a single byte: on
//     connect errors, 429 and 5xx, and a connection lost before the first
//     body byte. Never after Do has returned a response.
//   - Errors read from a returned body are mapped too: a stream that breaks
//     mid-way wraps pipeline.ErrBadResponse; the call's Timeout wraps
//     pipeline.ErrTimeout. The caller's own cancellation comes back as the
//     plain context error, which is not a provider failure.
//
// # Where credentials are scrubbed
//
// The API key, the OAuth2 client secret and access tokens and the values of
// Config.Headers are never logged. Upstreams echo them back, though ("Incorrect
// API key provided: sk-..."), whole or cut short, so any fragment of one of
// eight characters or more (fewer for a short secret) is masked wherever it
// would reach an error or a log line.
//
// Errors Do makes are scrubbed when they are made, and so are the Client's
// own log lines. That does not cover everything a provider reports: much of
// it comes from a 2xx body that Do only hands on, such as go-openai's
// APIError for an error event inside a stream, or a 200 that carries an
// error object where a transcript was due. So the one choke point is where a
// provider's errors leave it for the pipeline: every provider built on a
// Client returns each error of its calls through [Client.Scrub], and never
// quotes a response body into an error.
package httpx
