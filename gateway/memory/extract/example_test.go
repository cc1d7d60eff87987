package extract_test

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/extract"
)

// How the gateway uses an Extractor in its write-back worker, after the
// answer that ends a turn was served.
func Example() {
	var (
		store  memory.Lifecycle // the gateway's memory store
		log    = slog.Default()
		budget = &extract.Budget{Tokens: 200_000} // one per process, shared
	)
	// route sends an OpenAI chat body through the gateway's router; the
	// gateway writes the usage row (purpose memory_extraction).
	route := func(ctx context.Context, model string, body []byte) ([]byte, llm.Usage, error) {
		info, _ := extract.InfoFrom(ctx) // info.Turn.RequestID links the row to the turn
		_ = info
		return nil, llm.Usage{}, errors.New("not wired in this example")
	}
	e := &extract.Extractor{Model: "cheap-model", Call: route, Budget: budget, Logger: log}
	rulesMode := func(extract.Turn) { /* store the cleaned turn, as without a model */ }

	turn := extract.Turn{Scope: "u:alice/p:shop", User: "We moved staging to port 7000.", Answer: "Noted.",
		Client: "claude-code", Session: "s1", Turn: 4, RequestID: "req_1"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // off the request path
	defer cancel()
	res, err := e.Distil(ctx, store, turn)
	if err != nil {
		log.Warn("memory extraction failed; rules mode", "request_id", turn.RequestID, "calls", res.Calls, "err", err)
		rulesMode(turn)
		return
	}
	if _, err := extract.Apply(ctx, store, res); err != nil {
		log.Warn("memory extraction: a write failed", "request_id", turn.RequestID, "err", err)
	}
}
