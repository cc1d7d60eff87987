// Package sqlite is the embedded store: one SQLite file in WAL mode, with
// versioned migrations compiled into the binary.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" driver

	"github.com/memproxy/memproxy/gateway/memory/lexical"
	"github.com/memproxy/memproxy/gateway/store/vecscan"
	"github.com/memproxy/memproxy/internal/fsmode"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open SQLite store. It is safe for concurrent use.
type DB struct {
	db   *sql.DB
	path string
	// memIndexReady is set once the memory search index is known to exist
	// (memory_index.go), so that searches stop asking.
	memIndexReady atomic.Bool
	// vectors caches the scopes' decoded memory vectors (memory_vectors.go).
	vectors vecscan.Cache
	// lexical caches the scopes' full-text indexes (memory_lexical.go).
	lexical lexical.Cache
}

// Open opens (creating if needed) the database file at path and applies any
// migration it has not seen.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	if err := private(path); err != nil {
		return nil, err
	}
	// The path goes into a URI: escape what SQLite would read as escape,
	// query or fragment ('?' also ends the path for the driver's options).
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	dsn := "file:" + esc + "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=5000&_foreign_keys=on&_txlock=immediate"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s := &DB{db: db, path: path}
	if err := s.migrateRetrying(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating %s: %w", path, err)
	}
	return s, nil
}

// private keeps the database file and its WAL and shared-memory files 0600
// (they hold every user's memories and usage): a new file is created 0600
// before SQLite opens it (SQLite gives its -wal and -shm files the main
// file's mode), and existing ones are narrowed. The gateway logs what it
// narrowed at start (Files names them); here it is done silently for the
// other commands that open the store.
func private(path string) error {
	if err := fsmode.CreatePrivate(path); err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	for _, f := range Files(path) {
		if _, err := fsmode.Narrow(f, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Files lists the files of the database at path: the file itself, its
// write-ahead log and its shared-memory index.
func Files(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

// migrateRetrying runs migrate, retrying while the file is busy: when
// several processes open a new file at once, SQLite's switch to WAL answers
// SQLITE_BUSY at once, without honouring the busy timeout.
func (s *DB) migrateRetrying(ctx context.Context) error {
	delay := 5 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := s.migrate(ctx)
		if err == nil || !isBusy(err) || attempt == 50 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// Describe implements store.DB.
func (s *DB) Describe() string { return "sqlite:" + s.path }

// Ping implements store.DB.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close implements store.DB.
func (s *DB) Close() error { return s.db.Close() }

// migrate applies the embedded migrations in version order, each in its own
// transaction, recording them in schema_migrations. BEGIN IMMEDIATE (the
// DSN's _txlock) makes two processes starting at once take turns.
func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad version prefix", name)
		}
		if err := s.apply(ctx, v, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func (s *DB) apply(ctx context.Context, version int, name string) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, version); err != nil {
		return err
	}
	return tx.Commit()
}
