//go:build unix

package registry

import (
	"errors"
	"os"
	"syscall"
)

// lockFile is Lock on Unix: flock locks belong to the open file
// description, so they exclude other processes and other opens in this
// process alike, and the kernel drops them if the process dies.
func lockFile(path string, wait bool) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(fd, how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		err = ErrLocked
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(fd, syscall.LOCK_UN)
		f.Close()
	}, nil
}

// processAlive is the default Options.ProcessAlive: kill(pid, 0) probes
// for existence without sending a signal. Only ESRCH proves the process is
// gone; EPERM (it exists but belongs to another user) and any unexpected
// error count as alive, because wrongly reclaiming a live project's port
// is worse than keeping a stale one. pid <= 0 would address process groups,
// so it is never alive.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return !errors.Is(err, syscall.ESRCH)
}
