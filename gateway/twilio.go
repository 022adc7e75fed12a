package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway/twilio"
)

// Paths of the Twilio endpoints, which Handler serves beside /ws.
const (
	// PathTwilio is Twilio Media Streams: the WebSocket a call's
	// <Connect><Stream> opens (twilio_call.go).
	PathTwilio = "/v1/twilio"
	// PathTwilioVoice answers a call's voice webhook (POST) with the TwiML
	// that connects the call to PathTwilio.
	PathTwilioVoice = "/v1/twilio/voice"
)

// maxTwilioForm caps the body of a voice webhook: Twilio's call
// parameters take a few KiB.
const maxTwilioForm = 64 << 10

// twilioAuth is the Server's side of the Twilio endpoints' access.
type twilioAuth struct {
	// who is the principal calls authenticated by signature act for: the
	// Twilio account, so that max_sessions_per_key counts its calls.
	who principal
	// warnedAt is when an invalid signature was last logged at Warn (unix
	// nanoseconds): at most once a second, so a flood cannot fill the log.
	warnedAt atomic.Int64
}

func newTwilioAuth(token string) twilioAuth {
	if token == "" {
		return twilioAuth{}
	}
	return twilioAuth{who: principalOf(sha256.Sum256([]byte("twilio auth token\x00" + token)))}
}

// twilioKeyed reports whether the Twilio endpoints have a credential to
// check, which lets them answer host names beyond loopback (hostAllowed).
func (s *Server) twilioKeyed() bool { return s.keys.enabled() || s.opts.TwilioAuthToken != "" }

// serveTwilio checks a Twilio Media Streams request (host, origin, drain,
// and with an auth token its signature, over the wss:// URL alone),
// upgrades it and serves the call until it ends. With API keys and no auth
// token, the key comes in the stream's start message instead.
func (s *Server) serveTwilio(w http.ResponseWriter, r *http.Request) {
	s.serveUpgrade(w, r, upgrade{
		keyed: s.twilioKeyed(),
		authenticate: func(r *http.Request) (credential, bool) {
			if s.opts.TwilioAuthToken == "" {
				return credential{who: anonymous}, true // the start message's token is checked
			}
			return credential{who: s.twilio.who}, s.twilioSigned(r, true, nil)
		},
		refuse:    s.refuseTwilio,
		readLimit: int64(twilio.MessageLimit(s.opts.MaxFrameBytes) + 1),
		prepare:   func(c *connection) { c.adapter = newTwilioCall(c) },
	})
}

// serveTwilioVoice answers a call's voice webhook with the TwiML that
// connects it to PathTwilio. With an auth token the request must be signed
// (over its URL and form); else, with API keys, it must carry a key —
// Authorization: Bearer, X-API-Key, or the password of HTTP basic
// authentication, which Twilio sends when the webhook's URL holds
// credentials — and that key goes to the stream as its token parameter.
func (s *Server) serveTwilioVoice(w http.ResponseWriter, r *http.Request) {
	if !s.admitRequest(w, r, s.twilioKeyed()) {
		return
	}
	defer s.wg.Done()
	r.Body = http.MaxBytesReader(w, r.Body, maxTwilioForm)
	if err := r.ParseForm(); err != nil {
		s.metrics.rejected.WithLabelValues("twilio_form").Inc()
		s.log.Warn("twilio voice webhook: unreadable form", zap.Error(err))
		http.Error(w, "unreadable form", http.StatusBadRequest)
		return
	}
	var params []twilio.Parameter
	switch {
	case s.opts.TwilioAuthToken != "":
		if !s.twilioSigned(r, false, r.PostForm) {
			s.refuseTwilio(w, r)
			return
		}
	case s.keys.enabled():
		key, ok := twilioWebhookKey(r)
		if ok {
			_, ok = s.keys.match([]string{key})
		}
		if !ok {
			s.metrics.rejected.WithLabelValues("twilio_key").Inc()
			s.log.Debug("twilio voice webhook refused: missing or invalid API key")
			w.Header().Set("WWW-Authenticate", `Basic realm="voicegate"`)
			http.Error(w, "missing or invalid API key", http.StatusUnauthorized)
			return
		}
		params = append(params, twilio.Parameter{Name: twilioParamToken, Value: key})
	}
	if ce := s.log.Check(zap.DebugLevel, "twilio voice webhook answered"); ce != nil {
		// The form is the caller's to write when unsigned: only a SID is logged.
		if sid := r.PostForm.Get("CallSid"); twilio.IsSid(sid) {
			ce.Write(zap.String("call", sid))
		} else {
			ce.Write()
		}
	}
	h := w.Header()
	h.Set("Content-Type", twilio.ContentType)
	h.Set("Cache-Control", "no-store")
	w.Write(twilio.TwiML(s.publicBase(r, true)+PathTwilio, params...))
}

