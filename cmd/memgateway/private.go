package main

import (
	"log/slog"

	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/store/sqlite"
	"github.com/memproxy/memproxy/internal/fsmode"
)

// privateDataDir makes the data directory 0700 and its files 0600, and the
// embedded database's files 0600 wherever they are, logging each mode it
// had to narrow: they hold every user's memories, usage and the master key.
func privateDataDir(dataDir, databaseURL string, log *slog.Logger) error {
	changes, err := fsmode.NarrowDir(dataDir)
	if err != nil {
		return err
	}
	if p, ok := store.SQLitePath(databaseURL, dataDir); ok {
		for _, f := range sqlite.Files(p) {
			c, err := fsmode.Narrow(f, 0o600)
			if err != nil {
				return err
			}
			if c != nil {
				changes = append(changes, *c)
			}
		}
	}
	for _, c := range changes {
		log.Warn("made a file holding users' data private (it was readable by others)",
			"path", c.Path, "was", c.From.String(), "now", c.To.String())
	}
	return nil
}
