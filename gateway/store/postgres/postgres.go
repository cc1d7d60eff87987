// Package postgres is the shared store: a PostgreSQL database reached
// through a pgx connection pool, with versioned migrations compiled into the
// binary. Several gateway replicas may use one database at once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	neturl "net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/memproxy/memproxy/gateway/memory/lexical"
	"github.com/memproxy/memproxy/gateway/store/vecscan"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrInvalidURL is returned (wrapped) by Open when the database URL or one
// of its parameters cannot be parsed. The message never contains the URL's
// password: it shows the URL with the password masked, or, when the
// password cannot be located with certainty, nothing of the URL at all.
var ErrInvalidURL = errors.New("invalid PostgreSQL URL")

// migrationLockClass is the first key of the advisory lock that serializes
// migrations ("memp"); the second is a hash of the schema being migrated,
// so gateways using different schemas of one database do not wait for each
// other.
const migrationLockClass = 0x6d656d70

// DB is an open PostgreSQL store. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	desc string
	// vectors caches the scopes' decoded memory vectors (memory_vectors.go).
	vectors vecscan.Cache
	// lexical caches the scopes' full-text indexes (memory_lexical.go).
	lexical lexical.Cache
	// pgv is set when vector search runs in PostgreSQL (memory_pgvector.go).
	pgv *pgvector
}

// Options tune Open.
type Options struct {
	// Vectors chooses where vector search runs: in the gateway ("" or
	// VectorsGateway: the scope's vectors scanned in Go) or VectorsPgvector
	// (an HNSW index of the pgvector extension; an error without it).
	Vectors string
}

// Where vector search runs (Options.Vectors).
const (
	VectorsGateway  = "gateway"
	VectorsPgvector = "pgvector"
)

// Open connects to the database at url (postgres://… or postgresql://…, or
// the keyword=value form pgx accepts) and applies, in one transaction, every
// embedded migration the database has not recorded. Pool settings such as
// pool_max_conns and run-time parameters such as search_path may be given
// as URL query parameters.
//
// A URL that does not parse gives an error wrapping ErrInvalidURL. Neither
// that nor any other error from Open contains the URL's password.
func Open(ctx context.Context, url string) (*DB, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, url string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, parseError(url, err)
	}
	s := &DB{desc: describe(cfg.ConnConfig)}
	password := cfg.ConnConfig.Password
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, redact(fmt.Errorf("opening %s: %w", s.desc, err), password)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, redact(fmt.Errorf("migrating %s: %w", s.desc, err), password)
	}
	if err := s.usePgvector(ctx, o); err != nil {
		s.pool.Close()
		return nil, redact(fmt.Errorf("%s: %w", s.desc, err), password)
	}
	return s, nil
}

// Describe implements store.DB: postgres://host:port/database, never the
// user or password.
func (s *DB) Describe() string { return s.desc }

// Ping implements store.DB.
func (s *DB) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close implements store.DB. It waits for connections in use to be
// released.
func (s *DB) Close() error {
	s.pool.Close()
	return nil
}

func describe(c *pgx.ConnConfig) string {
	u := neturl.URL{Scheme: "postgres", Host: net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), Path: "/" + c.Database}
	return u.String()
}

// migration is one embedded migration file.
type migration struct {
	version int
	name    string
}

// embedded lists the embedded migrations in version order.
func embedded() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		prefix, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: bad version prefix", name)
		}
		ms = append(ms, migration{version: v, name: name})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies the pending migrations in one transaction that first
// takes a transaction-scoped advisory lock, so replicas starting at once
// take turns: the second waits, then finds every version recorded and
// applies nothing. Being transactional DDL, a failed migration leaves the
// schema as it was. The lock is released by commit or rollback, also if the
// connection dies; waiting for it is bounded by ctx.
func (s *DB) migrate(ctx context.Context) error {
	ms, err := embedded()
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) // a no-op once committed
	// coalesce: with no valid schema on search_path, hashtext(NULL) would
	// make the lock call a no-op; the CREATE below then fails clearly.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, int32(migrationLockClass)); err != nil {
		return fmt.Errorf("taking migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return err
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return err
	}
	for _, m := range ms {
		if slices.Contains(applied, int32(m.version)) {
			continue
		}
		body, err := migrations.ReadFile(m.name)
		if err != nil {
			return err
		}
		// Without arguments pgx uses the simple protocol, which runs every
		// statement of the file.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, int32(m.version)); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return tx.Commit(ctx)
}

// parseError reports a URL pgx could not parse. pgx masks passwords in
// its parse errors only on a best-effort basis (an invalid string can be
// ambiguous) and keeps the raw string in ParseConfigError.ConnString, so
// the error value is never passed on. Its text is, for a URL that net/url
// parses and so whose password is known exactly, with that password masked
// once more; otherwise only a generic message is given.
func parseError(dsn string, err error) error {
	u, uerr := neturl.Parse(dsn)
	if uerr != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("%w: expected postgres://[user[:password]@]host[:port]/database[?param=value&…] (details withheld: the URL may contain a password)", ErrInvalidURL)
	}
	msg := err.Error()
	var secrets []string
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw, strings.TrimPrefix(u.User.String(), u.User.Username()+":"))
	}
	if pw := u.Query().Get("password"); pw != "" {
		secrets = append(secrets, pw, neturl.QueryEscape(pw))
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return fmt.Errorf("%w: %s", ErrInvalidURL, msg)
}

// redact makes sure err's text cannot show password. pgx's connection
// errors name the user and database but not the password; this guards
// against that changing, and against a server message quoting it.
func redact(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &redactedError{err: err, password: password}
}

// redactedError keeps the chain for errors.Is (timeouts, cancellation)
// while its text masks the password.
type redactedError struct {
	err      error
	password string
}

func (e *redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.password, "xxxxx")
}

func (e *redactedError) Unwrap() error { return e.err }
