// Package tunnel is the framing shared by memedge and memgateway for the
// Forward call: HTTP headers ⇄ protobuf headers, and request/response bodies
// ⇄ a sequence of bounded chunks.
package tunnel

import (
	"net/http"
	"strings"

	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
)

// ChunkSize is the largest body chunk carried in one gRPC message. It is well
// under gRPC's default 4 MiB message limit, so any body fits in a sequence of
// messages whatever the limit is set to. It leaves room for the message's
// own framing within 32 KiB: gRPC encodes into pooled buffers by size tier,
// and a message just over 32 KiB would take a buffer from the 1 MiB tier,
// which made a 32 MiB body cost the edge over 100 MiB of allocation.
const ChunkSize = 32<<10 - 64

// hopHeaders are connection-scoped and never cross the tunnel (RFC 9110 §7.6.1).
var hopHeaders = map[string]bool{
	"Connection":          true,
	"Proxy-Connection":    true,
	"Keep-Alive":          true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
}

// IsHopByHop reports whether the canonical header name is connection-scoped.
func IsHopByHop(name string) bool { return hopHeaders[name] }

// HeadersToProto converts h to its wire form, leaving out hop-by-hop headers,
// headers named in Connection, and any header for which drop returns true
// (drop may be nil). Names are canonical.
func HeadersToProto(h http.Header, drop func(canonical string) bool) []*pb.Header {
	named := connectionNamed(h)
	out := make([]*pb.Header, 0, len(h))
	for k, vs := range h {
		k = http.CanonicalHeaderKey(k) // a map built by hand may hold "transfer-encoding"
		if hopHeaders[k] || named[k] || (drop != nil && drop(k)) {
			continue
		}
		out = append(out, &pb.Header{Name: k, Values: vs})
	}
	return out
}

// connectionNamed returns the headers a Connection header names; the map
// may hold the header under any spelling.
func connectionNamed(h http.Header) map[string]bool {
	var named map[string]bool
	for k, vs := range h {
		if http.CanonicalHeaderKey(k) != "Connection" {
			continue
		}
		for _, v := range vs {
			for _, f := range strings.Split(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					if named == nil {
						named = map[string]bool{}
					}
					named[http.CanonicalHeaderKey(f)] = true
				}
			}
		}
	}
	return named
}

// HeadersFromProto converts wire headers into dst, canonicalising names and
// dropping hop-by-hop headers.
func HeadersFromProto(dst http.Header, hs []*pb.Header) {
	for _, h := range hs {
		k := http.CanonicalHeaderKey(h.GetName())
		if k == "" || hopHeaders[k] {
			continue
		}
		dst[k] = append(dst[k], h.GetValues()...)
	}
}

// SendChunks writes b to send in chunks of at most ChunkSize bytes.
func SendChunks(b []byte, send func([]byte) error) error {
	for len(b) > 0 {
		n := min(len(b), ChunkSize)
		if err := send(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// BodyReader turns a sequence of received chunks into an io.Reader. next
// returns the following chunk, or io.EOF at the end of the body.
type BodyReader struct {
	next func() ([]byte, error)
	cur  []byte
	err  error
}

// NewBodyReader returns a reader over the chunks next yields.
func NewBodyReader(next func() ([]byte, error)) *BodyReader {
	return &BodyReader{next: next}
}

// Read implements io.Reader. An error from next (io.EOF at the end) is
// returned once the bytes received with it have been read.
func (r *BodyReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.cur, r.err = r.next()
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}
