package gateway

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func TestClientAddr(t *testing.T) {
	trusted, err := parsePrefixes([]string{"10.0.0.0/8", "fd00::/8", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"direct ignores the header", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"one proxy", "10.1.2.3:80", []string{"203.0.113.5"}, "203.0.113.5"},
		{"the client's own entries are not read", "10.1.2.3:80", []string{"1.1.1.1, 2.2.2.2, 203.0.113.5"}, "203.0.113.5"},
		{"proxies in a chain", "10.1.2.3:80", []string{"203.0.113.5, 192.0.2.1", "10.9.9.9"}, "203.0.113.5"},
		{"only proxies", "10.1.2.3:80", []string{"10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"no header", "10.1.2.3:80", nil, "10.1.2.3"},
		{"garbage ends the walk", "10.1.2.3:80", []string{"203.0.113.5, not-an-ip"}, "10.1.2.3"},
		{"with a port", "10.1.2.3:80", []string{"203.0.113.5:5555"}, "203.0.113.5"},
		{"IPv6 proxy", "[fd00::1]:80", []string{"2001:db8::5"}, "2001:db8::5"},
		{"mapped IPv4", "[::ffff:10.1.2.3]:80", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{"X-Forwarded-For": tt.xff}}
			got, ok := clientAddr(r, trusted)
			if !ok || got.String() != tt.want {
				t.Errorf("clientAddr = %v %v, want %s", got, ok, tt.want)
			}
		})
	}
	if _, err := parsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad prefix parsed")
	}
}

// TestAddrBlock: an IPv6 host counts as its /64.
func TestAddrBlock(t *testing.T) {
	a, b := netip.MustParseAddr("2001:db8:1:2::5"), netip.MustParseAddr("2001:db8:1:2:ffff::9")
	if addrBlock(a) != addrBlock(b) || addrBlock(a) == addrBlock(netip.MustParseAddr("2001:db8:1:3::5")) {
		t.Errorf("blocks %s %s", addrBlock(a), addrBlock(b))
	}
	if got := addrBlock(netip.MustParseAddr("192.0.2.7")); got != "192.0.2.7" {
		t.Errorf("IPv4 block %s", got)
	}
}

// TestBucketsPruned: the buckets of clients that have not started a
// session for a while are forgotten, so many addresses cannot grow the map
// without bound.
func TestBucketsPruned(t *testing.T) {
	a := newAdmission(Config{SessionRate: 10, SessionBurst: 5, MaxSessionsPerIP: 1, MaxSessionsPerKey: 1})
	now := time.Unix(1000, 0)
	for i := range 100_000 {
		now = now.Add(time.Millisecond)
		if ok, _ := a.allowStart(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String(), now); !ok {
			t.Fatal("a first start refused")
		}
	}
	// A bucket fills again in burst/rate = 0.5 s: about 500 are recent.
	if n := len(a.buckets); n > 4*minPruneAt {
		t.Errorf("%d buckets held", n)
	}
	p := "one"
	for range 5 {
		a.allowStart(p, now)
	}
	if ok, wait := a.allowStart(p, now); ok || wait <= 0 || wait > 200*time.Millisecond {
		t.Errorf("sixth start: %v, wait %s", ok, wait)
	}
}
