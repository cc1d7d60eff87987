package usage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// logBuffer collects a queue's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// count returns the lines holding every one of parts.
func (b *logBuffer) count(parts ...string) int {
	n := 0
	for line := range strings.Lines(b.String()) {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			n++
		}
	}
	return n
}

// switchSink fails while down and otherwise records what it takes, after
// delay (fake time under synctest).
type switchSink struct {
	mu    sync.Mutex
	down  bool
	calls int
	delay time.Duration
	r     *recorder
}

var errDown = errors.New("connection refused")

func newSwitchSink(down bool) *switchSink { return &switchSink{down: down, r: newRecorder()} }

func (s *switchSink) WriteUsage(ctx context.Context, recs []Record) error {
	s.mu.Lock()
	s.calls++
	down, delay := s.down, s.delay
	s.mu.Unlock()
	if down {
		return errDown
	}
	time.Sleep(delay)
	return s.r.ok(ctx, recs)
}

func (s *switchSink) set(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

func (s *switchSink) nCalls() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// segments lists the journal files in dir.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, journalPrefix+"*"+journalSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// journalLines renders recs as the journal does.
func journalLines(t *testing.T, recs ...Record) []byte {
	t.Helper()
	b, err := (&journal{log: slog.New(slog.DiscardHandler)}).encode(recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func recs(from, to int) []Record {
	var out []Record
	for i := from; i < to; i++ {
		out = append(out, rec(i))
	}
	return out
}

func writeSegment(t *testing.T, dir string, n int, data []byte) {
	t.Helper()
	name := filepath.Join(dir, fmt.Sprintf("%s%010d%s", journalPrefix, n, journalSuffix))
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestJournalLineFormat(t *testing.T) {
	line := journalLines(t, rec(7))
	if !bytes.HasPrefix(line, []byte(`{"crc":`)) || !bytes.Contains(line, []byte(`,"rec":{"time":`)) || !bytes.HasSuffix(line, []byte("}}\n")) ||
		bytes.Count(line, []byte("\n")) != 1 {
		t.Errorf("journal line %q", line)
	}
	if r, ok := decodeLine(line); !ok || r.RequestID != "req-007" {
		t.Errorf("decodeLine = %+v, %v", r, ok)
	}
	for _, bad := range [][]byte{
		bytes.Replace(line, []byte("req-007"), []byte("req-008"), 1), // checksum no longer matches
		line[:len(line)/2],
		line[:len(line)-3], // the record whole, the wrapper cut
		bytes.Repeat([]byte{0}, 40),
	} {
		if _, ok := decodeLine(bad); ok {
			t.Errorf("decodeLine accepted %q", bad)
		}
	}
	// The last line of a file may lack its newline and still be whole.
	if _, ok := decodeLine(line[:len(line)-1]); !ok {
		t.Error("decodeLine refused a whole line without its newline")
	}
}

// TestJournalNonFiniteNumbers: a float JSON cannot carry must not block
// the queue for ever.
func TestJournalNonFiniteNumbers(t *testing.T) {
	inf := math.Inf(1)
	r := rec(1)
	r.LatencyMS, r.Cost = math.NaN(), &inf
	back, ok := decodeLine(journalLines(t, r))
	if !ok || back.LatencyMS != 0 || back.Cost != nil || back.RequestID != "req-001" {
		t.Errorf("decoded %+v, %v; want the row with latency 0 and no cost", back, ok)
	}
}

// TestQueueJournalTornLastLine: a crash mid-append leaves half a line at
// the end of a segment; it is skipped with a warning and everything else is
// replayed, in order, before new records.
func TestQueueJournalTornLastLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		torn := journalLines(t, rec(3))
		writeSegment(t, dir, 1, append(journalLines(t, recs(0, 3)...), torn[:len(torn)/2]...))
		writeSegment(t, dir, 2, journalLines(t, recs(4, 6)...))
		logs := &logBuffer{}
		s := newSwitchSink(false)
		q := NewQueue(s, QueueOptions{BatchSize: 2, FlushInterval: time.Second, JournalDir: dir, Logger: logs.logger()})
		if q.JournalBytes() == 0 {
			t.Error("JournalBytes = 0 with a journal left on disk")
		}
		go q.Run()
		q.Enqueue(rec(6))
		time.Sleep(time.Second)
		synctest.Wait()
		want := []string{"req-000", "req-001", "req-002", "req-004", "req-005", "req-006"}
		if got := s.r.all(); !slices.Equal(got, want) {
			t.Errorf("written %v, want %v", got, want)
		}
		if n := logs.count("level=WARN", "torn last line", "usage-journal-0000000001.jsonl"); n != 1 {
			t.Errorf("%d torn-line warnings, want 1; log:\n%s", n, logs)
		}
		if left := segments(t, dir); len(left) != 0 || q.JournalBytes() != 0 {
			t.Errorf("journal not removed after replay: %v, %d bytes", left, q.JournalBytes())
		}
		closeNow(t, q)
	})
}

// TestQueueJournalDamagedLine: a line whose checksum fails in the middle of
// a segment is skipped with an error; the lines around it are replayed.
func TestQueueJournalDamagedLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		data := journalLines(t, recs(0, 3)...)
		data = bytes.Replace(data, []byte(`"req-001","user":""`), []byte(`"req-001","user":"x"`), 1)
		writeSegment(t, dir, 1, data)
		logs := &logBuffer{}
		s := newSwitchSink(false)
		q := NewQueue(s, QueueOptions{JournalDir: dir, Logger: logs.logger()})
		go q.Run()
		synctest.Wait()
		if got := s.r.all(); !slices.Equal(got, []string{"req-000", "req-002"}) {
			t.Errorf("written %v", got)
		}
		if n := logs.count("level=ERROR", "damaged line"); n != 1 {
			t.Errorf("%d damaged-line errors, want 1; log:\n%s", n, logs)
		}
		closeNow(t, q)
	})
}

