package openai

import (
	"bytes"
	"encoding/json"

	"github.com/memproxy/memproxy/gateway/api/sse"
	"github.com/memproxy/memproxy/gateway/jsonscan"
	"github.com/memproxy/memproxy/gateway/llm"
)

// StreamObserver reads a copy of a chat-completion SSE stream as it passes
// and records what the gateway needs from it: the usage chunk, whether the
// stream ended with `data: [DONE]`, and whether any finish_reason was seen.
// Feed it with Write; it never modifies or holds back the bytes it is given.
type StreamObserver struct {
	lines sse.Lines

	Usage        llm.Usage
	SawUsage     bool
	SawDone      bool
	FinishReason string
}

// Write implements io.Writer; it never fails.
func (o *StreamObserver) Write(p []byte) (int, error) {
	if o.lines.OnLine == nil {
		o.lines.OnLine = o.onLine
	}
	return o.lines.Write(p)
}

var (
	doneMarker   = []byte("[DONE]")
	usageKey     = []byte(`"usage"`)
	finishKey    = []byte(`"finish_reason"`)
	nullFinishes = []byte(`"finish_reason":null`)
	nullUsage    = []byte(`"usage":null`)
)

func (o *StreamObserver) onLine(line []byte) {
	data, ok := sse.Data(line)
	if !ok {
		return
	}
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, doneMarker) {
		o.SawDone = true
		return
	}
	hasUsage := bytes.Contains(data, usageKey) && !bytes.Contains(data, nullUsage)
	hasFinish := bytes.Contains(data, finishKey) && !bytes.Contains(data, nullFinishes)
	if !hasUsage && !hasFinish {
		return // the common case, a content delta: no parse at all
	}
	var c chunk
	if json.Unmarshal(data, &c) != nil {
		return
	}
	if c.Usage != nil {
		o.Usage, o.SawUsage = c.Usage.toLLM(), true
	}
	for _, ch := range c.Choices {
		if ch.FinishReason != "" {
			o.FinishReason = ch.FinishReason
		}
	}
}

type chunk struct {
	Choices []struct {
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *WireUsage `json:"usage"`
}

// WireUsage is the usage object of chat completions.
type WireUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details,omitempty"`
	// CompletionTokensDetails breaks down CompletionTokens; its reasoning
	// tokens are part of them.
	CompletionTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details,omitempty"`
}

func (u *WireUsage) toLLM() llm.Usage {
	out := llm.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
	if u.PromptTokensDetails != nil {
		out.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		out.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
	return out
}

// UsageOf reads the usage object of a non-streaming chat completion body.
func UsageOf(body []byte) (llm.Usage, bool) {
	// Only the usage object is decoded: the answer around it is the
	// larger part, and this runs on every non-streaming answer.
	if !json.Valid(body) {
		return llm.Usage{}, false
	}
	s, e, ok := jsonscan.TopLevel(body, "usage")
	if !ok {
		return llm.Usage{}, false
	}
	var u WireUsage
	if string(body[s:e]) == "null" || json.Unmarshal(body[s:e], &u) != nil {
		return llm.Usage{}, false
	}
	return u.toLLM(), true
}
