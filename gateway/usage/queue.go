package usage

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// QueueOptions tune a Queue. Zero values take the defaults.
type QueueOptions struct {
	Size          int           // records held before Enqueue waits (default 65536)
	BatchSize     int           // records per write (default 512)
	FlushInterval time.Duration // longest a record waits for company (default 200ms)
	Logger        *slog.Logger
}

// Queue moves records off the request path and writes them to a Sink in
// batches. It is bounded: when full, Enqueue waits for room rather than
// dropping a row (the durable journal for an unreachable database lands with
// the operations work).
type Queue struct {
	sink Sink
	opts QueueOptions
	ch   chan Record
	done chan struct{}
	once sync.Once
}

// NewQueue returns a queue writing to sink; start it with Run.
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
	return &Queue{sink: sink, opts: opts, ch: make(chan Record, opts.Size), done: make(chan struct{})}
}

// Enqueue hands r to the writer. It returns at once unless the queue is
// full, in which case it waits for room.
func (q *Queue) Enqueue(r Record) { q.ch <- r }

// Len reports the records waiting to be written.
func (q *Queue) Len() int { return len(q.ch) }

// Run writes batches until Close is called, then drains what is left. It
// returns when everything enqueued before Close has been handed to the sink.
func (q *Queue) Run() {
	defer close(q.done)
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
// rest. Enqueue must not be called after Close.
func (q *Queue) Close(ctx context.Context) error {
	q.once.Do(func() { close(q.ch) })
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write stores batch, retrying with backoff while the sink fails, and
// returns the emptied batch for reuse.
func (q *Queue) write(batch []Record) []Record {
	if len(batch) == 0 {
		return batch
	}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := q.sink.WriteUsage(ctx, batch)
		cancel()
		if err == nil {
			return batch[:0]
		}
		q.opts.Logger.Warn("usage write failed; retrying", "rows", len(batch), "attempt", attempt, "err", err)
		time.Sleep(backoff)
		backoff = min(2*backoff, 5*time.Second)
	}
}
