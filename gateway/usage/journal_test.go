package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// count returns the lines holding every one of parts.
func (b *logBuffer) count(parts ...string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for line := range strings.Lines(b.buf.String()) {
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

// storeSink is idempotent on RequestID, as Sink requires, fails while down
// and counts what it was sent.
type storeSink struct {
	mu   sync.Mutex
	down bool
	rows map[string]Record
	ids  []string // in the order first stored
}

func newStoreSink() *storeSink { return &storeSink{rows: map[string]Record{}} }

func (s *storeSink) WriteUsage(_ context.Context, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errors.New("connection refused")
	}
	for _, r := range recs {
		if _, ok := s.rows[r.RequestID]; !ok {
			s.rows[r.RequestID] = r
			s.ids = append(s.ids, r.RequestID)
		}
	}
	return nil
}

func (s *storeSink) set(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

func (s *storeSink) stored() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

func (s *storeSink) row(id string) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[id]
}

// segments lists the journal files in dir.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, journalPrefix+"*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// journaled reads the journal files as a crashed process leaves them:
// request id → phases ("begin", "end") in order.
func journaled(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range segments(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// A segment in use is reserved and memory-mapped (internal/wal):
		// zeros follow its records.
		for line := range bytes.Lines(bytes.TrimRight(b, "\x00")) {
			var l struct{ Rec entry }
			if err := json.Unmarshal(line, &l); err != nil {
				t.Fatalf("journal line %q: %v", line, err)
			}
			phase := cmpOr(l.Rec.Phase, "end")
			out[l.Rec.RequestID] = append(out[l.Rec.RequestID], phase)
		}
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestQueueDurableBeforeReturn: Begin and Finish have written their
// records when they return, before any flush of the writer; a queue that
// is never closed (a kill -9) leaves them to the next run, which stores
// every finished row once and a gateway_crash row for the request still
// in flight, then empties the journal.
func TestQueueDurableBeforeReturn(t *testing.T) {
	for _, fsync := range []string{"always", "batch", "never"} {
		t.Run(fsync, func(t *testing.T) {
			dir := t.TempDir()
			sink := newStoreSink()
			sink.set(true) // nothing reaches the database in the first run
			q := NewQueue(sink, QueueOptions{FlushInterval: time.Hour, JournalDir: dir, Fsync: fsync})
			go q.Run()
			for i := range 5 {
				r := rec(i)
				tk := q.Begin(r)
				r.PromptTokens = 10
				q.Finish(tk, r)
			}
			inflight := Record{RequestID: "req-inflight", Model: "mock", User: "ann", Time: time.Unix(1700000000, 0).UTC()}
			q.Begin(inflight)
			got := journaled(t, dir)
			for i := range 5 {
				if p := got[rec(i).RequestID]; !slices.Equal(p, []string{"begin", "end"}) {
					t.Fatalf("%s journaled as %v when Finish returned, want [begin end]", rec(i).RequestID, p)
				}
			}
			if p := got["req-inflight"]; !slices.Equal(p, []string{"begin"}) {
				t.Fatalf("in-flight request journaled as %v, want [begin]", p)
			}

			// The process dies here. The next run, on a working sink:
			sink2 := newStoreSink()
			q2 := NewQueue(sink2, QueueOptions{FlushInterval: time.Hour, JournalDir: dir, Fsync: fsync})
			go q2.Run()
			if err := q2.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			want := append(seq(0, 5), "req-inflight")
			if got := sink2.stored(); !slices.Equal(got, want) {
				t.Fatalf("stored %v, want %v", got, want)
			}
			if r := sink2.row(rec(3).RequestID); r.Status != 200 || r.PromptTokens != 10 {
				t.Errorf("finished row replayed as %+v", r)
			}
			c := sink2.row("req-inflight")
			if c.Status != CrashStatus || c.ErrorType != ErrorGatewayCrash || c.Model != "mock" || c.User != "ann" || !c.Time.Equal(inflight.Time) {
				t.Errorf("crash row %+v, want status %d %s with the begin's model, user and time", c, CrashStatus, ErrorGatewayCrash)
			}
			if s := segments(t, dir); len(s) != 0 {
				t.Errorf("journal left after a clean replay: %v", s)
			}
		})
	}
}

// TestQueueJournalOutage: while the sink is down Finish never waits (the
// channel holds 4 rows, the others wait in the journal only), and once
// the sink answers they all arrive exactly once and the journal empties. A request begun during the
// outage and finished after it is not reported as crashed.
func TestQueueJournalOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		logs := &logBuffer{}
		s := newStoreSink()
		s.set(true)
		q := NewQueue(s, QueueOptions{Size: 4, BatchSize: 16, FlushInterval: time.Second, JournalDir: dir, Logger: logs.logger()})
		go q.Run()
		long := q.Begin(Record{RequestID: "req-long"})
		start := time.Now()
		for i := range 1000 {
			q.Finish(q.Begin(rec(i)), rec(i))
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("Begin/Finish waited %s (fake time) while the sink was down", d)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(s.stored()) != 0 || q.Len() != 1000 {
			t.Fatalf("a down sink took %d rows; Len %d", len(s.stored()), q.Len())
		}
		s.set(false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := slices.Sorted(slices.Values(s.stored())); !slices.Equal(got, seq(0, 1000)) {
			t.Fatalf("stored %d rows, want req-000…req-999 once each", len(got))
		}
		if q.Len() != 0 {
			t.Errorf("Len = %d after the replay", q.Len())
		}
		if n := len(segments(t, dir)); n != 1 {
			t.Errorf("%d segments kept, want the one holding req-long's start", n)
		}
		q.Finish(long, Record{RequestID: "req-long", Status: 200})
		if err := q.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if r := s.row("req-long"); r.Status != 200 {
			t.Errorf("long request stored as %+v", r)
		}
		if n := len(segments(t, dir)); n != 0 {
			t.Errorf("%d segments after Close, want none", n)
		}
		if n := logs.count("level=INFO", "answers again"); n != 1 {
			t.Errorf("%d 'answers again' lines, want 1", n)
		}
	})
}

// TestQueueJournalCap: past JournalMaxBytes Begin waits until the sink
// has taken rows; nothing is dropped.
func TestQueueJournalCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s := newStoreSink()
		s.set(true)
		logs := &logBuffer{}
		q := NewQueue(s, QueueOptions{FlushInterval: 100 * time.Millisecond, JournalDir: dir, JournalMaxBytes: 2000, Logger: logs.logger()})
		go q.Run()
		i := 0
		for q.JournalBytes() <= 2000 {
			q.Finish(q.Begin(rec(i)), rec(i))
			i++
		}
		done := make(chan struct{})
		go func() { q.Finish(q.Begin(rec(i)), rec(i)); close(done) }()
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Begin went past the journal's cap")
		default:
		}
		s.set(false)
		<-done
		if err := q.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := s.stored(); !slices.Equal(got, seq(0, i+1)) {
			t.Fatalf("stored %v, want req-000…req-%03d", got, i)
		}
		if logs.count("level=ERROR", "journal is full") != 1 || logs.count("level=INFO", "below its cap") != 1 {
			t.Errorf("want one 'full' and one 'below its cap' line")
		}
	})
}

