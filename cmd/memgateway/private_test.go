package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A data directory left readable by others (0755, files 0644) is made
// private at start, with a log line per file; a database outside it too.
func TestPrivateDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	elsewhere := filepath.Join(t.TempDir(), "db", "team.db")
	for _, d := range []string{dir, filepath.Dir(elsewhere)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(d, 0o755)
	}
	files := []string{filepath.Join(dir, "memproxy.db"), filepath.Join(dir, "memproxy.db-wal"), filepath.Join(dir, "usage.journal"), elsewhere, elsewhere + "-shm"}
	for _, f := range files {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(f, 0o644)
	}
	var logs bytes.Buffer
	if err := privateDataDir(dir, "sqlite:"+elsewhere, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %o", fi.Mode().Perm())
	}
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o", f, fi.Mode().Perm())
		}
		if !strings.Contains(logs.String(), "path="+f+" was=-rw-r--r-- now=-rw-------") {
			t.Errorf("no log line for %s in:\n%s", f, logs.String())
		}
	}
}
