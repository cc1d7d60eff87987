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
	// Size bounds the rows held in memory (default 65536). Past it, rows
	// wait in the journal only (read back when their turn comes) or,
	// without a journal, Finish waits.
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
// returning once the bytes are written, and each record stays pinned
// there until it is no longer needed: a start until the row is written, a
// row until the sink has committed it. The writer takes rows from memory
// (a bounded channel) and writes them to the sink in batches; rows that
// found the channel full, and the rows an earlier run left, wait in the
// journal only and are read back from it. Without a journal, rows wait in
// the channel and Finish waits while it is full. Either way a failed
// write is retried with backoff, never dropped; replaying may write a row
// the sink already stored, which Sink's idempotency on RequestID makes
// harmless.
type Queue struct {
	sink    Sink
	opts    QueueOptions
	ch      chan row // rows held in memory
	done    chan struct{}
	closed  chan struct{} // closed by Close, after ch
	once    sync.Once
	j       *wal.Log // nil without a journal
	rd      *wal.Reader
	spillMu sync.Mutex
	spill   []wal.Ref     // rows in the journal only, oldest first
	kick    chan struct{} // spill is not empty, or ch holds a batch
	pending atomic.Int64  // rows finished, not yet in the sink
	full    atomic.Bool   // Begin is waiting for room, and said so
}

// row is a finished row and where it is journaled (zero without one).
type row struct {
	rec Record
	ref wal.Ref
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
	q := &Queue{sink: sink, opts: opts, ch: make(chan row, opts.Size), done: make(chan struct{}), closed: make(chan struct{}), kick: make(chan struct{}, 1)}
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
	ref, err := q.appendBegin(phaseBegin, &r, true)
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
	if finite(&r) {
		q.opts.Logger.Warn("usage row has a non-finite number; stored as 0", "request_id", r.RequestID)
	}
	if q.j != nil {
		ref, err := q.appendRow(phaseEnd, &r, true)
		q.j.Unpin(t.ref)
		if err == nil {
			select {
			case q.ch <- row{rec: r, ref: ref}:
				q.batchFull()
			default:
				q.addSpill(ref)
			}
			return
		}
		q.opts.Logger.Error("usage journal write failed; the row waits in memory", "request_id", r.RequestID, "err", err)
	}
	select {
	case q.ch <- row{rec: r}:
		q.batchFull()
	default:
		signal(q.kick) // the channel is full: have the writer take rows, then wait for room
		q.ch <- row{rec: r}
	}
}

// batchFull wakes the writer once the channel holds a whole batch. Rows
// are otherwise collected at each FlushInterval tick, so that a request
// does not wake the writer (a context switch each, one of the costliest
// parts of a request under load).
func (q *Queue) batchFull() {
	if len(q.ch) >= q.opts.BatchSize {
		signal(q.kick)
	}
}

// addSpill queues rows that wait in the journal only.
func (q *Queue) addSpill(refs ...wal.Ref) {
	q.spillMu.Lock()
	q.spill = append(q.spill, refs...)
	q.spillMu.Unlock()
	signal(q.kick)
}

// Skip closes a request begun with t that gets no row of its own (a
// sampled-out authentication failure): it journals that the request
// ended, so that it is not taken for one cut by a crash.
func (q *Queue) Skip(t Ticket, requestID string) {
	if q.j == nil || t.ref == (wal.Ref{}) {
		return
	}
	r := Record{RequestID: requestID}
	if _, err := q.appendBegin(phaseSkip, &r, false); err != nil {
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
		q.rd = q.j.NewReader()
		defer func() { q.rd.Close(); q.j.Close() }()
	}
	batch := make([]row, 0, q.opts.BatchSize)
	tick := time.NewTicker(q.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-q.closed: // ch is closed too: take(…, true) drains it
			q.write(q.fromSpill(q.take(batch, true), true))
			return
		case <-q.kick:
			batch = q.fromSpill(q.take(batch, false), false)
		case <-tick.C:
			batch = q.write(q.fromSpill(q.take(batch, true), false))
		}
	}
}

// take moves rows waiting in the channel to batch, writing each full
// batch, and returns what is left: with all, every row waiting; else
// only as long as they make a whole batch (or the channel is full), so
// that a batch is written at once when it fills and otherwise at the
// tick, whenever the writer was woken.
func (q *Queue) take(batch []row, all bool) []row {
	for all || len(batch)+len(q.ch) >= q.opts.BatchSize || len(q.ch) == cap(q.ch) {
		select {
		case r, ok := <-q.ch:
			if !ok { // closed: Close was called
				return batch
			}
			if batch = append(batch, r); len(batch) >= q.opts.BatchSize {
				batch = q.write(batch)
			}
		default:
			return batch
		}
	}
	return batch
}

// fromSpill adds rows waiting in the journal only to batch, writing each
// full batch, and returns what is left. Unless all, it stops once the
// channel holds rows again, so that those are not held up.
func (q *Queue) fromSpill(batch []row, all bool) []row {
	for {
		q.spillMu.Lock()
		n := min(len(q.spill), q.opts.BatchSize-len(batch))
		refs := q.spill[:n:n]
		q.spill = q.spill[n:]
		q.spillMu.Unlock()
		if n == 0 {
			return batch
		}
		for i, ref := range refs {
			p, err := q.rd.ReadAt(ref)
			if err != nil {
				q.opts.Logger.Error("reading a row back from the usage journal; retrying at the next tick", "err", err)
				q.spillMu.Lock()
				q.spill = append(refs[i:len(refs):len(refs)], q.spill...)
				q.spillMu.Unlock()
				return batch
			}
			r, _ := q.decode(p)
			batch = append(batch, row{rec: r, ref: ref})
		}
		if len(batch) >= q.opts.BatchSize {
			batch = q.write(batch)
		}
		if !all && len(q.ch) > 0 {
			signal(q.kick)
			return batch
		}
	}
}

// write stores batch in the sink, retrying with backoff until it takes
// it, then unpins its rows in the journal, and returns the emptied batch
// for reuse.
func (q *Queue) write(batch []row) []row {
	if len(batch) == 0 {
		return batch
	}
	recs := make([]Record, len(batch))
	for i := range batch {
		recs[i] = batch[i].rec
	}
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := q.writeSink(recs)
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
		for i := range batch {
			q.j.Unpin(batch[i].ref)
		}
	}
	clear(batch)
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
	q.once.Do(func() { close(q.ch); close(q.closed) })
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
