// Package mock is the built-in provider that needs no key and no network,
// like LiteLLM's mock_response: the demo and the tests run on it. It answers
// chat completions in OpenAI's exact wire format, streaming in several
// chunks, with token counts estimated from the text (about 4 bytes a token).
//
// What it answers, in order: the request's "mock_response" field when set;
// for the upstream model "echo", the text of the last user message; else a
// fixed sentence naming the model.
package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/provider"
)

// Adapter implements provider.Provider without I/O.
type Adapter struct{}

var _ provider.Provider = Adapter{}

type chatRequest struct {
	Model         string         `json:"model"`
	Messages      []message      `json:"messages"`
	Stream        bool           `json:"stream"`
	MockResponse  *string        `json:"mock_response"`
	StreamOptions *streamOptions `json:"stream_options"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// Do implements provider.Provider.
func (Adapter) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch req.Op {
	case provider.OpChat:
	case provider.OpEmbeddings:
		return embeddings(req.Body), nil
	default:
		return nil, fmt.Errorf("%w: %s", provider.ErrUnsupported, req.Op)
	}
	var cr chatRequest
	if err := json.Unmarshal(req.Body, &cr); err != nil {
		return errorResponse(http.StatusBadRequest, "invalid JSON: "+err.Error()), nil
	}
	if len(cr.Messages) == 0 {
		return errorResponse(http.StatusBadRequest, "messages: must contain at least one message"), nil
	}
	answer := answerFor(cr)
	u := usage{Prompt: promptTokens(cr.Messages), Completion: tokens(answer)}
	u.Total = u.Prompt + u.Completion
	id := fmt.Sprintf("chatcmpl-mock%x", time.Now().UnixNano())
	created := time.Now().Unix()
	h := http.Header{}
	if !cr.Stream {
		h.Set("Content-Type", "application/json")
		body, _ := json.Marshal(completion(id, created, cr.Model, answer, u))
		return &provider.Response{Status: http.StatusOK, Header: h, Body: io.NopCloser(bytes.NewReader(body))}, nil
	}
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	events := streamEvents(id, created, cr.Model, answer, u, cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage)
	return &provider.Response{Status: http.StatusOK, Header: h, Body: &eventReader{ctx: ctx, events: events}}, nil
}

// answerFor returns the text the mock model answers to cr.
func answerFor(cr chatRequest) string {
	if cr.MockResponse != nil {
		return *cr.MockResponse
	}
	if cr.Model == "echo" {
		for i := len(cr.Messages) - 1; i >= 0; i-- {
			if cr.Messages[i].Role == "user" {
				return text(cr.Messages[i].Content)
			}
		}
	}
	return "This is a mock response from " + cr.Model + "."
}

// text extracts the text of a message's content: a string, or the text
// parts of a content array.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func tokens(s string) int64 {
	if s == "" {
		return 0
	}
	return int64(len(s)+3) / 4
}

func promptTokens(msgs []message) int64 {
	var n int64
	for _, m := range msgs {
		n += 4 + tokens(text(m.Content)) // ~4 tokens of per-message framing, as OpenAI counts
	}
	return n + 3
}

// embeddings answers an embeddings request with a deterministic vector
// per input, derived from a hash of its text: 8 values, or "dimensions"
// (1 to 4096) when the request gives it.
func embeddings(body []byte) *provider.Response {
	var req struct {
		Model      string          `json:"model"`
		Input      json.RawMessage `json:"input"`
		Dimensions int             `json:"dimensions"`
	}
	if json.Unmarshal(body, &req) != nil {
		return errorResponse(http.StatusBadRequest, "invalid JSON")
	}
	size := 8
	if req.Dimensions != 0 {
		if req.Dimensions < 1 || req.Dimensions > 4096 {
			return errorResponse(http.StatusBadRequest, "dimensions: must be 1 to 4096")
		}
		size = req.Dimensions
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(req.Input, &inputs) != nil || len(inputs) == 0 {
		return errorResponse(http.StatusBadRequest, "input: must be a string or an array of strings")
	}
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float64 `json:"embedding"`
	}
	data := make([]item, len(inputs))
	var n int64
	for i, in := range inputs {
		h := fnv.New64a()
		h.Write([]byte(in))
		seed := h.Sum64()
		vec := make([]float64, size)
		for j := range vec {
			seed = seed*6364136223846793005 + 1442695040888963407
			vec[j] = float64(int64(seed>>11))/float64(1<<52) - 1
		}
		data[i] = item{Object: "embedding", Index: i, Embedding: vec}
		n += tokens(in)
	}
	b, _ := json.Marshal(map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int64{"prompt_tokens": n, "total_tokens": n}})
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &provider.Response{Status: http.StatusOK, Header: h, Body: io.NopCloser(bytes.NewReader(b))}
}
