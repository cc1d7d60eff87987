package providertest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// Supermemory is a fake Supermemory API at URL: the v3 document endpoints
// (add, get, delete, list, bulk delete, search), with the documented request
// and response JSON (https://supermemory.ai/docs/api-reference). It requires
// "Authorization: Bearer " + Key, keeps documents in memory by container
// tag, and processes them at once (status "done"). Search scores by shared
// words (case-folded), where the real service is semantic. Set its fields
// before sending requests.
type Supermemory struct {
	URL string
	// Key is the API key requests must bear (default "sm_fake_key").
	Key string
	// Status, when non-zero, answers every authorised request with this
	// status and ErrorBody (default {"error":"Internal Server Error"}).
	Status    int
	ErrorBody string
	// Delay holds every request this long, or until the client gives up.
	Delay time.Duration
	// Hold, when non-nil, holds every request until it is closed or the
	// client gives up.
	Hold chan struct{}
	// SessionCookie, when true, gives a request that brings no __cf_bm
	// cookie a new one, as Cloudflare's bot management in front of the real
	// API does.
	SessionCookie bool

	srv      *httptest.Server
	mu       sync.Mutex
	docs     map[string]*smDoc
	seq      int64
	requests []Recorded
}

type smDoc struct {
	id, customID, content string
	tags                  []string
	metadata              map[string]any
	created, updated      time.Time
	seq                   int64
}

// NewSupermemory starts a fake closed at the end of the test.
func NewSupermemory(t testing.TB) *Supermemory {
	f := &Supermemory{Key: "sm_fake_key", docs: make(map[string]*smDoc)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/documents", f.add)
	mux.HandleFunc("POST /v3/documents/list", f.list)
	mux.HandleFunc("DELETE /v3/documents/bulk", f.bulkDelete)
	mux.HandleFunc("GET /v3/documents/{id}", f.doc)
	mux.HandleFunc("DELETE /v3/documents/{id}", f.doc)
	mux.HandleFunc("POST /v3/search", f.search)
	f.srv = httptest.NewServer(f.guard(mux))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Requests returns what the fake has received so far.
func (f *Supermemory) Requests() []Recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Put stores a document directly, as another client of the same account
// would, and returns its id.
func (f *Supermemory) Put(tags []string, content string, metadata map[string]any) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store(&smDoc{content: content, tags: tags, metadata: metadata})
}

// guard records, authorises, delays and fails requests before the API.
func (f *Supermemory) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := Recorded{Path: r.Method + " " + r.URL.Path, Header: r.Header.Clone()}
		var body map[string]any
		if r.Body != nil && r.ContentLength != 0 {
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
			if err := dec.Decode(&body); err != nil {
				smError(w, http.StatusBadRequest, "Invalid JSON body")
				return
			}
			rec.Body = body
		}
		f.mu.Lock()
		f.requests = append(f.requests, rec)
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+f.Key {
			smError(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		if f.SessionCookie {
			if _, err := r.Cookie("__cf_bm"); err != nil {
				http.SetCookie(w, &http.Cookie{Name: "__cf_bm", Value: rand.Text(), Path: "/", HttpOnly: true})
			}
		}
		if f.Hold != nil || f.Delay > 0 {
			select {
			case <-f.Hold:
			case <-smAfter(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if f.Status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			w.Write([]byte(cmp.Or(f.ErrorBody, `{"error":"Internal Server Error"}`)))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyKey{}, body)))
	})
}

// bodyKey carries the decoded JSON body from guard to the endpoints.
type bodyKey struct{}

func bodyOf(r *http.Request) map[string]any {
	b, _ := r.Context().Value(bodyKey{}).(map[string]any)
	return b
}

// The documented limits on container tags and custom ids: at most 100
// characters; the docs allow alphanumerics, '-' and '_' everywhere (and
// '.' or ':' in some places only, which the fake refuses in tags).
var (
	smTag      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)
	smCustomID = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
)

