package main

import (
	"testing"
	"time"

	"github.com/voicegate/voicegate/configs"
)

// TestGatewayConfig: the spawned gateway's config loads and lifts the
// per-client limits, since every load session comes from one address.
func TestGatewayConfig(t *testing.T) {
	c := configs.Default()
	if err := configs.Parse([]byte(gatewayConfig(latencies{Silence: 300 * time.Millisecond}, 5000)), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := c.Server
	if s.MaxSessions != 5000 || s.MaxSessionsPerIP != 5000 || s.SessionBurst != 5000 || s.SessionRate < 1000 || c.VAD.Silence != 300*time.Millisecond {
		t.Fatalf("%+v", s)
	}
}
