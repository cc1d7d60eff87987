package sse

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestLinesAnySplit(t *testing.T) {
	in := "event: a\r\ndata: {\"x\":1}\n\n: comment\rdata:2\r\n\r\ndata:3"
	want := []string{"event: a", `data: {"x":1}`, "", ": comment", "data:2", "", "data:3"}
	for size := 1; size <= len(in); size++ {
		var got []string
		l := Lines{OnLine: func(b []byte) { got = append(got, string(b)) }}
		for i := 0; i < len(in); i += size {
			if _, err := l.Write([]byte(in[i:min(i+size, len(in))])); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.End(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("split %d: %q", size, got)
		}
	}
}

// lowLimit lowers the line limit for one test.
func lowLimit(t *testing.T, n int) {
	old := maxLine
	maxLine = n
	t.Cleanup(func() { maxLine = old })
}

func TestLinesOverlongFails(t *testing.T) {
	lowLimit(t, 16)
	for _, in := range []string{"a\n" + strings.Repeat("x", 17) + "\nb\n", "a\n" + strings.Repeat("x", 17)} {
		for size := 1; size <= len(in); size++ {
			var got []string
			l := Lines{OnLine: func(b []byte) { got = append(got, string(b)) }}
			var err error
			for i := 0; i < len(in) && err == nil; i += size {
				_, err = l.Write([]byte(in[i:min(i+size, len(in))]))
			}
			if err == nil {
				err = l.End()
			}
			if !errors.Is(err, ErrLineTooLong) || strings.Join(got, "|") != "a" {
				t.Fatalf("%q split %d: lines %q, err %v", in, size, got, err)
			}
			if _, err := l.Write([]byte("c\n")); !errors.Is(err, ErrLineTooLong) {
				t.Fatalf("a failed reader took more input: %v", err)
			}
		}
	}
	ok := strings.Repeat("y", 16) + "\n"
	var n int
	l := Lines{OnLine: func(b []byte) { n = len(b) }}
	if _, err := l.Write([]byte(ok)); err != nil || n != 16 {
		t.Fatalf("a line of exactly the limit: %d bytes, %v", n, err)
	}
}

func TestData(t *testing.T) {
	for in, want := range map[string]string{"data: x": "x", "data:x": "x", "data:  x": " x"} {
		if got, ok := Data([]byte(in)); !ok || string(got) != want {
			t.Errorf("Data(%q) = %q %v", in, got, ok)
		}
	}
	if _, ok := Data([]byte("event: data")); ok {
		t.Error("non-data line accepted")
	}
}

type event struct{ name, data string }

func readEvents(in string, size int, keepRaw bool) ([]event, []string, error) {
	var got []event
	var raws []string
	r := Reader{KeepRaw: keepRaw, OnEvent: func(ev *Event) error {
		if ev.HasData {
			got = append(got, event{string(ev.Name), string(ev.Data)})
		}
		raws = append(raws, string(ev.Raw))
		return nil
	}}
	b := []byte(in)
	for len(b) > 0 {
		n := min(size, len(b))
		if _, err := r.Write(b[:n]); err != nil {
			return got, raws, err
		}
		b = b[n:]
	}
	return got, raws, r.End()
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []event
	}{
		{"named events", "event: ping\ndata: {\"type\": \"ping\"}\n\nevent: message_stop\ndata: {}\n\n",
			[]event{{"ping", `{"type": "ping"}`}, {"message_stop", "{}"}}},
		{"CRLF", "event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n", []event{{"a", "1"}, {"", "2"}}},
		{"CR", "event: a\rdata: 1\r\rdata: 2\r\r", []event{{"a", "1"}, {"", "2"}}},
		{"mixed line ends", "data: 1\r\n\ndata: 2\r\r\ndata: 3\n\r", []event{{"", "1"}, {"", "2"}, {"", "3"}}},
		{"multi-line data", "data: {\"a\":\ndata:  1}\n\n", []event{{"", "{\"a\":\n 1}"}}},
		{"no space after colon", "event:x\ndata:[DONE]\n\n", []event{{"x", "[DONE]"}}},
		{"comments and other fields ignored", ": keep-alive\nid: 7\nretry: 100\ndata: a\n: mid\n\n", []event{{"", "a"}}},
		{"blank lines without data reset the name", "event: a\n\n\ndata: b\n\n", []event{{"", "b"}}},
		{"field without colon", "data\n\n", []event{{"", ""}}},
		{"last event without its blank line", "data: a\n\ndata: b\n", []event{{"", "a"}, {"", "b"}}},
		{"last line without its newline", "data: a", []event{{"", "a"}}},
		{"unknown field name", "dat: x\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{len(tt.in), 1, 2, 3} {
				got, _, err := readEvents(tt.in, size, false)
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("size %d: got %q, %v; want %q", size, got, err, tt.want)
				}
			}
		})
	}
}

func TestReaderRaw(t *testing.T) {
	in := ": hi\n\nevent: a\r\ndata: 1\r\n\r\ndata: 2\n\n"
	want := []string{": hi\n\n", "event: a\ndata: 1\n\n", "data: 2\n\n"}
	for size := 1; size <= len(in); size++ {
		_, raws, err := readEvents(in, size, true)
		if err != nil || !reflect.DeepEqual(raws, want) {
			t.Fatalf("size %d: %q %v", size, raws, err)
		}
	}
}

func TestReaderLimits(t *testing.T) {
	lowLimit(t, 32)
	if _, _, err := readEvents("data: "+strings.Repeat("x", 26)+"\n\n", 5, false); err != nil {
		t.Fatalf("a line of exactly the limit: %v", err)
	}
	if _, _, err := readEvents("data: "+strings.Repeat("x", 27)+"\n\n", 5, false); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("a line over the limit: %v", err)
	}
	many := strings.Repeat("data: "+strings.Repeat("z", 10)+"\n", 4) + "\n"
	if _, _, err := readEvents(many, 8, false); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("an event whose data lines add up over the limit: %v", err)
	}
}

func TestReaderStopsOnCallbackError(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	r := Reader{OnEvent: func(*Event) error { n++; return boom }}
	if _, err := r.Write([]byte("data: 1\n\ndata: 2\n\n")); !errors.Is(err, boom) || n != 1 {
		t.Fatalf("err %v after %d events", err, n)
	}
	if err := r.End(); !errors.Is(err, boom) {
		t.Fatalf("End after a failure: %v", err)
	}
}
