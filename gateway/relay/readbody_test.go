package relay

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// bodyRequest is a request whose body is b; chunked hides its length.
func bodyRequest(b []byte, declared int64, chunked bool) *http.Request {
	var r io.Reader = bytes.NewReader(b)
	if chunked {
		r = io.MultiReader(r) // no Len: the length is unknown
		declared = -1
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", r)
	req.ContentLength = declared
	return req
}

func TestReadBodyCases(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1000)
	cases := []struct {
		name     string
		req      *http.Request
		limit    int64
		wantCode int
		wantErr  string
	}{
		{"declared", bodyRequest(body, 1000, false), 1000, 0, ""},
		{"chunked", bodyRequest(body, 0, true), 1000, 0, ""},
		{"empty", bodyRequest(nil, 0, false), 1000, 0, ""},
		{"declared over the limit", bodyRequest(body, 1000, false), 999, 413, "request_too_large"},
		{"chunked over the limit", bodyRequest(body, 0, true), 999, 413, "request_too_large"},
		{"declared longer than the body", bodyRequest(body, 2000, false), 5000, 400, "content_length_mismatch"},
		{"body longer than declared", bodyRequest(body, 10, false), 5000, 400, "content_length_mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, aerr := readBody(httptest.NewRecorder(), c.req, c.limit)
			if c.wantCode == 0 {
				if aerr != nil || len(b) != int(max(c.req.ContentLength, 0)) && !strings.Contains(c.name, "chunked") {
					t.Fatalf("got %d bytes, %v", len(b), aerr)
				}
				return
			}
			if aerr == nil || aerr.Status != c.wantCode || aerr.Code != c.wantErr {
				t.Fatalf("got %+v, want %d %s", aerr, c.wantCode, c.wantErr)
			}
		})
	}
}

// A body costs about its own size: one buffer of the declared length, or
// blocks joined once for a chunked body (about twice, for a moment), never
// a growing buffer's repeated doubling.
func TestReadBodyMemory(t *testing.T) {
	const size = 8 << 20
	body := bytes.Repeat([]byte("a"), size)
	for _, c := range []struct {
		name    string
		chunked bool
		most    float64 // allocated bytes per body byte
	}{{"declared", false, 1.05}, {"chunked", true, 2.1}} {
		req := bodyRequest(body, size, c.chunked)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b, aerr := readBody(httptest.NewRecorder(), req, 32<<20)
		runtime.ReadMemStats(&after)
		if aerr != nil || len(b) != size {
			t.Fatalf("%s: %d bytes, %v", c.name, len(b), aerr)
		}
		if c.name == "declared" && cap(b) != size {
			t.Errorf("declared: buffer of %d bytes for a %d-byte body", cap(b), size)
		}
		if got := float64(after.TotalAlloc-before.TotalAlloc) / size; got > c.most {
			t.Errorf("%s: allocated %.2f× the body, want at most %.2f×", c.name, got, c.most)
		}
	}
}
