package adminapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/mcp"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/internal/version"
)

// The memory MCP server, at /mcp (streamable HTTP): memory_search,
// memory_add, memory_get and memory_delete in the caller's own scope,
// derived from its identity exactly as the memory API derives it. It is
// authenticated like every API route — a key over plain HTTP, the edge's
// identity through an edge port — so through an edge
//
//	claude mcp add --transport http memory http://127.0.0.1:PORT/mcp
//
// needs no key. A session belongs to the caller that opened it: a request
// naming it from another identity (user, project or key) is refused. Its
// id is signed with a key derived from the master key, so any replica
// serves it (see mcp.MemoryOptions.SessionKey).

// mcpRoute builds the /mcp handler (once, from routes) and keeps the
// memory handler for drain to shut down (ShutdownMCP).
func (s *API) mcpRoute() http.Handler {
	var b memory.Backend
	if m := s.Memory; m != nil {
		b = m.Backend
	}
	mo := mcp.MemoryOptions{Backend: b, MaxResults: s.MCPMaxResults, Logger: s.Log, Version: version.Version,
		SessionKey: mcpSessionKey(s.MasterKey), Ended: s.MCPEnded}
	s.mcpMem = mcp.NewMemoryHandler(mo)
	return s.Authenticate(http.HandlerFunc(s.serveMCP))
}

// serveMCP hands an authenticated request to the memory MCP server with
// its caller: the scope (or the memory API's answer when there is none)
// and the identity that binds its session.
func (s *API) serveMCP(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.memoryScope(w, r)
	if !ok {
		return
	}
	id, _ := auth.FromContext(r.Context())
	c := mcp.Caller{ID: mcpCallerID(id, sc), Scope: sc, Client: id.Client}
	s.mcpMem.ServeHTTP(w, r.WithContext(mcp.WithCaller(r.Context(), c)))
}

// mcpSessionKey derives the key that signs MCP session ids from the
// master key, which every replica of a deployment shares: a session opened
// on one replica is served by the others. Without a master key the
// handler takes a random key (sessions stay on their replica).
func mcpSessionKey(master string) []byte {
	if master == "" {
		return nil
	}
	k := sha256.Sum256([]byte("memproxy mcp session ids v1\x00" + master))
	return k[:]
}

// mcpCallerID names an identity for session binding: its user, project,
// key id, admin flag and scope, hashed (no credential is part of it).
func mcpCallerID(id *auth.Identity, sc memory.Scope) string {
	h := sha256.New()
	for _, p := range []string{id.User, id.Project, id.Key.KeyID, strconv.FormatBool(id.Admin), string(sc)} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
