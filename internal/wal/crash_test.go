package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// logBuf collects a Log's log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *logBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *logBuf) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func (w *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

const crashDirEnv = "WAL_TEST_CRASH_DIR"

// crashRecords is how many records the child reports appended before it is
// killed (it goes on appending until then).
const crashRecords = 3000

// TestCrashChild is the child process of TestKillAfterAppend: it appends
// records "0", "1", … to the journal in $WAL_TEST_CRASH_DIR, says so on
// stdout once crashRecords of them have returned, and goes on appending
// until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child of TestKillAfterAppend")
	}
	mode, err := ParseSyncMode(os.Getenv("WAL_TEST_CRASH_SYNC"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir, Options{Prefix: "test-", Sync: mode, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := l.Append([]byte(strconv.Itoa(i)), i%2 == 0); err != nil {
			fmt.Println("append failed:", err)
			os.Exit(1)
		}
		if i == crashRecords-1 {
			l.mu.Lock()
			mapped := l.mem != nil
			l.mu.Unlock()
			fmt.Printf("appended %d mapped=%v\n", crashRecords, mapped)
		}
	}
}

// A record whose Append returned survives kill -9 of the process, whatever
// the sync mode: the parent kills a child appending records as fast as it
// can, once it has reported crashRecords of them returned, and finds them
// all on reopening, in order, with nothing but at most a torn last record
// after them.
func TestKillAfterAppend(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("in the child")
	}
	for _, mode := range []SyncMode{SyncNever, SyncBatch, SyncAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, "WAL_TEST_CRASH_SYNC="+mode.String())
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			cmd.Process.Kill() // SIGKILL: no deferred function, no Close
			cmd.Wait()
			if err != nil || !strings.HasPrefix(line, fmt.Sprintf("appended %d ", crashRecords)) {
				t.Fatalf("child said %q, %v", line, err)
			}
			if want := fmt.Sprintf("mapped=%v\n", canMap); !strings.HasSuffix(line, want) {
				t.Fatalf("child said %q, want %s", line, want)
			}
			var logs logBuf
			l := open(t, dir, Options{Logger: logs.logger()})
			got := readAll(t, l, &Cursor{})
			if len(got) < crashRecords {
				t.Fatalf("%d records after the kill, want at least the %d that returned", len(got), crashRecords)
			}
			for i, g := range got {
				if g != strconv.Itoa(i) {
					t.Fatalf("record %d reads %q", i, g)
				}
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Fatalf("damage reported after the kill:\n%s", logs.String())
			}
			if segs := files(t, dir); len(segs) < 2 {
				t.Fatalf("%d segments, want several (SegmentBytes 64 KiB)", len(segs))
			}
		})
	}
}

// A segment whose last record was cut short, by a crash mid-copy or a
// zero-filled page, or which ends in a mapped segment's reserved zeros,
// reads back the records before it and nothing else; appending goes on
// in a new segment.
func TestTornTail(t *testing.T) {
	var whole []byte
	for i := range 3 {
		whole = frame(whole, []byte(strconv.Itoa(i)))
	}
	last := frame(nil, []byte(`"the last record"`))
	zeros := make([]byte, 8192)
	half := last[: len(last)/2 : len(last)/2]
	for name, tc := range map[string]struct {
		tail  []byte
		bytes int // what Bytes counts: up to the last non-zero byte
	}{
		"zeros":     {zeros, 0},
		"cut":       {append(half, zeros...), len(half)},
		"zero-half": {append(append(half, make([]byte, len(last)-len(half))...), zeros...), len(half)},
		"no-zeros":  {last[:len(last)-3], len(last) - 3},
	} {
		t.Run(name, func(t *testing.T) {
			tail := tc.tail
			dir := t.TempDir()
			path := filepath.Join(dir, "test-0000000001.jsonl")
			if err := os.WriteFile(path, append(append([]byte(nil), whole...), tail...), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs logBuf
			l := open(t, dir, Options{Logger: logs.logger()})
			var c Cursor
			defer c.Close()
			if got := readAll(t, l, &c); fmt.Sprint(got) != "[0 1 2]" {
				t.Fatalf("read %v, want [0 1 2]", got)
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Fatalf("a torn tail reported as damage:\n%s", logs.String())
			}
			if tc.bytes == 0 && logs.String() != "" {
				t.Fatalf("reserved zeros after whole records logged:\n%s", logs.String())
			}
			if got, want := l.Bytes(), int64(len(whole)+tc.bytes); got != want {
				t.Fatalf("Bytes() = %d, want %d (the zeros do not count)", got, want)
			}
			if _, err := l.Append([]byte(`"next"`), false); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, l, &c); fmt.Sprint(got) != `["next"]` {
				t.Fatalf("after the torn segment read %v", got)
			}
			if n := len(files(t, dir)); n != 2 {
				t.Fatalf("%d segments, want the torn one and a new one", n)
			}
		})
	}
}

// A record larger than SegmentBytes gets a segment of its own size, and
// those around it are kept too.
func TestRecordLargerThanSegment(t *testing.T) {
	dir := t.TempDir()
	big := `"` + strings.Repeat("b", 20000) + `"`
	l := open(t, dir, Options{SegmentBytes: 64})
	for _, p := range []string{`"a"`, big, `"c"`} {
		if _, err := l.Append([]byte(p), false); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	got := readAll(t, open(t, dir, Options{}), &Cursor{})
	if len(got) != 3 || got[0] != `"a"` || got[1] != big || got[2] != `"c"` {
		t.Fatalf("read %d records back, want a, the big one, c", len(got))
	}
}
