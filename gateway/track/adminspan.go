package track

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/memproxy/memproxy/internal/telemetry"
)

// AdminSpans gives the routes that do not go through a Tracker — the usage,
// memory, model-list, routing-info, metrics and MCP APIs — a server span
// each, named by the route's template ("GET /v1/memory/{id}") so that no
// id or query reaches the trace. They get no usage row: the usage log is
// the record of model traffic that teams bill from, and a dashboard
// polling it would otherwise fill it (docs/deployment.md).
func AdminSpans(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !telemetry.Recording() || tracked(r) {
			next.ServeHTTP(w, r)
			return
		}
		tpl, _ := mux.CurrentRoute(r).GetPathTemplate()
		if tpl == "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx, span := startRequestSpan(r, tpl, "")
		sw := &trackingWriter{ResponseWriter: w, st: &State{}}
		next.ServeHTTP(sw, r.WithContext(ctx))
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	})
}

// tracked reports whether track handles the request (and its span).
func tracked(r *http.Request) bool {
	route := mux.CurrentRoute(r)
	return route != nil && strings.HasPrefix(route.GetName(), TrackedRoute+" ")
}

// TrackedRoute prefixes the names of the routes a Tracker wraps
// ("tracked /v1/chat/completions"); AdminSpans leaves them alone.
const TrackedRoute = "tracked"
