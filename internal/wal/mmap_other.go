//go:build !linux

package wal

import (
	"fmt"
	"os"
)

// canMap says whether this platform appends through memory-mapped
// segments: not here (fallocate and the page cache's handling of mapped
// pages are only relied upon on Linux), so Append uses write(2).
const canMap = false

func mapFile(*os.File, int64) ([]byte, error) {
	return nil, fmt.Errorf("%w: not on this platform", errRefused)
}

func unmapFile([]byte) error { return nil }

func datasync(f *os.File) error { return f.Sync() }
