package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/inject"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/extract"
	"github.com/memproxy/memproxy/gateway/memory/writeback"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/redact"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/gateway/usage"
)

// StoreMemory is the write-back queue's handler: it stores one finished
// turn. With an extraction model it stores the turn's facts, superseding
// the stale ones; without one, or when extraction fails or its budget is
// spent (nothing is lost: the turn then goes the rules way), it stores
// the turn's text (rules mode), a near duplicate of an existing memory
// superseding it. A job run again after a crash stores nothing twice:
// identical content is stored once and a restatement supersedes.
func (s *Pipeline) StoreMemory(ctx context.Context, job writeback.Job) error {
	b := s.Memory.Backend
	sc := memory.Scope(job.Scope)
	ctx = withParentRequest(ctx, job.RequestID) // for the usage rows of its embeddings and extraction
	turn, _ := strconv.Atoi(job.Meta["turn_index"])
	src := memory.Source{Client: job.Client, RequestID: job.RequestID, Session: job.Session, Turn: turn}
	lc, lcErr := memory.LifecycleOf(b)
	if s.Extractor != nil && lcErr == nil && s.distil(ctx, lc, job, src) {
		return nil
	}
	content := memoryText(s.Memory.WriteBack, job)
	if content == "" {
		return nil
	}
	meta := map[string]string{"source": "exchange", "request_id": job.RequestID, "client": job.Client, "model": job.Model}
	var err error
	if lcErr != nil { // a backend without history (Supermemory)
		_, _, err = b.Add(ctx, sc, content, meta)
		return permanent(err)
	}
	o := memory.AddOptions{Metadata: meta, Source: src}
	if old, dup, serr := memory.NearestDuplicate(ctx, b, sc, content); serr == nil && dup {
		_, err = lc.Supersede(ctx, sc, old.ID, content, o)
		if !errors.Is(err, memory.ErrNotFound) && !errors.Is(err, memory.ErrSuperseded) {
			return permanent(err)
		}
	}
	_, _, err = lc.AddWith(ctx, sc, content, o)
	return permanent(err)
}

// permanent marks the errors no retry can fix.
func permanent(err error) error {
	if errors.Is(err, memory.ErrInvalidContent) || errors.Is(err, memory.ErrInvalidMetadata) || errors.Is(err, memory.ErrInvalidScope) {
		return writeback.Permanent(err)
	}
	return err
}

// distil stores a turn's facts through the extraction model and reports
// whether it did; on false the caller stores the turn by rules.
func (s *Pipeline) distil(ctx context.Context, lc memory.Lifecycle, job writeback.Job, src memory.Source) bool {
	clean := func(t string) string { return strings.TrimSpace(redact.String(inject.Strip(t))) }
	t := extract.Turn{Scope: memory.Scope(job.Scope), User: clean(job.User), Answer: clean(job.Answer),
		Client: src.Client, Session: src.Session, Turn: src.Turn, RequestID: job.RequestID}
	if t.User == "" {
		return true // nothing the person said: nothing to store either way
	}
	ctx = withJob(ctx, job)
	res, err := s.Extractor.Distil(ctx, s.Memory.Backend, t)
	if err != nil {
		s.Log.Warn("memory extraction failed; the turn is stored as it was said", "request_id", job.RequestID, "err", err)
		return false
	}
	if _, err := extract.Apply(ctx, lc, res); err != nil {
		// Some facts were written: storing the turn again would repeat them.
		s.Log.Warn("memory extraction: some facts were not stored", "request_id", job.RequestID, "err", err)
	}
	return true
}

type jobKey struct{}

func withJob(ctx context.Context, j writeback.Job) context.Context {
	return context.WithValue(ctx, jobKey{}, j)
}

// ExtractionCall is the extractor's way to its model: one non-streaming
// chat request through the router (retries, fallbacks), translated to the
// deployment's dialect; every call is a usage row of its own, with
// purpose memory_extraction and the turn's request as its parent.
func (s *Pipeline) ExtractionCall(ctx context.Context, model string, chat []byte) ([]byte, llm.Usage, error) {
	job, _ := ctx.Value(jobKey{}).(writeback.Job)
	start := time.Now()
	rec := usage.Record{Time: start.UTC(), RequestID: track.NewRequestID(), Method: http.MethodPost, Path: "/v1/chat/completions",
		Model: model, Status: http.StatusOK, Purpose: "memory_extraction", ParentRequestID: job.RequestID,
		User: job.Meta["user"], Project: job.Meta["project"], Client: job.Client, Ingress: "internal"}
	answer, u, err := s.internalChat(ctx, model, chat, &rec)
	rec.LatencyMS = ms(time.Since(start))
	rec.PromptTokens, rec.CompletionTokens, rec.CachedTokens = u.PromptTokens, u.CompletionTokens, u.CachedTokens
	if err != nil {
		rec.Status, rec.ErrorType = http.StatusBadGateway, "upstream_error"
	}
	if rec.Provider != "" {
		rec.SetCost(s.Prices.Cost(rec.Model, rec.Provider, rec.UpstreamModel, u))
	}
	s.Usage.Enqueue(rec)
	return answer, u, err
}

// internalChat sends a hub (OpenAI chat) request to model through the
// router and returns the hub answer and its usage.
func (s *Pipeline) internalChat(ctx context.Context, model string, chat []byte, rec *usage.Record) ([]byte, llm.Usage, error) {
	var buildErr error
	resp, dep, _, err := s.Router.Call(ctx, model, func(actx context.Context, d *provider.Deployment) (*provider.Response, error) {
		wire := loopWire(d)
		up, err := wire.Encode(chat, d.UpstreamModel)
		if err != nil {
			buildErr = err
			return nil, provider.ErrUnsupported
		}
		return attempt(actx, d, &provider.Request{Op: wire.Op(), Body: up})
	})
	if buildErr != nil {
		return nil, llm.Usage{}, buildErr
	}
	if err != nil {
		return nil, llm.Usage{}, err
	}
	defer resp.Body.Close()
	rec.Provider, rec.UpstreamModel = dep.ProviderName, dep.UpstreamModel
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamJSON))
	if err != nil {
		return nil, llm.Usage{}, err
	}
	wire := loopWire(dep)
	if resp.Status >= 400 {
		msg, _ := wire.ParseError(b)
		return nil, llm.Usage{}, fmt.Errorf("extraction model answered %d: %s", resp.Status, msg)
	}
	hub, u, err := wire.Decode(bytes.TrimSpace(b), model)
	return hub, u, err
}
