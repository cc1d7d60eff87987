package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func open(t *testing.T, dir string, o Options) *Log {
	t.Helper()
	if o.Prefix == "" {
		o.Prefix = "test-"
	}
	l, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func readAll(t *testing.T, l *Log, c *Cursor) []string {
	t.Helper()
	var out []string
	for {
		n, err := l.Next(c, 7, func(p []byte, _ Ref) { out = append(out, string(p)) })
		if err != nil {
			t.Fatal(err)
		}
		if n < 7 {
			return out
		}
	}
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "test-*.jsonl"))
	return m
}

// Concurrent appends all land, each once, and a reopened journal reads
// them back (the process "crashed": nothing was closed).
func TestAppendConcurrentAndReopen(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []SyncMode{SyncAlways, SyncBatch, SyncNever} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := filepath.Join(dir, mode.String())
			l := open(t, dir, Options{Sync: mode, SegmentBytes: 512})
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := range 50 {
						if _, err := l.Append([]byte(strconv.Itoa(w*1000+i)), false); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			if len(files(t, dir)) < 2 {
				t.Fatalf("%d segments, want several (SegmentBytes 512)", len(files(t, dir)))
			}
			l2 := open(t, dir, Options{}) // another "run" on the same directory
			got := readAll(t, l2, &Cursor{})
			seen := map[string]bool{}
			for _, g := range got {
				if seen[g] {
					t.Fatalf("record %s read twice", g)
				}
				seen[g] = true
			}
			if len(seen) != 400 {
				t.Fatalf("%d records read back, want 400", len(seen))
			}
		})
	}
}

// A segment is removed once nothing in it is pinned; a cursor follows
// appends across segments; a Reader reads pinned records back.
func TestPins(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, Options{SegmentBytes: 64})
	first, err := l.Append([]byte(`"first"`), true)
	if err != nil {
		t.Fatal(err)
	}
	var refs []Ref
	for i := range 20 {
		ref, err := l.Append([]byte(strconv.Itoa(i)), true)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	var c Cursor
	defer c.Close()
	if got := readAll(t, l, &c); len(got) != 21 || got[0] != `"first"` {
		t.Fatalf("read %v", got)
	}
	segs := len(files(t, dir))
	r := l.NewReader()
	defer r.Close()
	for i, ref := range refs {
		if p, err := r.ReadAt(ref); err != nil || string(p) != strconv.Itoa(i) {
			t.Fatalf("ReadAt(%d) = %q, %v", i, p, err)
		}
		l.Unpin(ref)
	}
	if n := len(files(t, dir)); n != 1 || segs < 3 {
		t.Fatalf("%d of %d segments left after unpinning all but the first record, want its one", n, segs)
	}
	if p, err := l.ReadAt(first); err != nil || string(p) != `"first"` {
		t.Fatalf("ReadAt = %q, %v", p, err)
	}
	l.Unpin(first)
	if n := len(files(t, dir)); n != 0 || l.Bytes() != 0 {
		t.Fatalf("%d segments, %d bytes after the last unpin, want none", n, l.Bytes())
	}
	// Appending after the active segment was removed starts a new one, and
	// the cursor finds it.
	if _, err := l.Append([]byte(`"later"`), true); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, l, &c); len(got) != 1 || got[0] != `"later"` {
		t.Fatalf("after removal read %v", got)
	}
	// An earlier run's segments stay until Collect: what is pinned stays.
	l.Close()
	l2 := open(t, dir, Options{})
	var c2 Cursor
	defer c2.Close()
	var later Ref
	l2.Next(&c2, 10, func(_ []byte, at Ref) { later = at })
	l2.Pin(later)
	l2.Collect()
	if n := len(files(t, dir)); n != 1 {
		t.Fatalf("%d segments after Collect with a pinned record, want 1", n)
	}
	l2.Unpin(later)
	if n := len(files(t, dir)); n != 0 {
		t.Fatalf("%d segments after the unpin, want 0", n)
	}
}

// A torn or damaged line is skipped, the rest is read.
func TestDamagedLines(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, Options{})
	for i := range 3 {
		if _, err := l.Append([]byte(strconv.Itoa(i)), false); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	path := files(t, dir)[0]
	b, _ := os.ReadFile(path)
	b[len(`{"crc":`)+1] ^= 1 // first line's checksum no longer matches
	b = append(b, `{"crc":1,"rec":"tor`...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, open(t, dir, Options{}), &Cursor{})
	if fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("read %v, want [1 2]", got)
	}
}

func TestParseSyncMode(t *testing.T) {
	for in, want := range map[string]SyncMode{"": SyncBatch, "batch": SyncBatch, "always": SyncAlways, "never": SyncNever} {
		if got, err := ParseSyncMode(in); err != nil || got != want {
			t.Errorf("ParseSyncMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSyncMode("sometimes"); err == nil {
		t.Error("ParseSyncMode(sometimes) accepted")
	}
}
