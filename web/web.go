// Package web is voicegate's bundled page: open it, allow the microphone and
// talk. Everything it needs is embedded in the binary (no build step, no CDN,
// no web fonts), so it works offline. Handler serves it; the page speaks the
// native protocol (gateway/protocol) to the WebSocket at "ws" next to it.
//
// Where to start: static/app.js wires the page together: every event goes
// through the pure reducer in static/state.js, then the views draw the new
// state (conversation.js, waterfall.js for latency, banner.js, mic.js).
// static/hook.js documents the window.voicegate test hook; static/client.js
// is the protocol client (reconnect, resume, heartbeat); static/audio.js owns
// the AudioContext, the microphone and playback; static/worklet.js holds the
// two AudioWorklet processors (capture with anti-aliased downsampling to the
// session's input rate, and gapless playback with a jitter buffer);
// static/scope.js draws the live waveform. The files are ES modules loaded
// as they are. e2e/browser_test.go drives it all in headless Chromium;
// state_test.go runs the reducer in node.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var files embed.FS

// contentTypes are set explicitly so serving does not depend on the host's
// MIME tables (a module script with the wrong type does not run).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// contentSecurityPolicy allows only the page's own assets and its own
// WebSocket ('self' covers ws: and wss: to the same host). Inline scripts
// and styles are refused, which also proves the page needs nothing remote.
const contentSecurityPolicy = "default-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

type asset struct {
	data  []byte
	ctype string
	etag  string
}

// Handler returns the page's handler: "/" and "/index.html" serve the page,
// other paths the embedded assets by name. Responses carry an ETag and
// "Cache-Control: no-cache", so browsers revalidate (a 304 when nothing
// changed) and never run a page against assets of another build. Only GET
// and HEAD are allowed; unknown paths are 404. Mount it at the root of the
// mux that serves the WebSocket at "/ws", or under a prefix with
// http.StripPrefix: the page refers to everything by relative URL.
//
// The handler is safe for concurrent use; the assets are read once.
func Handler() http.Handler {
	assets := make(map[string]asset)
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		ctype, ok := contentTypes[path.Ext(p)]
		if !ok {
			ctype = "application/octet-stream"
		}
		sum := sha256.Sum256(data)
		name := strings.TrimPrefix(p, "static")
		assets[name] = asset{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build bug.
		panic("web: reading embedded files: " + err.Error())
	}
	assets["/"] = assets["/index.html"]

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(a.ctype, "text/html") {
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Permissions-Policy", "microphone=(self)")
		}
		// ServeContent answers If-None-Match with 304 and handles HEAD
		// and Range; the zero time leaves Last-Modified out.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
	})
}
