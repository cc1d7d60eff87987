package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
)

// The memory tools' names, as the seed (and clients written for it) call
// them.
const (
	SearchToolName      = "supermemoryToolSearch"
	GetDocumentToolName = "supermemoryToolGetDocument"
)

// MemoryTools returns supermemoryToolSearch and supermemoryToolGetDocument
// bound to one scope, the request's, fixed by the gateway and never taken
// from the model's arguments:
//
//   - supermemoryToolSearch {query (required), containerTag (optional)}
//     returns up to maxResults memories (clamped as memory.ClampLimit
//     does) as {"results":[{"id","content","created_at","score"}],
//     "count":n}. A containerTag other than the scope itself is an error
//     result, and the backend is not read.
//   - supermemoryToolGetDocument {id} (aliases document_id, doc_id)
//     returns {"id","content","created_at","metadata"}. An id of another
//     scope's memory is "not found", exactly as an id that never existed
//     (memory.Backend.Get guarantees it).
//
// Backend failures reach the model as "memory is unavailable"; their
// detail is kept for the log. Memory text is untrusted data: it goes to
// the model only as a tool result, never as instructions to the gateway.
func MemoryTools(b memory.Backend, scope memory.Scope, maxResults int) []Tool {
	m := &memoryTools{b: b, scope: scope, max: memory.ClampLimit(maxResults)}
	return []Tool{searchTool{m}, getDocumentTool{m}}
}

type memoryTools struct {
	b     memory.Backend
	scope memory.Scope
	max   int
}

type searchTool struct{ m *memoryTools }
type getDocumentTool struct{ m *memoryTools }

var (
	_ Tool = searchTool{}
	_ Tool = getDocumentTool{}
)

var searchDef = mustJSON(map[string]any{"type": "function", "function": map[string]any{
	"name": SearchToolName,
	"description": "Search the user's memory bank (notes and facts saved from earlier conversations " +
		"in this project) for information relevant to a query. Returns the best matching memories " +
		"with their ids; use supermemoryToolGetDocument to read one in full.",
	"parameters": map[string]any{
		"type": "object",
		"properties": map[string]any{
			"query": map[string]any{"type": "string", "description": "What to look for, in plain words."},
			"containerTag": map[string]any{"type": "string",
				"description": "Optional; leave it out. The memory bank is chosen by the gateway."},
		},
		"required": []string{"query"},
	},
}})

var getDocumentDef = mustJSON(map[string]any{"type": "function", "function": map[string]any{
	"name":        GetDocumentToolName,
	"description": "Retrieve one memory from the user's memory bank in full, by the id a search returned.",
	"parameters": map[string]any{
		"type": "object",
		"properties": map[string]any{
			"id": map[string]any{"type": "string", "description": "The memory's id, as returned by supermemoryToolSearch."},
		},
		"required": []string{"id"},
	},
}})

func (searchTool) Name() string                { return SearchToolName }
func (searchTool) Definition() json.RawMessage { return searchDef }

func (t searchTool) Call(ctx context.Context, args json.RawMessage) (string, error) {
	a, err := decodeArgs(args)
	if err != nil {
		return "", err
	}
	query, err := a.str("query")
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(query) == "" {
		return "", &failure{msg: "query is required", hint: "call it again with a non-empty query string"}
	}
	tag, err := a.str("containerTag")
	if err != nil {
		return "", err
	}
	if tag != "" && tag != string(t.m.scope) {
		return "", &failure{msg: "containerTag names a memory bank this conversation cannot read",
			hint: "call it again without containerTag: the gateway searches this conversation's memory"}
	}
	ms, err := t.m.b.Search(ctx, t.m.scope, query, t.m.max)
	if err != nil {
		return "", unavailable(ctx, err)
	}
	type hit struct {
		ID        string    `json:"id"`
		Content   string    `json:"content"`
		CreatedAt time.Time `json:"created_at,omitzero"`
		Score     float64   `json:"score"`
	}
	out := struct {
		Results []hit `json:"results"`
		Count   int   `json:"count"`
	}{Results: []hit{}}
	for _, m := range ms {
		out.Results = append(out.Results, hit{m.ID, m.Content, m.CreatedAt, m.Score})
	}
	out.Count = len(out.Results)
	return string(mustJSON(out)), nil
}

func (getDocumentTool) Name() string                { return GetDocumentToolName }
func (getDocumentTool) Definition() json.RawMessage { return getDocumentDef }

func (t getDocumentTool) Call(ctx context.Context, args json.RawMessage) (string, error) {
	a, err := decodeArgs(args)
	if err != nil {
		return "", err
	}
	var id string
	for _, k := range []string{"id", "document_id", "doc_id"} {
		if id, err = a.str(k); err != nil {
			return "", err
		}
		if id != "" {
			break
		}
	}
	if id == "" {
		return "", &failure{msg: "id is required", hint: "call it again with the id of a memory returned by " + SearchToolName}
	}
	m, err := t.m.b.Get(ctx, t.m.scope, id)
	if errors.Is(err, memory.ErrNotFound) {
		return "", &failure{msg: fmt.Sprintf("no memory with id %q", id),
			hint: "use an id returned by " + SearchToolName + " in this conversation", cause: err}
	}
	if err != nil {
		return "", unavailable(ctx, err)
	}
	meta := maps.Clone(m.Metadata)
	maps.DeleteFunc(meta, func(k, _ string) bool { return strings.HasPrefix(k, memory.ReservedMetaPrefix) })
	return string(mustJSON(struct {
		ID        string            `json:"id"`
		Content   string            `json:"content"`
		CreatedAt time.Time         `json:"created_at,omitzero"`
		Metadata  map[string]string `json:"metadata,omitempty"`
	}{m.ID, m.Content, m.CreatedAt, meta})), nil
}

// unavailable is a backend failure as the model sees it.
func unavailable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err // the loop reports its own timeout or cancellation
	}
	return &failure{msg: "memory is unavailable right now",
		hint: "call it again once; if it fails again, answer without memory", cause: err}
}

// toolArgs is a call's arguments object.
type toolArgs map[string]json.RawMessage

func decodeArgs(args json.RawMessage) (toolArgs, error) {
	var a toolArgs
	if err := json.Unmarshal(args, &a); err != nil || a == nil {
		return nil, &failure{msg: "the arguments are not a JSON object",
			hint: "call it again with arguments that are one JSON object matching the tool's parameters", cause: err}
	}
	return a, nil
}

// str returns the string argument k, "" when absent or null.
func (a toolArgs) str(k string) (string, error) {
	raw, ok := a[k]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &failure{msg: k + " must be a string", hint: "call it again with " + k + " as a JSON string"}
	}
	return s, nil
}
