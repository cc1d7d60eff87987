package supermemory

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
)

// listPageSize is the page the list endpoint is asked for, whatever the
// caller's limit: pages of one fixed size let a cursor find its place
// again with one request in the common case.
const listPageSize = memory.MaxLimit

// listPage is the answer of POST /v3/documents/list.
type listPage struct {
	Memories   []document `json:"memories"`
	Pagination struct {
		TotalItems int `json:"totalItems"`
	} `json:"pagination"`
}

// listCursor is where a List page ended: the index the next memory had in
// the API's newest-first order, and the last memory returned.
type listCursor struct {
	Offset int    `json:"o"`
	Time   int64  `json:"t"` // CreatedAt, Unix nanoseconds
	ID     string `json:"i"`
}

func (c listCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeListCursor(s string) (*listCursor, error) {
	var c listCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Offset < 0 || !validID.MatchString(c.ID) {
		return nil, memory.ErrInvalidCursor
	}
	return &c, nil
}

// past reports whether d comes after the cursor's memory in newest-first
// order for certain: it is strictly older.
func (c *listCursor) past(d document) bool {
	t, err := time.Parse(time.RFC3339Nano, d.CreatedAt)
	return err == nil && t.UnixNano() < c.Time
}

// List implements memory.Backend with POST /v3/documents/list (the scope's
// container tag, newest first). The API pages by number; List emulates
// keyset paging on top: the cursor keeps the offset and the last memory,
// and the next call starts one memory before that offset and skips to the
// first memory past the last one. Memories added or deleted before the
// cursor in the meantime therefore neither repeat nor get skipped. (Two
// memories created in the same millisecond, of which the last returned
// was deleted, may be skipped: the API's order among equal times is not
// known.)
func (b *Backend) List(ctx context.Context, s memory.Scope, cursor string, limit int) ([]memory.Memory, string, error) {
	if err := s.Validate(); err != nil {
		return nil, "", err
	}
	limit = memory.ClampLimit(limit)
	var pos *listCursor
	if cursor != "" {
		var err error
		if pos, err = decodeListCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	tag := ContainerTag(s)
	fetch := func(page int) (listPage, error) {
		var p listPage
		_, err := b.call(ctx, s.User(), http.MethodPost, "/v3/documents/list", map[string]any{"containerTags": []string{tag},
			"limit": listPageSize, "page": page, "sort": "createdAt", "order": "desc", "includeContent": true}, &p)
		if err != nil {
			return p, fmt.Errorf("listing memories: %w", err)
		}
		return p, nil
	}
	page := 1
	if pos != nil {
		page = max(0, pos.Offset-1)/listPageSize + 1
	}
	p, err := fetch(page)
	// Memories deleted before the cursor move its place back: step back
	// until the page starts at or before it.
	for err == nil && pos != nil && page > 1 && (len(p.Memories) == 0 || pos.past(p.Memories[0])) {
		page--
		p, err = fetch(page)
	}
	if err != nil {
		return nil, "", err
	}
	var out []memory.Memory
	passed, last := pos == nil, 0
	for {
		for i, d := range p.Memories {
			if !passed {
				if d.ID == pos.ID {
					passed = true
					continue
				}
				if !pos.past(d) {
					continue
				}
				passed = true
			}
			if !d.owned(tag) {
				b.log.Warn("supermemory list returned a document of another container; dropped", "document", d.ID)
				continue
			}
			out = append(out, d.memory())
			last = (page-1)*listPageSize + i
			if len(out) == limit {
				if last+1 < p.Pagination.TotalItems {
					return out, listCursor{Offset: last + 1, Time: out[limit-1].CreatedAt.UnixNano(), ID: out[limit-1].ID}.encode(), nil
				}
				return out, "", nil
			}
		}
		if page*listPageSize >= p.Pagination.TotalItems || len(p.Memories) == 0 {
			return out, "", nil
		}
		page++
		if p, err = fetch(page); err != nil {
			return nil, "", err
		}
	}
}