// TestQueueJournalRestart: a queue closed while the database is down
// leaves its rows in the journal; the next queue on that directory writes
// them first, then what it is given.
func TestQueueJournalRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		down := newSwitchSink(true)
		q1 := NewQueue(down, QueueOptions{BatchSize: 8, JournalDir: dir})
		go q1.Run()
		for i := range 50 {
			q1.Enqueue(rec(i))
		}
		start := time.Now()
		closeNow(t, q1)
		if d := time.Since(start); d != 0 {
			t.Errorf("Close took %s with the sink down; the rest belongs in the journal", d)
		}
		if len(segments(t, dir)) == 0 || q1.JournalBytes() == 0 {
			t.Fatalf("no journal left: %v", segments(t, dir))
		}

		up := newSwitchSink(false)
		q2 := NewQueue(up, QueueOptions{BatchSize: 8, JournalDir: dir})
		for i := 50; i < 100; i++ {
			q2.Enqueue(rec(i)) // before Run: still after the journal
		}
		go q2.Run()
		time.Sleep(time.Second)
		synctest.Wait()
		if got := up.r.all(); !slices.Equal(got, seq(0, 100)) {
			t.Errorf("written %v, want req-000…req-099 in order", got)
		}
		if len(segments(t, dir)) != 0 {
			t.Errorf("journal left after replay: %v", segments(t, dir))
		}
		closeNow(t, q2)
	})
}

// idempotentSink stores rows by request id, as the stores do. hang makes a
// write wait for its ctx (a query cut off by shutdown) after nth success.
type idempotentSink struct {
	mu     sync.Mutex
	rows   map[string]bool
	order  []string
	sent   map[string]int
	hangAt int // writes that succeed before the next hangs; 0 never
}

