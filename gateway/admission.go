package gateway

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// admission holds each client's share of the gateway: the connections
// open per client address and per API key (checked before the upgrade),
// and a token bucket of session starts per key, or per address when the
// gateway has no keys (checked at session.start). Its methods are safe for
// concurrent use.
type admission struct {
	perIP, perKey int
	every         rate.Limit
	burst         int

	mu      sync.Mutex
	open    map[string]int // "ip …" and "key …": connections open
	buckets map[string]*rate.Limiter
	pruneAt int // prune buckets when there are this many

	// With a ClusterCounter (cluster.go): the connections open on the
	// other nodes by key, the sessions started here by key since the last
	// exchange, and the cluster's running totals at the last one.
	remote  map[string]int
	started map[string]int64
	totals  map[string]int64
}

// minPruneAt is the fewest buckets worth a prune.
const minPruneAt = 1024

func newAdmission(c Config) *admission {
	return &admission{
		perIP: c.MaxSessionsPerIP, perKey: c.MaxSessionsPerKey,
		every: rate.Limit(c.SessionRate), burst: c.SessionBurst,
		open: make(map[string]int), buckets: make(map[string]*rate.Limiter), pruneAt: minPruneAt,
		started: make(map[string]int64),
	}
}

// peer is who a connection counts as.
type peer struct {
	addr string // the client address, "" when unknown: for logs
	ip   string // the per-address count's key: the address, or an IPv6 /64
	key  string // the per-key count's key; "" without API keys
}

// principal is who a session start is counted to.
func (c peer) principal() string {
	if c.key != "" {
		return c.key
	}
	return c.ip
}

// Limits a refusal names, as the label of voicegate_rate_limited_total.
const (
	limitPerIP       = "max_sessions_per_ip"
	limitPerKey      = "max_sessions_per_key"
	limitSessionRate = "session_rate"
)

// acquire counts one more connection for cl, or names the limit it would
// pass. release undoes a successful acquire, once.
func (a *admission) acquire(cl peer) (release func(), limit string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.open[cl.ip] >= a.perIP {
		return nil, limitPerIP
	}
	if cl.key != "" && a.open[cl.key]+a.remote[cl.key] >= a.perKey {
		return nil, limitPerKey
	}
	a.open[cl.ip]++
	if cl.key != "" {
		a.open[cl.key]++
	}
	var once sync.Once
	return func() { once.Do(func() { a.release(cl) }) }, ""
}

func (a *admission) release(cl peer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range []string{cl.ip, cl.key} {
		if k == "" {
			continue
		}
		if a.open[k]--; a.open[k] <= 0 {
			delete(a.open, k)
		}
	}
}

// allowStart takes a token from the bucket of principal at now. When it
// is empty, it returns false and how long until a token is back.
func (a *admission) allowStart(principal string, now time.Time) (bool, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.buckets[principal]
	if !ok {
		a.pruneLocked(now)
		b = rate.NewLimiter(a.every, a.burst)
		a.buckets[principal] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	if strings.HasPrefix(principal, clusterKeyPrefix) && len(a.started) < maxClusterKeys {
		a.started[principal]++
	}
	return true, 0
}

// pruneLocked forgets the buckets that have filled up again, which are
// as good as new, once there are pruneAt of them: the map holds about the
// clients of the last burst/rate seconds.
func (a *admission) pruneLocked(now time.Time) {
	if len(a.buckets) < a.pruneAt {
		return
	}
	for k, b := range a.buckets {
		if b.TokensAt(now) >= float64(a.burst) {
			delete(a.buckets, k)
		}
	}
	a.pruneAt = max(2*len(a.buckets), minPruneAt)
}

// peerOf returns who r counts as: its address — the one X-Forwarded-For
// names when r comes from a trusted proxy — and the principal it acts for
// (anonymous without API keys).
func peerOf(r *http.Request, trusted []netip.Prefix, who principal) peer {
	var cl peer
	if addr, ok := clientAddr(r, trusted); ok {
		cl.addr = addr.String()
		cl.ip = "ip " + addrBlock(addr)
	} else {
		cl.ip = "ip ?" + r.RemoteAddr // not IP (a Unix socket): one shared count
	}
	if who != anonymous && who != "" {
		cl.key = "key " + string(who)
	}
	return cl
}

// clientAddr returns the client address of r: its peer's, unless the peer
// is a trusted proxy; then the last address in X-Forwarded-For, from the
// right, that is not a trusted proxy (the one the nearest trusted proxy
// saw), or the leftmost when all are. Entries a client wrote itself, left
// of that, are never looked at. An entry that is not an address ends the
// walk at the proxy that passed it on.
func clientAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	addr := ap.Addr().Unmap()
	if !contains(trusted, addr) {
		return addr, true
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(strings.TrimSpace(hops[i]))
		if !ok {
			break
		}
		addr = hop
		if !contains(trusted, hop) {
			break
		}
	}
	return addr, true
}

// parseHop reads one X-Forwarded-For entry: an address, or an address with
// a port as some proxies write it.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrBlock is what one client holds: an IPv4 address, or an IPv6 /64 (a
// host is given a whole /64, so its addresses are one client).
func addrBlock(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// parsePrefixes reads addresses ("10.0.0.1") and CIDR prefixes
// ("10.0.0.0/8", "fd00::/8").
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
