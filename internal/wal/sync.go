package wal

import (
	"errors"
	"os"
	"runtime"
	"time"
)

// writeSync writes buf to f, then fdatasyncs the files old (closing them)
// and, with syncF, f; l.mu is not held.
func (l *Log) writeSync(buf []byte, f *os.File, syncF bool, old []*os.File) (int, error) {
	var n int
	var err error
	if len(buf) > 0 {
		n, err = f.Write(buf)
	}
	for _, o := range old {
		if serr := datasync(o); err == nil {
			err = serr
		}
		_ = o.Close()
	}
	if err == nil && syncF {
		err = datasync(f)
	}
	return n, err
}

// syncLoop fsyncs written records every SyncInterval (SyncBatch).
func (l *Log) syncLoop() {
	defer close(l.stopped)
	t := time.NewTicker(l.o.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.Sync()
		}
	}
}

// Sync makes everything written so far durable.
func (l *Log) Sync() {
	l.mu.Lock()
	files := l.toSync
	l.toSync = nil
	f, dirty := l.w, l.dirty
	l.dirty = false
	l.mu.Unlock()
	for _, old := range files {
		if err := old.Sync(); err != nil {
			l.o.Logger.Error("fsync of the journal failed", "file", old.Name(), "err", err)
		}
		_ = old.Close()
	}
	if dirty && f != nil {
		// f may be closed meanwhile by a removal: nothing to sync then.
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			l.o.Logger.Error("fsync of the journal failed", "file", f.Name(), "err", err)
		}
	}
	if dirty || len(files) > 0 {
		_ = syncDir(l.dir) // new segments' directory entries
	}
}

// syncDir makes a directory's entries (a new file) durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync; NTFS journals entries
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
