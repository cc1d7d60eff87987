package usage

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/memproxy/memproxy/internal/wal"
)

// The usage journal is a wal.Log in the data directory, prefix
// "usage-journal-". Each record is a row as JSON, with "phase":"begin" for
// a request's start (Begin) and no phase for its finished row (Finish):
//
//	{"crc":…,"rec":{"phase":"begin","time":"…","request_id":"req_…",…}}
//	{"crc":…,"rec":{"time":"…","request_id":"req_…","status":200,…}}
//
// and "phase":"skip" for a request that ended without a row (Skip).
//
// (Journals of earlier versions hold finished rows only, in the same
// form: they are read as such.)
//
// At start, the journal an earlier run left is read once: every request
// begun there and never finished is a request that was in flight when the
// process died, and gets its row now, with status CrashStatus and error
// type ErrorGatewayCrash, appended to the journal before anything else.
// The earlier run's rows are pinned and queued to be read back by the
// writer; everything else of that run is removed.

const (
	journalPrefix = "usage-journal-"
	phaseBegin    = "begin"
	phaseEnd      = ""
	phaseSkip     = "skip" // the request ended without a row (Skip)
)

// ErrorGatewayCrash is the error type of the row of a request that was in
// flight when the gateway process died; CrashStatus its status.
const (
	ErrorGatewayCrash = "gateway_crash"
	CrashStatus       = 500
)

// beginEntry is a request's start (or skip): the fields Begin knows, and only them
// (cheaper to write than a whole row; read back as an entry).
type beginEntry struct {
	Phase     string    `json:"phase"`
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	User      string    `json:"user,omitempty"`
	Project   string    `json:"project,omitempty"`
	Client    string    `json:"client,omitempty"`
	Hostname  string    `json:"hostname,omitempty"`
	EdgeID    string    `json:"edge_id,omitempty"`
	Ingress   string    `json:"ingress,omitempty"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Model     string    `json:"model,omitempty"`
}

// appendBegin journals a request's start (or, phaseSkip, its end
// without a row).
func (q *Queue) appendBegin(phase string, r *Record, pin bool) (wal.Ref, error) {
	e := beginEntry{Phase: phase, Time: r.Time, RequestID: r.RequestID, User: r.User, Project: r.Project,
		Client: r.Client, Hostname: r.Hostname, EdgeID: r.EdgeID, Ingress: r.Ingress, Method: r.Method, Path: r.Path, Model: r.Model}
	buf := getBuf()
	defer putBuf(buf)
	*buf = appendBeginEntry((*buf)[:0], &e)
	return q.j.Append(*buf, pin)
}

// entry is one journal record.
type entry struct {
	Phase string `json:"phase,omitempty"`
	Record
}

// openJournal opens the journal in JournalDir and recovers what an
// earlier run left there.
func (q *Queue) openJournal() error {
	mode, err := wal.ParseSyncMode(q.opts.Fsync)
	if err != nil {
		return err
	}
	q.j, err = wal.Open(q.opts.JournalDir, wal.Options{Prefix: journalPrefix, Sync: mode, Logger: q.opts.Logger})
	if err != nil {
		return err
	}
	return q.recover()
}

// recover reads the journal an earlier run left, counts its rows and
// writes a crash row for each request it began and never finished.
func (q *Queue) recover() error {
	if q.j.Bytes() == 0 {
		return nil
	}
	var c wal.Cursor
	defer c.Close()
	open := map[string]Record{}
	var rows []wal.Ref
	for {
		n, err := q.j.Next(&c, 4096, func(p []byte, at wal.Ref) {
			var e entry
			if err := json.Unmarshal(p, &e); err != nil {
				q.opts.Logger.Error("usage journal: skipping a record that is not a row", "err", err)
				return
			}
			if e.Phase == phaseBegin {
				open[e.RequestID] = e.Record
				return
			}
			delete(open, e.RequestID)
			if e.Phase == phaseEnd {
				rows = append(rows, at)
			}
		})
		if err != nil {
			return fmt.Errorf("reading the usage journal: %w", err)
		}
		if n < 4096 {
			break
		}
	}
	crashed := slices.SortedFunc(func(yield func(Record) bool) {
		for _, r := range open {
			if !yield(r) {
				return
			}
		}
	}, func(a, b Record) int { return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.RequestID, b.RequestID)) })
	for _, ref := range rows {
		q.j.Pin(ref)
	}
	for _, r := range crashed {
		r.Status, r.ErrorType = CrashStatus, ErrorGatewayCrash
		ref, err := q.appendRow(phaseEnd, &r, true)
		if err != nil {
			return fmt.Errorf("journaling the rows of requests cut by a crash: %w", err)
		}
		rows = append(rows, ref)
	}
	q.j.Collect()
	q.addSpill(rows...)
	q.pending.Add(int64(len(rows)))
	q.opts.Logger.Warn("usage journal left by an earlier run; replaying it", "dir", q.opts.JournalDir,
		"bytes", q.j.Bytes(), "rows", len(rows)-len(crashed), "cut_by_crash", len(crashed))
	return nil
}

// appendRow journals a row (phase: phaseEnd). Finish has made its
// numbers finite.
func (q *Queue) appendRow(phase string, r *Record, pin bool) (wal.Ref, error) {
	buf := getBuf()
	defer putBuf(buf)
	*buf = appendEntry((*buf)[:0], phase, r)
	return q.j.Append(*buf, pin)
}

// bufs hold journal records while they are appended: Append copies a
// record into its batch (or mapping) before it returns, so the request
// path allocates no buffer of its own per record.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

// putBuf returns b to the pool (not one grown past 64 KiB by a huge row).
func putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		bufs.Put(b)
	}
}

// decode parses one journal record; end reports a finished row (as
// opposed to a request's start or skip).
func (q *Queue) decode(p []byte) (r Record, end bool) {
	var e entry
	if err := json.Unmarshal(p, &e); err != nil {
		q.opts.Logger.Error("usage journal: skipping a record that is not a row", "err", err)
		return r, false
	}
	return e.Record, e.Phase == phaseEnd
}

// finite replaces a NaN or infinite number of r (which JSON cannot hold)
// with 0, or a non-finite cost with none, reporting whether it did.
func finite(r *Record) bool {
	bad := func(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
	changed := false
	for _, f := range []*float64{&r.LatencyMS, &r.TTFBMS, &r.MemoryMS} {
		if bad(*f) {
			*f, changed = 0, true
		}
	}
	if r.Cost != nil && bad(*r.Cost) {
		r.Cost, changed = nil, true
	}
	return changed
}
