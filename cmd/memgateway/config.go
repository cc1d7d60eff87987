package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/store"
)

// loadConfig reads the gateway config at path, or returns the embedded
// defaults when path is empty.
func loadConfig(path string) (*config.Gateway, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

// openStore opens the database the config at path names, for the commands
// that work on it directly. Without create, a missing embedded database is
// an error rather than a new empty file.
func openStore(ctx context.Context, path, dataDir string, create bool) (store.DB, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	if !create && cfg.General.DatabaseURL == "" {
		p := filepath.Join(dataDir, store.DefaultFile)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: pass the gateway's --data-dir or --config", p)
		}
	}
	db, err := store.Open(ctx, cfg.General.DatabaseURL, dataDir)
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	return db, nil
}
