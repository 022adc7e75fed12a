// Package e2e holds the end-to-end tests: the real voicegate binary driven by
// real clients — a WebSocket client with recorded speech, headless Chromium
// with a fake microphone, the desktop client on a virtual sound card. They
// need the build tag e2e: go test -tags e2e ./e2e/...
package e2e
