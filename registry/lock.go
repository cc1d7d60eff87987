package registry

import "errors"

// ErrLocked reports that Lock was asked not to wait and another process
// (or another open file in this one) holds the lock.
var ErrLocked = errors.New("locked by another process")

// Lock opens (creating with mode 0600) the lock file at path and takes an
// exclusive lock on it: flock on Unix, LockFileEx on Windows. With wait it
// blocks until the lock is granted; without, it fails at once with
// ErrLocked when another holder has it. The lock belongs to the open file,
// so it excludes other processes and other opens in this process alike,
// and the operating system drops it if the process dies. release unlocks
// and closes the file.
func Lock(path string, wait bool) (release func(), err error) {
	return lockFile(path, wait)
}
