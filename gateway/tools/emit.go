package tools

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// clientStream writes the one chat.completion.chunk stream the client sees,
// whatever the number of rounds behind it: every chunk carries the id,
// created and model of the first round's first chunk and choice index 0,
// the role chunk comes first, and "usage":null is on every chunk when the
// client asked for usage (as OpenAI does).
type clientStream struct {
	out          io.Writer
	includeUsage bool

	started bool
	id      string
	created int64
	model   string
	// sep: text was shown in a gateway round; the next text shown starts
	// with a blank line so the two do not run together.
	sep, shownThisRound bool
	err                 error
}

type outChunk struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []outChoice     `json:"choices"`
	Usage   json.RawMessage `json:"usage,omitempty"`
}

type outChoice struct {
	Index        int             `json:"index"`
	Delta        any             `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

var null = json.RawMessage("null")

// start fixes the stream's identity from the first model chunk and writes
// the role chunk. Later calls do nothing.
func (s *clientStream) start(id string, created int64, model string) error {
	if s.started {
		return nil
	}
	s.started = true
	s.id, s.created, s.model = id, created, model
	if s.id == "" {
		s.id = "chatcmpl-" + rand.Text()
	}
	if s.created == 0 {
		s.created = time.Now().Unix()
	}
	return s.chunk(map[string]string{"role": "assistant", "content": ""}, nil)
}

// delta forwards a delta (without role and tool_calls) of the model.
func (s *clientStream) delta(d map[string]json.RawMessage) error {
	if s.sep && hasText(d) {
		s.sep = false
		if err := s.chunk(map[string]string{"content": "\n\n"}, nil); err != nil {
			return err
		}
	}
	s.shownThisRound = s.shownThisRound || hasText(d)
	return s.chunk(d, nil)
}

// endRound notes the end of a gateway round, which stays hidden.
func (s *clientStream) endRound() {
	s.sep = s.sep || s.shownThisRound
	s.shownThisRound = false
}

// call writes one whole tool call, at the index the client sees.
func (s *clientStream) call(index int, c *call) error {
	d := map[string]any{"tool_calls": []openai.ToolCallDelta{{
		Index: index, ID: c.id, Type: "function",
		Function: openai.FunctionCall{Name: c.name, Arguments: c.args.String()},
	}}}
	return s.chunk(d, nil)
}

// finish writes the one finish chunk.
func (s *clientStream) finish(reason string) error {
	return s.chunk(struct{}{}, &reason)
}

// end writes the usage chunk (when asked for) and data: [DONE].
func (s *clientStream) end(u llm.Usage) error {
	if s.includeUsage {
		b, _ := json.Marshal(wireUsage(u))
		if err := s.write(outChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created,
			Model: s.model, Choices: []outChoice{}, Usage: b}); err != nil {
			return err
		}
	}
	return s.raw([]byte("data: [DONE]\n\n"))
}

// fail writes an error event; it is the stream's last event.
func (s *clientStream) fail(d openai.ErrorDetail) {
	b, _ := json.Marshal(openai.ErrorBody{Error: d})
	_ = s.raw(append(append([]byte("data: "), b...), '\n', '\n'))
}

func (s *clientStream) chunk(delta any, finish *string) error {
	c := outChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []outChoice{{Delta: delta, Logprobs: null, FinishReason: finish}}}
	if s.includeUsage {
		c.Usage = null
	}
	return s.write(c)
}

func (s *clientStream) write(c outChunk) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding chunk: %w", err)
	}
	return s.raw(append(append([]byte("data: "), b...), '\n', '\n'))
}

func (s *clientStream) raw(b []byte) error {
	if s.err != nil {
		return s.err
	}
	if _, err := s.out.Write(b); err != nil {
		s.err = fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return s.err
}

// hasText reports a delta holding something besides null and "".
func hasText(d map[string]json.RawMessage) bool {
	for _, v := range d {
		if s := string(v); s != "null" && s != `""` && s != "" {
			return true
		}
	}
	return false
}

func wireUsage(u llm.Usage) *openai.WireUsage {
	w := &openai.WireUsage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		TotalTokens: u.PromptTokens + u.CompletionTokens}
	w.PromptTokensDetails = &struct {
		CachedTokens int64 `json:"cached_tokens"`
	}{u.CachedTokens}
	w.CompletionTokensDetails = &struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	}{u.ReasoningTokens}
	return w
}
