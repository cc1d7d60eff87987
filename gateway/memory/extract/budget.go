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
// everything. A call is allowed while the day's use is below both limits,
// so the last call may pass the token limit by its own size (a call's
// tokens are known only after it); each answer is held to 2000 tokens.
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

// allow returns ErrBudget when s has spent its budget for day.
func (b *Budget) allow(s memory.Scope, day string) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.today(day)[s]
	switch {
	case b.Calls > 0 && u.Calls >= b.Calls:
		return fmt.Errorf("%w (%d calls of %d)", ErrBudget, u.Calls, b.Calls)
	case b.Tokens > 0 && u.Tokens >= b.Tokens:
		return fmt.Errorf("%w (%d tokens of %d)", ErrBudget, u.Tokens, b.Tokens)
	}
	return nil
}

// spend counts one call and its usage against s's budget for day.
func (b *Budget) spend(s memory.Scope, day string, u llm.Usage) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.today(day)
	sp := m[s]
	sp.Calls++
	sp.Tokens += u.PromptTokens + u.CompletionTokens
	m[s] = sp
}

// today returns the counters of day, dropping those of any other day (so
// the map holds one day's scopes at most). The caller holds b.mu.
func (b *Budget) today(day string) map[memory.Scope]Spent {
	if b.used == nil || b.day != day {
		b.day, b.used = day, make(map[memory.Scope]Spent)
	}
	return b.used
}
