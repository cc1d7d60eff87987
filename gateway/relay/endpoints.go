package relay

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/track"
)

// OpenAIOnly serves an OpenAI endpoint that has no counterpart in other
// dialects (embeddings, legacy completions): it passes the body to an
// OpenAI-dialect deployment unchanged but for the model.
func (s *Pipeline) OpenAIOnly(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		dep, body, head, ok := s.routeBody(w, r, dialect.ForPath(r.URL.Path))
		if !ok {
			return
		}
		if dep.Dialect != dialect.OpenAI {
			writeError(w, r, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "unsupported_operation",
				fmt.Sprintf("model %s is served by a %s deployment, which has no /%s endpoint", head.Model, dep.Dialect, op)))
			return
		}
		x := &exchange{client: dialect.ForPath(r.URL.Path), dep: dep, peek: head, model: head.Model, stream: head.Stream}
		s.relay(w, r, x, func(x *exchange) (*provider.Request, *apiError) {
			if x.dep.Dialect != dialect.OpenAI {
				return nil, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "unsupported_operation",
					fmt.Sprintf("model %s is served by a %s deployment, which has no /%s endpoint", head.Model, x.dep.Dialect, op))
			}
			up := body
			if head.Model != x.dep.UpstreamModel {
				up = dialect.SetModel(up, x.dep.UpstreamModel)
			}
			if head.Stream {
				up, x.hideUsage = dialect.EnsureIncludeUsage(up)
			}
			return &provider.Request{Op: op, Body: up, Stream: head.Stream}, nil
		})
	}
}

// routeBody reads and checks a body and finds its deployment, answering
// the client itself when any of that fails.
func (s *Pipeline) routeBody(w http.ResponseWriter, r *http.Request, client dialect.Client) (*provider.Deployment, []byte, *dialect.Peek, bool) {
	st := track.From(r.Context())
	body, aerr := readBody(w, r, s.MaxBody)
	if aerr != nil {
		writeError(w, r, aerr)
		return nil, nil, nil, false
	}
	head, aerr := client.Peek(body)
	if head != nil {
		st.Rec.Model, st.Rec.Stream = head.Model, head.Stream
	}
	st.Rec.SessionID = sessionID(r.Header, body)
	if aerr != nil {
		writeError(w, r, aerr)
		return nil, nil, head, false
	}
	// A key's model allow list is checked before the lookup, so that it
	// cannot tell which other models exist.
	if id, _ := auth.FromContext(r.Context()); id == nil || !id.Key.AllowsModel(head.Model) {
		writeError(w, r, newAPIError(http.StatusForbidden, llm.ErrPermission, "model_not_allowed",
			fmt.Sprintf("This API key may not use the model `%s`.", head.Model)))
		return nil, nil, head, false
	}
	dep, ok := s.Models.Lookup(head.Model)
	if !ok {
		writeError(w, r, newAPIError(http.StatusNotFound, llm.ErrNotFound, "model_not_found",
			fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", head.Model)))
		return nil, nil, head, false
	}
	st.Rec.Provider, st.Rec.UpstreamModel, st.Routed = dep.ProviderName, dep.UpstreamModel, true
	return dep, body, head, true
}

// CountTokens serves POST /v1/messages/count_tokens: exact from an
// Anthropic deployment, otherwise estimated (about four bytes of text a
// token) and marked so with the X-Memproxy-Token-Count: estimated header.
func (s *Pipeline) CountTokens(w http.ResponseWriter, r *http.Request) {
	dep, body, head, ok := s.routeBody(w, r, dialect.ForPath(r.URL.Path))
	if !ok {
		return
	}
	if dep.Dialect == dialect.Anthropic {
		x := &exchange{client: dialect.ForPath(r.URL.Path), dep: dep, peek: head, model: head.Model}
		s.relay(w, r, x, func(x *exchange) (*provider.Request, *apiError) {
			up := body
			if head.Model != x.dep.UpstreamModel {
				up = dialect.SetModel(up, x.dep.UpstreamModel)
			}
			return &provider.Request{Op: provider.OpCountTokens, Body: up, Header: passHeaders(r, x.dep)}, nil
		})
		return
	}
	var req struct {
		System   json.RawMessage `json:"system"`
		Messages json.RawMessage `json:"messages"`
		Tools    json.RawMessage `json:"tools"`
	}
	_ = json.Unmarshal(body, &req) // parseChat checked the JSON
	n := (len(req.System) + len(req.Messages) + len(req.Tools) + 3) / 4
	w.Header().Set("X-Memproxy-Token-Count", "estimated")
	track.WriteJSON(w, http.StatusOK, map[string]int{"input_tokens": n})
}
