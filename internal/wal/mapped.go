package wal

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
)

// Appending through a mapping. Where the platform allows it (Linux), a
// segment is created at its full size with fallocate, so its blocks are
// reserved (a full disk fails the segment's creation, never a write into
// the mapping), and mapped shared. Append then frames its record straight
// into the mapping under l.mu and returns: the record is in the page
// cache, so it survives a crash of the process. The copy is made under the
// lock and the segment's size moved past it only then, so records land in
// order and a reader never reads past a record being copied. With
// SyncAlways the appender then waits for a group fdatasync (write with an
// empty buffer) as before; SyncBatch and Close fsync as for write(2).
//
// A segment in use is therefore longer than its records: its tail is
// zeros. Closing the segment (rotation, Close) truncates it to its
// records; after a crash, Open finds where they end (dataEnd).

// errRefused marks a refusal of fallocate or mmap that is no full disk:
// the journal falls back to write(2) for the rest of its life.
var errRefused = errors.New("memory-mapped segments refused")

// errUnmapped tells Append that the journal just fell back to write(2).
var errUnmapped = errors.New("journal fell back to write(2)")

// copyIn frames payload into the current segment's mapping, starting a
// new segment first if it does not fit; l.mu is held.
func (l *Log) copyIn(payload []byte, pin bool) (Ref, error) {
	crc := crc32.Checksum(payload, castagnoli)
	n := int64(frameLen(crc, payload))
	if l.w == nil || l.wseg.size >= l.o.SegmentBytes || l.wseg.size+n > int64(len(l.mem)) {
		if err := l.rotateMapped(n); err != nil {
			return Ref{}, err
		}
	}
	seg, at := l.wseg, l.wseg.size
	if out := appendFrame(l.mem[at:at:at+n], crc, payload); int64(len(out)) != n {
		panic("wal: frameLen disagrees with appendFrame") // out left the mapping
	}
	seg.size += n
	l.bytes += n
	l.dirty = true
	if pin {
		seg.pins++
	}
	return Ref{seg: seg, off: at}, nil
}

// uncount takes back the pin of a record whose append failed after its
// copy (its fsync failed); l.mu is held. The record stays in the segment:
// like one whose Append was cut short by a crash, a later run may read it.
func (l *Log) uncount(ref Ref, pin bool) {
	if pin {
		ref.seg.pins--
		l.collect()
	}
}

// rotateMapped starts a new mapped segment of at least need bytes; l.mu
// is held. If the filesystem refuses fallocate or mmap, it logs that once,
// turns the journal to write(2) and returns errUnmapped.
func (l *Log) rotateMapped(need int64) error {
	l.closeWriter()
	size := roundUp(max(l.o.SegmentBytes, need), int64(os.Getpagesize()))
	path := filepath.Join(l.dir, fmt.Sprintf("%s%010d%s", l.o.Prefix, l.next, suffix))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating a journal segment: %w", err)
	}
	mem, err := mapFile(f, size)
	if err == nil && l.o.Sync == SyncAlways {
		if err = syncDir(l.dir); err != nil {
			_ = unmapFile(mem)
		}
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		if errors.Is(err, errRefused) {
			l.mapped = false
			l.o.Logger.Warn("journal: memory-mapped segments refused here; appending with write(2) instead",
				"dir", l.dir, "err", err)
			return errUnmapped
		}
		return fmt.Errorf("creating a journal segment: %w", err)
	}
	l.w, l.wseg, l.mem = f, &segment{num: l.next, path: path}, mem
	l.next++
	l.segs = append(l.segs, l.wseg)
	return nil
}

// unmap releases the current segment's mapping; with trim, the file is
// cut to its records (dropping the reserved zeros). l.mu is held.
func (l *Log) unmap(trim bool) {
	if l.mem == nil {
		return
	}
	if err := unmapFile(l.mem); err != nil {
		l.o.Logger.Error("journal: unmapping a segment", "file", l.wseg.path, "err", err)
	}
	l.mem = nil
	if trim {
		if err := l.w.Truncate(l.wseg.size); err != nil {
			l.o.Logger.Error("journal: cutting a segment to its records", "file", l.wseg.path, "err", err)
		}
	}
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// frameLen is the length of payload's frame (see appendFrame).
func frameLen(crc uint32, payload []byte) int {
	digits := 1
	for v := crc; v >= 10; v /= 10 {
		digits++
	}
	return len(`{"crc":`) + digits + len(`,"rec":`) + len(payload) + len("}\n")
}

// appendFrame appends payload to buf as one journal line.
func appendFrame(buf []byte, crc uint32, payload []byte) []byte {
	buf = append(buf, `{"crc":`...)
	buf = strconv.AppendUint(buf, uint64(crc), 10)
	buf = append(buf, `,"rec":`...)
	buf = append(buf, payload...)
	return append(buf, "}\n"...)
}
