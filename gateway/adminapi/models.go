package adminapi

import (
	"net/http"
	"time"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/track"
)

// startedAt stands in for a model's creation time in /v1/models, which
// OpenAI's format requires and a gateway alias does not have.
var startedAt = time.Now().Unix()

// listModels serves GET /v1/models in OpenAI's list format, or Anthropic's
// when the request carries anthropic-version.
func (s *API) listModels(w http.ResponseWriter, r *http.Request) {
	names := s.visibleModels(r)
	if r.Header.Get("Anthropic-Version") != "" {
		s.anthropicModels(w, names)
		return
	}
	list := openai.ModelList{Object: "list", Data: make([]openai.Model, 0, len(names))}
	for _, name := range names {
		d, _ := s.Models.Lookup(name)
		list.Data = append(list.Data, openai.Model{ID: name, Object: "model", Created: startedAt, OwnedBy: d.ProviderName})
	}
	track.WriteJSON(w, http.StatusOK, list)
}

// visibleModels are the model names the caller's key may use: all of them,
// unless the key carries a model allow list.
func (s *API) visibleModels(r *http.Request) []string {
	all := s.Models.Names()
	id, ok := auth.FromContext(r.Context())
	if !ok || len(id.Key.Models) == 0 {
		return all
	}
	out := make([]string, 0, len(all))
	for _, n := range all {
		if id.Key.AllowsModel(n) {
			out = append(out, n)
		}
	}
	return out
}

// anthropicModels renders /v1/models in Anthropic's list format, for
// clients that send anthropic-version.
func (s *API) anthropicModels(w http.ResponseWriter, names []string) {
	type model struct {
		Type        string `json:"type"`
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
		CreatedAt   string `json:"created_at"`
	}
	data := make([]model, 0, len(names))
	created := time.Unix(startedAt, 0).UTC().Format(time.RFC3339)
	for _, n := range names {
		data = append(data, model{Type: "model", ID: n, DisplayName: n, CreatedAt: created})
	}
	out := map[string]any{"data": data, "has_more": false, "first_id": nil, "last_id": nil}
	if len(names) > 0 {
		out["first_id"], out["last_id"] = names[0], names[len(names)-1]
	}
	track.WriteJSON(w, http.StatusOK, out)
}
