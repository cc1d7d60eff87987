package limits

import (
	"testing"
	"time"
)

// TestMemorySweep checks that idle subjects are forgotten, and that those
// with something to remember are kept.
func TestMemorySweep(t *testing.T) {
	clk := newClock()
	m := NewMemory(clk.Now).(*memory)
	mustAllow(t, m, map[string]Limit{"key:idle": {RPM: 10}}, 1)(10, 0)
	mustAllow(t, m, map[string]Limit{"key:spent": {Budget: 5, BudgetPeriod: 24 * time.Hour}}, 1)(0, 1)
	mustAllow(t, m, map[string]Limit{"key:busy": {Parallel: 1}}, 1) // in flight
	clk.Advance(2 * time.Minute)
	mustAllow(t, m, map[string]Limit{"key:other": {RPM: 1}}, 1)
	m.mu.Lock()
	defer m.mu.Unlock()
	for s, want := range map[string]bool{"key:idle": false, "key:spent": true, "key:busy": true, "key:other": true} {
		if _, ok := m.subjects[s]; ok != want {
			t.Errorf("subject %s kept = %v; want %v", s, ok, want)
		}
	}
}