// add is POST /v3/documents: {content, containerTag (or the deprecated
// containerTags), customId, metadata} → {id, status}. A known customId
// updates that document and returns its id.
func (f *Supermemory) add(w http.ResponseWriter, r *http.Request) {
	b := bodyOf(r)
	content, _ := b["content"].(string)
	tags, ok := []string(nil), true
	if t, isStr := b["containerTag"].(string); isStr {
		tags, ok = []string{t}, smTag.MatchString(t)
	} else if b["containerTags"] != nil {
		tags, ok = smStrings(b["containerTags"])
	}
	meta, mok := smMetadata(b["metadata"])
	customID, _ := b["customId"].(string)
	if content == "" || !ok || !mok || (customID != "" && !smCustomID.MatchString(customID)) {
		smError(w, http.StatusBadRequest, "Invalid request parameters")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.docs {
		if customID != "" && d.customID == customID {
			d.content, d.metadata, d.tags, d.updated = content, meta, tags, time.Now().UTC()
			smJSON(w, http.StatusOK, map[string]any{"id": d.id, "status": "queued"})
			return
		}
	}
	id := f.store(&smDoc{content: content, tags: tags, metadata: meta, customID: customID})
	smJSON(w, http.StatusOK, map[string]any{"id": id, "status": "queued"})
}

// store adds d under a new id; f.mu is held.
func (f *Supermemory) store(d *smDoc) string {
	f.seq++
	now := time.Now().UTC().Truncate(time.Millisecond)
	d.id, d.seq, d.created, d.updated = smID(), f.seq, now, now
	f.docs[d.id] = d
	return d.id
}

// doc is GET /v3/documents/{id} (the document object) and DELETE (204).
func (f *Supermemory) doc(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.docs[r.PathValue("id")]
	switch {
	case !ok:
		smError(w, http.StatusNotFound, "Document not found")
	case r.Method == http.MethodDelete:
		delete(f.docs, d.id)
		w.WriteHeader(http.StatusNoContent)
	default:
		smJSON(w, http.StatusOK, d.object(true))
	}
}

// bulkDelete is DELETE /v3/documents/bulk: {ids (1–100)} or
// {containerTags} → {success, deletedCount, errors | containerTags}.
func (f *Supermemory) bulkDelete(w http.ResponseWriter, r *http.Request) {
	b := bodyOf(r)
	ids, idsOK := smStrings(b["ids"])
	tags, tagsOK := smStrings(b["containerTags"])
	if (!idsOK && !tagsOK) || len(ids) > 100 {
		smError(w, http.StatusBadRequest, "ids (1-100) or containerTags required")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, errs := 0, []map[string]string{}
	for _, id := range ids {
		if _, ok := f.docs[id]; !ok {
			errs = append(errs, map[string]string{"id": id, "error": "Document not found"})
		}
	}
	for id, d := range f.docs {
		if slices.Contains(ids, id) || slices.ContainsFunc(d.tags, func(t string) bool { return slices.Contains(tags, t) }) {
			delete(f.docs, id)
			n++
		}
	}
	out := map[string]any{"success": true, "deletedCount": n, "containerTags": tags}
	if idsOK {
		out = map[string]any{"success": true, "deletedCount": n, "errors": errs}
	}
	smJSON(w, http.StatusOK, out)
}

// matching returns the documents whose container tags equal the body's
// containerTags exactly (the documented array matching; none given
// matches all) and pass its metadata filters, newest first; f.mu is held.
func (f *Supermemory) matching(b map[string]any) ([]*smDoc, bool) {
	tags, ok := smStrings(b["containerTags"])
	filter, fok := smFilter(b["filters"])
	if (!ok && b["containerTags"] != nil) || !fok {
		return nil, false
	}
	var out []*smDoc
	for _, d := range f.docs {
		if (tags == nil || slices.Equal(d.tags, tags)) && filter(d.metadata) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *smDoc) int { return cmp.Compare(b.seq, a.seq) })
	return out, true
}

// list is POST /v3/documents/list: {containerTags, filters, includeContent,
// limit, page, sort, order} → {memories, pagination}.
func (f *Supermemory) list(w http.ResponseWriter, r *http.Request) {
	b := bodyOf(r)
	limit, page := smInt(b["limit"], 10), smInt(b["page"], 1)
	f.mu.Lock()
	defer f.mu.Unlock()
	docs, ok := f.matching(b)
	if !ok || limit < 1 || limit > 1100 || page < 1 {
		smError(w, http.StatusBadRequest, "Invalid request parameters")
		return
	}
	if b["order"] == "asc" {
		slices.Reverse(docs)
	}
	withContent, _ := b["includeContent"].(bool)
	items := []any{}
	for _, d := range docs[min(len(docs), (page-1)*limit):min(len(docs), page*limit)] {
		items = append(items, d.object(withContent))
	}
	smJSON(w, http.StatusOK, map[string]any{"memories": items, "pagination": map[string]any{
		"currentPage": page, "limit": limit, "totalItems": len(docs), "totalPages": (len(docs) + limit - 1) / limit}})
}

// search is POST /v3/search: {q, containerTags, filters, limit (1–100),
// includeFullDocs, …} → {results: [{documentId, score, chunks, metadata,
// …}], total, timing}. The score is the share of the query's words the
// document holds; documents holding none are not returned.
func (f *Supermemory) search(w http.ResponseWriter, r *http.Request) {
	start, b := time.Now(), bodyOf(r)
	q, _ := b["q"].(string)
	limit := smInt(b["limit"], 10)
	f.mu.Lock()
	defer f.mu.Unlock()
	docs, ok := f.matching(b)
	if !ok || q == "" || limit < 1 || limit > 100 {
		smError(w, http.StatusBadRequest, "Invalid request parameters")
		return
	}
	words := smWords(q)
	score := make(map[*smDoc]float64)
	for _, d := range docs {
		have := smWords(d.content)
		for w := range words {
			if have[w] {
				score[d] += 1 / float64(len(words))
			}
		}
	}
	docs = slices.DeleteFunc(docs, func(d *smDoc) bool { return score[d] == 0 })
	slices.SortStableFunc(docs, func(a, b *smDoc) int { return cmp.Compare(score[b], score[a]) })
	full, _ := b["includeFullDocs"].(bool)
	results := []any{}
	for _, d := range docs[:min(len(docs), limit)] {
		res := map[string]any{"documentId": d.id, "title": nil, "type": "text", "score": score[d],
			"chunks":   []any{map[string]any{"content": d.content, "score": score[d], "isRelevant": true}},
			"metadata": d.metadata, "createdAt": d.created, "updatedAt": d.updated}
		if full {
			res["content"] = d.content
		}
		results = append(results, res)
	}
	smJSON(w, http.StatusOK, map[string]any{"results": results, "total": len(docs), "timing": time.Since(start).Milliseconds()})
}

// object is the document as GET /v3/documents/{id} and the list show it.
func (d *smDoc) object(withContent bool) map[string]any {
	o := map[string]any{"id": d.id, "connectionId": nil, "customId": nil, "containerTags": d.tags,
		"metadata": d.metadata, "status": "done", "type": "text", "title": nil, "summary": nil, "source": "text",
		"url": nil, "ogImage": nil, "taskType": "memory", "createdAt": d.created, "updatedAt": d.updated}
	if d.customID != "" {
		o["customId"] = d.customID
	}
	if withContent {
		o["content"], o["raw"] = d.content, d.content
	}
	return o
}

// smStrings reads a non-empty array of valid container tags or ids.
func smStrings(v any) ([]string, bool) {
	arr, ok := v.([]any)
	out := make([]string, len(arr))
	for i, x := range arr {
		if out[i], _ = x.(string); !smTag.MatchString(out[i]) {
			return nil, false
		}
	}
	return out, ok && len(arr) > 0
}

// smMetadata accepts the documented value types: string, number, boolean,
// array of strings; no nested objects.
func smMetadata(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	for _, x := range m {
		switch x := x.(type) {
		case string, float64, bool:
		case []any:
			if _, ok := smStrings(x); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return m, ok || v == nil
}

// smFilter reads the documented metadata filter ({"AND": [...]} or
// {"OR": [...]} of {key, value, negate} conditions, nested), given as an
// object or as a JSON string.
func smFilter(v any) (func(map[string]any) bool, bool) {
	if s, ok := v.(string); ok && json.Unmarshal([]byte(s), &v) != nil {
		return nil, false
	}
	if v == nil {
		return func(map[string]any) bool { return true }, true
	}
	m, _ := v.(map[string]any)
	if key, ok := m["key"].(string); ok {
		negate, _ := m["negate"].(bool)
		return func(md map[string]any) bool { return (md[key] == m["value"]) != negate }, true
	}
	for op, all := range map[string]bool{"AND": true, "OR": false} {
		conds, ok := m[op].([]any)
		if !ok {
			continue
		}
		fs := make([]func(map[string]any) bool, len(conds))
		for i, c := range conds {
			if fs[i], ok = smFilter(c); !ok {
				return nil, false
			}
		}
		return func(md map[string]any) bool {
			for _, f := range fs {
				if f(md) != all {
					return !all
				}
			}
			return all
		}, true
	}
	return nil, false
}

func smWords(s string) map[string]bool {
	out := make(map[string]bool)
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		out[w] = true
	}
	return out
}

// smInt reads a JSON integer, def when absent, -1 when not an integer.
func smInt(v any, def int) int {
	if f, ok := v.(float64); ok && f == float64(int(f)) {
		return int(f)
	} else if v == nil {
		return def
	}
	return -1
}

// smAfter is time.After, or a channel that never fires for d ≤ 0.
func smAfter(d time.Duration) <-chan time.Time {
	if d <= 0 {
		return nil
	}
	return time.After(d)
}

// smID returns an id in the documented shape: 22 alphanumerics.
func smID() string { return rand.Text()[:22] }

func smJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func smError(w http.ResponseWriter, status int, msg string) {
	smJSON(w, status, map[string]string{"error": msg, "details": msg})
}
