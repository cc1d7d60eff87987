package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Beside a file setup edits: the original as it was before the first
// setup, or, when there was no file, a marker saying so.
const (
	backupExt = ".memedge-backup"
	absentExt = ".memedge-absent"
)

// applySetup rewrites path with edit's result, keeping the original the
// first time (a later setup keeps that first backup). It reports whether
// the file changed.
func applySetup(path string, edit func(old []byte) ([]byte, error)) (bool, error) {
	old, err := os.ReadFile(path)
	existed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	next, err := edit(old)
	if err != nil {
		return false, err
	}
	if existed && bytes.Equal(old, next) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	if !hasBackup(path) {
		if existed {
			err = writeAtomic(path+backupExt, old, 0o600)
		} else {
			err = writeAtomic(path+absentExt, nil, 0o600)
		}
		if err != nil {
			return false, fmt.Errorf("keeping a backup: %w", err)
		}
	}
	return true, writeAtomic(path, next, 0o600)
}

func hasBackup(path string) bool {
	for _, p := range []string{path + backupExt, path + absentExt} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// undoSetup puts path back as it was before the first setup.
func undoSetup(path string) (string, error) {
	if _, err := os.Stat(path + absentExt); err == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "removed " + path + " (setup had created it)", os.Remove(path + absentExt)
	}
	b, err := os.ReadFile(path + backupExt)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no backup of %s: setup has not changed it", path)
	}
	if err != nil {
		return "", err
	}
	if err := writeAtomic(path, b, 0o600); err != nil {
		return "", err
	}
	return "restored " + path + " as it was before setup", os.Remove(path + backupExt)
}

// writeAtomic writes data to a temporary file beside path and renames it
// over path, so a reader sees the old file or the new, never a mix.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if err := f.Chmod(perm); werr == nil {
		werr = err
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
	}
	return werr
}
