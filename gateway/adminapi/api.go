// Package adminapi serves the gateway's HTTP APIs around the model
// traffic: the usage log (/v1/usage), the caller's memories (/v1/memory,
// and the memory MCP server at /mcp), the model list and the routing
// information. Each route is authenticated by the wiring's middleware and
// answers errors in the caller's dialect (gateway/track); the routes get a
// span each (track.AdminSpans) and no usage row. It does not depend on the
// request pipeline (gateway/relay): what it shows of a request comes from
// the usage log and the memory receipts the Tracker keeps.
package adminapi

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/memproxy/memproxy/gateway/mcp"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/track"
)

// Deps are what the APIs read and change; the gateway's wiring builds them.
type Deps struct {
	DB       store.DB
	Memory   *memory.Options // nil or disabled: the memory APIs answer 404
	Receipts *track.Receipts
	Models   *provider.Table
	Log      *slog.Logger
	// MasterKey derives the key that signs MCP session ids.
	MasterKey string
	// MCPMaxResults bounds memory_search of the MCP server (0: its default);
	// MCPEnded shares ended MCP sessions between replicas (nil: per process).
	MCPMaxResults int
	MCPEnded      mcp.EndedSessions
	// Authenticate establishes the caller's identity, or answers itself.
	Authenticate func(http.Handler) http.Handler
}

// API serves the admin routes.
type API struct {
	Deps
	mcpMem *mcp.MemoryHandler
}

// New returns the APIs over d.
func New(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &API{Deps: d}
}

// Routes registers the routes on r.
func (s *API) Routes(r *mux.Router) {
	auth := func(h http.HandlerFunc) http.Handler { return s.Authenticate(h) }
	for _, p := range []string{"/v1/models", "/models"} {
		r.Handle(p, auth(s.listModels)).Methods(http.MethodGet)
	}
	r.Handle("/v1/usage", auth(s.queryUsage)).Methods(http.MethodGet)
	r.Handle("/v1/usage/summary", auth(s.usageSummary)).Methods(http.MethodGet)
	r.Handle("/memory-routing/info", auth(s.routingInfo)).Methods(http.MethodGet)
	s.memoryRoutes(r)
	r.Handle("/mcp", s.mcpRoute()).Methods(http.MethodGet, http.MethodPost, http.MethodDelete)
}

// ShutdownMCP ends the memory MCP server's held-open streams (at drain).
func (s *API) ShutdownMCP() {
	if s.mcpMem != nil {
		s.mcpMem.Shutdown()
	}
}
