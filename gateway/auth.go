package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// keyring checks API keys. Keys are kept as SHA-256 digests and every key
// is compared, so neither a key's length nor which key matched shows in the
// time a check takes.
type keyring struct {
	digests [][sha256.Size]byte
}

func newKeyring(keys []string) *keyring {
	k := &keyring{}
	for _, key := range keys {
		k.digests = append(k.digests, sha256.Sum256([]byte(key)))
	}
	return k
}

func (k *keyring) enabled() bool { return len(k.digests) > 0 }

// match reports whether r carries a valid key: "Authorization: Bearer",
// "X-API-Key" or the "token" query parameter (browsers cannot set headers on
// a WebSocket), and which key it is, as its index: the principal that
// per-key limits count. Without keys, it is -1 and true. The presented key
// is never logged.
func (k *keyring) match(r *http.Request) (int, bool) {
	if !k.enabled() {
		return -1, true
	}
	var presented []string
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		presented = append(presented, strings.TrimSpace(h[7:]))
	}
	if h := r.Header.Get("X-API-Key"); h != "" {
		presented = append(presented, h)
	}
	if t := r.URL.Query().Get("token"); t != "" {
		presented = append(presented, t)
	}
	ok, which := 0, 0
	for _, p := range presented {
		d := sha256.Sum256([]byte(p))
		for i := range k.digests {
			eq := subtle.ConstantTimeCompare(d[:], k.digests[i][:])
			ok |= eq
			which = subtle.ConstantTimeSelect(eq, i, which)
		}
	}
	return which, ok == 1
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
