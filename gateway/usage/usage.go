// Package usage carries one row per request from the request path to
// storage: the Record, a bounded queue that batches writes off the request
// path, and the Sink and Reader interfaces a store implements.
package usage

import (
	"context"
	"time"
)

// Record is one request's accounting row. Every request that reached the
// gateway, successful or not, produces exactly one.
type Record struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	User      string    `json:"user"`
	Project   string    `json:"project"`
	Client    string    `json:"client"`
	Hostname  string    `json:"hostname,omitempty"`
	EdgeID    string    `json:"edge_id,omitempty"`
	Ingress   string    `json:"ingress"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	// Model is the name the client asked for; UpstreamModel what the
	// provider was sent.
	Model            string `json:"model"`
	UpstreamModel    string `json:"upstream_model,omitempty"`
	Provider         string `json:"provider,omitempty"`
	Stream           bool   `json:"stream"`
	Status           int    `json:"status"`
	ErrorType        string `json:"error_type,omitempty"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	// CachedTokens and CacheWriteTokens are the parts of PromptTokens read
	// from and written to the provider's prompt cache; ReasoningTokens is
	// the part of CompletionTokens spent thinking.
	CachedTokens     int64   `json:"cached_tokens"`
	CacheWriteTokens int64   `json:"cache_write_tokens"`
	ReasoningTokens  int64   `json:"reasoning_tokens"`
	LatencyMS        float64 `json:"latency_ms"`
	TTFBMS           float64 `json:"ttfb_ms"`
	// Cost is what the request cost in US dollars at the gateway's prices;
	// nil (JSON null) when it is not known, which is not the same as 0.
	Cost *float64 `json:"cost"`
	// Unpriced marks a request for a model the gateway has no price for:
	// Cost is then nil. A nil Cost without Unpriced is a request that
	// reached no model (rejected before routing).
	Unpriced bool `json:"unpriced,omitempty"`
	// SessionID is the client's coding-session id (Claude Code, Codex),
	// "" when the client sent none.
	SessionID string `json:"session_id,omitempty"`
	// What memory did for the request: a status (injected, empty,
	// timeout, error, off, …), how many memories were injected, their ids
	// (comma-separated) and the retrieval time.
	MemoryStatus string  `json:"memory_status,omitempty"`
	MemoryCount  int     `json:"memories"`
	MemoryIDs    string  `json:"memory_ids,omitempty"`
	MemoryMS     float64 `json:"memory_ms"`
	// ToolRounds counts the gateway-run tool rounds; ToolsCalled names the
	// tools run (comma-separated, in order).
	ToolRounds  int    `json:"tool_rounds"`
	ToolsCalled string `json:"tools_called,omitempty"`
	// Purpose names a call the gateway made on its own account
	// ("memory_extraction", "memory_embedding"), "" for a client's request;
	// ParentRequestID is then the request it served.
	Purpose         string `json:"purpose,omitempty"`
	ParentRequestID string `json:"parent_request_id,omitempty"`
	// CacheHit marks an answer served from the response cache (cost 0).
	CacheHit bool `json:"cache_hit,omitempty"`
}

// Sink stores records. WriteUsage must be idempotent on RequestID: writing a
// record whose RequestID is already stored changes nothing. It must not keep
// recs after it returns: the caller reuses the slice.
type Sink interface {
	WriteUsage(ctx context.Context, recs []Record) error
}

// Filter selects records. Zero fields match everything; Limit 0 means the
// reader's default.
type Filter struct {
	User, Project, Client, Model string
	// Session matches Record.SessionID; RequestID one request.
	Session      string
	RequestID    string
	Since, Until time.Time
	Limit        int
}

// Reader queries stored records, newest first.
type Reader interface {
	QueryUsage(ctx context.Context, f Filter) ([]Record, error)
}

// SetCost records the outcome of a price lookup, as pricing.Table.Cost
// returns it: the cost when ok, otherwise no cost and Unpriced.
func (r *Record) SetCost(cost float64, ok bool) {
	if !ok {
		r.Cost, r.Unpriced = nil, true
		return
	}
	r.Cost, r.Unpriced = &cost, false
}
