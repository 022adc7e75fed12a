package app

import (
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/web"
)

// httpTimeouts bound how long a client may hold the HTTP server's
// connections. A WebSocket is hijacked by its upgrade, which clears the
// connection's deadlines: these bound the upgrade request, never the
// session after it, which the gateway's heartbeat and write timeout watch.
type httpTimeouts struct {
	header time.Duration // to read a request's headers
	read   time.Duration // to read a whole request
	idle   time.Duration // a kept-alive connection waits for its next request
}

var defaultHTTPTimeouts = httpTimeouts{header: 10 * time.Second, read: 15 * time.Second, idle: 60 * time.Second}

// newHTTPServer returns the server for h. No route takes a request body,
// so one that comes with a body is refused unread (refuseBodies).
// WriteTimeout stays unset: it would cut /debug/pprof/profile, which
// writes only after its whole duration.
func newHTTPServer(h http.Handler, log *zap.Logger, t httpTimeouts) *http.Server {
	return &http.Server{
		Handler:           refuseBodies(h),
		ReadHeaderTimeout: t.header,
		ReadTimeout:       t.read,
		IdleTimeout:       t.idle,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
}

// routes is the public listener's: the web page at "/" beside the
// gateway's paths. Metrics and profiles are on the admin listener
// (adminMux).
func routes(gw *gateway.Server) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	gh := gw.Handler()
	for _, p := range []string{gateway.PathWS, gateway.PathTickets, gateway.PathRealtime, gateway.PathClientSecrets, gateway.PathHealthz, gateway.PathReadyz} {
		mux.Handle(p, gh)
	}
	return mux
}

// refuseBodies answers 413 to a request that has a body, or says it has
// one (a Content-Length, chunked), and closes the connection without
// reading it. Otherwise net/http would read up to 256 KiB of it after the
// handler, to keep the connection: a client that declares a body and
// sends nothing would hold the connection until the read timeout.
// The one body taken is that of POST /v1/realtime/client_secrets, the
// session settings of a browser's key, which the gateway reads within
// server.realtime.max_event_bytes and the read timeout.
func refuseBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 || r.URL.Path == gateway.PathClientSecrets {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		http.Error(w, "this server takes no request bodies", http.StatusRequestEntityTooLarge)
		// The server's read of the rest fails at once, and it closes.
		http.NewResponseController(w).SetReadDeadline(time.Now())
	})
}
