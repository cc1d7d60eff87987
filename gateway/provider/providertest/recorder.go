package providertest

import (
	"context"
	"sync"
)

// recorder is what every fake keeps: the requests it received, and
// whether one was abandoned by its client before the fake finished.
type recorder struct {
	mu        sync.Mutex
	requests  []Recorded
	cancelled chan struct{}
	once      sync.Once
	changed   chan struct{} // closed and replaced on every request
}

func newRecorder() recorder { return recorder{cancelled: make(chan struct{})} }

func (r *recorder) record(rec Recorded) {
	r.mu.Lock()
	r.requests = append(r.requests, rec)
	if r.changed != nil {
		close(r.changed)
	}
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Requests returns what the fake has received so far.
func (r *recorder) Requests() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.requests...)
}

// Await returns once done, called with every request received so far,
// is true (it is called again after each new request), or with ctx's
// error when ctx ends first.
func (r *recorder) Await(ctx context.Context, done func([]Recorded) bool) error {
	for {
		r.mu.Lock()
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		reqs, changed := append([]Recorded(nil), r.requests...), r.changed
		r.mu.Unlock()
		if done(reqs) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Cancelled is closed once a request's context ends before the fake
// finished answering it (the client, or the proxy in front, went away).
func (r *recorder) Cancelled() <-chan struct{} { return r.cancelled }

func (r *recorder) noteCancel() { r.once.Do(func() { close(r.cancelled) }) }
