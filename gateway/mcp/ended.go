package mcp

import (
	"context"
	"sync"
	"time"
)

// EndedSessions is where replicas tell each other which sessions ended (a
// client's DELETE, or the per-caller cap), so that a signed id is not
// served again anywhere once its session is over: the transport requires
// 404 for it. The gateway keeps it in Redis; without one, each process
// knows only the sessions it ended itself.
type EndedSessions interface {
	// End records that session id ended; it is remembered for ttl.
	End(ctx context.Context, id string, ttl time.Duration) error
	// Ended reports whether session id ended.
	Ended(ctx context.Context, id string) (bool, error)
}

// maxLocalEnded bounds the sessions a process remembers as ended.
const maxLocalEnded = 1 << 16

// localEnded is the process's own list of ended sessions, bounded in size
// and age.
type localEnded struct {
	mu  sync.Mutex
	ids map[string]time.Time // id → forget after
}

func (l *localEnded) end(id string, ttl time.Duration) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = map[string]time.Time{}
	}
	if len(l.ids) >= maxLocalEnded {
		for k, until := range l.ids {
			if now.After(until) || len(l.ids) >= maxLocalEnded {
				delete(l.ids, k)
			}
		}
	}
	l.ids[id] = now.Add(ttl)
}

func (l *localEnded) ended(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.ids[id]
	return ok && time.Now().Before(until)
}

// endSessions records ids as ended here and in the shared list (bounded
// in time: a DELETE, or a session opened past the cap, waits for it).
func (h *MemoryHandler) endSessions(ids ...string) {
	for _, id := range ids {
		h.ended.end(id, h.opts.SessionTimeout)
	}
	if h.opts.Ended == nil || len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, id := range ids {
		if err := h.opts.Ended.End(ctx, id, h.opts.SessionTimeout); err != nil {
			h.opts.Logger.Warn("MCP: recording an ended session for the other replicas failed", "err", err)
			return
		}
	}
}

// sessionEnded reports whether id ended here or, as the shared list says,
// on another replica. When the shared list cannot be read the session is
// served (its id is signed for this caller; what is lost is only the 404).
func (h *MemoryHandler) sessionEnded(ctx context.Context, id string) bool {
	if h.ended.ended(id) {
		return true
	}
	if h.opts.Ended == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	ended, err := h.opts.Ended.Ended(ctx, id)
	if err != nil {
		h.opts.Logger.Warn("MCP: reading the ended sessions failed", "err", err)
	}
	return ended
}
