// Package fsmode keeps files that hold users' data private to the user
// running memproxy: directories 0700, files 0600, whatever the umask.
package fsmode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Change is one narrowed mode, for the caller to log.
type Change struct {
	Path     string
	From, To fs.FileMode
}

// Narrow sets the permission bits of path to perm when it has any bit that
// perm lacks (0644 becomes 0600; 0400 is left alone). A missing path is no
// change and no error.
func Narrow(path string, perm fs.FileMode) (*Change, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	old := fi.Mode().Perm()
	if old&^perm == 0 {
		return nil, nil
	}
	if err := os.Chmod(path, old&perm); err != nil {
		return nil, fmt.Errorf("making %s private: %w", path, err)
	}
	return &Change{Path: path, From: old, To: old & perm}, nil
}

// NarrowDir makes dir 0700 and every regular file directly in it 0600.
func NarrowDir(dir string) ([]Change, error) {
	var out []Change
	c, err := Narrow(dir, 0o700)
	if err != nil {
		return nil, err
	}
	if c != nil {
		out = append(out, *c)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out, fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		c, err := Narrow(filepath.Join(dir, e.Name()), 0o600)
		if err != nil {
			return out, err
		}
		if c != nil {
			out = append(out, *c)
		}
	}
	return out, nil
}

// CreatePrivate creates path with mode 0600 if it does not exist (the
// umask can only narrow it), so that programs that later open it with a
// wider default, such as SQLite with its 0644, keep 0600.
func CreatePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}
