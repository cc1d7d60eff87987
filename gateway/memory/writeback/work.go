package writeback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// work runs jobs until Close: after it, until nothing is due.
func (q *Queue) work() {
	for {
		it := q.next()
		if it == nil {
			return
		}
		q.complete(it, q.run(it))
	}
}

// next returns the next due job, waiting for one; nil once the queue is
// closing and nothing is due, or aborted.
func (q *Queue) next() *item {
	for {
		q.mu.Lock()
		now := time.Now()
		var wait time.Duration = -1
		kept := q.later[:0]
		for _, it := range q.later {
			if !it.due.After(now) {
				q.ready = append(q.ready, it)
				continue
			}
			kept = append(kept, it)
			if d := it.due.Sub(now); wait < 0 || d < wait {
				wait = d
			}
		}
		clear(q.later[len(kept):])
		q.later = kept
		if len(q.ready) > 0 && q.base.Err() == nil {
			it := q.ready[0]
			q.ready[0] = nil
			q.ready = q.ready[1:]
			if len(q.ready) > 0 {
				signal(q.wake) // another worker may take the next
			}
			q.mu.Unlock()
			return it
		}
		closing := q.closing
		q.mu.Unlock()
		if closing || q.base.Err() != nil {
			return nil
		}
		var timer <-chan time.Time
		var t *time.Timer
		if wait >= 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-q.wake:
		case <-timer:
		case <-q.stop:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// run hands one job to the handler.
func (q *Queue) run(it *item) error {
	j := it.job
	if j == nil { // waited on disk only
		p, err := q.j.ReadAt(it.ref)
		var r record
		if err == nil {
			err = json.Unmarshal(p, &r)
		}
		if err == nil && r.Job == nil {
			err = errors.New("not a job record")
		}
		if err != nil {
			return fmt.Errorf("reading the job back from the journal: %w", err)
		}
		j = r.Job
	}
	ctx, cancel := context.WithTimeout(q.base, q.o.Timeout)
	defer cancel()
	return q.h(ctx, *j)
}

// complete records the outcome of an attempt.
func (q *Queue) complete(it *item, err error) {
	if err != nil && !errors.As(err, new(permanent)) {
		q.retry(it, err)
		return
	}
	if err != nil {
		q.o.Logger.Error("memory write-back refused for good; not retried", "key", it.key, "err", err)
	}
	p, _ := json.Marshal(record{Op: "done", Key: it.key})
	if _, jerr := q.j.Append(p, false); jerr != nil {
		// The job is done; without its done record a restart runs it
		// again, which the handler's idempotency absorbs.
		q.o.Logger.Error("memory write-back journal write failed", "key", it.key, "err", jerr)
	}
	q.j.Unpin(it.ref)
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.keys, it.key)
	if it.job != nil {
		q.inMem--
	}
	if it.attempts >= q.o.StuckAfter {
		q.stats.Stuck--
		q.o.Logger.Info("memory write-back stored after failing", "key", it.key, "attempts", it.attempts+1)
	}
	if err != nil {
		q.stats.Rejected++
	} else {
		q.stats.Done++
	}
}

// retry schedules another attempt after a backoff that doubles each time.
func (q *Queue) retry(it *item, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it.attempts++
	q.stats.Failures++
	backoff := q.o.FirstBackoff
	for i := 1; i < it.attempts && backoff < q.o.MaxBackoff; i++ {
		backoff *= 2
	}
	backoff = min(backoff, q.o.MaxBackoff)
	it.due = time.Now().Add(backoff)
	q.later = append(q.later, it)
	switch {
	case it.attempts == q.o.StuckAfter:
		q.stats.Stuck++
		q.o.Logger.Warn("memory write-back keeps failing; kept and retried", "key", it.key, "attempts", it.attempts,
			"next_in", backoff, "err", err)
	case it.attempts < q.o.StuckAfter:
		q.o.Logger.Info("memory write-back failed; retrying", "key", it.key, "attempt", it.attempts, "next_in", backoff, "err", err)
	}
	signal(q.wake)
}
