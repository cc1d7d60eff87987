// Package storetest is the conformance suite for store.DB: every backend
// (the embedded SQLite, PostgreSQL) runs the same assertions, so the gateway
// behaves the same whichever database it was given.
//
// Beyond the interfaces' doc comments the suite pins down what the gateway
// relies on:
//   - times come back in UTC and equal to what was written to within a
//     microsecond;
//   - a nil Cost comes back nil and a zero Cost zero: "unknown" and
//     "free" stay apart;
//   - WriteUsage is idempotent on RequestID: the first row written for an id
//     (also within one batch) is the one kept;
//   - a write whose context is already cancelled fails and stores nothing;
//   - QueryUsage returns newest first, rows with equal times ordered by
//     RequestID in byte order; Since is inclusive, Until exclusive; a
//     Limit of zero or less is the reader's default; Session matches
//     SessionID exactly, like the other text filters;
//   - filter values are data, never SQL;
//   - text a database cannot hold (NUL bytes, invalid UTF-8) may be stored
//     with U+FFFD in its place but never fails the batch;
//   - Describe never shows credentials.
package storetest

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/store"
)

// Run runs the suite. Each subtest calls open for a new, empty store; open
// may be called from parallel subtests. Run closes the store when the
// subtest ends, before the cleanups open registered run (so open may drop
// the database or schema there).
func Run(t *testing.T, open func(t *testing.T) store.DB) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, db store.DB)
	}{
		{"Empty", testEmpty},
		{"Cancelled", testCancelled},
		{"RoundTrip", testRoundTrip},
		{"Cost", testCost},
		{"SessionFilter", testSessionFilter},
		{"Idempotent", testIdempotent},
		{"Filters", testFilters},
		{"Order", testOrder},
		{"FilterValuesAreNotSQL", testFilterValuesAreNotSQL},
		{"HostileText", testHostileText},
		{"LargeBatch", testLargeBatch},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentOverlappingBatches", testConcurrentOverlappingBatches},
		{"Ping", testPing},
		{"Describe", testDescribe},
		{"Summary", RunSummary},
	}
	tests = append(tests, keyTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			t.Cleanup(func() {
				if err := db.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, db)
		})
	}
}

func testPing(t *testing.T, db store.DB) {
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.Ping(ctx); err == nil {
		t.Errorf("Ping with a cancelled context succeeded; want an error")
	}
}

func testDescribe(t *testing.T, db store.DB) {
	d := db.Describe()
	if d == "" {
		t.Fatal("Describe is empty")
	}
	if strings.Contains(strings.ToLower(d), "password") {
		t.Errorf("Describe = %q; names a password", d)
	}
	if u, err := url.Parse(d); err == nil && u.User != nil {
		t.Errorf("Describe = %q; carries user info %q", d, u.User.Username())
	}
}