// twilioWebhookKey returns the API key a voice webhook presents: a header
// key, else the password of HTTP basic authentication.
func twilioWebhookKey(r *http.Request) (string, bool) {
	if keys := headerKeys(r); len(keys) > 0 {
		return keys[0], true
	}
	if h := r.Header.Get("Authorization"); len(h) > 6 && strings.EqualFold(h[:6], "basic ") {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[6:]))
		if _, pass, ok := strings.Cut(string(b), ":"); err == nil && ok && pass != "" {
			return pass, true
		}
	}
	return "", false
}

// twilioSigned reports whether r carries a valid X-Twilio-Signature of its
// public URL (wss:// for the WebSocket, as the TwiML names it) and form.
func (s *Server) twilioSigned(r *http.Request, ws bool, form url.Values) bool {
	target := r.RequestURI // as Twilio sent it: Twilio signs what it requested
	if target == "" {
		target = r.URL.RequestURI()
	}
	return twilio.ValidSignature(s.opts.TwilioAuthToken, r.Header.Get(twilio.SignatureHeader), s.publicBase(r, ws)+target, form)
}

// publicBase is the scheme and host (and any path prefix) by which Twilio
// reaches this server: Config.PublicURL, else what the request shows. For
// a WebSocket the scheme is wss (ws without TLS).
func (s *Server) publicBase(r *http.Request, ws bool) string {
	base := strings.TrimSuffix(s.opts.PublicURL, "/")
	if base == "" {
		base = "http://" + r.Host
		if r.TLS != nil {
			base = "https://" + r.Host
		}
	}
	if ws {
		if rest, ok := strings.CutPrefix(base, "https://"); ok {
			return "wss://" + rest
		}
		if rest, ok := strings.CutPrefix(base, "http://"); ok {
			return "ws://" + rest
		}
	}
	return base
}

// refuseTwilio answers a request whose signature is missing or wrong with
// 403. It is logged at Warn (at most once a second): a wrong
// twilio_auth_token or public_url refuses every call.
func (s *Server) refuseTwilio(w http.ResponseWriter, r *http.Request) {
	s.metrics.rejected.WithLabelValues("twilio_signature").Inc()
	level := zap.DebugLevel
	now := s.opts.Now().UnixNano()
	if last := s.twilio.warnedAt.Load(); now-last >= int64(time.Second) && s.twilio.warnedAt.CompareAndSwap(last, now) {
		level = zap.WarnLevel
	}
	if ce := s.log.Check(level, "twilio request refused: missing or invalid X-Twilio-Signature (check server.twilio_auth_token, and server.public_url behind a proxy)"); ce != nil {
		ce.Write(zap.String("path", r.URL.Path), zap.Bool("signed", r.Header.Get(twilio.SignatureHeader) != ""),
			zap.String("url_checked_base", s.publicBase(r, r.Method == http.MethodGet)), zap.String("remote", r.RemoteAddr))
	}
	http.Error(w, "forbidden", http.StatusForbidden)
}
