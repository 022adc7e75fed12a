package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesAssets(t *testing.T) {
	h := Handler()
	tests := []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", "<title>voicegate</title>"},
		{"/index.html", "text/html; charset=utf-8", `src="app.js"`},
		{"/app.js", "text/javascript; charset=utf-8", "from './state.js'"},
		{"/state.js", "text/javascript; charset=utf-8", "export function reduce"},
		{"/conversation.js", "text/javascript; charset=utf-8", "export function conversationView"},
		{"/waterfall.js", "text/javascript; charset=utf-8", "export function waterfallView"},
		{"/banner.js", "text/javascript; charset=utf-8", "export function bannerView"},
		{"/mic.js", "text/javascript; charset=utf-8", "export function micControl"},
		{"/hook.js", "text/javascript; charset=utf-8", "window.voicegate"},
		{"/dom.js", "text/javascript; charset=utf-8", "export function setText"},
		{"/format.js", "text/javascript; charset=utf-8", "export function fmtMs"},
		{"/client.js", "text/javascript; charset=utf-8", "resume_token"},
		{"/audio.js", "text/javascript; charset=utf-8", "echoCancellation: processing.echoCancellation !== false"},
		{"/worklet.js", "text/javascript; charset=utf-8", "registerProcessor('vg-capture'"},
		{"/scope.js", "text/javascript; charset=utf-8", "export function startScope"},
		{"/style.css", "text/css; charset=utf-8", "prefers-color-scheme: dark"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := get(t, h, http.MethodGet, tt.path)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("body does not contain %q", tt.contains)
			}
			etag := res.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			again := get(t, h, http.MethodGet, tt.path, "If-None-Match", etag)
			if again.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d, want 304", again.StatusCode)
			}
		})
	}
}

func TestHandlerPageHeaders(t *testing.T) {
	res := get(t, Handler(), http.MethodGet, "/")
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
}

// TestPageNeedsNoInlineCode checks what the Content-Security-Policy would
// refuse without a word: inline scripts, event-handler and style
// attributes, <style> elements, and code built from strings.
func TestPageNeedsNoInlineCode(t *testing.T) {
	page, err := files.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	script := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	scripts := script.FindAllStringSubmatch(html, -1)
	if len(scripts) == 0 {
		t.Error("index.html loads no script")
	}
	for _, m := range scripts {
		if !strings.Contains(m[1], `type="module"`) || !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			t.Errorf("index.html has a script that is not an external module: %s", m[0])
		}
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)<style\b`),
	} {
		if m := re.FindString(html); m != "" {
			t.Errorf("index.html has inline code or style: %q", m)
		}
	}
	fromString := regexp.MustCompile(`\beval\(|\bnew Function\(|\b(?:setTimeout|setInterval)\(\s*['"` + "`" + `]|\.innerHTML\s*=|setAttribute\(\s*['"](?:on|style)`)
	err = fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		if m := fromString.FindString(string(data)); m != "" {
			t.Errorf("%s builds code or markup from a string (%q), which the policy refuses or should not need", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHandlerRejects(t *testing.T) {
	h := Handler()
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/nope.js", http.StatusNotFound},
		{http.MethodGet, "/static/app.js", http.StatusNotFound},
		{http.MethodGet, "/../web.go", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/app.js", http.StatusMethodNotAllowed},
	} {
		if got := get(t, h, tt.method, tt.path).StatusCode; got != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, got, tt.status)
		}
	}
	res := get(t, h, http.MethodHead, "/app.js")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") == "" {
		t.Errorf("HEAD: status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// TestOnlyLocalAssets checks that the page works offline: every URL the
// page, its scripts and its stylesheet refer to is one of the embedded
// files, and nothing points at another host.
func TestOnlyLocalAssets(t *testing.T) {
	refs := map[string]*regexp.Regexp{
		".html": regexp.MustCompile(`(?:src|href)="([^"#]+)"`),
		".js":   regexp.MustCompile(`(?:import[^'"]*from\s*|import\(\s*|addModule\(\s*)['"]([^'"]+)['"]`),
		".css":  regexp.MustCompile(`(?:url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+))`),
	}
	remote := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	h := Handler()
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(data)
		for _, m := range remote.FindAllString(text, -1) {
			if strings.Contains(m, "www.w3.org") { // SVG namespace, not a fetch
				continue
			}
			t.Errorf("%s refers to a remote URL: %s", p, m)
		}
		re := refs[p[strings.LastIndex(p, "."):]]
		if re == nil {
			return nil
		}
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			ref := m[1]
			if ref == "" && len(m) > 2 {
				ref = m[2]
			}
			if strings.HasPrefix(ref, "data:") {
				continue
			}
			path := "/" + strings.TrimPrefix(ref, "./")
			if res := get(t, h, http.MethodGet, path); res.StatusCode != http.StatusOK {
				t.Errorf("%s refers to %q, which the handler does not serve (%d)", p, ref, res.StatusCode)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
