package usage

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"
)

// QueueOptions tune a Queue. Zero values take the defaults.
type QueueOptions struct {
	Size          int           // records held before Enqueue waits (default 65536)
	BatchSize     int           // records per write (default 512)
	FlushInterval time.Duration // longest a record waits for company (default 200ms)
	Logger        *slog.Logger
	// JournalDir is where batches the sink refuses are kept on disk until
	// it takes them again (see Queue). "" keeps them in memory: a failed
	// write is then retried in place, and once the channel is full Enqueue
	// waits for the sink.
	JournalDir string
	// JournalMaxBytes caps the journal (default 1 GiB). Past it the queue
	// stops draining into the journal, so Enqueue waits for the sink: rows
	// are held up, never dropped.
	JournalMaxBytes int64
}

// Retry timing, for the sink and for the journal.
const (
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = 5 * time.Second
	writeTimeout = 10 * time.Second
)

// Queue moves records off the request path and writes them to a Sink in
// batches, keeping their order. It is bounded: when the channel is full,
// Enqueue waits for room rather than dropping a row.
//
// With a JournalDir, a batch the sink fails to take is appended to a
// journal on disk (see journal.go for the format and what survives a
// crash), and so is every batch after it while the journal holds anything,
// so the request path does not wait for a database that is down. A
// replayer retries the sink with backoff and, once it answers, writes the
// journal to it in order, in batches, removing what it wrote. A journal
// left by an earlier run is replayed first. Replaying may write a row the
// sink had already stored before a crash; Sink's idempotency on RequestID
// makes each row land exactly once.
type Queue struct {
	sink Sink
	opts QueueOptions
	ch   chan Record
	done chan struct{}
	once sync.Once
	j    *journal      // nil without JournalDir, or when it cannot be opened
	kick chan struct{} // the journal grew (writer → replayer)
	shed chan struct{} // the journal shrank (replayer → writer)
}

// NewQueue returns a queue writing to sink; start it with Run. When
// JournalDir is set it is created if needed and its journal taken stock
// of; if that fails the error is logged and the queue runs without one.
func NewQueue(sink Sink, opts QueueOptions) *Queue {
	if opts.Size <= 0 {
		opts.Size = 65536
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 512
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.JournalMaxBytes <= 0 {
		opts.JournalMaxBytes = 1 << 30
	}
	q := &Queue{sink: sink, opts: opts, ch: make(chan Record, opts.Size), done: make(chan struct{}),
		kick: make(chan struct{}, 1), shed: make(chan struct{}, 1)}
	if opts.JournalDir != "" {
		j, err := openJournal(opts.JournalDir, opts.JournalMaxBytes, opts.Logger)
		if err != nil {
			opts.Logger.Error("usage journal unavailable: a database outage will hold up requests", "err", err)
		}
		q.j = j
	}
	return q
}

// Enqueue hands r to the writer. It returns at once unless the channel is
// full (the sink is slow or failing and there is no journal, or the
// journal is at its cap), in which case it waits for room.
func (q *Queue) Enqueue(r Record) { q.ch <- r }

// Len reports the records waiting in the channel (not yet written to the
// sink or the journal).
func (q *Queue) Len() int { return len(q.ch) }

// JournalBytes reports the journal's size on disk (0 without a journal):
// rows the sink has not taken yet, and those of the oldest segment already
// replayed, freed when the segment is.
func (q *Queue) JournalBytes() int64 {
	if q.j == nil {
		return 0
	}
	return q.j.size()
}

// Run writes batches until Close is called, then drains what is left. It
// returns when everything enqueued before Close has been handed to the
// sink or appended to the journal; a journal left non-empty is replayed by
// the next Run.
func (q *Queue) Run() {
	defer close(q.done)
	if q.j != nil {
		ctx, cancel := context.WithCancel(context.Background())
		replayed := make(chan struct{})
		go func() { defer close(replayed); q.replay(ctx) }()
		defer func() { cancel(); <-replayed; q.j.close() }()
	}
	batch := make([]Record, 0, q.opts.BatchSize)
	tick := time.NewTicker(q.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-q.ch:
			if !ok {
				q.write(batch)
				return
			}
			batch = append(batch, r)
			if len(batch) >= q.opts.BatchSize {
				batch = q.write(batch)
			}
		case <-tick.C:
			batch = q.write(batch)
		}
	}
}

