package mock

import (
	"context"
	"encoding/json"
	"github.com/memproxy/memproxy/gateway/provider"
	"io"
	"net/http"
	"strings"
)

// The OpenAI chat-completion objects, as documented in the API reference.

type usage struct {
	Prompt     int64 `json:"prompt_tokens"`
	Completion int64 `json:"completion_tokens"`
	Total      int64 `json:"total_tokens"`
}

type choice struct {
	Index        int          `json:"index"`
	Message      *chatMessage `json:"message,omitempty"`
	Delta        *chatMessage `json:"delta,omitempty"`
	Logprobs     *struct{}    `json:"logprobs"`
	FinishReason *string      `json:"finish_reason"`
}

type chatMessage struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type chatCompletion struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	SystemFingerprint string   `json:"system_fingerprint"`
	Choices           []choice `json:"choices"`
	// Usage is *usage, or nullUsage in the chunks of a stream that asked
	// for usage (OpenAI sends "usage":null there and omits it otherwise).
	Usage any `json:"usage,omitempty"`
}

var nullUsage = json.RawMessage("null")

func completion(id string, created int64, model, answer string, u usage) chatCompletion {
	stop := "stop"
	return chatCompletion{
		ID: id, Object: "chat.completion", Created: created, Model: model, SystemFingerprint: "fp_memproxy_mock",
		Choices: []choice{{Index: 0, Message: &chatMessage{Role: "assistant", Content: &answer}, FinishReason: &stop}},
		Usage:   &u,
	}
}

// streamEvents renders the answer as chat.completion.chunk events: a role
// chunk, one content chunk per word, a finish chunk, the usage chunk when
// asked for (empty choices, as OpenAI sends it), and [DONE].
func streamEvents(id string, created int64, model, answer string, u usage, includeUsage bool) [][]byte {
	chunk := func(c []choice, u *usage) []byte {
		cc := chatCompletion{ID: id, Object: "chat.completion.chunk", Created: created,
			Model: model, SystemFingerprint: "fp_memproxy_mock", Choices: c}
		if u != nil {
			cc.Usage = u
		} else if includeUsage {
			cc.Usage = nullUsage
		}
		b, _ := json.Marshal(cc)
		return append(append([]byte("data: "), b...), '\n', '\n')
	}
	empty := ""
	events := [][]byte{chunk([]choice{{Delta: &chatMessage{Role: "assistant", Content: &empty}}}, nil)}
	for _, w := range splitWords(answer) {
		events = append(events, chunk([]choice{{Delta: &chatMessage{Content: &w}}}, nil))
	}
	stop := "stop"
	events = append(events, chunk([]choice{{Delta: &chatMessage{}, FinishReason: &stop}}, nil))
	if includeUsage {
		events = append(events, chunk([]choice{}, &u))
	}
	return append(events, []byte("data: [DONE]\n\n"))
}

// splitWords cuts s into pieces that each end after a space, so that joined
// they give s back exactly.
func splitWords(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// eventReader yields one event per Read, the way a network stream arrives,
// and stops when ctx is cancelled.
type eventReader struct {
	ctx    context.Context
	events [][]byte
	cur    []byte
}

func (r *eventReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if len(r.cur) == 0 {
		if len(r.events) == 0 {
			return 0, io.EOF
		}
		r.cur, r.events = r.events[0], r.events[1:]
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *eventReader) Close() error { return nil }

func errorResponse(status int, msg string) *provider.Response {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": nil}})
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &provider.Response{Status: status, Header: h, Body: io.NopCloser(strings.NewReader(string(b)))}
}
