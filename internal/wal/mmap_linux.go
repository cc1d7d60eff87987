//go:build linux

package wal

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// canMap says whether this platform appends through memory-mapped
// segments.
const canMap = true

// fallocate reserves a segment's blocks; a variable so tests can refuse it.
var fallocate = unix.Fallocate

// mapFile reserves size bytes for f (so that no write into the mapping
// can meet a full disk: that would be a SIGBUS, not an error) and maps
// them shared. A full disk is an error; any other refusal (a filesystem
// without fallocate, mmap refused) wraps errRefused, and the caller falls
// back to write(2).
func mapFile(f *os.File, size int64) ([]byte, error) {
	fd := int(f.Fd())
	if err := fallocate(fd, 0, 0, size); err != nil {
		if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
			return nil, fmt.Errorf("reserving %d bytes: %w", size, err)
		}
		return nil, fmt.Errorf("%w: fallocate: %w", errRefused, err)
	}
	mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%w: mmap: %w", errRefused, err)
	}
	return mem, nil
}

// unmapFile releases a mapping made by mapFile. Its written pages stay in
// the page cache, to be written back (or fsynced) through the file.
func unmapFile(mem []byte) error { return unix.Munmap(mem) }

// datasync makes f's written data durable, including what was written
// through a mapping: on Linux, fdatasync writes back the file's dirty
// pages however they were dirtied (msync(MS_SYNC) is the same call).
func datasync(f *os.File) error {
	c, err := f.SyscallConn()
	if err != nil {
		return err
	}
	cerr := c.Control(func(fd uintptr) {
		for {
			if err = unix.Fdatasync(int(fd)); err != unix.EINTR {
				return
			}
		}
	})
	return firstErr(cerr, err)
}

// firstErr returns the first non-nil error.
func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
