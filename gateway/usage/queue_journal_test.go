package usage

import (
	"bytes"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestQueueJournalOutage: while the sink is down, Enqueue never waits (the
// channel holds 4 records; 1000 go through), the rows go to the journal,
// and once the sink is back they all arrive exactly once, in order, with
// rows enqueued during the replay after it. Then writes go direct again.
func TestQueueJournalOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		logs := &logBuffer{}
		s := newSwitchSink(true)
		q := NewQueue(s, QueueOptions{Size: 4, BatchSize: 16, FlushInterval: time.Second, JournalDir: dir, Logger: logs.logger()})
		go q.Run()
		start := time.Now()
		for i := range 1000 {
			q.Enqueue(rec(i))
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("Enqueue waited %s (fake time) while the sink was down", d)
		}
		time.Sleep(time.Second) // the last partial batch
		synctest.Wait()
		if got := s.r.all(); len(got) != 0 {
			t.Fatalf("a down sink took %d rows", len(got))
		}
		if q.JournalBytes() == 0 || len(segments(t, dir)) != 1 {
			t.Fatalf("journal: %d bytes in %v", q.JournalBytes(), segments(t, dir))
		}

		// A long outage: the replayer keeps trying, no faster than every 5s.
		calls := s.nCalls()
		time.Sleep(time.Minute)
		if n := s.nCalls() - calls; n < 12 || n > 20 {
			t.Errorf("%d replay attempts in a minute, want 12–20 (backoff capped at 5s)", n)
		}
		for i := 1000; i < 1100; i++ {
			q.Enqueue(rec(i))
		}

		// Back, but slow: records keep arriving while the journal replays.
		s.mu.Lock()
		s.down, s.delay = false, 10*time.Millisecond
		s.mu.Unlock()
		for i := 1100; i < 1300; i++ {
			q.Enqueue(rec(i))
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := s.r.all(); !slices.Equal(got, seq(0, 1300)) {
			t.Fatalf("written %d rows, want req-0000…req-1299 once each in order: %v", len(got), got)
		}
		if q.JournalBytes() != 0 || len(segments(t, dir)) != 0 {
			t.Errorf("journal after replay: %d bytes in %v", q.JournalBytes(), segments(t, dir))
		}
		if n := logs.count("level=WARN", "journaling rows"); n != 1 {
			t.Errorf("%d 'journaling rows' warnings, want 1 per outage", n)
		}
		if n := logs.count("level=INFO", "answers again"); n != 1 {
			t.Errorf("%d 'answers again' lines, want 1", n)
		}

		// The journal is empty again: rows go straight to the sink.
		s.mu.Lock()
		s.delay = 0
		s.mu.Unlock()
		q.Enqueue(rec(1300))
		time.Sleep(time.Second)
		synctest.Wait()
		if len(segments(t, dir)) != 0 || len(s.r.all()) != 1301 {
			t.Errorf("after the outage: %v, %d rows", segments(t, dir), len(s.r.all()))
		}
		closeNow(t, q)
	})
}

// TestQueueJournalCap: past JournalMaxBytes the queue stops taking records
// (Enqueue waits: backpressure), logs one error, drops nothing, and
// resumes when the replay frees room.
func TestQueueJournalCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		line := int64(len(journalLines(t, rec(0))))
		logs := &logBuffer{}
		s := newSwitchSink(true)
		q := NewQueue(s, QueueOptions{Size: 2, BatchSize: 1, FlushInterval: time.Hour, JournalDir: dir,
			JournalMaxBytes: 5*line + line/2, Logger: logs.logger()})
		go q.Run()
		done := make(chan struct{})
		go func() {
			for i := range 20 {
				q.Enqueue(rec(i))
			}
			close(done)
		}()
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("all 20 records taken past the journal's cap")
		default:
		}
		// Five in the journal, one held by the writer, two in the channel.
		if got := journaled(t, dir); !slices.Equal(got, seq(0, 5)) || q.JournalBytes() > 5*line+line/2 || q.Len() != 2 {
			t.Errorf("journal holds %v in %d bytes, channel %d; want req-000…req-004, 2", got, q.JournalBytes(), q.Len())
		}
		if n := logs.count("level=ERROR", "usage journal is full"); n != 1 {
			t.Errorf("%d 'journal is full' errors, want 1; log:\n%s", n, logs)
		}
		s.set(false)
		<-done
		closeNow(t, q)
		if got := s.r.all(); !slices.Equal(got, seq(0, 20)) {
			t.Errorf("written %v, want req-000…req-019 in order", got)
		}
		if n := logs.count("level=INFO", "below its cap again"); n < 1 {
			t.Errorf("no 'below its cap again' line; log:\n%s", logs)
		}
	})
}

// TestQueueJournalCloseDrains: Close with the sink down returns at once,
// everything enqueued being in the journal.
func TestQueueJournalCloseDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		q := NewQueue(newSwitchSink(true), QueueOptions{BatchSize: 8, FlushInterval: time.Hour, JournalDir: dir})
		go q.Run()
		for i := range 21 {
			q.Enqueue(rec(i))
		}
		closeNow(t, q)
		if got := journaled(t, dir); !slices.Equal(got, seq(0, 21)) {
			t.Errorf("journal holds %v", got)
		}
	})
}

// journaled returns the request ids in the journal in dir, in order.
func journaled(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	for _, p := range segments(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.Lines(b) {
			r, ok := decodeLine(line)
			if !ok {
				t.Fatalf("bad line %q in %s", line, p)
			}
			got = append(got, r.RequestID)
		}
	}
	return got
}
