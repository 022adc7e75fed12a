package gateway

import (
	"crypto/sha256"
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

// twilioOff reports, and answers, a request to a Twilio endpoint of a
// server with API keys but no Twilio auth token: Twilio cannot present a
// key before the upgrade, so only its signature lets a call in, and
// without the token the endpoints are not served.
func (s *Server) twilioOff(w http.ResponseWriter) bool {
	if s.opts.TwilioAuthToken != "" || !s.keys.enabled() {
		return false
	}
	s.metrics.rejected.WithLabelValues("twilio_off").Inc()
	http.Error(w, "Twilio calls are not enabled on this server: set server.twilio_auth_token", http.StatusNotFound)
	return true
}

// serveTwilio checks a Twilio Media Streams request (host, origin, drain,
// and with an auth token its signature, over the wss:// URL alone),
// upgrades it and serves the call until it ends.
func (s *Server) serveTwilio(w http.ResponseWriter, r *http.Request) {
	if s.twilioOff(w) {
		return
	}
	s.serveUpgrade(w, r, upgrade{
		keyed: s.twilioKeyed(),
		authenticate: func(r *http.Request) (credential, bool) {
			if s.opts.TwilioAuthToken == "" {
				return credential{who: anonymous}, true // no keys: loopback development
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
// (over its URL and form).
func (s *Server) serveTwilioVoice(w http.ResponseWriter, r *http.Request) {
	if s.twilioOff(w) {
		return
	}
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
	if s.opts.TwilioAuthToken != "" && !s.twilioSigned(r, false, r.PostForm) {
		s.refuseTwilio(w, r)
		return
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
	w.Write(twilio.TwiML(s.publicBase(r, true) + PathTwilio))
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
