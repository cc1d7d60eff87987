package sqlite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/auth"
)

// TestKeySecretNeverStored mints a key through the store and looks for it
// in every file SQLite wrote: neither the key nor any part of it is there.
func TestKeySecretNeverStored(t *testing.T) {
	dir := t.TempDir()
	db := open(t, filepath.Join(dir, "memproxy.db"))
	key, rec, err := auth.Mint(t.Context(), db, auth.Principal{Admin: true}, auth.KeyRecord{User: "alice"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.KeyByHash(t.Context(), auth.HashKey(key)); err != nil || got.ID != rec.ID {
		t.Fatalf("KeyByHash = %+v, %v", got, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	secret := []byte(key[len(auth.KeyPrefix):])
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, secret[:16]) {
			t.Errorf("%s contains the key", filepath.Base(f))
		}
	}
	if len(files) == 0 {
		t.Fatal("no database files")
	}
}
