package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/translate"
)

// How an exchange crosses dialects. OpenAI Chat Completions is the hub:
// a client's request goes client → hub → wire, the answer wire → hub →
// client, and when client and wire are the same dialect the bytes pass
// untouched but for the model name. The wire dialect is the deployment's,
// except that a Responses client reaches a deployment serving the
// Responses API natively in that API.

// wire is the dialect spoken with the upstream for this attempt.
func (x *exchange) wire() string {
	if x.client == dialectResponses && x.dep.Responses {
		return dialectResponses
	}
	return x.dep.Dialect
}

// opOf is the provider operation that serves a wire dialect's completions.
func opOf(wire string) string {
	switch wire {
	case dialectAnthropic:
		return provider.OpMessages
	case dialectResponses:
		return provider.OpResponses
	default:
		return provider.OpChat // OpenAI chat, and Gemini's generateContent
	}
}

func untranslatable(err error) *apiError {
	return newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "untranslatable_request", err.Error())
}

// upstreamBody turns the client's body into the wire dialect.
func (x *exchange) upstreamBody(body []byte) ([]byte, *apiError) {
	wire, up := x.wire(), x.dep.UpstreamModel
	if x.client == wire {
		out := body
		if x.model != up {
			out = setModel(body, up)
		}
		if x.client == dialectOpenAI && x.stream {
			out, x.hideUsage = ensureIncludeUsage(out)
		}
		return out, nil
	}
	hub, err := body, error(nil)
	switch x.client {
	case dialectAnthropic:
		hub, err = translate.AnthropicToOpenAIChat(body, up)
	case dialectResponses:
		hub, err = translate.ResponsesToOpenAIChat(body, up)
	}
	if err != nil {
		return nil, untranslatable(err)
	}
	switch wire {
	case dialectAnthropic:
		hub, err = translate.OpenAIChatToAnthropic(hub, up, defaultMaxTokens)
	case dialectGemini:
		hub, err = translate.OpenAIChatToGemini(hub)
	case dialectOpenAI:
		if x.client == dialectOpenAI { // cannot happen: same dialect passes through
			hub = setModel(hub, up)
		}
	default:
		return nil, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "unsupported_dialect",
			fmt.Sprintf("model %s is served in the %s dialect, which the %s API cannot reach", x.model, wire, x.client))
	}
	if err != nil {
		return nil, untranslatable(err)
	}
	return hub, nil
}

// clientBody turns a non-streaming answer into the client's dialect and
// reads its usage.
func (x *exchange) clientBody(b []byte) ([]byte, llm.Usage, error) {
	wire := x.wire()
	var u llm.Usage
	if x.client == wire {
		switch wire {
		case dialectAnthropic:
			u, _ = anthropic.UsageOf(b)
		case dialectResponses:
			u, _ = openai.ResponsesUsageOf(b)
		default:
			u, _ = openai.UsageOf(b)
		}
		return b, u, nil
	}
	hub, err := b, error(nil)
	switch wire {
	case dialectAnthropic:
		hub, u, err = translate.AnthropicResponseToOpenAIChat(b, x.model)
	case dialectGemini:
		hub, u, err = translate.GeminiResponseToOpenAIChat(b, x.model)
	default:
		u, _ = openai.UsageOf(b)
	}
	if err != nil {
		return nil, u, err
	}
	switch x.client {
	case dialectAnthropic:
		hub, _, err = translate.OpenAIChatResponseToAnthropic(hub, x.model)
	case dialectResponses:
		hub, _, err = translate.OpenAIChatResponseToResponses(hub, x.model)
	}
	return hub, u, err
}

// sink picks how the exchange's stream reaches the client: passed
// through, or translated wire → hub → client, one event at a time.
func (x *exchange) sink(out io.Writer) streamSink {
	wire := x.wire()
	if x.client == wire {
		switch wire {
		case dialectAnthropic:
			return &anthropicPass{out: out}
		case dialectResponses:
			return &responsesPass{out: out}
		default:
			return &openAIPass{out: out, hideUsage: x.hideUsage}
		}
	}
	var clientSide translate.Stream // hub → client; nil for OpenAI clients
	hubOut := out
	switch x.client {
	case dialectAnthropic:
		clientSide = translate.NewOpenAIChatToAnthropicStream(out, x.model)
	case dialectResponses:
		clientSide = translate.NewOpenAIChatToResponsesStream(out, x.model)
	}
	if clientSide != nil {
		hubOut = clientSide
	}
	includeUsage := clientSide != nil || x.clientUsage
	var wireSide translate.Stream // wire → hub; nil for OpenAI upstreams
	switch wire {
	case dialectAnthropic:
		wireSide = translate.NewAnthropicToOpenAIChatStream(hubOut, x.model, includeUsage)
	case dialectGemini:
		wireSide = translate.NewGeminiToOpenAIChatStream(hubOut, x.model, includeUsage)
	}
	switch {
	case wireSide == nil:
		return translated{clientSide}
	case clientSide == nil:
		return translated{wireSide}
	default:
		return chained{outer: wireSide, inner: clientSide}
	}
}

// responsesPass forwards a Responses stream unchanged and reads usage and
// its end from a copy.
type responsesPass struct {
	out io.Writer
	obs openai.ResponsesStreamObserver
}

func (p *responsesPass) Write(b []byte) (int, error) {
	_, _ = p.obs.Write(b)
	return p.out.Write(b)
}

func (p *responsesPass) finish(msg string) (llm.Usage, bool) {
	if !p.obs.SawEnd {
		data, _ := json.Marshal(map[string]any{"type": openai.ResponsesEventFailed,
			"response": map[string]any{"status": "failed", "error": openai.ResponseError{Code: "server_error", Message: msg}}})
		_, _ = p.out.Write(openai.AppendResponsesEvent(nil, openai.ResponsesEventFailed, data))
	}
	return p.obs.Usage, p.obs.SawEnd
}
