package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"hash"
	"io"
	"net/url"
	"slices"
	"strings"
)

// SignatureHeader is the header Twilio signs its requests with.
const SignatureHeader = "X-Twilio-Signature"

// Signature returns the X-Twilio-Signature of a request to rawURL with the
// form parameters params: the base64 HMAC-SHA1, keyed with the account's
// auth token, of the full URL (scheme, host, path and query, as Twilio
// requested it) followed by each parameter's name and value, sorted by
// name (a name given twice, by value too), with nothing between them. A
// GET, and the WebSocket upgrade of a stream (whose URL is the wss:// one
// in the TwiML), has no parameters: params is nil.
func Signature(authToken, rawURL string, params url.Values) string {
	return base64.StdEncoding.EncodeToString(signature(authToken, rawURL, params))
}

func signature(authToken, rawURL string, params url.Values) []byte {
	mac := hmac.New(sha1.New, []byte(authToken))
	writeSigned(mac, rawURL, params)
	return mac.Sum(nil)
}

func writeSigned(h hash.Hash, rawURL string, params url.Values) {
	io.WriteString(h, rawURL)
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := slices.Clone(params[name])
		slices.Sort(values)
		for _, v := range values {
			io.WriteString(h, name)
			io.WriteString(h, v)
		}
	}
}

// ValidSignature reports whether sig is the X-Twilio-Signature of a
// request to rawURL with params, under authToken. The comparison takes the
// same time wherever the signatures differ. As Twilio's own libraries do,
// it also accepts the signature of rawURL with its default port (443 for
// https and wss, 80 for http and ws) written out when rawURL has none, or
// left out when it has it: Twilio may sign either form.
func ValidSignature(authToken, sig, rawURL string, params url.Values) bool {
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(got) != sha1.Size || authToken == "" {
		return false
	}
	ok := hmac.Equal(got, signature(authToken, rawURL, params))
	if alt, has := togglePort(rawURL); has {
		// Both are computed and compared, so the time does not tell which
		// form matched.
		ok = hmac.Equal(got, signature(authToken, alt, params)) || ok
	}
	return ok
}

// togglePort returns rawURL with its scheme's default port added, when it
// has no port, or removed, when it has that port.
func togglePort(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", false
	}
	var def string
	switch strings.ToLower(u.Scheme) {
	case "https", "wss":
		def = "443"
	case "http", "ws":
		def = "80"
	default:
		return "", false
	}
	switch u.Port() {
	case "":
		u.Host += ":" + def
	case def:
		u.Host = strings.TrimSuffix(u.Host, ":"+def)
	default:
		return "", false
	}
	return u.String(), true
}
