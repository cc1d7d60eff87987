package relay

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/memproxy/memproxy/internal/telemetry"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/cache"
	"github.com/memproxy/memproxy/gateway/track"
)

// The response cache is exact-match and opt-in: litellm_settings.cache
// turns it on for every request, the X-Memproxy-Cache: on header for one
// (and off skips it). Its key holds the memory scope, so one scope never
// sees another's answer; the body is normalised first (key order and the
// fields that do not change the answer ignored).

const headerCache = "X-Memproxy-Cache"

// cacheKey returns the key of a cacheable request, computed on the body
// as the client sent it (before memories are injected).
func (s *Pipeline) cacheKey(r *http.Request, x *exchange, body []byte) (cache.Key, bool) {
	switch strings.ToLower(r.Header.Get(headerCache)) {
	case "off", "no", "false", "0":
		return cache.Key{}, false
	case "on", "yes", "true", "1":
	default:
		if !s.Config.Cache.Enabled {
			return cache.Key{}, false
		}
	}
	norm, err := cache.Normalize(body)
	if err != nil {
		return cache.Key{}, false
	}
	id, _ := auth.FromContext(r.Context())
	return cache.KeyOf(string(scopeFor(id, "user_project"))+"\x00"+id.User+"\x00"+id.Project, x.model, x.client.Name(), norm), true
}

// serveCached answers from the cache when it holds the request's answer
// (a stream is replayed as a stream, event by event) and reports whether
// it did.
func (s *Pipeline) serveCached(w http.ResponseWriter, r *http.Request, x *exchange, k cache.Key) bool {
	ctx, end := telemetry.Span(r.Context(), "cache.lookup")
	e, ok, err := s.Cache.Get(ctx, k)
	end(err)
	if err != nil || !ok || (x.stream && len(e.Stream) == 0) || (!x.stream && len(e.Body) == 0) {
		return false
	}
	st := track.From(r.Context())
	zero := 0.0
	st.Rec.CacheHit, st.Rec.Cost, st.Routed = true, &zero, false
	w.Header().Set(headerCache, "hit")
	w.Header().Set("Age", strconv.Itoa(int(time.Since(e.CreatedAt).Seconds())))
	if x.stream {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(e.Status)
		_ = cache.WriteStream(w, e.Stream)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.Body)
	return true
}

// remember stores a complete answer under the exchange's cache key, off
// the request path.
func (s *Pipeline) remember(x *exchange, body, stream []byte) {
	if x.cacheKey == nil {
		return
	}
	e := cache.Entry{Status: http.StatusOK, Header: http.Header{}, Body: bytes.Clone(body), Stream: bytes.Clone(stream), CreatedAt: time.Now()}
	k, ttl := *x.cacheKey, time.Duration(s.Config.Cache.Params.TTL*float64(time.Second))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Cache.Set(ctx, k, e, ttl); err != nil {
			s.Log.Warn("response cache write failed", "err", err)
		}
	}()
}

// capped keeps at most cache.MaxEntryBytes of a stream; past that the
// answer is not cached.
type capped struct {
	b    bytes.Buffer
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if !c.over && c.b.Len()+len(p) <= cache.MaxEntryBytes {
		c.b.Write(p)
	} else {
		c.over = true
	}
	return len(p), nil
}
