package sqlite_test

// The storetest conformance suite and the write benchmark, from outside the
// package (storetest imports store, which imports this package). What is
// particular to SQLite is in open_test.go.

import (
	"path/filepath"
	"testing"

	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/store/sqlite"
	"github.com/memproxy/memproxy/gateway/store/storetest"
)

func open(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.DB {
		return open(t, filepath.Join(t.TempDir(), "memproxy.db"))
	})
}

// BenchmarkWriteUsage writes batches of 512 rows, as the usage queue does.
func BenchmarkWriteUsage(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "memproxy.db"))
	defer db.Close()
	storetest.BenchmarkWriteUsage(b, db)
}
