package wal

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// refuseFallocate makes fallocate fail with err for the test's duration.
func refuseFallocate(t *testing.T, err error) {
	t.Cleanup(func() { fallocate = unix.Fallocate })
	fallocate = func(int, uint32, int64, int64) error { return err }
}

// A segment in use is reserved at SegmentBytes and mapped; closing it cuts
// it to its records.
func TestMappedSegment(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, Options{SegmentBytes: 1 << 20})
	if _, err := l.Append([]byte(`"a"`), false); err != nil {
		t.Fatal(err)
	}
	path := files(t, dir)[0]
	if info, err := os.Stat(path); err != nil || info.Size() != 1<<20 || l.mem == nil {
		t.Fatalf("segment in use: %v, %v, mapped %v; want 1 MiB reserved and mapped", info.Size(), err, l.mem != nil)
	}
	l.Close()
	if b, err := os.ReadFile(path); err != nil || string(b) != string(frame(nil, []byte(`"a"`))) {
		t.Fatalf("closed segment holds %q, %v; want its one record", b, err)
	}
}

// Where fallocate is refused (a filesystem without it), the journal says
// so once and appends with write(2); every record is kept.
func TestFallbackWhenRefused(t *testing.T) {
	refuseFallocate(t, unix.EOPNOTSUPP)
	dir := t.TempDir()
	var logs logBuf
	l := open(t, dir, Options{SegmentBytes: 64, Sync: SyncAlways, Logger: logs.logger()})
	for i := range 20 {
		if _, err := l.Append([]byte(strconv.Itoa(i)), false); err != nil {
			t.Fatal(err)
		}
	}
	if l.mapped || l.mem != nil || len(files(t, dir)) < 3 {
		t.Fatalf("mapped %v, %d segments; want write(2) and several segments", l.mapped, len(files(t, dir)))
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "refused") {
		t.Fatalf("%d log lines about the refusal, want 1:\n%s", n, logs.String())
	}
	l.Close()
	if got := readAll(t, open(t, dir, Options{}), &Cursor{}); len(got) != 20 || got[19] != "19" {
		t.Fatalf("read back %v", got)
	}
}

// A full disk fails the append at the segment's creation, leaving no
// segment behind, and the journal keeps its mappings for when space is
// back.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, Options{})
	refuseFallocate(t, unix.ENOSPC)
	if _, err := l.Append([]byte(`"a"`), true); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("Append on a full disk = %v, want ENOSPC", err)
	}
	if n := len(files(t, dir)); n != 0 || l.Bytes() != 0 || !l.mapped {
		t.Fatalf("%d segments, %d bytes, mapped %v after a full disk; want none, 0, true", n, l.Bytes(), l.mapped)
	}
	fallocate = unix.Fallocate
	if _, err := l.Append([]byte(`"b"`), true); err != nil || l.mem == nil {
		t.Fatalf("Append once space is back = %v (mapped %v)", err, l.mem != nil)
	}
	if got := readAll(t, l, &Cursor{}); len(got) != 1 || got[0] != `"b"` {
		t.Fatalf("read %v, want [\"b\"]", got)
	}
}