func (s *idempotentSink) WriteUsage(ctx context.Context, recs []Record) error {
	s.mu.Lock()
	for _, r := range recs {
		s.sent[r.RequestID]++
	}
	if s.hangAt > 0 {
		if s.hangAt--; s.hangAt == 0 {
			s.mu.Unlock()
			<-ctx.Done()
			return ctx.Err()
		}
	}
	defer s.mu.Unlock()
	for _, r := range recs {
		if !s.rows[r.RequestID] {
			s.rows[r.RequestID] = true
			s.order = append(s.order, r.RequestID)
		}
	}
	return nil
}

// TestQueueJournalReplayAfterCut: a replay cut off part way (the process
// stopped) starts again from the top of the segment at the next start; the
// sink's idempotency makes every row land once.
func TestQueueJournalReplayAfterCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		writeSegment(t, dir, 1, journalLines(t, recs(0, 40)...))
		s := &idempotentSink{rows: map[string]bool{}, sent: map[string]int{}, hangAt: 3}
		q1 := NewQueue(s, QueueOptions{BatchSize: 8, JournalDir: dir})
		go q1.Run()
		synctest.Wait() // two batches written, the third hangs
		closeNow(t, q1)
		if len(s.order) != 16 {
			t.Fatalf("%d rows stored before the cut, want 16", len(s.order))
		}
		q2 := NewQueue(s, QueueOptions{BatchSize: 8, JournalDir: dir})
		go q2.Run()
		synctest.Wait()
		closeNow(t, q2)
		if !slices.Equal(s.order, seq(0, 40)) {
			t.Errorf("stored %v, want req-000…req-039 once each", s.order)
		}
		if s.sent["req-000"] != 2 || s.sent["req-039"] != 1 {
			t.Errorf("req-000 sent %d times, req-039 %d; want 2 (replayed again) and 1", s.sent["req-000"], s.sent["req-039"])
		}
		if len(segments(t, dir)) != 0 {
			t.Errorf("journal left: %v", segments(t, dir))
		}
	})
}

// TestQueueJournalUnavailable: a journal directory that cannot be created
// is logged, and the queue keeps today's in-memory retries.
func TestQueueJournalUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "not-a-dir")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		logs := &logBuffer{}
		s := newSwitchSink(true)
		q := NewQueue(s, QueueOptions{JournalDir: filepath.Join(file, "journal"), Logger: logs.logger()})
		if n := logs.count("level=ERROR", "usage journal unavailable"); n != 1 {
			t.Errorf("log:\n%s", logs)
		}
		go q.Run()
		q.Enqueue(rec(0))
		time.Sleep(time.Second)
		s.set(false)
		closeNow(t, q)
		if got := s.r.all(); !slices.Equal(got, seq(0, 1)) || q.JournalBytes() != 0 {
			t.Errorf("written %v, journal %d bytes", got, q.JournalBytes())
		}
	})
}

// TestQueueJournalSegmentVanished: a segment deleted by hand is given up
// (with an error), not waited for, and the queue goes on.
func TestQueueJournalSegmentVanished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		writeSegment(t, dir, 1, journalLines(t, recs(0, 2)...))
		writeSegment(t, dir, 2, journalLines(t, recs(2, 4)...))
		logs := &logBuffer{}
		s := newSwitchSink(false)
		q := NewQueue(s, QueueOptions{JournalDir: dir, Logger: logs.logger()})
		if err := os.Remove(segments(t, dir)[0]); err != nil {
			t.Fatal(err)
		}
		go q.Run()
		q.Enqueue(rec(4))
		time.Sleep(time.Second)
		synctest.Wait()
		if got := s.r.all(); !slices.Equal(got, seq(2, 5)) || q.JournalBytes() != 0 {
			t.Errorf("written %v, journal %d bytes; want req-002…req-004, 0", got, q.JournalBytes())
		}
		if n := logs.count("level=ERROR", "vanished"); n != 1 {
			t.Errorf("log:\n%s", logs)
		}
		closeNow(t, q)
	})
}
