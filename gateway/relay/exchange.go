package relay

import (
	"net/http"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/cache"
	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/track"
)

// exchange is one completion request as the pipeline sees it: who speaks
// what, and what the client asked for.
type exchange struct {
	client dialect.Client
	dep    *provider.Deployment
	peek   *dialect.Peek
	model  string // the model the client asked for
	stream bool
	// hideUsage: the gateway asked an OpenAI stream for its usage chunk on
	// its own account and hides it.
	hideUsage bool
	// For memory write-back: the scope retrieval used, the user's turn,
	// and what the usage row knows of the request.
	scope      memory.Scope
	userText   string
	session    string // the client's coding-session id, "" when none
	user       string // the identity's user and project (the usage row's)
	project    string
	turnIndex  int    // the turn's human message: its index in the conversation
	turn       string // the agent turn's key (turnKey)
	requestID  string
	clientName string
	// promptEstimate (the body's bytes / 4) and delivered (deltas sent to
	// the client) stand in for the usage of a stream that did not complete.
	promptEstimate, delivered int64
	// cacheKey is set when the answer may be stored in the response cache.
	cacheKey *cache.Key
}

// wire is the dialect spoken with deployment d: the deployment's, except
// that a Responses client reaches a deployment serving the Responses API
// natively in that API.
func (x *exchange) wire(d *provider.Deployment) dialect.Wire {
	if x.client.Name() == dialect.Responses && d.Responses {
		w, _ := dialect.WireOf(dialect.Responses)
		return w
	}
	if w, ok := dialect.WireOf(d.Dialect); ok {
		return w
	}
	return dialect.Hub()
}

func (x *exchange) route(d *provider.Deployment) dialect.Route {
	return dialect.Route{Client: x.client, Wire: x.wire(d)}
}

// Completions serves the completion endpoint of a client dialect.
func (s *Pipeline) Completions(client dialect.Client) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		dep, body, peek, ok := s.routeBody(w, r, client)
		if !ok {
			return
		}
		st := track.From(r.Context())
		x := &exchange{client: client, dep: dep, peek: peek, model: peek.Model, stream: peek.Stream,
			requestID: st.Rec.RequestID, clientName: st.Rec.Client, promptEstimate: int64(len(body) / 4)}
		release, ok := s.admit(w, r, len(body)/4)
		if !ok {
			return
		}
		defer release()
		if k, ok := s.cacheKey(r, x, body); ok {
			if s.serveCached(w, r, x, k) {
				return
			}
			key := k // a copy of its own: &k would put every request's k on the heap
			x.cacheKey = &key
		}
		body, st.Mem = s.recall(w, r, x, body)
		if s.toolsOn(x) {
			s.toolLoop(w, r, x, body)
			return
		}
		s.relay(w, r, x, func(x *exchange) (*provider.Request, *apiError) {
			wire := x.wire(x.dep)
			up, hide, aerr := x.route(x.dep).Request(body, x.model, x.dep.UpstreamModel, x.stream)
			if aerr != nil {
				return nil, aerr
			}
			x.hideUsage = hide
			return &provider.Request{Op: wire.Op(), Body: up, Stream: x.stream, Header: s.upstreamHeaders(r, x)}, nil
		})
	}
}

// upstreamHeaders are the request headers a deployment sees besides its
// own credentials: the client's Anthropic headers for Anthropic, and for
// the Supermemory router the memory scope as x-sm-user-id (the scope
// retrieval used, or the default user_project one).
func (s *Pipeline) upstreamHeaders(r *http.Request, x *exchange) http.Header {
	h := passHeaders(r, x.dep)
	if !x.dep.Supermemory {
		return h
	}
	sc := x.scope
	if sc == "" {
		id, _ := auth.FromContext(r.Context())
		sc = scopeFor(id, "user_project")
	}
	if sc != "" {
		if h == nil {
			h = http.Header{}
		}
		h.Set("X-Sm-User-Id", string(sc))
	}
	return h
}

// passHeaders are the client headers a deployment of the same family may
// see: Anthropic's version and beta flags reach Anthropic unchanged.
func passHeaders(r *http.Request, dep *provider.Deployment) http.Header {
	if dep.Dialect != dialect.Anthropic {
		return nil
	}
	h := http.Header{}
	for _, k := range []string{"Anthropic-Version", "Anthropic-Beta"} {
		if v := r.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	return h
}
