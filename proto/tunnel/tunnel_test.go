package tunnel

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"testing/iotest"

	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
)

// asMap turns wire headers into a map so that tests do not depend on the
// order HeadersToProto emits them in (it ranges over a map). A name seen
// twice fails the test: the wire form must hold each name once.
func asMap(t *testing.T, hs []*pb.Header) map[string][]string {
	t.Helper()
	m := make(map[string][]string, len(hs))
	for _, h := range hs {
		if _, dup := m[h.GetName()]; dup {
			t.Errorf("header %q sent twice", h.GetName())
		}
		m[h.GetName()] = h.GetValues()
	}
	return m
}

func TestHeadersToProto(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		drop func(string) bool
		want map[string][]string
	}{
		{
			name: "empty",
			in:   http.Header{},
			want: map[string][]string{},
		},
		{
			name: "every hop-by-hop header dropped",
			in: http.Header{
				"Connection":          {"keep-alive"},
				"Proxy-Connection":    {"keep-alive"},
				"Keep-Alive":          {"timeout=5"},
				"Proxy-Authenticate":  {"Basic"},
				"Proxy-Authorization": {"Basic Zm9vOmJhcg=="},
				"Te":                  {"trailers"},
				"Trailer":             {"X-Checksum"},
				"Transfer-Encoding":   {"chunked"},
				"Upgrade":             {"h2c"},
				"Content-Type":        {"application/json"},
			},
			want: map[string][]string{"Content-Type": {"application/json"}},
		},
		{
			name: "headers named in Connection dropped, canonicalised, across lines and commas",
			in: http.Header{
				"Connection":   {"x-foo, X-BAR ,, keep-alive", "x-baz"},
				"X-Foo":        {"1"},
				"X-Bar":        {"2"},
				"X-Baz":        {"3"},
				"X-Kept":       {"4"},
				"Content-Type": {"text/plain"},
			},
			want: map[string][]string{"X-Kept": {"4"}, "Content-Type": {"text/plain"}},
		},
		{
			name: "multi-values kept in order",
			in: http.Header{
				"Accept":     {"text/event-stream", "application/json"},
				"X-Multi":    {"a", "b", "c"},
				"Set-Cookie": {"a=1", "b=2"},
			},
			want: map[string][]string{
				"Accept":     {"text/event-stream", "application/json"},
				"X-Multi":    {"a", "b", "c"},
				"Set-Cookie": {"a=1", "b=2"},
			},
		},
		{
			name: "drop func honoured",
			in: http.Header{
				"X-Memory-User-Id": {"mallory"},
				"X-Memory-Project": {"evil"},
				"Authorization":    {"Bearer k"},
				"User-Agent":       {"curl/8"},
			},
			drop: func(k string) bool { return k == "X-Memory-User-Id" || k == "X-Memory-Project" },
			want: map[string][]string{"Authorization": {"Bearer k"}, "User-Agent": {"curl/8"}},
		},
		{
			name: "drop func does not resurrect hop-by-hop headers",
			in:   http.Header{"Transfer-Encoding": {"chunked"}, "X-A": {"1"}},
			drop: func(string) bool { return false },
			want: map[string][]string{"X-A": {"1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := asMap(t, HeadersToProto(tt.in, tt.drop))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("HeadersToProto = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHeadersToProtoDropSeesCanonicalNames(t *testing.T) {
	h := http.Header{}
	h.Add("x-memory-user-id", "u")
	h.Add("content-type", "application/json")
	var seen []string
	HeadersToProto(h, func(k string) bool { seen = append(seen, k); return false })
	slices.Sort(seen)
	if want := []string{"Content-Type", "X-Memory-User-Id"}; !slices.Equal(seen, want) {
		t.Errorf("drop called with %q, want %q", seen, want)
	}
}

func TestHeadersFromProto(t *testing.T) {
	tests := []struct {
		name string
		dst  http.Header
		in   []*pb.Header
		want http.Header
	}{
		{
			name: "canonicalised",
			dst:  http.Header{},
			in:   []*pb.Header{{Name: "content-type", Values: []string{"application/json"}}, {Name: "X-MEMORY-PROJECT", Values: []string{"p"}}},
			want: http.Header{"Content-Type": {"application/json"}, "X-Memory-Project": {"p"}},
		},
		{
			name: "hop-by-hop dropped whatever the case",
			dst:  http.Header{},
			in: []*pb.Header{
				{Name: "connection", Values: []string{"close"}},
				{Name: "TRANSFER-ENCODING", Values: []string{"chunked"}},
				{Name: "Keep-Alive", Values: []string{"timeout=5"}},
				{Name: "upgrade", Values: []string{"websocket"}},
				{Name: "te", Values: []string{"trailers"}},
				{Name: "X-Ok", Values: []string{"1"}},
			},
			want: http.Header{"X-Ok": {"1"}},
		},
		{
			name: "empty name skipped",
			dst:  http.Header{},
			in:   []*pb.Header{{Name: "", Values: []string{"x"}}, {Name: "X-A", Values: []string{"1"}}},
			want: http.Header{"X-A": {"1"}},
		},
		{
			name: "multi-values and repeated names appended after existing values",
			dst:  http.Header{"X-Multi": {"0"}, "X-Other": {"o"}},
			in: []*pb.Header{
				{Name: "X-Multi", Values: []string{"1", "2"}},
				{Name: "x-multi", Values: []string{"3"}},
			},
			want: http.Header{"X-Multi": {"0", "1", "2", "3"}, "X-Other": {"o"}},
		},
		{
			name: "nil header entry",
			dst:  http.Header{},
			in:   []*pb.Header{nil, {Name: "X-A", Values: []string{"1"}}},
			want: http.Header{"X-A": {"1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			HeadersFromProto(tt.dst, tt.in)
			if !reflect.DeepEqual(tt.dst, tt.want) {
				t.Errorf("HeadersFromProto = %v, want %v", tt.dst, tt.want)
			}
		})
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	in := http.Header{
		"Content-Type": {"application/json"},
		"X-Multi":      {"a", "b"},
		"Connection":   {"X-Secret"},
		"X-Secret":     {"s"},
		"Upgrade":      {"h2c"},
	}
	got := http.Header{}
	HeadersFromProto(got, HeadersToProto(in, nil))
	want := http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip = %v, want %v", got, want)
	}
}

// pattern returns n bytes that differ from one offset to the next, so that
// a misplaced or repeated chunk changes the result.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestSendChunks(t *testing.T) {
	tests := []struct {
		size int
		want []int // chunk lengths
	}{
		{0, nil},
		{1, []int{1}},
		{ChunkSize - 1, []int{ChunkSize - 1}},
		{ChunkSize, []int{ChunkSize}},
		{ChunkSize + 1, []int{ChunkSize, 1}},
		{3*ChunkSize + 5, []int{ChunkSize, ChunkSize, ChunkSize, 5}},
	}
	for _, tt := range tests {
		body := pattern(tt.size)
		var lens []int
		var got []byte
		err := SendChunks(body, func(c []byte) error {
			lens = append(lens, len(c))
			got = append(got, c...)
			return nil
		})
		if err != nil {
			t.Errorf("size %d: err = %v", tt.size, err)
		}
		if !slices.Equal(lens, tt.want) {
			t.Errorf("size %d: chunk lengths %v, want %v", tt.size, lens, tt.want)
		}
		if !bytes.Equal(got, body) {
			t.Errorf("size %d: reassembled body differs", tt.size)
		}
	}
}

func TestSendChunksNilBodySendsNothing(t *testing.T) {
	err := SendChunks(nil, func([]byte) error { t.Error("send called for a nil body"); return nil })
	if err != nil {
		t.Errorf("err = %v", err)
	}
}

func TestSendChunksErrorStops(t *testing.T) {
	errSend := errors.New("stream closed")
	calls := 0
	err := SendChunks(pattern(4*ChunkSize), func([]byte) error {
		calls++
		if calls == 2 {
			return errSend
		}
		return nil
	})
	if err != errSend {
		t.Errorf("err = %v, want %v unwrapped", err, errSend)
	}
	if calls != 2 {
		t.Errorf("send called %d times, want 2", calls)
	}
}

type step struct {
	b   []byte
	err error
}

// chunks is a function-field fake of a gRPC receive loop: it yields steps
// in order and fails the test if called after the last one.
func chunks(t *testing.T, steps ...step) (next func() ([]byte, error), calls *int) {
	calls = new(int)
	return func() ([]byte, error) {
		if *calls >= len(steps) {
			t.Errorf("next called %d times, only %d steps", *calls+1, len(steps))
			return nil, io.ErrUnexpectedEOF
		}
		s := steps[*calls]
		*calls++
		return s.b, s.err
	}, calls
}

func TestBodyReaderReassembles(t *testing.T) {
	big := pattern(5*ChunkSize + 123)
	var bigSteps []step
	_ = SendChunks(big, func(c []byte) error { bigSteps = append(bigSteps, step{b: c}); return nil })
	tests := []struct {
		name  string
		steps []step
		want  []byte
	}{
		{"no chunks", []step{{err: io.EOF}}, []byte{}},
		{"one chunk", []step{{b: []byte("hello")}, {err: io.EOF}}, []byte("hello")},
		{"empty chunks skipped", []step{{b: []byte{}}, {b: []byte("ab")}, {b: nil}, {b: []byte{}}, {b: []byte("c")}, {b: []byte{}}, {err: io.EOF}}, []byte("abc")},
		{"last chunk carries EOF", []step{{b: []byte("ab")}, {b: []byte("cd"), err: io.EOF}}, []byte("abcd")},
		{"several full chunks", append(bigSteps, step{err: io.EOF}), big},
	}
	for _, tt := range tests {
		for _, mode := range []string{"ReadAll", "OneByte", "iotest"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				next, _ := chunks(t, tt.steps...)
				r := NewBodyReader(next)
				switch mode {
				case "iotest":
					if err := iotest.TestReader(r, tt.want); err != nil {
						t.Error(err)
					}
					return
				case "OneByte":
					r := iotest.OneByteReader(r)
					got, err := io.ReadAll(r)
					check(t, got, err, tt.want)
				default:
					got, err := io.ReadAll(strict{t, r})
					check(t, got, err, tt.want)
				}
			})
		}
	}
}

// strict fails the test when Read returns 0, nil: an empty chunk must not
// surface as an empty read (io.Reader discourages it; some callers spin).
type strict struct {
	t *testing.T
	r io.Reader
}

func (s strict) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n == 0 && err == nil && len(p) > 0 {
		s.t.Errorf("Read(%d bytes) = 0, nil", len(p))
	}
	return n, err
}

func check(t *testing.T, got []byte, err error, want []byte) {
	t.Helper()
	if err != nil {
		t.Errorf("err = %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("read %d bytes %.40q, want %d bytes %.40q", len(got), got, len(want), want)
	}
}

func TestBodyReaderErrorAfterBytes(t *testing.T) {
	errRecv := errors.New("rpc error: code = Unavailable")
	tests := []struct {
		name  string
		steps []step
	}{
		{"error alone after the bytes", []step{{b: []byte("abc")}, {b: []byte("de")}, {err: errRecv}}},
		{"error with the last bytes", []step{{b: []byte("abc")}, {b: []byte("de"), err: errRecv}}},
		{"error after an empty chunk", []step{{b: []byte("abcde")}, {b: []byte{}}, {err: errRecv}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, calls := chunks(t, tt.steps...)
			r := NewBodyReader(next)
			var got []byte
			buf := make([]byte, 2)
			var err error
			for err == nil {
				var n int
				n, err = r.Read(buf)
				got = append(got, buf[:n]...)
			}
			if string(got) != "abcde" {
				t.Errorf("read %q before the error, want %q", got, "abcde")
			}
			if err != errRecv {
				t.Errorf("err = %v, want %v", err, errRecv)
			}
			// The error is sticky and next is not asked again.
			before := *calls
			if n, err := r.Read(buf); n != 0 || err != errRecv {
				t.Errorf("second Read after error = %d, %v; want 0, %v", n, err, errRecv)
			}
			if *calls != before {
				t.Errorf("next called again after it failed")
			}
		})
	}
}

// A header map built by hand (w.Header()["x-foo"] = …, as handlers may do)
// holds names that are not canonical. The contract still holds: names on
// the wire are canonical, and hop-by-hop headers and the drop func apply
// whatever the case of the key.
func TestHeadersToProtoNonCanonicalKeys(t *testing.T) {
	in := http.Header{
		"transfer-encoding": {"chunked"},
		"x-memory-user-id":  {"mallory"},
		"content-type":      {"application/json"},
	}
	drop := func(k string) bool { return k == "X-Memory-User-Id" }
	got := asMap(t, HeadersToProto(in, drop))
	want := map[string][]string{"Content-Type": {"application/json"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HeadersToProto = %v, want %v", got, want)
	}
}

func TestHeadersToProtoLowercaseConnection(t *testing.T) {
	h := http.Header{"connection": {"x-secret-hop"}, "X-Secret-Hop": {"1"}, "Accept": {"*/*"}}
	got := map[string]bool{}
	for _, ph := range HeadersToProto(h, nil) {
		got[ph.GetName()] = true
	}
	if got["X-Secret-Hop"] || !got["Accept"] {
		t.Errorf("headers named by a lowercase Connection must be dropped: %v", got)
	}
}
