package extract

import (
	"fmt"
	"sync"

	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory"
)

// Budget caps the extraction model's use per scope and UTC day: Calls
// model calls and Tokens tokens (prompt plus completion, as the provider
// reported them). A zero limit is no limit; the zero Budget allows
// everything. A call is allowed while the day's use is below both limits
// and counted when allowed, so concurrent turns never pass Calls; the
// last call may pass Tokens by its own size (and concurrent ones by
// theirs), as a call's tokens are known only after it; each answer is
// held to 2000 tokens.
//
// The counters live in this process's memory: a restart starts the day
// afresh, and replicas of the gateway each count on their own (with Redis
// configured, the gateway may later share them there). A nil *Budget
// allows everything. Safe for concurrent use.
type Budget struct {
	Tokens int64
	Calls  int

	mu   sync.Mutex
	day  string // the UTC day the counters are for
	used map[memory.Scope]Spent
}

// Spent is what a scope used of its budget in a day.
type Spent struct {
	Calls  int
	Tokens int64
}

// Used returns what s used on day (YYYY-MM-DD, UTC); only the current
// day is kept.
func (b *Budget) Used(s memory.Scope, day string) Spent {
	if b == nil {
		return Spent{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if day != b.day {
		return Spent{}
	}
	return b.used[s]
}

// take returns ErrBudget when s has spent its budget for day, and else
// counts one call (before it is made, so that concurrent turns of a scope
// never pass Calls).
func (b *Budget) take(s memory.Scope, day string) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.today(day)
	if m == nil {
		return nil // a day already over (the clock went back): not counted
	}
	u := m[s]
	switch {
	case b.Calls > 0 && u.Calls >= b.Calls:
		return fmt.Errorf("%w (%d calls of %d)", ErrBudget, u.Calls, b.Calls)
	case b.Tokens > 0 && u.Tokens >= b.Tokens:
		return fmt.Errorf("%w (%d tokens of %d)", ErrBudget, u.Tokens, b.Tokens)
	}
	u.Calls++
	m[s] = u
	return nil
}

// spend counts a call's usage against s's budget for day.
func (b *Budget) spend(s memory.Scope, day string, u llm.Usage) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.today(day)
	if m == nil {
		return
	}
	sp := m[s]
	sp.Tokens += u.PromptTokens + u.CompletionTokens
	m[s] = sp
}

// today returns the counters of day, dropping those of an earlier day (so
// the map holds one day's scopes at most), or nil when day is before the
// counters' day. The caller holds b.mu.
func (b *Budget) today(day string) map[memory.Scope]Spent {
	switch {
	case day < b.day:
		return nil
	case b.used == nil || day > b.day:
		b.day, b.used = day, make(map[memory.Scope]Spent)
	}
	return b.used
}
