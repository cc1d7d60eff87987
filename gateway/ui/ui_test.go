package ui

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	return w
}

func TestUIFiles(t *testing.T) {
	for path, ctype := range map[string]string{
		"/ui": "text/html", "/ui/": "text/html", "/ui/app.js": "text/javascript", "/ui/app.css": "text/css",
	} {
		w := get(t, http.MethodGet, path)
		h := w.Header()
		if w.Code != 200 || !strings.HasPrefix(h.Get("Content-Type"), ctype) || w.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", path, w.Code, h.Get("Content-Type"), w.Body.Len())
		}
		if h.Get("Content-Security-Policy") != ContentSecurityPolicy || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: security headers %v", path, h)
		}
		if again := get(t, http.MethodGet, path, "If-None-Match", h.Get("ETag")); again.Code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d; want 304", path, again.Code)
		}
	}
	for _, path := range []string{"/ui/index.html", "/ui/assets/app.js", "/ui/../ui/app.js", "/uix", "/ui/app.js/", "/ui/x"} {
		if w := get(t, http.MethodGet, path); w.Code != http.StatusNotFound || w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: %d; want 404 with the CSP", path, w.Code)
		}
	}
	if w := get(t, http.MethodPost, "/ui"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui: %d; want 405", w.Code)
	}
	if w := get(t, http.MethodHead, "/ui/app.js"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD /ui/app.js: %d, %d bytes", w.Code, w.Body.Len())
	}
}

// TestUICSP checks the policy is strict and that the assets live within
// it: no inline script or style, no event-handler attributes, nothing
// fetched from elsewhere.
func TestUICSP(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, want) {
			t.Errorf("CSP lacks %s", want)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") || strings.Contains(ContentSecurityPolicy, "*") {
		t.Errorf("CSP %q allows unsafe sources", ContentSecurityPolicy)
	}
	html := get(t, http.MethodGet, "/ui").Body.String()
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1)
	if len(scripts) != 1 || !strings.Contains(scripts[0], `src="/ui/app.js"`) {
		t.Errorf("index.html scripts: %q; want only app.js, by src", scripts)
	}
	for _, re := range []string{`<script[^>]*>[^<]+`, `\sstyle=`, `\son[a-z]+=`, `<style`, `https?://`, `javascript:`} {
		if m := regexp.MustCompile(re).FindString(html); m != "" {
			t.Errorf("index.html has %q (matching %s)", m, re)
		}
	}
	js := get(t, http.MethodGet, "/ui/app.js").Body.String()
	// The script builds the page from API data: only DOM calls and
	// textContent, never markup parsed from strings, and no code from data.
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", "localStorage", "http://", "https://"} {
		if strings.Contains(js, bad) && !(bad == "http://" && strings.Count(js, "http://") == strings.Count(js, "http://www.w3.org/2000/svg")) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
