package usage

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memproxy/memproxy/internal/wal"
)

// QueueOptions tune a Queue. Zero values take the defaults.
type QueueOptions struct {
	// Size bounds the records held in memory without a journal (or while
	// it fails) before Finish waits (default 65536).
	Size          int
	BatchSize     int           // records per write (default 512)
	FlushInterval time.Duration // longest a record waits for company (default 200ms)
	Logger        *slog.Logger
	// JournalDir is where every row is journaled before Finish returns
	// (see journal.go). "" keeps rows in memory only: a crash then loses
	// the rows not yet written, and a failing sink makes Finish wait once
	// Size rows are held.
	JournalDir string
	// JournalMaxBytes caps the journal (default 1 GiB). Past it Begin
	// waits for the sink to take rows: requests are held up, rows never
	// dropped.
	JournalMaxBytes int64
	// Fsync is the journal's power-loss durability: "always", "batch"
	// (the default) or "never"; see wal.SyncMode.
	Fsync string
}

// Retry timing for the sink.
const (
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = 5 * time.Second
	writeTimeout = 10 * time.Second
)

// Queue carries rows from the request path to a Sink. With a journal,
// Begin records a request's start and Finish its row in the journal, each
// returning once the bytes are written; the writer reads the journal in
// order and writes it to the sink in batches, and a segment of the journal
// is removed only once the sink has committed every row in it and every
// request begun in it has finished. Without one, rows wait in a bounded
// channel. Either way a failed write is retried with backoff, in order,
// never dropped; replaying may write a row the sink already stored, which
// Sink's idempotency on RequestID makes harmless.
type Queue struct {
	sink    Sink
	opts    QueueOptions
	ch      chan Record // rows without a journal, or that it refused
	done    chan struct{}
	once    sync.Once
	j       *wal.Log // nil without a journal
	cur     wal.Cursor
	kick    chan struct{} // a batch's worth of rows is waiting
	unread  atomic.Int64  // rows finished, not yet read by the writer
	pending atomic.Int64  // rows finished, not yet in the sink
	full    atomic.Bool   // Begin is waiting for room, and said so
}

// NewQueue returns a queue writing to sink; start it with Run. When
// JournalDir is set the journal there is opened and what an earlier run
// left in it recovered (recover); if that fails the error is logged and
// the queue runs without a journal.
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
	q := &Queue{sink: sink, opts: opts, ch: make(chan Record, opts.Size), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	if opts.JournalDir != "" {
		if err := q.openJournal(); err != nil {
			opts.Logger.Error("usage journal unavailable: rows wait in memory and a crash loses them", "dir", opts.JournalDir, "err", err)
			if q.j != nil {
				q.j.Close()
				q.j = nil
			}
		}
	}
	return q
}

// Ticket is what Begin returns for Finish.
type Ticket struct{ ref wal.Ref }

// Begin journals the start of a request (its id, start time and whatever
// else r already holds) and returns once it is written. A request begun
// and never finished (the process died) gets a gateway_crash row at the
// next start. Begin waits while the journal is over its cap.
func (q *Queue) Begin(r Record) Ticket {
	if q.j == nil {
		return Ticket{}
	}
	q.waitRoom()
	ref, err := q.j.Append(q.encode(phaseBegin, &r), true)
	if err != nil {
		q.opts.Logger.Error("usage journal write failed", "request_id", r.RequestID, "err", err)
	}
	return Ticket{ref: ref}
}

// Finish hands r, the request's row, to the writer: it returns once r is
// in the journal (or, without one, in the channel, waiting while the
// channel is full). t is Begin's ticket, or the zero Ticket.
func (q *Queue) Finish(t Ticket, r Record) {
	q.pending.Add(1)
	if q.j != nil {
		_, err := q.j.Append(q.encode(phaseEnd, &r), false)
		q.j.Unpin(t.ref)
		if err == nil {
			if q.unread.Add(1) == int64(q.opts.BatchSize) {
				signal(q.kick)
			}
			return
		}
		q.opts.Logger.Error("usage journal write failed; the row waits in memory", "request_id", r.RequestID, "err", err)
	}
	q.ch <- r
}

