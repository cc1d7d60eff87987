// Package store opens the gateway's database by the scheme of its URL and
// hands back one value implementing every storage interface the gateway
// declares (today the usage log).
package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/memproxy/memproxy/gateway/store/sqlite"
	"github.com/memproxy/memproxy/gateway/usage"
)

// DB is an open store.
type DB interface {
	usage.Sink
	usage.Reader
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

// Open opens the database named by url: "" for the embedded SQLite file in
// dataDir, "sqlite:PATH" (relative paths are under dataDir), or
// "postgres://…". Migrations are applied before it returns.
func Open(ctx context.Context, url, dataDir string) (DB, error) {
	switch {
	case url == "":
		return sqlite.Open(ctx, filepath.Join(dataDir, DefaultFile))
	case strings.HasPrefix(url, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if !filepath.IsAbs(p) {
			p = filepath.Join(dataDir, p)
		}
		return sqlite.Open(ctx, p)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return nil, fmt.Errorf("%w: PostgreSQL storage is not in this build yet; use the embedded SQLite (leave database_url empty or use sqlite:PATH)", ErrUnsupported)
	default:
		return nil, fmt.Errorf("%w: database_url must be empty, sqlite:PATH or postgres://…", ErrUnsupported)
	}
}
