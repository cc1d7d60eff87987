package edge

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// localRequest enforces that a request really comes from a program on this
// machine and not from a web page: the Host must name loopback with the
// listener's port (a DNS-rebinding page sends its own host name), and a
// browser's Origin must be loopback or explicitly allowed. It answers 403
// and returns false otherwise.
func (d *Daemon) localRequest(w http.ResponseWriter, r *http.Request, port int) bool {
	if !loopbackHost(r.Host, port) {
		writeError(w, r, http.StatusForbidden, "host_not_allowed",
			"memedge only answers requests addressed to 127.0.0.1, localhost or [::1] on its own port", 0)
		return false
	}
	o := r.Header.Get("Origin")
	if o != "" && !d.originAllowed(o) {
		writeError(w, r, http.StatusForbidden, "origin_not_allowed",
			"cross-origin requests from "+o+" are refused (allow the origin in the edge config if you trust it)", 0)
		return false
	}
	// Browsers mark every request with Fetch Metadata; a cross-site one
	// without an Origin (an <img> or a link) is refused too.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" && (o == "" || !d.originAllowed(o)) {
		writeError(w, r, http.StatusForbidden, "cross_site_request", "cross-site browser requests are refused", 0)
		return false
	}
	return true
}

func loopbackHost(host string, port int) bool {
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		return false
	}
	if p != strconv.Itoa(port) {
		return false
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (d *Daemon) originAllowed(origin string) bool {
	for _, a := range d.opts.AllowedOrigins {
		if strings.EqualFold(a, origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
