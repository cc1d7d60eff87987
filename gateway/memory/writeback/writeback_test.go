package writeback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// calls records what a handler was given.
type calls struct {
	mu   sync.Mutex
	keys []string
}

func (c *calls) add(j Job) { c.mu.Lock(); c.keys = append(c.keys, j.Key()); c.mu.Unlock() }

func (c *calls) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(slices.Values(c.keys))
}

func job(i int) Job {
	return Job{Scope: "u:ann/p:shop", RequestID: fmt.Sprintf("req-%03d", i), Turn: "1", User: "question", Answer: "answer"}
}

func keys(is ...int) []string {
	var out []string
	for _, i := range is {
		j := job(i)
		out = append(out, j.Key())
	}
	return slices.Sorted(slices.Values(out))
}

func segments(t *testing.T, dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
	return m
}

// TestReplayAfterCrash: a process that dies (its queue never closed)
// leaves its pending jobs to the next Open, which runs each exactly once;
// jobs the first process completed are not run again.
func TestReplayAfterCrash(t *testing.T) {
	dir := t.TempDir()
	var first calls
	q1, err := Open(dir, func(_ context.Context, j Job) error {
		first.add(j)
		var i int
		fmt.Sscanf(j.RequestID, "req-%d", &i)
		if i%2 == 1 {
			return errors.New("backend down")
		}
		return nil
	}, Options{FirstBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := q1.Enqueue(job(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q1.Enqueue(job(3)); err != nil { // the same key again
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for q1.Stats().Done < 5 || q1.Stats().Failures < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("first run never settled: %+v", q1.Stats())
		}
		time.Sleep(time.Millisecond) // polling the outcome, not timing it
	}
	// The process dies here: q1 is never closed.
	var second calls
	q2, err := Open(dir, func(_ context.Context, j Job) error { second.add(j); return nil }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q2.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := second.got(); !slices.Equal(got, keys(1, 3, 5, 7, 9)) {
		t.Errorf("replayed %v, want the five jobs the first run did not complete, once each", got)
	}
	if got := first.got(); len(got) != 10 {
		t.Errorf("first run handled %v, want each of the 10 keys once (the duplicate Enqueue ignored)", got)
	}
	if s := q2.Stats(); s.Done != 5 || s.Pending != 0 {
		t.Errorf("stats after replay %+v", s)
	}
	if n := len(segments(t, dir)); n != 0 {
		t.Errorf("%d journal segments left after every job was stored", n)
	}
}

// TestStuckJobKeptAndSurfaced: a job that keeps failing is retried with a
// doubling backoff capped at MaxBackoff, reported stuck after StuckAfter
// attempts (warning, Stats.Stuck), never dropped, and stored once the
// handler succeeds.
func TestStuckJobKeptAndSurfaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &syncWriter{w: &strings.Builder{}}
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		failing := true
		q, err := Open(t.TempDir(), func(_ context.Context, j Job) error {
			mu.Lock()
			defer mu.Unlock()
			at = append(at, time.Since(start))
			if failing {
				return errors.New("backend down")
			}
			return nil
		}, Options{Workers: 1, FirstBackoff: time.Second, MaxBackoff: 8 * time.Second, StuckAfter: 3,
			Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Enqueue(job(1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		s := q.Stats()
		if s.Stuck != 1 || s.Pending != 1 || s.Done != 0 {
			t.Fatalf("after a minute of failures: %+v, want one stuck pending job", s)
		}
		mu.Lock()
		var gaps []time.Duration
		for i := 1; i < 6; i++ {
			gaps = append(gaps, at[i]-at[i-1])
		}
		failing = false
		mu.Unlock()
		if want := []time.Duration{1, 2, 4, 8, 8}; !slices.Equal(gaps, scale(want, time.Second)) {
			t.Errorf("gaps between attempts %v, want %v", gaps, scale(want, time.Second))
		}
		if n := strings.Count(logs.String(), "keeps failing"); n != 1 {
			t.Errorf("%d 'keeps failing' warnings, want 1", n)
		}
		time.Sleep(8 * time.Second)
		synctest.Wait()
		if s := q.Stats(); s.Stuck != 0 || s.Pending != 0 || s.Done != 1 {
			t.Errorf("after the backend recovered: %+v", s)
		}
		if err := q.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.w.String() }

func scale(ds []time.Duration, unit time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d * unit
	}
	return out
}

// TestSpillToDisk: with the memory buffer full, Enqueue never waits and
// never drops: the extra jobs wait on disk and are read back in turn.
func TestSpillToDisk(t *testing.T) {
	release := make(chan struct{})
	var c calls
	q, err := Open(t.TempDir(), func(_ context.Context, j Job) error {
		<-release
		if j.User != "question" || j.Answer != "answer" {
			return Permanent(errors.New("job read back wrong"))
		}
		c.add(j)
		return nil
	}, Options{Workers: 1, MemoryJobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := q.Enqueue(job(i)); err != nil {
			t.Fatal(err)
		}
	}
	if s := q.Stats(); s.Spilled != 48 || s.Pending != 50 {
		t.Errorf("stats with a full buffer %+v, want 48 spilled, 50 pending", s)
	}
	close(release)
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var all []int
	for i := range 50 {
		all = append(all, i)
	}
	if got := c.got(); !slices.Equal(got, keys(all...)) {
		t.Errorf("handled %d jobs, want the 50 once each", len(got))
	}
	if s := q.Stats(); s.Rejected != 0 {
		t.Errorf("%d jobs read back wrong from disk", s.Rejected)
	}
}

// A Permanent error ends the job: logged, counted, not retried.
func TestPermanentError(t *testing.T) {
	n := 0
	q, err := Open(t.TempDir(), func(context.Context, Job) error { n++; return Permanent(errors.New("invalid content")) },
		Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(job(1)); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); n != 1 || s.Rejected != 1 || s.Pending != 0 {
		t.Errorf("%d attempts, stats %+v", n, s)
	}
	if err := q.Enqueue(job(2)); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close = %v", err)
	}
}
