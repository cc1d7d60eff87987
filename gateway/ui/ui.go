// Package ui serves the gateway's web dashboard at /ui: one HTML page, a
// stylesheet and a hand-written script, all embedded in the binary. The
// files hold no data and need no key; the script asks the usage and memory
// APIs for everything, sending the key the user typed (or passed in the
// URL's fragment, which browsers never send to servers) as a Bearer token.
//
// Every answer carries a strict Content-Security-Policy: scripts, styles
// and fetches only from the gateway itself, no inline script or style, no
// framing. The script builds the page with DOM calls and textContent, so
// what the APIs return (memories are untrusted text) is never parsed as
// HTML.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"
)

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy is sent with every file of the dashboard.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// file is one embedded asset, read once.
type file struct {
	name, contentType string
	body              []byte
	etag              string
}

// files maps each path the dashboard answers to its asset; any other path
// under /ui is 404.
var files = map[string]file{
	"/ui":         load("index.html", "text/html; charset=utf-8"),
	"/ui/":        load("index.html", "text/html; charset=utf-8"),
	"/ui/app.js":  load("app.js", "text/javascript; charset=utf-8"),
	"/ui/app.css": load("app.css", "text/css; charset=utf-8"),
}

func load(name, contentType string) file {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic(fmt.Sprintf("ui: embedded asset %s: %v", name, err)) // a build without its assets
	}
	sum := sha256.Sum256(b)
	return file{name: name, contentType: contentType, body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Handler serves the dashboard's files by their exact path (GET and HEAD).
// They are revalidated on each load (ETag), so a new binary's assets are
// picked up at once.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		f, ok := files[r.URL.Path]
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
	})
}
