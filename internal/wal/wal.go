// Package wal is a write-ahead journal: JSON records appended to a
// directory of segment files with group commit, read back in order by a
// cursor (at start, what an earlier run left) or one by one by Ref. A
// record that must be kept is pinned; a segment is removed once nothing in
// it is pinned. The usage log and the memory write-back queue both keep
// their records in one.
//
// A directory holds one journal, named by its prefix:
//
//	usage-journal-0000000001.jsonl
//	usage-journal-0000000002.jsonl
//
// Each line is one record wrapped with the CRC-32C (Castagnoli) of the
// record's exact bytes:
//
//	{"crc":3735928559,"rec":{…}}
//
// Append returns once its record is in the kernel's page cache: from then
// on it survives a crash of the process. On Linux the segment is
// preallocated and memory-mapped, and Append copies the record into the
// mapping (mapped.go); elsewhere, or where the filesystem refuses
// fallocate or mmap, it writes it with write(2). Whether a record also
// survives a power loss depends on the SyncMode. Concurrent appends share
// one write, or with SyncAlways one fdatasync (group commit): whoever
// finds none under way does it for every record queued so far, the others
// wait for it.
//
// A crash can leave at most a partial last line in the newest segment,
// and a mapped segment's unwritten tail of zeros, which reading ignores;
// reading skips a line whose checksum does not match with a log line,
// never half reading it. Segments of an earlier run are only read, never
// appended to.
package wal

import (
	"cmp"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SyncMode says when written records are made durable against a power
// loss (fsync). Every mode survives a crash of the process.
type SyncMode int

const (
	// SyncBatch fsyncs what was written every SyncInterval, off the
	// appenders' path: a power loss loses at most that long of records.
	SyncBatch SyncMode = iota
	// SyncAlways fsyncs every group write before its appends return.
	SyncAlways
	// SyncNever leaves flushing to the kernel (and to Close).
	SyncNever
)

// ParseSyncMode reads "always", "batch" or "never" ("" is batch).
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case "", "batch":
		return SyncBatch, nil
	case "always":
		return SyncAlways, nil
	case "never":
		return SyncNever, nil
	}
	return SyncBatch, fmt.Errorf("fsync mode %q: want always, batch or never", s)
}

func (m SyncMode) String() string {
	return [...]string{"batch", "always", "never"}[m]
}

// Options tune a Log. Zero values take the defaults.
type Options struct {
	// Prefix starts every segment's file name (required).
	Prefix string
	Sync   SyncMode
	// SyncInterval is SyncBatch's period (default 200ms).
	SyncInterval time.Duration
	// SegmentBytes is the size past which the next write starts a new
	// segment (default 16 MiB).
	SegmentBytes int64
	Logger       *slog.Logger
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("journal is closed")

const suffix = ".jsonl"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Log is one journal. Its methods are safe for concurrent use.
type Log struct {
	dir string
	o   Options

	mu      sync.Mutex
	cond    *sync.Cond // a group write finished (for Close)
	segs    []*segment // oldest first
	w       *os.File   // open for appending to wseg; nil when none is
	wseg    *segment
	mapped  bool   // append through mappings (until refused)
	mem     []byte // wseg's mapping, when mapped
	pending *batch // records waiting for the next group write
	writing bool   // a group write is under way (outside mu)
	bytes   int64  // sum of segs' sizes
	next    uint64 // number of the next segment
	dirty   bool   // w written since its last fsync
	spare   []byte // a written batch's buffer, for the next batch
	spareB  *batch // a written batch all of whose appenders returned
	toSync  []*os.File
	closed  bool

	stop, stopped chan struct{}
}

// segment is one file. size counts the bytes holding whole lines; pins
// the records in it that must be kept.
type segment struct {
	num     uint64
	path    string
	size    int64
	pins    int
	removed bool
}

// batch is one group write.
type batch struct {
	cond *sync.Cond // on Log.mu: its appenders wait here
	// users counts the appenders still to read the batch's outcome; the
	// last one hands the written batch back for reuse.
	users int
	buf   []byte
	pins  int
	seg   *segment
	base  int64 // offset of buf in seg
	done  bool
	err   error
}

// Ref locates a record: its segment and offset. The zero Ref locates
// nothing.
type Ref struct {
	seg *segment
	off int64
}

// Open creates dir if needed (mode 0700) and takes stock of the segments
// an earlier run left there; read them with a Cursor, Pin what must be
// kept, then call Collect to remove the rest.
func Open(dir string, o Options) (*Log, error) {
	if o.Prefix == "" {
		return nil, errors.New("wal: no prefix")
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 200 * time.Millisecond
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 16 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the journal directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the journal directory: %w", err)
	}
	l := &Log{dir: dir, o: o, next: 1, mapped: canMap, stop: make(chan struct{}), stopped: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), o.Prefix)
		num, ok2 := strings.CutSuffix(num, suffix)
		n, err := strconv.ParseUint(num, 10, 64)
		if !ok || !ok2 || err != nil || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("reading the journal directory: %w", err)
		}
		l.next = max(l.next, n+1)
		path := filepath.Join(dir, e.Name())
		size, err := dataEnd(path, info.Size())
		if err != nil {
			return nil, fmt.Errorf("reading the journal: %w", err)
		}
		if size == 0 {
			_ = os.Remove(path)
			continue
		}
		l.segs = append(l.segs, &segment{num: n, path: path, size: size})
		l.bytes += size
	}
	slices.SortFunc(l.segs, func(a, b *segment) int { return cmp.Compare(a.num, b.num) })
	if o.Sync == SyncBatch {
		go l.syncLoop()
	} else {
		close(l.stopped)
	}
	return l, nil
}

