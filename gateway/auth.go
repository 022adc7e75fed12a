package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

// principal is who a connection acts for: a digest of the API key it
// presented (itself, or through a ticket that key minted), or anonymous when
// the gateway has no keys. A session belongs to the principal that created
// it, and only that principal can resume it. The digest is of the key's
// digest under a label of its own, so it matches no other hash of the key
// that may be stored elsewhere; it is safe to keep in the session file.
type principal string

const anonymous principal = "anonymous"

// short is the principal for the log: enough to tell keys apart.
func (p principal) short() string {
	if len(p) > 12 {
		return string(p[:12])
	}
	return string(p)
}

func principalOf(keyDigest [sha256.Size]byte) principal {
	h := sha256.New()
	h.Write([]byte("voicegate principal\x00"))
	h.Write(keyDigest[:])
	return principal(hex.EncodeToString(h.Sum(nil)))
}

// keyring checks API keys. Keys are kept as SHA-256 digests and every key
// is compared, so neither a key's length nor which key matched shows in the
// time a check takes.
type keyring struct {
	digests    [][sha256.Size]byte
	principals []principal // of digests[i]
}

func newKeyring(keys []string) *keyring {
	k := &keyring{}
	for _, key := range keys {
		d := sha256.Sum256([]byte(key))
		k.digests = append(k.digests, d)
		k.principals = append(k.principals, principalOf(d))
	}
	return k
}

func (k *keyring) enabled() bool { return len(k.digests) > 0 }

// match returns the principal of the first of presented that is a key.
func (k *keyring) match(presented []string) (principal, bool) {
	found, at := 0, 0
	for _, p := range presented {
		d := sha256.Sum256([]byte(p))
		for i := range k.digests {
			eq := subtle.ConstantTimeCompare(d[:], k.digests[i][:])
			at = subtle.ConstantTimeSelect(eq&^found, i, at)
			found |= eq
		}
	}
	if found == 0 {
		return "", false
	}
	return k.principals[at], true
}

// valid reports whether p can still act here: anonymous while there are no
// keys, else the principal of a configured key (a session restored from a
// file whose key has since been removed cannot be resumed).
func (k *keyring) valid(p principal) bool {
	if !k.enabled() {
		return p == anonymous
	}
	return slices.Contains(k.principals, p)
}

// headerKeys returns the keys r presents in headers: "Authorization:
// Bearer" and "X-API-Key". They are never logged.
func headerKeys(r *http.Request) []string {
	var presented []string
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		presented = append(presented, strings.TrimSpace(h[7:]))
	}
	if h := r.Header.Get("X-API-Key"); h != "" {
		presented = append(presented, h)
	}
	return presented
}

// hostAllowed reports whether a request for Host may reach /ws or the API.
// It is what stops DNS rebinding: a page on attacker.example whose name
// the attacker then points at 127.0.0.1 reaches a loopback server as its
// own origin, so the Origin check passes, but its requests still carry
// Host: attacker.example. A server without keys, which anyone who reaches
// it can use, therefore answers only loopback names (localhost,
// 127.0.0.0/8, ::1) and the patterns (path.Match, case-insensitive,
// against the name without its port). With keys, the key is the guard, and
// the patterns restrict only when given.
func hostAllowed(r *http.Request, keyed bool, patterns []string) bool {
	if keyed && len(patterns) == 0 {
		return true
	}
	host := hostname(r.Host)
	if host == "" {
		return false
	}
	if isLoopbackName(host) {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
	}
	return false
}

// hostname is the lower-case name of a Host header, without its port, the
// brackets of an IPv6 literal and a trailing dot.
func hostname(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// originAllowed reports whether a browser on r's Origin may open a
// WebSocket here: no Origin (not a browser), the request's own host, or a
// match of one of patterns (host, or scheme://host when the pattern has a
// scheme), case-insensitively with path.Match — the rules of
// websocket.AcceptOptions.OriginPatterns. Checking before the upgrade lets
// the gateway count and log the refusal; it is what stops cross-site
// WebSocket hijacking.
func originAllowed(r *http.Request, patterns []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}
