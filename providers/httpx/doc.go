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
// The API key, OAuth2 secrets and bearer tokens are never logged; they are
// also scrubbed from provider error messages that echo them back.
package httpx