// Dir is the journal's directory.
func (l *Log) Dir() string { return l.dir }

// Bytes reports the size of the journal's records on disk (a mapped
// segment in use has reserved up to SegmentBytes more).
func (l *Log) Bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes
}

// Append writes payload, which must be JSON without a raw newline (as
// json.Marshal writes it), as one record. It returns once the record is in
// the file (and fsynced, with SyncAlways). With pin, the record's segment
// is kept until Unpin is called with the Ref; without, it may be removed
// as soon as nothing else in its segment is pinned. On
// error the record does not count as written (though one copied into a
// mapping whose fdatasync then failed may be read by a later run, as one
// whose Append a crash cut short).
func (l *Log) Append(payload []byte, pin bool) (Ref, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Ref{}, ErrClosed
	}
	if l.mapped {
		ref, err := l.copyIn(payload, pin)
		if err != errUnmapped {
			if err != nil || l.o.Sync != SyncAlways {
				return ref, err
			}
			if _, _, err := l.commit(l.join()); err != nil {
				l.uncount(ref, pin)
				return Ref{}, err
			}
			return ref, nil
		}
	}
	b := l.join()
	at := int64(len(b.buf))
	b.buf = frame(b.buf, payload)
	if pin {
		b.pins++
	}
	seg, base, err := l.commit(b)
	if err != nil {
		return Ref{}, err
	}
	return Ref{seg: seg, off: base + at}, nil
}

// join returns the pending batch, counting one more appender in it; l.mu
// is held.
func (l *Log) join() *batch {
	b := l.pending
	if b == nil {
		if b = l.spareB; b != nil {
			l.spareB = nil
			*b = batch{cond: b.cond}
		} else {
			b = &batch{cond: sync.NewCond(&l.mu)}
		}
		b.buf, l.spare = l.spare, nil
		l.pending = b
	}
	b.users++
	return b
}

// commit waits until b is written, writing it if no write is under way,
// and returns where its buffer went and the write's outcome; l.mu is
// held.
func (l *Log) commit(b *batch) (*segment, int64, error) {
	for !b.done {
		if l.writing {
			// Woken when b is written, or (one of b's appenders) when the
			// write before it ends, to write b.
			b.cond.Wait()
			continue
		}
		// b is the pending batch: no write is under way, so none has
		// taken it. Write it, and whatever joined it meanwhile.
		l.pending = nil
		l.writing = true
		l.write(b)
		l.writing = false
		b.cond.Broadcast()
		if l.pending != nil {
			l.pending.cond.Signal()
		}
		l.cond.Broadcast()
	}
	seg, base, err := b.seg, b.base, b.err
	if b.users--; b.users == 0 {
		l.spareB = b // nobody reads it any more: the next batch reuses it
	}
	return seg, base, err
}

