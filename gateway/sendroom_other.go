//go:build !linux

package gateway

// sendRoom is Linux-only; elsewhere every message goes through the writer.
type sendRoom struct{}

func (c *connection) roomFor(n int) bool { return false }
