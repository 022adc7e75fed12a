// Package e2e holds the end-to-end tests: the real voicegate binary driven by
// real clients — a WebSocket client with recorded speech, headless Chromium
// with a fake microphone, the desktop client on a virtual sound card. They
// need the build tag e2e: go test -tags e2e ./e2e/...
//
// The Realtime interop tests (realtime_test.go) need the tag interop as well:
// they drive /v1/realtime with OpenAI's own npm clients — the openai SDK and
// @openai/agents-realtime, pinned in package.json — through the Node scripts
// in realtime/, which print what they saw as JSON lines for the Go test to
// check. They need Node and the packages installed (npm ci --prefix e2e),
// so make test-interop runs them and make test-e2e, without the tag, does not:
//
//	make test-interop  # npm ci when the lock changed, then -tags e2e,interop -run '^TestRealtime'
//
// The scale-out test (cluster_test.go) needs the tag cluster as well: three
// gateways behind nginx sharing a redis-server, sessions resuming across
// nodes through a drain, a kill -9 and a Redis outage. Its scale is set by
// the constants at the top of that file.
//
//	make test-cluster  # -tags e2e,cluster -run '^TestCluster'
package e2e
