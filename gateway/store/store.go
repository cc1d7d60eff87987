// Package store opens the gateway's database by the scheme of its URL and
// hands back one value implementing every storage interface the gateway
// declares (the usage log, per-user API keys): the embedded SQLite file for a single
// gateway, or PostgreSQL for several replicas sharing one database. Both
// pass the conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/store/postgres"
	"github.com/memproxy/memproxy/gateway/store/sqlite"
	"github.com/memproxy/memproxy/gateway/usage"
)

// DB is an open store.
type DB interface {
	usage.Sink
	usage.Reader
	auth.KeyStore
	auth.RevocationLister
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Describe names the backend and its location, without credentials.
	Describe() string
	Close() error
}

// ErrUnsupported is returned for a database URL whose backend this build
// does not provide.
var ErrUnsupported = errors.New("unsupported database")

// DefaultFile is the SQLite file used when no database URL is configured.
const DefaultFile = "memproxy.db"

// Options tune Open.
type Options struct {
	// VectorSearch is context_retrieval.vector_search: "" or "gateway",
	// or "pgvector".
	VectorSearch string
}

// Open opens the database named by url:
//
//   - "" for the embedded SQLite file DefaultFile in dataDir;
//   - "sqlite:PATH" (relative paths are under dataDir);
//   - "postgres://…" or "postgresql://…" for PostgreSQL (see postgres.Open
//     for the accepted parameters; dataDir is not used).
//
// Migrations are applied before it returns. Any other scheme gives an error
// wrapping ErrUnsupported. Errors never contain the URL's password.
//
// opts.VectorSearch "pgvector" asks PostgreSQL's pgvector extension to
// serve vector search (an error on SQLite, or without the extension).
func Open(ctx context.Context, url, dataDir string, opts ...Options) (DB, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if p, ok := SQLitePath(url, dataDir); ok {
		if o.VectorSearch == postgres.VectorsPgvector {
			return nil, errors.New("context_retrieval.vector_search: pgvector needs a PostgreSQL database_url")
		}
		return opened(sqlite.Open(ctx, p))
	}
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return opened(postgres.OpenWith(ctx, url, postgres.Options{Vectors: o.VectorSearch}))
	default:
		return nil, fmt.Errorf("%w: database_url must be empty, sqlite:PATH or postgres://…", ErrUnsupported)
	}
}

// SQLitePath returns the file of the embedded database url names (see
// Open), and false when url names another backend.
func SQLitePath(url, dataDir string) (string, bool) {
	switch {
	case url == "":
		return filepath.Join(dataDir, DefaultFile), true
	case strings.HasPrefix(url, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if !filepath.IsAbs(p) {
			p = filepath.Join(dataDir, p)
		}
		return p, true
	}
	return "", false
}

// opened converts a backend's (*T, error) to (DB, error), so that a failed
// open returns a nil DB rather than a non-nil interface holding a nil
// pointer.
func opened[T DB](db T, err error) (DB, error) {
	if err != nil {
		return nil, err
	}
	return db, nil
}
