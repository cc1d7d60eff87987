package dialect

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/api/sse"
	"github.com/memproxy/memproxy/gateway/llm"
)

// openAIPass forwards an OpenAI stream unchanged, except the usage chunk
// the gateway asked for on the client's behalf (hideUsage), and reads
// usage from a copy.
type openAIPass struct {
	d         *openAIDialect
	out       io.Writer
	obs       openai.StreamObserver
	hideUsage bool
	events    sse.Reader
}

func (p *openAIPass) Write(b []byte) (int, error) {
	_, _ = p.obs.Write(b)
	if !p.hideUsage {
		return p.out.Write(b)
	}
	if _, err := p.events.Write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (p *openAIPass) onEvent(ev *sse.Event) error {
	if isUsageOnlyChunk(ev.Data) {
		return nil
	}
	_, err := p.out.Write(ev.Raw)
	return err
}

func (p *openAIPass) Finish(e *Error) (llm.Usage, bool) {
	if p.hideUsage {
		_ = p.events.End()
	}
	if !p.obs.SawDone {
		_, _ = p.out.Write(p.d.StreamError(e))
	}
	return p.obs.Usage, p.obs.SawDone
}

func (p *openAIPass) Usage() llm.Usage { return p.obs.Usage }

// isUsageOnlyChunk reports the final chunk of include_usage: empty choices
// and a usage object.
func isUsageOnlyChunk(data []byte) bool {
	return bytes.Contains(data, []byte(`"choices":[]`)) && bytes.Contains(data, []byte(`"usage":{`))
}

// anthropicPass forwards an Anthropic stream unchanged and reads usage
// from a copy.
type anthropicPass struct {
	out io.Writer
	obs anthropic.StreamObserver
}

func (p *anthropicPass) Write(b []byte) (int, error) {
	_, _ = p.obs.Write(b)
	return p.out.Write(b)
}

func (p *anthropicPass) Finish(e *Error) (llm.Usage, bool) {
	if !p.obs.SawStop {
		_, _ = p.out.Write(anthropicMsgs.StreamError(e))
	}
	return p.obs.Usage(), p.obs.SawStop
}

func (p *anthropicPass) Usage() llm.Usage { return p.obs.Usage() }

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

func (p *responsesPass) Finish(e *Error) (llm.Usage, bool) {
	if !p.obs.SawEnd {
		_, _ = p.out.Write(responsesAPI.StreamError(e))
	}
	return p.obs.Usage, p.obs.SawEnd
}

func (p *responsesPass) Usage() llm.Usage { return p.obs.Usage }

// responsesFailed is the response.failed event of a Responses stream.
func responsesFailed(code, msg string) []byte {
	data, _ := json.Marshal(map[string]any{"type": openai.ResponsesEventFailed,
		"response": map[string]any{"status": "failed", "error": openai.ResponseError{Code: code, Message: msg}}})
	return openai.AppendResponsesEvent(nil, openai.ResponsesEventFailed, data)
}