// write performs one group write: it writes b's records with write(2),
// if it has any, and with SyncAlways then makes everything written so far
// durable, records copied into mappings included (for those, b is empty).
// l.mu is held, and released during I/O.
func (l *Log) write(b *batch) {
	defer func() { b.done = true }()
	if len(b.buf) > 0 && (l.w == nil || l.wseg.size >= l.o.SegmentBytes) {
		if b.err = l.rotate(); b.err != nil {
			return
		}
	}
	f, seg := l.w, l.wseg
	var old []*os.File
	syncF := false
	if l.o.Sync == SyncAlways {
		old, l.toSync = l.toSync, nil
		syncF = f != nil && (l.dirty || len(b.buf) > 0)
		l.dirty = false
	}
	l.mu.Unlock()
	n, err := l.writeSync(b.buf, f, syncF, old)
	l.mu.Lock()
	if cap(b.buf) <= 1<<20 {
		l.spare = b.buf[:0] // the appenders need b's offsets, not its bytes
	}
	if err != nil {
		// Cut off what part got in so the next write starts a clean line;
		// failing that, the next write starts a new segment (this one is
		// read only up to seg.size).
		if len(b.buf) > 0 && f.Truncate(seg.size) != nil && f == l.w {
			l.closeWriter()
		}
		b.err = fmt.Errorf("appending to the journal: %w", err)
		return
	}
	if len(b.buf) == 0 {
		return
	}
	b.seg, b.base = seg, seg.size
	seg.size += int64(n)
	seg.pins += b.pins
	l.bytes += int64(n)
	l.dirty = l.dirty || l.o.Sync != SyncAlways
}

// rotate starts a new segment; l.mu is held.
func (l *Log) rotate() error {
	l.closeWriter()
	path := filepath.Join(l.dir, fmt.Sprintf("%s%010d%s", l.o.Prefix, l.next, suffix))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("creating a journal segment: %w", err)
	}
	if l.o.Sync == SyncAlways {
		if err := syncDir(l.dir); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("creating a journal segment: %w", err)
		}
	}
	l.w, l.wseg = f, &segment{num: l.next, path: path}
	l.next++
	l.segs = append(l.segs, l.wseg)
	return nil
}

// closeWriter stops appending to the current segment, cutting a mapped
// one to its records; l.mu is held. A file written since its last fsync,
// or perhaps being fsynced by a group write (of copies into its mapping,
// as the segment can rotate meanwhile), is fsynced, then closed, by the
// next group write (SyncAlways) or the sync loop (SyncBatch).
func (l *Log) closeWriter() {
	if l.w == nil {
		return
	}
	l.unmap(true)
	if l.o.Sync != SyncNever && (l.dirty || l.writing) {
		l.toSync = append(l.toSync, l.w)
	} else {
		_ = l.w.Close()
	}
	l.w, l.wseg, l.dirty = nil, nil, false
}

// Pin keeps ref's segment until a matching Unpin.
func (l *Log) Pin(ref Ref) {
	if ref.seg == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ref.seg.pins++
}

// Unpin releases a pin of Append or Pin; the segment is removed once
// nothing pins it.
func (l *Log) Unpin(ref Ref) {
	if ref.seg == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ref.seg.pins--
	l.collect()
}

// Collect removes the segments nothing pins (after an earlier run's
// segments have been read and what must be kept pinned).
func (l *Log) Collect() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.collect()
}

// collect removes the segments nothing pins; l.mu is held. A segment that outlives its removal (a crash right after) is read
// again by the next run, which its consumers must take in their stride.
func (l *Log) collect() {
	kept := l.segs[:0]
	for _, s := range l.segs {
		if s.pins > 0 || (s == l.wseg && (l.writing || l.pending != nil)) {
			kept = append(kept, s)
			continue
		}
		if s == l.wseg {
			l.unmap(false) // being removed: nothing to make durable
			_ = l.w.Close()
			l.w, l.wseg, l.dirty = nil, nil, false
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.o.Logger.Error("removing a journal segment; it will be read again", "file", s.path, "err", err)
		}
		s.removed = true
		l.bytes -= s.size
	}
	clear(l.segs[len(kept):])
	l.segs = kept
}

// Close waits for a write under way, makes what was written durable
// (except with SyncNever) and closes the files. Append fails afterwards;
// a second Close does nothing.
func (l *Log) Close() error {
	l.mu.Lock()
	for l.writing {
		l.cond.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	if l.o.Sync == SyncBatch {
		close(l.stop)
		<-l.stopped
	}
	if l.o.Sync != SyncNever {
		l.Sync()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closeWriter()
	for _, f := range l.toSync {
		_ = f.Close()
	}
	l.toSync = nil
	return nil
}

// frame appends payload to buf as one journal line.
func frame(buf, payload []byte) []byte {
	return appendFrame(buf, crc32.Checksum(payload, castagnoli), payload)
}