// Close stops accepting records and waits (up to ctx) for Run to write the
// rest to the sink or the journal. Enqueue must not be called after Close.
func (q *Queue) Close(ctx context.Context) error {
	q.once.Do(func() { close(q.ch) })
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write stores batch in the sink, or in the journal while the journal
// holds anything or when the sink fails, and returns the emptied batch for
// reuse. It returns only once the batch is stored: without a journal, or
// with a full one, it retries with backoff, holding up the queue.
func (q *Queue) write(batch []Record) []Record {
	if len(batch) == 0 {
		return batch
	}
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		if q.j == nil || q.j.empty() {
			err := q.writeSink(context.Background(), batch)
			if err == nil {
				return batch[:0]
			}
			if q.j == nil {
				q.opts.Logger.Warn("usage write failed; retrying", "rows", len(batch), "attempt", attempt, "err", err)
				time.Sleep(backoff)
				backoff = min(2*backoff, maxBackoff)
				continue
			}
			q.opts.Logger.Warn("usage write failed; journaling rows until the database answers",
				"rows", len(batch), "dir", q.opts.JournalDir, "err", err)
		}
		err := q.j.append(batch)
		if err == nil {
			signal(q.kick)
			return batch[:0]
		}
		if !errors.Is(err, errJournalFull) {
			q.opts.Logger.Error("usage journal write failed; retrying", "rows", len(batch), "attempt", attempt, "err", err)
		}
		// Wait for the replayer to free room (or for the disk to recover).
		t := time.NewTimer(backoff)
		select {
		case <-q.shed:
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, maxBackoff)
	}
}

func (q *Queue) writeSink(ctx context.Context, batch []Record) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return q.sink.WriteUsage(ctx, batch)
}

// replay writes the journal to the sink, oldest record first, until ctx is
// cancelled, retrying with backoff while the sink fails.
func (q *Queue) replay(ctx context.Context) {
	var (
		seg *segment // being replayed
		f   *os.File // seg, open for reading
		off int64    // how far seg has reached the sink
	)
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	backoff := firstBackoff
	retry := func() bool {
		ok := sleep(ctx, backoff)
		backoff = min(2*backoff, maxBackoff)
		return ok
	}
	for attempt := 1; ; {
		head, end := q.j.head()
		if head == nil {
			select {
			case <-q.kick:
				continue
			case <-ctx.Done():
				return
			}
		}
		if head != seg {
			if f != nil {
				f.Close()
			}
			var err error
			if f, err = os.Open(head.path); err != nil {
				f = nil
				if errors.Is(err, os.ErrNotExist) {
					// Removed by hand: its rows are gone, and waiting
					// for it would hold the queue up for ever.
					q.opts.Logger.Error("usage journal segment vanished; its rows are lost", "file", head.path)
					q.j.release(head, math.MaxInt64)
					continue
				}
				q.opts.Logger.Error("opening the usage journal; retrying", "file", head.path, "err", err)
				if !retry() {
					return
				}
				continue
			}
			seg, off = head, 0
		}
		if off >= end {
			if q.j.release(seg, off) {
				f.Close()
				f, seg = nil, nil
				signal(q.shed)
			}
			continue
		}
		recs, next, err := q.j.readBatch(f, seg, off, end, q.opts.BatchSize)
		if err != nil {
			q.opts.Logger.Error("reading the usage journal; retrying", "err", err)
			if !retry() {
				return
			}
			continue
		}
		if len(recs) > 0 {
			if err := q.writeSink(ctx, recs); err != nil {
				if ctx.Err() != nil {
					return
				}
				q.opts.Logger.Warn("usage journal replay failed; retrying", "attempt", attempt,
					"journal_bytes", q.j.size(), "err", err)
				attempt++
				if !retry() {
					return
				}
				continue
			}
			if attempt > 1 {
				q.opts.Logger.Info("usage database answers again; replaying the journal", "journal_bytes", q.j.size())
			}
			attempt, backoff = 1, firstBackoff
		}
		off = next
	}
}

// signal wakes whoever waits on c, without waiting itself.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// sleep waits for d, reporting false if ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
