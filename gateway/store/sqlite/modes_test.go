package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Under the usual umask 022 the database and its -wal and -shm files are
// created 0600 in a 0700 directory, and an existing 0644 file is narrowed.
// (No t.Parallel: the umask is the process's.)
func TestFilesArePrivateUnderUmask022(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	path := filepath.Join(t.TempDir(), "data", "memproxy.db")
	db := mustOpen(t, path)
	if _, err := db.db.ExecContext(t.Context(), `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	wantMode(t, filepath.Dir(path), 0o700)
	for _, f := range Files(path) {
		wantMode(t, f, 0o600)
	}
	db.Close()

	// A database left world-readable by an older version is narrowed.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, path)
	for _, f := range Files(path) {
		wantMode(t, f, 0o600)
	}
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %o, want %o", filepath.Base(path), got, want)
	}
}
