//go:build race

package gateway

// raceEnabled: the race detector makes sync.Pool drop a share of what it is
// given, so pooled buffers are sometimes made anew.
const raceEnabled = true
