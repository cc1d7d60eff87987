package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/usage"
)

func TestOpenSQLite(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "abs", "path.db")
	tests := []struct {
		name string
		url  string
		want func(dataDir string) string // the file that must be created
	}{
		{"empty is the default file in dataDir", "", func(d string) string { return filepath.Join(d, DefaultFile) }},
		{"relative to dataDir", "sqlite:rel.db", func(d string) string { return filepath.Join(d, "rel.db") }},
		{"relative with directories", "sqlite:sub/dir/rel.db", func(d string) string { return filepath.Join(d, "sub", "dir", "rel.db") }},
		{"relative with //", "sqlite://rel.db", func(d string) string { return filepath.Join(d, "rel.db") }},
		{"absolute", "sqlite:" + abs, func(string) string { return abs }},
		{"absolute with //", "sqlite://" + abs, func(string) string { return abs }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			db, err := Open(t.Context(), tt.url, dataDir)
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			defer db.Close()
			want := tt.want(dataDir)
			if fi, err := os.Stat(want); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("database file %s: %v", want, err)
			}
			if got := db.Describe(); got != "sqlite:"+want {
				t.Errorf("Describe = %q, want %q", got, "sqlite:"+want)
			}
			if err := db.Ping(t.Context()); err != nil {
				t.Errorf("Ping: %v", err)
			}
			// Migrated: the usage log works through the DB interface.
			rec := usage.Record{RequestID: "r1", Time: time.Unix(1700000000, 0).UTC(), User: "u", Status: 200}
			if err := db.WriteUsage(t.Context(), []usage.Record{rec}); err != nil {
				t.Fatalf("WriteUsage: %v", err)
			}
			got, err := db.QueryUsage(t.Context(), usage.Filter{User: "u"})
			if err != nil || len(got) != 1 || got[0] != rec {
				t.Errorf("QueryUsage = %+v, %v; want [%+v]", got, err, rec)
			}
		})
	}
}

func TestOpenUnsupported(t *testing.T) {
	for _, url := range []string{
		"mysql://root:s3cret-pw@localhost/memproxy",
		"memproxy.db",
		"/var/lib/memproxy/memproxy.db",
		"SQLITE:x.db",
		"sqlite3:x.db",
		"file:x.db",
		" sqlite:x.db",
		"garbage",
	} {
		t.Run(url, func(t *testing.T) {
			dataDir := t.TempDir()
			db, err := Open(t.Context(), url, dataDir)
			if db != nil || !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Open(%q) = %v, %v; want nil, ErrUnsupported", url, db, err)
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error %q shows the password", err)
			}
			if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
				t.Errorf("Open(%q) created %d files in dataDir", url, len(entries))
			}
		})
	}
}

// postgres:// and postgresql:// reach the PostgreSQL backend (no longer
// ErrUnsupported). Port 1 on loopback refuses at once, so this needs no
// server: the error must come from connecting, without the password, and
// leave nothing in dataDir.
func TestOpenPostgresScheme(t *testing.T) {
	for _, url := range []string{
		"postgres://memproxy:s3cret-pw@127.0.0.1:1/memproxy?sslmode=disable&connect_timeout=5",
		"postgresql://memproxy:s3cret-pw@127.0.0.1:1/memproxy?sslmode=disable&connect_timeout=5",
	} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			dataDir := t.TempDir()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			db, err := Open(ctx, url, dataDir)
			if db != nil || err == nil || errors.Is(err, ErrUnsupported) {
				t.Fatalf("Open = %v, %v; want nil and a connection error", db, err)
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error %q shows the password", err)
			}
			if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
				t.Errorf("Open created %d files in dataDir", len(entries))
			}
		})
	}
}

func TestOpenSQLiteEmptyPath(t *testing.T) {
	// "sqlite:" names dataDir itself, a directory: an error, not a panic
	// and not a database somewhere else.
	db, err := Open(t.Context(), "sqlite:", t.TempDir())
	if err == nil {
		db.Close()
		t.Fatal("Open(\"sqlite:\") succeeded")
	}
}