// A row with a NaN or an infinite number is journaled with 0, not lost.
func TestJournalNonFiniteNumbers(t *testing.T) {
	dir := t.TempDir()
	s := newStoreSink()
	q := NewQueue(s, QueueOptions{JournalDir: dir})
	go q.Run()
	inf := math.Inf(1)
	q.Enqueue(Record{RequestID: "req-nan", LatencyMS: math.NaN(), Cost: &inf})
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := s.row("req-nan"); r.RequestID == "" || r.LatencyMS != 0 || r.Cost != nil {
		t.Errorf("stored %+v", r)
	}
}

// A journal of an earlier version (finished rows only, no phase) is
// replayed as finished rows.
func TestJournalEarlierFormat(t *testing.T) {
	dir := t.TempDir()
	payload := `{"time":"2026-01-01T00:00:00Z","request_id":"req-old","status":200}`
	q0 := NewQueue(newStoreSink(), QueueOptions{JournalDir: dir})
	if _, err := q0.j.Append([]byte(payload), false); err != nil {
		t.Fatal(err)
	}
	q0.j.Close()
	s := newStoreSink()
	q := NewQueue(s, QueueOptions{JournalDir: dir})
	go q.Run()
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := s.row("req-old"); r.Status != 200 || r.ErrorType != "" {
		t.Errorf("stored %+v, want the finished row", r)
	}
}
