package adminapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/gateway/usage"
)

// The usage API:
//
//	GET /v1/usage                   rows, newest first
//	GET /v1/usage?group_by=day,project   aggregates (SQL GROUP BY)
//	GET /v1/usage/summary           totals and the top 10 projects, models, clients
//
// Filters (all optional): user, project, client, model, session, status
// (an HTTP status, or "error" for every status outside 200–299), since and
// until (RFC 3339, a date, or a duration back from now: 90m, 24h, 7d).
// The master key sees every row; any other key only its own user's, and
// asking for another user's is refused (403), never silently narrowed.

// Limits of the usage API.
const (
	usageListLimit  = 100   // rows when limit is not given
	usageGroupLimit = 1000  // group rows when limit is not given
	usageMaxLimit   = 10000 // largest limit accepted
	usageTopN       = 10    // entries in each top list of the summary
)

// summarizer is the store's usage.Summarizer; the store.DB interface does
// not promise one, so a store without it answers 501 to what needs it.
func (s *API) summarizer() (usage.Summarizer, bool) {
	sm, ok := s.DB.(usage.Summarizer)
	return sm, ok
}

// queryUsage serves GET /v1/usage: rows, or aggregates with group_by.
func (s *API) queryUsage(w http.ResponseWriter, r *http.Request) {
	q, aerr := usageQuery(r, time.Now())
	if aerr != nil {
		track.WriteError(w, r, aerr)
		return
	}
	params := r.URL.Query()
	grouping := params.Has("group_by")
	if q.Limit, aerr = limitOf(params.Get("limit"), grouping); aerr != nil {
		track.WriteError(w, r, aerr)
		return
	}
	sm, ok := s.summarizer()
	if grouping {
		by, aerr := parseGroupBy(params.Get("group_by"))
		if aerr != nil {
			track.WriteError(w, r, aerr)
			return
		}
		if !ok {
			track.WriteError(w, r, noSummarizer())
			return
		}
		by.Limit = q.Limit + 1 // one more tells whether there are more
		groups, err := sm.GroupUsage(r.Context(), q, by)
		if err != nil {
			s.usageFailed(w, r, err)
			return
		}
		more := len(groups) > q.Limit
		if more {
			groups = groups[:q.Limit]
		}
		rows := make([]groupRow, len(groups))
		for i, g := range groups {
			rows[i] = newGroupRow(g, by)
		}
		track.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "group_by": params.Get("group_by"),
			"since": timeOrNil(q.Since), "until": timeOrNil(q.Until), "data": rows, "has_more": more})
		return
	}
	var recs []usage.Record
	var err error
	switch {
	case ok:
		recs, err = sm.FindUsage(r.Context(), q)
	case q.Status != 0 || q.Errors:
		track.WriteError(w, r, noSummarizer())
		return
	default:
		recs, err = s.DB.QueryUsage(r.Context(), q.Filter)
	}
	if err != nil {
		s.usageFailed(w, r, err)
		return
	}
	if recs == nil {
		recs = []usage.Record{}
	}
	track.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": recs})
}

// usageSummary serves GET /v1/usage/summary.
func (s *API) usageSummary(w http.ResponseWriter, r *http.Request) {
	q, aerr := usageQuery(r, time.Now())
	if aerr != nil {
		track.WriteError(w, r, aerr)
		return
	}
	sm, ok := s.summarizer()
	if !ok {
		track.WriteError(w, r, noSummarizer())
		return
	}
	sum, err := usage.Summarize(r.Context(), sm, q, usageTopN)
	if err != nil {
		s.usageFailed(w, r, err)
		return
	}
	track.WriteJSON(w, http.StatusOK, map[string]any{"object": "usage.summary",
		"since": timeOrNil(q.Since), "until": timeOrNil(q.Until), "totals": sum.Totals,
		"top_projects": sum.TopProjects, "top_models": sum.TopModels, "top_clients": sum.TopClients})
}

