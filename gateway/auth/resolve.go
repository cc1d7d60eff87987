package auth

import (
	"net/http"
	"regexp"
)

// HeaderRule maps requests whose Header matches Pattern to UserID (the
// seed's user_id_mappings.header_patterns).
type HeaderRule struct {
	Header  string
	Pattern *regexp.Regexp
	UserID  string
}

// Resolver builds the Identity of a plain-HTTP request.
type Resolver struct {
	// CustomHeader names the header that sets the user explicitly
	// (default x-memory-user-id).
	CustomHeader string
	// ProjectHeader names the header that sets the project
	// (default x-memory-project).
	ProjectHeader string
	Rules         []HeaderRule
	DefaultUser   string
	// DetectClient names the client from the request's headers, returning
	// the client and the pattern that matched. Nil leaves Client empty.
	DetectClient func(get func(string) string) (client, pattern string)
}

// Resolve returns the identity of an HTTP request made with principal p.
// A non-admin principal is always its own user, whatever headers say; for
// the master key the seed's order applies: explicit header, header
// patterns, default user. The project is the project header's, or, for a
// key restricted to a project, that project when the header is absent
// (whether a named project is allowed is the caller's check, see
// Principal.AllowsProject).
func (r *Resolver) Resolve(h http.Header, p Principal) *Identity {
	id := &Identity{Ingress: IngressHTTP, Admin: p.Admin, Key: p}
	id.Project = DefaultProject(h.Get(or(r.ProjectHeader, "X-Memory-Project")), p)
	if r.DetectClient != nil {
		id.Client, id.ClientPattern = r.DetectClient(h.Get)
	}
	if !p.Admin {
		id.User, id.UserRule = p.User, "key"
		return id
	}
	custom := or(r.CustomHeader, "X-Memory-User-Id")
	if u := h.Get(custom); u != "" {
		id.User, id.UserRule = u, "header:"+custom
		return id
	}
	for _, rule := range r.Rules {
		if rule.Pattern.MatchString(h.Get(rule.Header)) {
			id.User, id.UserRule = rule.UserID, "pattern:"+rule.Pattern.String()
			return id
		}
	}
	id.User, id.UserRule = or(r.DefaultUser, "default-dev"), "default"
	return id
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// DefaultProject is the project of a request that named project (perhaps
// "") with a key granting p: a key restricted to a project acts for it
// when the request names none.
func DefaultProject(project string, p Principal) string {
	if project == "" && !p.Admin {
		return p.Project
	}
	return project
}
