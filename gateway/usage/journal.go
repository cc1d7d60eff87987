package usage

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"

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
// Then the writer replays the journal from its oldest record.

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
	rows := 0
	for {
		n, err := q.j.Next(&c, 4096, func(p []byte, _ wal.Ref) {
			var e entry
			if json.Unmarshal(p, &e) != nil {
				return // decode logs it when the writer reads it
			}
			if e.Phase == phaseBegin {
				open[e.RequestID] = e.Record
				return
			}
			delete(open, e.RequestID)
			if e.Phase == phaseEnd {
				rows++
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
	for _, r := range crashed {
		r.Status, r.ErrorType = CrashStatus, ErrorGatewayCrash
		if _, err := q.j.Append(q.encode(phaseEnd, &r), false); err != nil {
			return fmt.Errorf("journaling the rows of requests cut by a crash: %w", err)
		}
	}
	q.pending.Add(int64(rows + len(crashed)))
	q.opts.Logger.Warn("usage journal left by an earlier run; replaying it", "dir", q.opts.JournalDir,
		"bytes", q.j.Bytes(), "rows", rows, "cut_by_crash", len(crashed))
	return nil
}

// encode renders one journal record.
func (q *Queue) encode(phase string, r *Record) []byte {
	e := entry{Phase: phase, Record: *r}
	b, err := json.Marshal(&e)
	if err != nil {
		// Only a NaN or infinite float can fail: keep the row, not the
		// float.
		q.opts.Logger.Warn("usage row has a non-finite number; journaled as 0", "request_id", r.RequestID, "err", err)
		e.Record = finite(*r)
		if b, err = json.Marshal(&e); err != nil {
			panic(fmt.Sprintf("usage: encoding a finite row: %v", err)) // cannot happen: every field is plain data
		}
	}
	return b
}

// decode parses one journal record; end reports a finished row (as
// opposed to a request's start).
func (q *Queue) decode(p []byte) (r Record, end bool) {
	var e entry
	if err := json.Unmarshal(p, &e); err != nil {
		q.opts.Logger.Error("usage journal: skipping a record that is not a row", "err", err)
		return r, false
	}
	return e.Record, e.Phase == phaseEnd
}

func finite(r Record) Record {
	fix := func(f float64) float64 {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0
		}
		return f
	}
	r.LatencyMS, r.TTFBMS, r.MemoryMS = fix(r.LatencyMS), fix(r.TTFBMS), fix(r.MemoryMS)
	if r.Cost != nil {
		if c := fix(*r.Cost); c != *r.Cost {
			r.Cost = nil
		}
	}
	return r
}
