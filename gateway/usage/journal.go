package usage

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The journal is where the queue keeps records the sink could not take. It
// is a directory of append-only segment files, replayed oldest first:
//
//	usage-journal-0000000001.jsonl
//	usage-journal-0000000002.jsonl
//
// Each line is one record, as JSON, wrapped with the CRC-32C (Castagnoli)
// of the record's exact bytes:
//
//	{"crc":3735928559,"rec":{"time":"…","request_id":"…",…}}
//
// A batch is appended with one write and made durable with fsync before the
// append returns (the directory is synced too when a segment is created).
// So a crash can leave at most the batch being appended half written, as
// the last line of the newest segment; on reading, a line whose checksum
// does not match (or that is not JSON) is skipped with a log line, never
// half replayed. Segments from an earlier run are only read, never
// appended to: the first append of a run starts a new segment, so a torn
// tail is never glued to the next line.
//
// A segment is removed once every line in it has reached the sink. A crash
// during replay replays that segment again from its start, which the
// sink's idempotency on RequestID makes harmless.

const (
	journalPrefix = "usage-journal-"
	journalSuffix = ".jsonl"
	// maxSegment is the largest a segment grows before the next batch
	// starts another, so that replay frees disk as it goes.
	maxSegment = 64 << 20
)

// errJournalFull is returned by append when the batch would take the
// journal past its cap.
var errJournalFull = errors.New("usage journal is full")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// journal is the set of segments in one directory. append is called by the
// queue's writer only; head, release and the reads by its replayer only.
type journal struct {
	dir    string
	max    int64 // cap on bytes; one batch may exceed it when the journal is empty
	segMax int64
	log    *slog.Logger

	mu    sync.Mutex
	segs  []*segment // oldest first
	w     *os.File   // open for appending to wseg; nil when none is open
	wseg  *segment
	bytes int64 // sum of segs' sizes
	next  uint64
	full  bool // over the cap, and said so
}

// segment is one journal file. size counts the bytes that hold whole,
// synced lines (for a segment from an earlier run, the file's size).
type segment struct {
	path string
	size int64
}

// openJournal creates dir if needed and takes stock of the segments a
// previous run left there.
func openJournal(dir string, maxBytes int64, log *slog.Logger) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the usage journal directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the usage journal directory: %w", err)
	}
	j := &journal{dir: dir, max: maxBytes, segMax: max(min(maxBytes/16, maxSegment), 1), log: log, next: 1}
	type numbered struct {
		n   uint64
		seg *segment
	}
	var found []numbered
	for _, e := range entries {
		name := e.Name()
		num, ok := strings.CutPrefix(name, journalPrefix)
		num, ok2 := strings.CutSuffix(num, journalSuffix)
		n, err := strconv.ParseUint(num, 10, 64)
		if !ok || !ok2 || err != nil || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("reading the usage journal directory: %w", err)
		}
		j.next = max(j.next, n+1)
		path := filepath.Join(dir, name)
		if info.Size() == 0 {
			_ = os.Remove(path)
			continue
		}
		found = append(found, numbered{n, &segment{path: path, size: info.Size()}})
	}
	slices.SortFunc(found, func(a, b numbered) int { return cmp.Compare(a.n, b.n) })
	for _, f := range found {
		j.segs = append(j.segs, f.seg)
		j.bytes += f.seg.size
	}
	if j.bytes > 0 {
		log.Warn("usage journal left by an earlier run; replaying it", "dir", dir, "segments", len(j.segs), "bytes", j.bytes)
	}
	return j, nil
}

// empty reports whether every journaled record has reached the sink.
func (j *journal) empty() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.segs) == 0
}

// size reports the journal's bytes on disk.
func (j *journal) size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.bytes
}

// append writes recs at the end of the journal and fsyncs them. It returns
// errJournalFull, having logged it once, when they would take the journal
// past its cap. On any other error nothing of recs counts as written.
func (j *journal) append(recs []Record) error {
	buf, err := j.encode(recs)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.bytes > 0 && j.bytes+int64(len(buf)) > j.max {
		if !j.full {
			j.full = true
			j.log.Error("usage journal is full: requests now wait for the database (backpressure)",
				"dir", j.dir, "bytes", j.bytes, "max_bytes", j.max)
		}
		return errJournalFull
	}
	if j.w == nil || j.wseg.size >= j.segMax {
		if err := j.rotate(); err != nil {
			return err
		}
	}
	n, err := j.w.Write(buf)
	if err == nil {
		err = j.w.Sync()
	}
	if err != nil {
		// Cut off what part of the batch got in, so that the next append
		// starts a clean line; failing that, the next append starts a new
		// segment (this one is read only up to wseg.size).
		if terr := j.w.Truncate(j.wseg.size); terr != nil {
			j.closeWriter()
		}
		return fmt.Errorf("appending to the usage journal: %w", err)
	}
	j.wseg.size += int64(n)
	j.bytes += int64(n)
	return nil
}

