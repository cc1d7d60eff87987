package translate

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// AnthropicResponseToOpenAIChat translates a non-streaming Anthropic
// Messages response into an OpenAI chat completion for clientModel, the
// model the client asked for, and returns its usage. Any error means the
// upstream's answer could not be translated (an upstream fault).
func AnthropicResponseToOpenAIChat(body []byte, clientModel string) ([]byte, llm.Usage, error) {
	var m anthropic.MessageResponse
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, llm.Usage{}, fmt.Errorf("translate: decoding Anthropic response: %w", err)
	}
	if m.Type != "message" {
		return nil, llm.Usage{}, &Error{"type", "expected a message, got " + quote(m.Type)}
	}
	var (
		text  strings.Builder
		calls []openai.ToolCall
		seen  bool
	)
	for i, b := range m.Content {
		switch b.Type {
		case anthropic.BlockText:
			text.WriteString(b.Text)
			seen = true
		case anthropic.BlockToolUse:
			calls = append(calls, openai.ToolCall{ID: b.ID, Type: "function",
				Function: openai.FunctionCall{Name: b.Name, Arguments: toolArguments(b.Input)}})
		case anthropic.BlockThinking, anthropic.BlockRedactedThinking:
		default:
			return nil, llm.Usage{}, &Error{"content[" + strconv.Itoa(i) + "].type", "block " + quote(b.Type) + " has no OpenAI counterpart"}
		}
	}
	msg := openai.ResponseMessage{Role: "assistant", ToolCalls: calls}
	if seen || len(calls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	stop := ""
	if m.StopReason != nil {
		stop = *m.StopReason
	}
	out := openai.ChatCompletion{
		ID: withPrefix("chatcmpl-", m.ID), Object: "chat.completion", Created: now().Unix(), Model: clientModel,
		Choices: []openai.ChatChoice{{Message: msg, FinishReason: finishReason(stop)}},
		Usage:   openAIUsage(m.Usage),
	}
	b, err := json.Marshal(out)
	return b, m.Usage.LLM(), err
}
