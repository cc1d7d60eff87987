package translate

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// OpenAIChatResponseToAnthropic translates a non-streaming OpenAI chat
// completion into an Anthropic Messages response for clientModel, the
// model the client asked for, and returns its usage. Only the first choice
// is read. Any error means the upstream's answer could not be translated
// (an upstream fault).
func OpenAIChatResponseToAnthropic(body []byte, clientModel string) ([]byte, llm.Usage, error) {
	var c struct {
		ID      string `json:"id"`
		Choices []struct {
			Message struct {
				Content   *string           `json:"content"`
				Refusal   *string           `json:"refusal"`
				ToolCalls []openai.ToolCall `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage *openai.WireUsage `json:"usage"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, llm.Usage{}, fmt.Errorf("translate: decoding OpenAI response: %w", err)
	}
	if len(c.Choices) == 0 {
		return nil, llm.Usage{}, &Error{"choices", "no choice to translate"}
	}
	ch := c.Choices[0]
	blocks := []anthropic.ContentBlock{}
	if m := ch.Message.Content; m != nil && *m != "" {
		blocks = append(blocks, anthropic.ContentBlock{Type: anthropic.BlockText, Text: *m})
	}
	stop := stopReason(ch.FinishReason)
	if r := ch.Message.Refusal; r != nil && *r != "" {
		blocks = append(blocks, anthropic.ContentBlock{Type: anthropic.BlockText, Text: *r})
		stop = anthropic.StopRefusal
	}
	for j, tc := range ch.Message.ToolCalls {
		in, err := toolInput(tc.Function.Arguments, "choices[0].message.tool_calls["+strconv.Itoa(j)+"].function.arguments")
		if err != nil {
			return nil, llm.Usage{}, err
		}
		blocks = append(blocks, anthropic.ContentBlock{Type: anthropic.BlockToolUse, ID: toolUseID(tc.ID), Name: tc.Function.Name, Input: in})
	}
	u := anthropicUsage(c.Usage)
	out := anthropic.MessageResponse{ID: withPrefix("msg_", c.ID), Type: "message", Role: "assistant",
		Model: clientModel, Content: blocks, StopReason: &stop, Usage: u}
	b, err := json.Marshal(out)
	var n llm.Usage
	if c.Usage != nil {
		n = c.Usage.LLM()
	}
	return b, n, err
}
