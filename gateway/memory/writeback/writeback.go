// Package writeback is the durable queue of memory write-backs: each
// answered exchange to remember is journaled in the data directory before
// Enqueue returns, handed to a Handler off the request path, retried with
// backoff while it fails, and replayed after a crash. Nothing is dropped:
// a full in-memory buffer leaves jobs on disk only (read back when their
// turn comes), and a job that keeps failing is kept, retried, logged and
// counted in Stats.
//
// The journal is an internal/wal log with the prefix
// "memory-writeback-": a "job" record per Enqueue and a "done" record when
// the handler succeeded (or refused the job for good). At Open every job
// without a done record is queued again. A job's segment is kept while
// the job is pending; done records are kept only as long as their own
// segment, so a job whose done record is gone may run a second time after
// a crash: the Handler must be idempotent per Job.Key (the memory
// backends store identical content once).
package writeback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/memproxy/memproxy/internal/wal"
)

// Job is one exchange to remember.
type Job struct {
	Scope     string            `json:"scope"`
	Client    string            `json:"client,omitempty"`
	Session   string            `json:"session,omitempty"`
	Turn      string            `json:"turn,omitempty"`
	RequestID string            `json:"request_id"`
	Model     string            `json:"model,omitempty"`
	User      string            `json:"user"`
	Answer    string            `json:"answer,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
}

// Key identifies a job: a second Enqueue of a pending key does nothing.
func (j *Job) Key() string { return j.RequestID + "/" + j.Turn }

// Handler stores one job. It must be idempotent per Key: after a crash a
// job may be handed over again. An error wrapped by Permanent drops the
// job (logged and counted as rejected); any other is retried.
type Handler func(ctx context.Context, j Job) error

// permanent marks an error retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err to say that retrying the job cannot succeed (its
// content is invalid, say).
func Permanent(err error) error { return permanent{err} }

// Options tune a Queue. Zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	// Fsync is the journal's power-loss durability: "always", "batch"
	// (default) or "never"; see wal.SyncMode.
	Fsync string
	// Workers run the handler concurrently (default 2).
	Workers int
	// MemoryJobs is how many pending jobs are held in memory; the others
	// wait on disk only (default 1024).
	MemoryJobs int
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration
	// FirstBackoff and MaxBackoff time the retries (defaults 1s, 5m).
	FirstBackoff, MaxBackoff time.Duration
	// StuckAfter is the number of failed attempts after which a job is
	// reported stuck: a warning in the log and Stats.Stuck (default 5).
	StuckAfter int
}

// Stats describe the queue, for the metrics and memgateway doctor.
type Stats struct {
	Pending int // jobs not yet stored, stuck ones included
	Stuck   int // jobs that failed StuckAfter times or more and are still retried
	// Spilled counts jobs that waited on disk only (the memory buffer was
	// full); Done, Rejected and Failures count jobs stored, jobs refused
	// for good and failed attempts, since Open.
	Spilled, Done, Rejected, Failures uint64
	JournalBytes                      int64
}

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("memory write-back queue is closed")

const prefix = "memory-writeback-"

// record is one journal record.
type record struct {
	Op  string `json:"op"` // "job" or "done"
	Key string `json:"key,omitempty"`
	Job *Job   `json:"job,omitempty"`
}

// item is a pending job.
type item struct {
	key      string
	job      *Job // nil when it waits on disk only
	ref      wal.Ref
	attempts int
	due      time.Time
}

// Queue is the durable write-back queue.
type Queue struct {
	j *wal.Log
	h Handler
	o Options

	mu      sync.Mutex
	ready   []*item // due, oldest first
	later   []*item // waiting for their backoff
	keys    map[string]bool
	inMem   int
	closing bool
	stats   Stats

	wake   chan struct{}
	stop   chan struct{} // closed by Close: workers drain what is due
	abort  context.CancelFunc
	base   context.Context
	wg     sync.WaitGroup
	closed sync.Once
}

// Open opens (creating it 0700) the journal in dir, queues the jobs an
// earlier run left pending and starts the workers.
func Open(dir string, h Handler, o Options) (*Queue, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Workers = cmpOr(o.Workers, 2)
	o.MemoryJobs = cmpOr(o.MemoryJobs, 1024)
	o.Timeout = cmpOr(o.Timeout, 10*time.Second)
	o.FirstBackoff = cmpOr(o.FirstBackoff, time.Second)
	o.MaxBackoff = cmpOr(o.MaxBackoff, 5*time.Minute)
	o.StuckAfter = cmpOr(o.StuckAfter, 5)
	mode, err := wal.ParseSyncMode(o.Fsync)
	if err != nil {
		return nil, err
	}
	j, err := wal.Open(dir, wal.Options{Prefix: prefix, Sync: mode, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("opening the memory write-back journal: %w", err)
	}
	q := &Queue{j: j, h: h, o: o, keys: map[string]bool{}, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	q.base, q.abort = context.WithCancel(context.Background())
	if err := q.recover(); err != nil {
		j.Close()
		return nil, err
	}
	for range o.Workers {
		q.wg.Go(q.work)
	}
	return q, nil
}

// recover queues the jobs of an earlier run that have no done record.
func (q *Queue) recover() error {
	var c wal.Cursor
	defer c.Close()
	var order []*item
	found := map[string]*item{}
	for {
		n, err := q.j.Next(&c, 1024, func(p []byte, at wal.Ref) {
			var r record
			if err := json.Unmarshal(p, &r); err != nil {
				q.o.Logger.Error("memory write-back journal: skipping a record that is not a job", "err", err)
				return
			}
			switch {
			case r.Op == "job" && r.Job != nil:
				k := r.Job.Key()
				if found[k] == nil {
					it := &item{key: k, ref: at}
					found[k] = it
					order = append(order, it)
				}
			case r.Op == "done":
				if it := found[r.Key]; it != nil {
					it.key = "" // done
				}
			}
		})
		if err != nil {
			return fmt.Errorf("reading the memory write-back journal: %w", err)
		}
		if n < 1024 {
			break
		}
	}
	for _, it := range order {
		if it.key == "" {
			continue
		}
		q.j.Pin(it.ref)
		q.keys[it.key] = true
		q.ready = append(q.ready, it)
	}
	q.j.Collect() // keeps the segments of pending jobs only
	if len(q.ready) > 0 {
		q.o.Logger.Warn("memory write-backs left by an earlier run; replaying them", "jobs", len(q.ready))
	}
	return nil
}

// Enqueue journals j and queues it; it returns once j is written to the
// journal (nil), or the journal's error: the job is then not queued. A job
// whose Key is already pending is not queued twice.
func (q *Queue) Enqueue(j Job) error {
	k := j.Key()
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.keys[k] {
		q.mu.Unlock()
		return nil
	}
	q.keys[k] = true
	q.mu.Unlock()
	p, err := json.Marshal(record{Op: "job", Job: &j})
	var ref wal.Ref
	if err == nil {
		ref, err = q.j.Append(p, true)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		delete(q.keys, k)
		return fmt.Errorf("journaling a memory write-back: %w", err)
	}
	it := &item{key: k, ref: ref}
	if q.inMem < q.o.MemoryJobs {
		it.job = &j
		q.inMem++
	} else {
		q.stats.Spilled++
	}
	q.ready = append(q.ready, it)
	signal(q.wake)
	return nil
}

// Stats reports the queue's state.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	s := q.stats
	s.Pending = len(q.keys)
	q.mu.Unlock()
	s.JournalBytes = q.j.Bytes()
	return s
}

// Close stops taking jobs, lets the workers run the jobs that are due
// until ctx ends, then stops them and closes the journal. Jobs left
// (waiting for a retry, or not reached) stay in the journal for the next
// Open.
func (q *Queue) Close(ctx context.Context) error {
	var err error
	q.closed.Do(func() {
		q.mu.Lock()
		q.closing = true
		q.mu.Unlock()
		close(q.stop)
		done := make(chan struct{})
		go func() { q.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
			q.abort()
			<-done
		}
		q.abort()
		if left := q.Stats().Pending; left > 0 {
			q.o.Logger.Warn("memory write-backs pending at shutdown; the next start replays them", "jobs", left)
		}
		q.j.Close()
	})
	return err
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
