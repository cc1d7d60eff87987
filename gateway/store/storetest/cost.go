package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/usage"
)

func costOf(c float64) *float64 { return &c }

// testCost checks that the cost columns keep what the gateway means: an
// unknown cost (nil) is not a zero cost, and an unpriced row says so.
func testCost(t *testing.T, db store.DB) {
	rec := func(id string, cost *float64, unpriced bool) usage.Record {
		r := full(len(id))
		r.RequestID, r.Cost, r.Unpriced = id, cost, unpriced
		return r
	}
	want := []usage.Record{
		rec("a-unpriced", nil, true),
		rec("b-zero", costOf(0), false), // a free (e.g. local) model
		rec("c-no-model", nil, false),   // rejected before routing
		rec("d-tiny", costOf(5e-9), false),
		rec("e-large", costOf(12345.678901234567), false),
	}
	for i := range want {
		want[i].Time = base // equal times: ordered by id
	}
	write(t, db, want...)
	got := query(t, db, all)
	if len(got) != len(want) {
		t.Fatalf("QueryUsage = %q; want %q", ids(got), ids(want))
	}
	for i := range want {
		if d := sameRecord(got[i], want[i]); d != "" {
			t.Errorf("row %s:\n%s", want[i].RequestID, d)
		}
	}
}

// testSessionFilter checks the Session filter: exact match, newest first,
// combined with the other fields, and never matching rows with no session
// unless it is empty.
func testSessionFilter(t *testing.T, db store.DB) {
	var recs []usage.Record
	for i, s := range []string{"s1", "s2", "", "s1", "S1", "s1 ", "s1", "' OR 1=1 --"} {
		r := full(i)
		r.SessionID, r.User = s, []string{"alice", "bob"}[i%2]
		r.Time = base.Add(time.Duration(i%4) * time.Minute)
		recs = append(recs, r)
	}
	write(t, db, recs...)
	for _, f := range []usage.Filter{
		{Session: "s1"},
		{Session: "s1", User: "alice"},
		{Session: "s1", Limit: 2},
		{Session: "s1", Since: base.Add(time.Minute)},
		{Session: "s2", User: "alice"},
		{Session: "' OR 1=1 --"},
		{Session: "%"},
		{},
	} {
		if got, want := ids(query(t, db, f)), ids(expect(recs, f)); !slices.Equal(got, want) {
			t.Errorf("QueryUsage(%+v) = %q; want %q", f, got, want)
		}
	}
}
