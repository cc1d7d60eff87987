package providertest

import "sync"

// recorder is what every fake keeps: the requests it received, and
// whether one was abandoned by its client before the fake finished.
type recorder struct {
	mu        sync.Mutex
	requests  []Recorded
	cancelled chan struct{}
	once      sync.Once
}

func newRecorder() recorder { return recorder{cancelled: make(chan struct{})} }

func (r *recorder) record(rec Recorded) {
	r.mu.Lock()
	r.requests = append(r.requests, rec)
	r.mu.Unlock()
}

// Requests returns what the fake has received so far.
func (r *recorder) Requests() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.requests...)
}

// Cancelled is closed once a request's context ends before the fake
// finished answering it (the client, or the proxy in front, went away).
func (r *recorder) Cancelled() <-chan struct{} { return r.cancelled }

func (r *recorder) noteCancel() { r.once.Do(func() { close(r.cancelled) }) }
