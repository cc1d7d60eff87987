package wal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Cursor reads a journal in order, from its oldest segment on. Its zero
// value starts at the beginning. A Cursor is used by one goroutine.
type Cursor struct {
	seg *segment
	off int64
	f   *os.File
}

// Close releases the file the cursor has open.
func (c *Cursor) Close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

// Next reads up to max records after c, calling fn with each record's
// payload and Ref, and advances c past them. It returns how many it read:
// fewer than max when it caught up with the writes. Lines that fail their
// checksum are skipped and logged: a torn last line (a write cut short by a
// crash) as a warning, a damaged line elsewhere as an error.
func (l *Log) Next(c *Cursor, max int, fn func(payload []byte, at Ref)) (int, error) {
	n := 0
	for n < max {
		seg, end := l.locate(c)
		if seg == nil {
			return n, nil
		}
		if seg != c.seg {
			c.Close()
			c.seg, c.off = seg, 0
		}
		if c.off >= end {
			return n, nil // caught up (locate moves on from a finished segment)
		}
		if c.f == nil {
			f, err := os.Open(seg.path)
			if err != nil {
				return n, fmt.Errorf("opening %s: %w", seg.path, err)
			}
			c.f = f
		}
		r := bufio.NewReaderSize(io.NewSectionReader(c.f, c.off, end-c.off), 64<<10)
		for n < max {
			line, err := r.ReadBytes('\n')
			if len(line) == 0 && err == io.EOF {
				break
			}
			if err != nil && err != io.EOF {
				return n, fmt.Errorf("reading %s: %w", seg.path, err)
			}
			at := c.off
			c.off += int64(len(line))
			// Zeros before a line are a mapped segment's pages that a
			// power loss kept from the disk (SyncBatch, SyncNever): what
			// follows them may still be whole.
			payload, ok := decode(bytes.TrimLeft(line, "\x00"))
			switch {
			case ok:
				fn(payload, Ref{seg: seg, off: at})
				n++
			case err == io.EOF:
				l.o.Logger.Warn("journal: skipping a torn last line (a write cut short by a crash)",
					"file", seg.path, "offset", at, "bytes", len(line))
			default:
				l.o.Logger.Error("journal: skipping a damaged line", "file", seg.path, "offset", at, "bytes", len(line))
			}
		}
	}
	return n, nil
}

// locate returns the segment c reads next and how far it may read: c's
// own until it is read to its end and a newer one exists.
func (l *Log) locate(c *Cursor) (*segment, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.segs) == 0 {
		return nil, 0
	}
	if c.seg == nil {
		return l.segs[0], l.segs[0].size
	}
	newest := l.segs[len(l.segs)-1]
	if !c.seg.removed && (c.off < c.seg.size || c.seg == newest) {
		return c.seg, c.seg.size
	}
	for _, s := range l.segs {
		if s.num > c.seg.num {
			return s, s.size
		}
	}
	return nil, 0
}

// Reader reads records by Ref, keeping the last segment it read open. A
// Reader is used by one goroutine.
type Reader struct {
	l   *Log
	seg *segment
	f   *os.File
}

// NewReader returns a Reader of l's records.
func (l *Log) NewReader() *Reader { return &Reader{l: l} }

// ReadAt returns the payload of the record at ref, which must be pinned.
func (r *Reader) ReadAt(ref Ref) ([]byte, error) {
	if ref.seg == nil {
		return nil, errors.New("wal: reading a zero Ref")
	}
	if r.seg != ref.seg {
		r.Close()
		f, err := os.Open(ref.seg.path)
		if err != nil {
			return nil, err
		}
		r.seg, r.f = ref.seg, f
	}
	line, err := bufio.NewReaderSize(io.NewSectionReader(r.f, ref.off, 1<<62), 4096).ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("reading %s at %d: %w", ref.seg.path, ref.off, err)
	}
	payload, ok := decode(line)
	if !ok {
		return nil, fmt.Errorf("reading %s at %d: damaged record", ref.seg.path, ref.off)
	}
	return payload, nil
}

// Close closes the file the Reader has open.
func (r *Reader) Close() {
	if r.f != nil {
		r.f.Close()
	}
	r.seg, r.f = nil, nil
}

// ReadAt returns the payload of the record at ref, which must be pinned.
func (l *Log) ReadAt(ref Ref) ([]byte, error) {
	r := l.NewReader()
	defer r.Close()
	return r.ReadAt(ref)
}

// line is one journal line.
type line struct {
	CRC uint32          `json:"crc"`
	Rec json.RawMessage `json:"rec"`
}

// decode checks one line and returns its payload.
func decode(b []byte) ([]byte, bool) {
	var l line
	if json.Unmarshal(b, &l) != nil || len(l.Rec) == 0 || crc32.Checksum(l.Rec, castagnoli) != l.CRC {
		return nil, false
	}
	return l.Rec, true
}
