package track

import (
	"sync"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/redact"
)

// Receipt is what memory retrieval did for one request.
type Receipt struct {
	Status string
	Scope  memory.Scope
	IDs    []string
	Scores []float64
	MS     float64
	// Query is the text retrieval searched with; Reused marks memories
	// reused from the turn's first call.
	Query  string
	Reused bool
}

// Receipts keeps, per request, what retrieval searched with and how each
// memory scored, for GET /v1/memory/why (a usage row has the ids only).
// It is per process and bounded: a request served by another replica, or
// before a restart, is explained without them.
type Receipts struct {
	mu sync.Mutex
	m  map[string]Receipt
}

const maxWhys = 4096

func (c *Receipts) put(requestID string, rc Receipt) {
	if rc.Query == "" {
		return
	}
	rc.Query = clipQuery(redact.String(rc.Query))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxWhys {
		c.m = map[string]Receipt{}
	}
	c.m[requestID] = rc
}

// Get is the receipt of the request, if this process still has it.
func (c *Receipts) Get(requestID string) (Receipt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc, ok := c.m[requestID]
	return rc, ok
}

// clipQuery keeps the first 1000 bytes of a query (whole characters).
func clipQuery(q string) string {
	if len(q) <= 1000 {
		return q
	}
	return memory.Truncate(q, 1000) + "…"
}

// Memory statuses recorded in the usage row.
const (
	MemOff      = "off"          // memory disabled for this model or gateway
	MemOptedOut = "opted_out"    // x-memory-disable: 1
	MemNoScope  = "no_scope"     // the identity lacks what the policy needs
	MemSide     = "side_request" // a title, probe, compaction… the client makes on its own
	MemNoQuery  = "no_query"     // nothing to search with
	MemEmpty    = "empty"        // searched, nothing relevant
	MemInjected = "injected"     // memories added to the prompt
	MemNoPlace  = "no_place"     // nowhere to put them (e.g. a tool-result turn)
	MemTimeout  = "timeout"      // retrieval ran past its budget
	MemError    = "error"        // the backend failed
)

// MemLexicalOnly is the memory status of a hybrid search whose query
// embedding failed or came too late: the lexical results (maybe none)
// were used.
const MemLexicalOnly = "lexical_only"
