package sse

import (
	"strings"
	"testing"
)

func TestLinesAnySplit(t *testing.T) {
	in := "event: a\r\ndata: {\"x\":1}\n\n: comment\ndata:2\n"
	want := []string{"event: a", `data: {"x":1}`, "", ": comment", "data:2"}
	for size := 1; size <= len(in); size++ {
		var got []string
		l := Lines{OnLine: func(b []byte) { got = append(got, string(b)) }}
		for i := 0; i < len(in); i += size {
			l.Write([]byte(in[i:min(i+size, len(in))]))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("split %d: %q", size, got)
		}
	}
}

func TestLinesSkipsOverlong(t *testing.T) {
	var got []string
	l := Lines{OnLine: func(b []byte) { got = append(got, string(b)) }}
	l.Write([]byte("a\n" + strings.Repeat("x", MaxLine+1)))
	l.Write([]byte("\nb\n"))
	if strings.Join(got, "|") != "a|b" || l.Skipped != 1 {
		t.Errorf("got %q skipped %d", got, l.Skipped)
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
