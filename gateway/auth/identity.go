// Package auth establishes who sent a request: it checks keys (stored and
// compared as SHA-256 digests) and builds the request's Identity, either from
// the tunnel's typed tags or from plain-HTTP headers.
package auth

import "context"

// Ingress names how a request reached the gateway.
const (
	IngressHTTP   = "http"
	IngressTunnel = "tunnel"
)

// Identity is who a request is for. It is built once per request by the
// gateway and read by everything after it; no part of the pipeline takes a
// user or project from anywhere else.
type Identity struct {
	User          string
	Project       string
	Client        string
	ClientPattern string
	// UserRule says how User was decided (e.g. "edge", "header:x-memory-user-id",
	// "pattern:^OpenAIClientImpl/Java", "default").
	UserRule  string
	Hostname  string
	EdgeID    string
	GitRemote string
	GitBranch string
	Ingress   string
	// Admin is true for the master key.
	Admin bool
	// Key is what the request's credential grants: the gateway checks the
	// project (Key.AllowsProject) and the model (Key.AllowsModel) against it.
	Key Principal
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity stored by WithIdentity, if any.
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(*Identity)
	return id, ok
}
