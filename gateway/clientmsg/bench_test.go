package clientmsg

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func benchRecording(b *testing.B) recording {
	raw, err := os.ReadFile(filepath.Join("testdata", "claude-code", "01-turn.json"))
	if err != nil {
		b.Fatal(err)
	}
	var rec recording
	if err := json.Unmarshal(raw, &rec); err != nil {
		b.Fatal(err)
	}
	return rec
}

// BenchmarkSideSaid is Side and Said alone, on a Request already parsed:
// the cost when the caller fills Request from its own parse.
func BenchmarkSideSaid(b *testing.B) {
	rec := benchRecording(b)
	r, err := Parse(rec.Client, rec.Path, http.Header{}, rec.Body)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, side := Side(r); side || Said(r) == "" {
			b.Fatal("the recorded turn is not read as a turn")
		}
	}
}

// BenchmarkParseSaid is Parse, Side and Said of a recorded Claude Code turn
// (a 45 kB body whose first user message is ~20 kB of wrappers).
func BenchmarkParseSaid(b *testing.B) {
	rec := benchRecording(b)
	b.SetBytes(int64(len(rec.Body)))
	for b.Loop() {
		r, err := Parse(rec.Client, rec.Path, http.Header{}, rec.Body)
		if err != nil {
			b.Fatal(err)
		}
		if _, side := Side(r); side || Said(r) == "" {
			b.Fatal("the recorded turn is not read as a turn")
		}
	}
}
