package usage

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSetCost(t *testing.T) {
	var r Record
	r.SetCost(0, true)
	if r.Cost == nil || *r.Cost != 0 || r.Unpriced {
		t.Errorf("SetCost(0, true): Cost %v, Unpriced %v; want a zero cost, priced", r.Cost, r.Unpriced)
	}
	r.SetCost(0.25, false)
	if r.Cost != nil || !r.Unpriced {
		t.Errorf("SetCost(_, false): Cost %v, Unpriced %v; want no cost, unpriced", r.Cost, r.Unpriced)
	}
	r.SetCost(0.25, true)
	if r.Cost == nil || *r.Cost != 0.25 || r.Unpriced {
		t.Errorf("SetCost(0.25, true) after an unpriced one: Cost %v, Unpriced %v", r.Cost, r.Unpriced)
	}
}

// TestCostJSON checks that an unknown cost and a zero cost stay apart in
// JSON, both ways.
func TestCostJSON(t *testing.T) {
	zero := 0.0
	for _, tc := range []struct {
		name string
		rec  Record
		want string
	}{
		{"unknown", Record{Unpriced: true}, `"cost":null,"unpriced":true`},
		{"zero", Record{Cost: &zero}, `"cost":0,`},
		{"session", Record{SessionID: "s-1", CacheWriteTokens: 2, ReasoningTokens: 3},
			`"cache_write_tokens":2,"reasoning_tokens":3,`},
	} {
		b, err := json.Marshal(tc.rec)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: %s lacks %s", tc.name, b, tc.want)
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if (back.Cost == nil) != (tc.rec.Cost == nil) || back.Unpriced != tc.rec.Unpriced || back.SessionID != tc.rec.SessionID ||
			back.CacheWriteTokens != tc.rec.CacheWriteTokens || back.ReasoningTokens != tc.rec.ReasoningTokens {
			t.Errorf("%s: round trip %+v; want %+v", tc.name, back, tc.rec)
		}
		if back.Cost != nil && *back.Cost != *tc.rec.Cost {
			t.Errorf("%s: cost %v after the round trip; want %v", tc.name, *back.Cost, *tc.rec.Cost)
		}
	}
}