// rotate starts a new segment. j.mu is held.
func (j *journal) rotate() error {
	j.closeWriter()
	path := filepath.Join(j.dir, fmt.Sprintf("%s%010d%s", journalPrefix, j.next, journalSuffix))
	j.next++
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("creating a usage journal segment: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("creating a usage journal segment: %w", err)
	}
	j.w, j.wseg = f, &segment{path: path}
	j.segs = append(j.segs, j.wseg)
	return nil
}

// closeWriter stops appending to the current segment. j.mu is held.
func (j *journal) closeWriter() {
	if j.w != nil {
		_ = j.w.Close() // every byte that counts was synced
	}
	j.w, j.wseg = nil, nil
}

// head returns the oldest segment and how many of its bytes may be read,
// or nil when the journal is empty.
func (j *journal) head() (*segment, int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.segs) == 0 {
		return nil, 0
	}
	return j.segs[0], j.segs[0].size
}

// release removes seg, the oldest segment, if off (how far it has been
// replayed) is its end, or past it to drop the segment whatever it holds.
// It reports whether it did: a segment still being appended to may have
// grown since head.
func (j *journal) release(seg *segment, off int64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.segs) == 0 || j.segs[0] != seg || off < seg.size {
		return false
	}
	if seg == j.wseg {
		j.closeWriter()
	}
	// A segment that outlives its removal is replayed again at the next
	// start: harmless, so the directory is not synced for it.
	if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		j.log.Error("removing a replayed usage journal segment; it will be replayed again", "file", seg.path, "err", err)
	}
	j.segs = j.segs[1:]
	j.bytes -= seg.size
	if j.full && j.bytes < j.max {
		j.full = false
		j.log.Info("usage journal below its cap again", "bytes", j.bytes, "max_bytes", j.max)
	}
	return true
}

// close closes the segment being appended to.
func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closeWriter()
}

// encode renders recs as journal lines.
func (j *journal) encode(recs []Record) ([]byte, error) {
	var buf []byte
	for i := range recs {
		b, err := json.Marshal(&recs[i])
		if err != nil {
			// Only a NaN or infinite float can fail: keep the row, not the
			// float, rather than block the queue on it for ever.
			r := finite(recs[i])
			j.log.Warn("usage row has a non-finite number; journaled as 0", "request_id", r.RequestID, "err", err)
			if b, err = json.Marshal(&r); err != nil {
				return nil, fmt.Errorf("encoding usage row %s: %w", r.RequestID, err)
			}
		}
		buf = append(buf, `{"crc":`...)
		buf = strconv.AppendUint(buf, uint64(crc32.Checksum(b, castagnoli)), 10)
		buf = append(buf, `,"rec":`...)
		buf = append(buf, b...)
		buf = append(buf, "}\n"...)
	}
	return buf, nil
}

func finite(r Record) Record {
	fix := func(f float64) float64 {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0
		}
		return f
	}
	r.LatencyMS, r.TTFBMS = fix(r.LatencyMS), fix(r.TTFBMS)
	if r.Cost != nil {
		if c := fix(*r.Cost); c != *r.Cost {
			r.Cost = nil
		}
	}
	return r
}

// journalLine is one line of a segment.
type journalLine struct {
	CRC uint32          `json:"crc"`
	Rec json.RawMessage `json:"rec"`
}

// readBatch reads up to n records of seg from byte off up to end. It
// returns them and the offset just past the last line it consumed. Lines
// that fail their checksum are skipped and logged: a torn last line (a
// write cut short by a crash) as a warning, a damaged line elsewhere as an
// error.
func (j *journal) readBatch(f *os.File, seg *segment, off, end int64, n int) ([]Record, int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, off, end-off), 64<<10)
	var recs []Record
	for len(recs) < n {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return nil, off, fmt.Errorf("reading %s: %w", seg.path, err)
		}
		at := off
		off += int64(len(line))
		rec, ok := decodeLine(line)
		switch {
		case ok:
			recs = append(recs, rec)
		case err == io.EOF:
			j.log.Warn("usage journal: skipping a torn last line (a write cut short by a crash)",
				"file", seg.path, "offset", at, "bytes", len(line))
		default:
			j.log.Error("usage journal: skipping a damaged line", "file", seg.path, "offset", at, "bytes", len(line))
		}
	}
	return recs, off, nil
}

// decodeLine parses one journal line, checking its checksum.
func decodeLine(line []byte) (Record, bool) {
	var l journalLine
	var rec Record
	if json.Unmarshal(line, &l) != nil || len(l.Rec) == 0 || crc32.Checksum(l.Rec, castagnoli) != l.CRC {
		return rec, false
	}
	if json.Unmarshal(l.Rec, &rec) != nil {
		return rec, false
	}
	return rec, true
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
