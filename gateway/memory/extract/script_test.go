package extract_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory/extract"
)

// script is a scripted extraction model: each call gets the next answer
// text, wrapped in a chat completion, and is recorded.
type script struct {
	t       *testing.T
	mu      sync.Mutex
	answers []string
	usage   llm.Usage // reported by every call
	err     error     // returned by every call, with usage
	calls   []call
}

type call struct {
	model  string
	body   chatRequest
	info   extract.Info
	infoOK bool
}

// chatRequest is what the tests read of a request body.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	ResponseFormat struct {
		Type string `json:"type"`
	} `json:"response_format"`
	Stream bool `json:"stream"`
}

func newScript(t *testing.T, answers ...string) *script {
	return &script{t: t, answers: answers, usage: llm.Usage{PromptTokens: 40, CompletionTokens: 20}}
}

func (s *script) call(ctx context.Context, model string, body []byte) ([]byte, llm.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.t.Errorf("the request body is not JSON: %v", err)
	}
	info, ok := extract.InfoFrom(ctx)
	s.calls = append(s.calls, call{model: model, body: req, info: info, infoOK: ok})
	if s.err != nil {
		return nil, s.usage, s.err
	}
	if len(s.answers) == 0 {
		s.t.Errorf("unexpected model call %d (%s)", len(s.calls), info.Step)
		return nil, s.usage, errors.New("no scripted answer")
	}
	text := s.answers[0]
	s.answers = s.answers[1:]
	return completion(text), s.usage, nil
}

// completion wraps text as an OpenAI chat completion body.
func completion(text string) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "model": "cheap",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": text}}},
		"usage": map[string]int{"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60},
	})
	return b
}

func (s *script) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// userOf returns the user message of call i as JSON.
func (s *script) userOf(i int) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var v map[string]any
	msgs := s.calls[i].body.Messages
	if len(msgs) != 2 || msgs[0].Role != "system" || msgs[1].Role != "user" {
		s.t.Fatalf("call %d: messages %+v; want system then user", i, msgs)
	}
	if err := json.Unmarshal([]byte(msgs[1].Content), &v); err != nil {
		s.t.Fatalf("call %d: the user message is not a JSON object: %v", i, err)
	}
	return v
}
