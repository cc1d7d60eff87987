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
	if req.Op != provider.OpChat {
		return nil, fmt.Errorf("%w: %s", provider.ErrUnsupported, req.Op)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
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