// Skip closes a request begun with t that gets no row of its own (a
// sampled-out authentication failure): it journals that the request
// ended, so that it is not taken for one cut by a crash.
func (q *Queue) Skip(t Ticket, requestID string) {
	if q.j == nil || t.ref == (wal.Ref{}) {
		return
	}
	r := Record{RequestID: requestID}
	if _, err := q.j.Append(q.encode(phaseSkip, &r), false); err != nil {
		q.opts.Logger.Error("usage journal write failed", "request_id", requestID, "err", err)
	}
	q.j.Unpin(t.ref)
}

// Enqueue is Finish for a row that had no Begin.
func (q *Queue) Enqueue(r Record) { q.Finish(Ticket{}, r) }

// Len reports the rows finished and not yet stored by the sink.
func (q *Queue) Len() int { return int(q.pending.Load()) }

// JournalBytes reports the journal's size on disk (0 without a journal).
func (q *Queue) JournalBytes() int64 {
	if q.j == nil {
		return 0
	}
	return q.j.Bytes()
}

// Run writes batches until Close is called, then writes the rest. It
// returns once everything finished before Close is in the sink; rows left
// in the journal (Close gave up) are written by the next run.
func (q *Queue) Run() {
	defer close(q.done)
	if q.j != nil {
		defer func() { q.cur.Close(); q.j.Close() }()
	}
	batch := make([]Record, 0, q.opts.BatchSize)
	tick := time.NewTicker(q.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-q.ch:
			if !ok {
				batch = q.fromJournal(batch)
				q.write(batch)
				return
			}
			batch = append(batch, r)
			if len(batch) >= q.opts.BatchSize {
				batch = q.write(batch)
			}
		case <-q.kick:
			batch = q.fromJournal(batch)
		case <-tick.C:
			batch = q.write(q.fromJournal(batch))
		}
	}
}

// fromJournal adds the journal's unread rows to batch, writing each full
// batch, and returns what is left.
func (q *Queue) fromJournal(batch []Record) []Record {
	if q.j == nil {
		return batch
	}
	for {
		want := q.opts.BatchSize - len(batch)
		n, err := q.j.Next(&q.cur, want, func(p []byte, _ wal.Ref) {
			if r, end := q.decode(p); end {
				batch = append(batch, r)
				q.unread.Add(-1)
			}
		})
		if err != nil {
			q.opts.Logger.Error("reading the usage journal; retrying at the next tick", "err", err)
			return batch
		}
		if len(batch) >= q.opts.BatchSize {
			batch = q.write(batch)
		}
		if n < want {
			return batch
		}
	}
}

// write stores batch in the sink, retrying with backoff until it takes
// it, then releases the journal up to what was read, and returns the
// emptied batch for reuse.
func (q *Queue) write(batch []Record) []Record {
	if len(batch) == 0 {
		return batch
	}
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := q.writeSink(batch)
		if err == nil {
			if attempt > 1 {
				q.opts.Logger.Info("usage database answers again", "attempts", attempt, "journal_bytes", q.JournalBytes())
			}
			break
		}
		q.opts.Logger.Warn("usage write failed; retrying", "rows", len(batch), "attempt", attempt,
			"journal_bytes", q.JournalBytes(), "err", err)
		time.Sleep(backoff)
		backoff = min(2*backoff, maxBackoff)
	}
	q.pending.Add(-int64(len(batch)))
	if q.j != nil {
		q.j.Release(&q.cur)
	}
	return batch[:0]
}

func (q *Queue) writeSink(batch []Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return q.sink.WriteUsage(ctx, batch)
}

// Close stops accepting rows and waits (up to ctx) for Run to write the
// rest. Finish must not be called after Close.
func (q *Queue) Close(ctx context.Context) error {
	q.once.Do(func() { close(q.ch) })
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitRoom holds Begin while the journal is over its cap, polling with
// backoff: the writer frees room as the sink takes rows.
func (q *Queue) waitRoom() {
	backoff := firstBackoff
	for q.j.Bytes() > q.opts.JournalMaxBytes {
		if q.full.CompareAndSwap(false, true) {
			q.opts.Logger.Error("usage journal is full: requests now wait for the database (backpressure)",
				"dir", q.opts.JournalDir, "bytes", q.j.Bytes(), "max_bytes", q.opts.JournalMaxBytes)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, maxBackoff)
	}
	if q.full.CompareAndSwap(true, false) {
		q.opts.Logger.Info("usage journal below its cap again", "bytes", q.j.Bytes(), "max_bytes", q.opts.JournalMaxBytes)
	}
}

// signal wakes whoever waits on c, without waiting itself.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