// usageQuery reads the filters shared by the usage endpoints and applies
// the caller's rights: a key that is not the master key is its own user's.
// Errors fail closed: no identity, or a non-admin one without a user, is
// refused.
func usageQuery(r *http.Request, now time.Time) (usage.Query, *track.Error) {
	p := r.URL.Query()
	q := usage.Query{Filter: usage.Filter{User: p.Get("user"), Project: p.Get("project"),
		Client: p.Get("client"), Model: p.Get("model"), Session: p.Get("session")}}
	id, ok := auth.FromContext(r.Context())
	switch {
	case ok && id.Admin:
	case ok && id.User != "" && (q.User == "" || q.User == id.User):
		q.User = id.User
	default:
		return q, track.NewError(http.StatusForbidden, llm.ErrPermission, "usage_forbidden",
			"this key may read only its own user's usage; leave out user or give your own")
	}
	switch st := p.Get("status"); st {
	case "":
	case "error", "errors":
		q.Errors = true
	default:
		n, err := strconv.Atoi(st)
		if err != nil || n < 100 || n > 599 {
			return q, track.NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_status",
				"status must be an HTTP status (100-599) or \"error\"")
		}
		q.Status = n
	}
	var aerr *track.Error
	if q.Since, aerr = parseTime("since", p.Get("since"), now); aerr != nil {
		return q, aerr
	}
	if q.Until, aerr = parseTime("until", p.Get("until"), now); aerr != nil {
		return q, aerr
	}
	return q, nil
}

// limitOf parses limit: 1 to usageMaxLimit, with a default that depends on
// whether rows are grouped.
func limitOf(v string, grouping bool) (int, *track.Error) {
	if v == "" {
		if grouping {
			return usageGroupLimit, nil
		}
		return usageListLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > usageMaxLimit {
		return 0, track.NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_limit",
			"limit must be a number from 1 to "+strconv.Itoa(usageMaxLimit))
	}
	return n, nil
}

// parseGroupBy reads group_by (usage.ParseGroupBy).
func parseGroupBy(v string) (usage.GroupBy, *track.Error) {
	by, err := usage.ParseGroupBy(v)
	if err != nil {
		return by, track.NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_group_by", err.Error()+
			" (group_by is a comma-separated list of at most one of hour and day, and any of user, project, client, model, status)")
	}
	return by, nil
}

// groupRow is a group as the API shows it: the bucket and the keys asked
// for, and the totals.
type groupRow struct {
	Bucket  *time.Time `json:"bucket,omitempty"`
	User    *string    `json:"user,omitempty"`
	Project *string    `json:"project,omitempty"`
	Client  *string    `json:"client,omitempty"`
	Model   *string    `json:"model,omitempty"`
	Status  *int       `json:"status,omitempty"`
	usage.Totals
}

func newGroupRow(g usage.Group, by usage.GroupBy) groupRow {
	row := groupRow{Totals: g.Totals}
	if by.Bucket != "" {
		row.Bucket = &g.Bucket
	}
	for _, k := range by.Keys {
		switch k {
		case usage.KeyUser:
			row.User = &g.User
		case usage.KeyProject:
			row.Project = &g.Project
		case usage.KeyClient:
			row.Client = &g.Client
		case usage.KeyModel:
			row.Model = &g.Model
		case usage.KeyStatus:
			row.Status = &g.Status
		}
	}
	return row
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func noSummarizer() *track.Error {
	return track.NewError(http.StatusNotImplemented, llm.ErrInvalidRequest, "not_implemented",
		"this gateway's database cannot aggregate usage")
}

// usageFailed answers a failed store query; the cause is logged, not sent.
func (s *API) usageFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, usage.ErrBadGroupBy) {
		track.WriteError(w, r, track.NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_group_by", "invalid group_by"))
		return
	}
	s.Log.Error("usage query failed", "err", err)
	track.WriteError(w, r, track.NewError(http.StatusServiceUnavailable, llm.ErrUnavailable, "database_unavailable", "the usage log could not be read"))
}

// parseTime reads since or until (usage.ParseTime); "" is no bound.
func parseTime(name, v string, now time.Time) (time.Time, *track.Error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := usage.ParseTime(v, now)
	if err != nil {
		return time.Time{}, track.NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_"+name, name+": "+err.Error())
	}
	return t, nil
}
