package extract_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/extract"
)

// TestBudget: a scope's calls stop with ErrBudget once its day's tokens
// are spent, before the model is called; other scopes and the next UTC day
// are unaffected.
func TestBudget(t *testing.T) {
	l := openSQLite(t)
	nothing := `{"facts": []}`
	sc := newScript(t, nothing, nothing, nothing, nothing, nothing, nothing) // 60 tokens each
	now := day
	e := newExtractor(sc)
	e.Now = func() time.Time { return now }
	e.Budget = &extract.Budget{Tokens: 100}
	distil := func(s memory.Scope) error {
		_, err := e.Distil(t.Context(), l, extract.Turn{Scope: s, User: "hello there"})
		return err
	}
	for i, want := range []error{nil, nil, extract.ErrBudget, extract.ErrBudget} {
		if err := distil(scope); !errors.Is(err, want) {
			t.Fatalf("turn %d: %v; want %v", i, err, want)
		}
	}
	if sc.n() != 2 {
		t.Errorf("%d model calls; want 2 (the budget stops the rest before calling)", sc.n())
	}
	if u := e.Budget.Used(scope, "2026-12-06"); u.Calls != 2 || u.Tokens != 120 {
		t.Errorf("used %+v; want 2 calls, 120 tokens", u)
	}
	if err := distil(other); err != nil {
		t.Errorf("another scope: %v; want its own budget", err)
	}
	now = time.Date(2026, 12, 7, 0, 0, 1, 0, time.FixedZone("CET", 3600)) // 23:00:01 UTC on the 6th
	if err := distil(scope); !errors.Is(err, extract.ErrBudget) {
		t.Errorf("the same UTC day in another zone: %v; want ErrBudget", err)
	}
	now = time.Date(2026, 12, 7, 0, 0, 1, 0, time.UTC)
	if err := distil(scope); err != nil {
		t.Errorf("the next UTC day: %v; want a fresh budget", err)
	}
	now = day // the clock went back: allowed, counted nowhere
	if err := distil(scope); err != nil {
		t.Errorf("a day already over: %v; want the call allowed", err)
	}
	if u := e.Budget.Used(scope, "2026-12-07"); u.Calls != 1 || u.Tokens != 60 {
		t.Errorf("the next day's use %+v; want 1 call, 60 tokens", u)
	}
	if u := e.Budget.Used(scope, "2026-12-06"); u.Calls != 0 {
		t.Errorf("a past day's use %+v; want it forgotten", u)
	}
}

// TestBudgetBetweenCalls: a budget spent by the first call stops the
// second; the error reports the first call's usage for the usage log.
func TestBudgetBetweenCalls(t *testing.T) {
	l := openSQLite(t)
	if _, _, err := l.AddWith(t.Context(), scope, "The staging database listens on port 6543.", memory.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	sc := newScript(t, facts(t, []string{"The staging database listens on port 7000."}))
	e := newExtractor(sc)
	e.Budget = &extract.Budget{Calls: 1}
	res, err := e.Distil(t.Context(), l, extract.Turn{Scope: scope, User: "staging moved to 7000"})
	if !errors.Is(err, extract.ErrBudget) || res.Calls != 1 || res.Usage.PromptTokens != 40 || sc.n() != 1 {
		t.Errorf("%v, %+v, %d calls; want ErrBudget after one call, its usage reported", err, res, sc.n())
	}
}

// TestBudgetConcurrent: turns of one scope racing for the last calls of a
// budget never pass its call cap.
func TestBudgetConcurrent(t *testing.T) {
	l := openSQLite(t)
	const turns, calls = 16, 5
	answers := make([]string, turns)
	for i := range answers {
		answers[i] = `{"facts": []}`
	}
	sc := newScript(t, answers...)
	e := newExtractor(sc)
	e.Budget = &extract.Budget{Calls: calls}
	// The calls wait for each other until the cap is reached, so that
	// every other turn asks while none has finished.
	var arrived sync.WaitGroup
	arrived.Add(calls)
	e.Call = func(ctx context.Context, model string, body []byte) ([]byte, llm.Usage, error) {
		arrived.Done() // panics past the cap
		arrived.Wait()
		return sc.call(ctx, model, body)
	}
	errs := make(chan error, turns)
	for range turns {
		go func() {
			_, err := e.Distil(t.Context(), l, extract.Turn{Scope: scope, User: "hi"})
			errs <- err
		}()
	}
	spent := 0
	for range turns {
		if err := <-errs; errors.Is(err, extract.ErrBudget) {
			spent++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if sc.n() != calls || spent != turns-calls {
		t.Errorf("%d model calls, %d turns refused; want exactly %d calls, %d refused", sc.n(), spent, calls, turns-calls)
	}
}
