package translate

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func readSSE(t *testing.T, in string, size int) ([]sseEvent, error) {
	t.Helper()
	var r sseReader
	var got []sseEvent
	d := func(name, data []byte) error {
		got = append(got, sseEvent{string(name), string(data)})
		return nil
	}
	b := []byte(in)
	for len(b) > 0 {
		n := min(size, len(b))
		if err := r.feed(b[:n], d); err != nil {
			return got, err
		}
		b = b[n:]
	}
	return got, r.end(d)
}

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []sseEvent
	}{
		{"named events", "event: ping\ndata: {\"type\": \"ping\"}\n\nevent: message_stop\ndata: {}\n\n",
			[]sseEvent{{"ping", `{"type": "ping"}`}, {"message_stop", "{}"}}},
		{"CRLF", "event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n", []sseEvent{{"a", "1"}, {"", "2"}}},
		{"CR", "event: a\rdata: 1\r\rdata: 2\r\r", []sseEvent{{"a", "1"}, {"", "2"}}},
		{"mixed line ends", "data: 1\r\n\ndata: 2\r\r\ndata: 3\n\r", []sseEvent{{"", "1"}, {"", "2"}, {"", "3"}}},
		{"multi-line data", "data: {\"a\":\ndata:  1}\n\n", []sseEvent{{"", "{\"a\":\n 1}"}}},
		{"no space after colon", "event:x\ndata:[DONE]\n\n", []sseEvent{{"x", "[DONE]"}}},
		{"comments and other fields ignored", ": keep-alive\nid: 7\nretry: 100\ndata: a\n: mid\n\n", []sseEvent{{"", "a"}}},
		{"blank lines without data reset the name", "event: a\n\n\ndata: b\n\n", []sseEvent{{"", "b"}}},
		{"field without colon", "data\n\n", []sseEvent{{"", ""}}},
		{"last event without its blank line", "data: a\n\ndata: b\n", []sseEvent{{"", "a"}, {"", "b"}}},
		{"last line without its newline", "data: a", []sseEvent{{"", "a"}}},
		{"unknown field name", "dat: x\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{len(tt.in), 1, 2, 3} {
				got, err := readSSE(t, tt.in, size)
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("size %d: got %q, %v; want %q", size, got, err, tt.want)
				}
			}
		})
	}
}

func TestSSELineLimit(t *testing.T) {
	ok := "data: " + strings.Repeat("x", maxLine-len("data: ")) + "\n\n"
	for _, size := range []int{len(ok), 4096, 1 << 19} {
		got, err := readSSE(t, ok, size)
		if err != nil || len(got) != 1 || len(got[0].data) != maxLine-6 {
			t.Fatalf("a line of exactly %d bytes, size %d: %d events, %v", maxLine, size, len(got), err)
		}
		long := "data: " + strings.Repeat("x", maxLine-len("data: ")+1) + "\n\n"
		if _, err := readSSE(t, long, size); !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("a line of %d bytes, size %d: err = %v", maxLine+1, size, err)
		}
		unterminated := strings.Repeat("y", maxLine+1)
		if _, err := readSSE(t, unterminated, size); !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("an unterminated line of %d bytes, size %d: err = %v", maxLine+1, size, err)
		}
	}
	many := strings.Repeat("data: "+strings.Repeat("z", 1000)+"\n", 1100) + "\n"
	if _, err := readSSE(t, many, 8192); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("an event of more than 1 MiB of data lines: err = %v", err)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "\n\r\t\b\f\x00\x1f\x7f", "<>&", "é😀", "\u2028\u2029", "bad\xffutf8\xc3", "\xed\xa0\x80"} {
		got := appendString(nil, s)
		var back, want string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, got, err)
		}
		ref, _ := json.Marshal(s)
		_ = json.Unmarshal(ref, &want)
		if back != want {
			t.Errorf("%q round-trips to %q, encoding/json gives %q", s, back, want)
		}
	}
}
