package usage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// sinkFunc is a function-field fake of Sink.
type sinkFunc func(ctx context.Context, recs []Record) error

func (f sinkFunc) WriteUsage(ctx context.Context, recs []Record) error { return f(ctx, recs) }

// recorder keeps a copy of every batch that was written successfully (the
// queue reuses its batch slice, so a sink must not keep recs).
type recorder struct {
	mu      sync.Mutex
	batches [][]string // request ids
	at      []time.Duration
	start   time.Time
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

func (r *recorder) ok(_ context.Context, recs []Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, ids(recs))
	r.at = append(r.at, time.Since(r.start))
	return nil
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, b := range r.batches {
		out = append(out, len(b))
	}
	return out
}

func (r *recorder) times() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.at)
}

// all returns every written id in write order.
func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Concat(r.batches...)
}

func ids(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.RequestID
	}
	return out
}

func rec(i int) Record { return Record{RequestID: fmt.Sprintf("req-%03d", i), Status: 200} }

func seq(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, rec(i).RequestID)
	}
	return out
}

func closeNow(t *testing.T, q *Queue) {
	t.Helper()
	if err := q.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestQueueBatchesAndFlushInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		q := NewQueue(sinkFunc(r.ok), QueueOptions{BatchSize: 10, FlushInterval: time.Second})
		go q.Run()
		for i := range 95 {
			q.Enqueue(rec(i))
		}
		synctest.Wait()
		if got, want := r.sizes(), []int{10, 10, 10, 10, 10, 10, 10, 10, 10}; !slices.Equal(got, want) {
			t.Fatalf("at once: batch sizes %v, want %v", got, want)
		}
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if n := len(r.sizes()); n != 9 {
			t.Fatalf("the 5 left were written before FlushInterval (%d batches)", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := r.sizes(); len(got) != 10 || got[9] != 5 {
			t.Fatalf("after FlushInterval: batch sizes %v, want nine 10s and a 5", got)
		}
		if at := r.times(); at[9] != time.Second {
			t.Errorf("partial batch written at %s, want 1s", at[9])
		}
		// A record arriving mid-interval waits at most until the next tick.
		time.Sleep(300 * time.Millisecond)
		q.Enqueue(rec(95))
		time.Sleep(700 * time.Millisecond)
		synctest.Wait()
		if got, at := r.sizes(), r.times(); len(got) != 11 || got[10] != 1 || at[10] != 2*time.Second {
			t.Errorf("late record: batches %v at %v", got, at)
		}
		closeNow(t, q)
		if got := r.all(); !slices.Equal(got, seq(0, 96)) {
			t.Errorf("written %v, want req-000…req-095 once each in order", got)
		}
		if q.Len() != 0 {
			t.Errorf("Len = %d after Close", q.Len())
		}
	})
}

func TestQueueEmptyTicksWriteNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewQueue(sinkFunc(func(context.Context, []Record) error {
			t.Error("sink called with nothing to write")
			return nil
		}), QueueOptions{FlushInterval: time.Second})
		go q.Run()
		time.Sleep(10 * time.Second)
		closeNow(t, q)
	})
}

func TestQueueCloseDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		q := NewQueue(sinkFunc(r.ok), QueueOptions{BatchSize: 4, FlushInterval: time.Hour})
		go q.Run()
		for i := range 7 {
			q.Enqueue(rec(i))
		}
		start := time.Now()
		closeNow(t, q)
		if d := time.Since(start); d != 0 {
			t.Errorf("Close waited %s for a tick", d)
		}
		if got := r.sizes(); !slices.Equal(got, []int{4, 3}) {
			t.Errorf("batch sizes %v, want [4 3]", got)
		}
		if got := r.all(); !slices.Equal(got, seq(0, 7)) {
			t.Errorf("written %v", got)
		}
		closeNow(t, q) // a second Close is harmless
	})
}

func TestQueueRetriesFailedBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		var mu sync.Mutex
		var attempts [][]string
		var deadlines []time.Duration
		nAttempts := func() int { mu.Lock(); defer mu.Unlock(); return len(attempts) }
		fails := 2
		sink := sinkFunc(func(ctx context.Context, recs []Record) error {
			mu.Lock()
			attempts = append(attempts, ids(recs))
			d, _ := ctx.Deadline()
			deadlines = append(deadlines, time.Until(d))
			failing := fails > 0
			fails--
			mu.Unlock()
			if failing {
				return errors.New("database is locked")
			}
			return r.ok(ctx, recs)
		})
		q := NewQueue(sink, QueueOptions{BatchSize: 3, FlushInterval: time.Hour})
		go q.Run()
		for i := range 3 {
			q.Enqueue(rec(i))
		}
		// Records enqueued while the sink fails wait their turn.
		q.Enqueue(rec(3))
		q.Enqueue(rec(4))
		synctest.Wait()
		if n := nAttempts(); n != 1 {
			t.Fatalf("%d attempts before any backoff, want 1", n)
		}
		time.Sleep(50 * time.Millisecond) // first backoff
		synctest.Wait()
		if n := nAttempts(); n != 2 {
			t.Fatalf("%d attempts after 50ms, want 2", n)
		}
		time.Sleep(100 * time.Millisecond) // doubled
		synctest.Wait()
		if n := nAttempts(); n != 3 || len(r.sizes()) != 1 {
			t.Fatalf("%d attempts, %d writes after 150ms; want 3, 1", n, len(r.sizes()))
		}
		closeNow(t, q) // Run has returned: attempts is ours now
		if len(attempts) != 4 || !slices.Equal(attempts[3], seq(3, 5)) {
			t.Errorf("attempts %v, want 3 of the first batch then [req-003 req-004]", attempts)
		}
		for i, a := range attempts[:3] {
			if !slices.Equal(a, seq(0, 3)) {
				t.Errorf("attempt %d sent %v, want the same batch %v", i, a, seq(0, 3))
			}
			if deadlines[i] != 10*time.Second {
				t.Errorf("attempt %d had %s to run, want 10s", i, deadlines[i])
			}
		}
		if got := r.all(); !slices.Equal(got, seq(0, 5)) {
			t.Errorf("written %v, want req-000…req-004 exactly once", got)
		}
	})
}

func TestQueueBackoffCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var at []time.Duration
		start := time.Now()
		n := 0
		q := NewQueue(sinkFunc(func(context.Context, []Record) error {
			at = append(at, time.Since(start))
			if n++; n < 10 {
				return errors.New("down")
			}
			return nil
		}), QueueOptions{BatchSize: 1})
		go q.Run()
		q.Enqueue(rec(0))
		closeNow(t, q)
		var gaps []time.Duration
		for i := 1; i < len(at); i++ {
			gaps = append(gaps, at[i]-at[i-1])
		}
		ms := time.Millisecond
		want := []time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms}
		if !slices.Equal(gaps, want) {
			t.Errorf("gaps between attempts %v, want %v", gaps, want)
		}
	})
}

func TestQueueCloseCtxExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		r := newRecorder()
		q := NewQueue(sinkFunc(func(ctx context.Context, recs []Record) error {
			<-release
			return r.ok(ctx, recs)
		}), QueueOptions{BatchSize: 1})
		go q.Run()
		q.Enqueue(rec(0))

		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		if err := q.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("Close returned after %s, want 2s", d)
		}
		cancelled, cancel2 := context.WithCancel(t.Context())
		cancel2()
		if err := q.Close(cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("Close(cancelled) = %v, want context.Canceled", err)
		}
		// Run goes on writing after Close gave up; the record is not lost.
		close(release)
		closeNow(t, q)
		if got := r.all(); !slices.Equal(got, seq(0, 1)) {
			t.Errorf("written %v", got)
		}
	})
}

func TestQueueEnqueueWaitsWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		r := newRecorder()
		q := NewQueue(sinkFunc(func(ctx context.Context, recs []Record) error {
			<-release
			return r.ok(ctx, recs)
		}), QueueOptions{Size: 2, BatchSize: 1})
		go q.Run()
		q.Enqueue(rec(0)) // taken by Run, whose write now waits on the sink
		synctest.Wait()
		q.Enqueue(rec(1))
		q.Enqueue(rec(2))
		if q.Len() != 3 {
			t.Fatalf("Len = %d, want 3 (one being written, two waiting)", q.Len())
		}
		done := make(chan struct{})
		go func() { q.Enqueue(rec(3)); close(done) }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Enqueue returned on a full queue")
		default:
		}
		close(release)
		<-done
		closeNow(t, q)
		if got := r.all(); !slices.Equal(got, seq(0, 4)) {
			t.Errorf("written %v", got)
		}
	})
}

func TestNewQueueDefaults(t *testing.T) {
	q := NewQueue(sinkFunc(nil), QueueOptions{Size: -1, BatchSize: -5, FlushInterval: -time.Second})
	if q.opts.Size != 65536 || q.opts.BatchSize != 512 || q.opts.FlushInterval != 200*time.Millisecond || q.opts.Logger == nil || cap(q.ch) != 65536 {
		t.Errorf("defaults = %+v, cap %d", q.opts, cap(q.ch))
	}
}

// TestQueueFullChannelWakesWriter: rows are collected at each tick, or at
// once when the channel holds a batch; a channel full before that (Size
// under BatchSize) wakes the writer too, rather than holding Enqueue
// until the tick.
func TestQueueFullChannelWakesWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		q := NewQueue(sinkFunc(r.ok), QueueOptions{Size: 2, BatchSize: 512, FlushInterval: time.Hour})
		go q.Run()
		start := time.Now()
		for i := range 5 {
			q.Enqueue(rec(i))
		}
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("Enqueue on a full channel waited %s for the tick", waited)
		}
		synctest.Wait()
		if n := len(r.sizes()); n != 0 {
			t.Fatalf("%d batches written before the tick or a full batch", n)
		}
		closeNow(t, q)
		if got := r.all(); !slices.Equal(got, seq(0, 5)) {
			t.Errorf("written %v", got)
		}
	})
}
