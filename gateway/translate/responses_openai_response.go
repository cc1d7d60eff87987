package translate

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// OpenAIChatResponseToResponses translates a non-streaming chat completion
// into a Responses response object for clientModel, the model the client
// asked for, and returns its usage. Only the first choice is read.
//
// The output holds a message item when the choice has text or a refusal
// (one output_text part, then one refusal part), then one function_call
// item per tool call, in order (empty arguments become "{}", since clients
// parse them as JSON). finish_reason length makes the response
// "incomplete" for max_output_tokens and content_filter for
// content_filter, and marks the last item incomplete; anything else is
// "completed". The ids derive from the chat completion's id (resp_<id>,
// msg_<id>_<output index>, fc_<id>_<output index>) so that the stream of
// the same answer carries the same ones. The request-echo fields
// (parallel_tool_calls, tool_choice, tools, text) are the API's defaults,
// not the request's, which a translation of the answer does not see.
// Any error means the upstream's answer could not be translated (an
// upstream fault).
func OpenAIChatResponseToResponses(body []byte, clientModel string) ([]byte, llm.Usage, error) {
	var c struct {
		ID      string `json:"id"`
		Created int64  `json:"created"`
		Choices []struct {
			Message struct {
				Content   *string           `json:"content"`
				Refusal   *string           `json:"refusal"`
				ToolCalls []openai.ToolCall `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage json.RawMessage `json:"usage"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, llm.Usage{}, fmt.Errorf("translate: decoding OpenAI response: %w", err)
	}
	usage, err := parseChatUsage(c.Usage)
	if err != nil {
		return nil, llm.Usage{}, fmt.Errorf("translate: decoding OpenAI usage: %w", err)
	}
	if len(c.Choices) == 0 {
		return nil, llm.Usage{}, &Error{"choices", "no choice to translate"}
	}
	ch := c.Choices[0]
	c.ID = baseID(c.ID)
	r := newResponseObject(c.ID, c.Created, clientModel)
	var parts []openai.OutputPart
	if t := ch.Message.Content; t != nil && *t != "" {
		parts = append(parts, openai.OutputPart{Type: "output_text", Text: *t})
	}
	if t := ch.Message.Refusal; t != nil && *t != "" {
		parts = append(parts, openai.OutputPart{Type: "refusal", Refusal: *t})
	}
	if parts != nil {
		r.Output = append(r.Output, openai.OutputItem{Type: "message", ID: itemID("msg_", c.ID, 0),
			Status: openai.StatusCompleted, Role: "assistant", Content: parts})
	}
	for _, tc := range ch.Message.ToolCalls {
		n, args := len(r.Output), tc.Function.Arguments
		if args == "" {
			args = "{}" // clients parse the arguments as JSON
		}
		r.Output = append(r.Output, openai.OutputItem{Type: "function_call", ID: itemID("fc_", c.ID, n),
			Status: openai.StatusCompleted, CallID: callID(tc.ID, c.ID, n), Name: tc.Function.Name, Arguments: args})
	}
	finishResponse(&r, ch.FinishReason)
	r.Usage = usage.responses()
	b, err := json.Marshal(r)
	return b, usage.llm(), err
}

// chatUsage is a chat usage object, read twice: as openai.WireUsage for
// the neutral usage, and for the reasoning tokens the Responses usage
// object reports.
type chatUsage struct {
	wire      openai.WireUsage
	reasoning int64
}

// parseChatUsage reads a chat usage object; null or absent gives nil.
func parseChatUsage(raw json.RawMessage) (*chatUsage, error) {
	if isNull(raw) {
		return nil, nil
	}
	var u chatUsage
	var details struct {
		CompletionTokensDetails *struct {
			ReasoningTokens int64 `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	}
	if err := json.Unmarshal(raw, &u.wire); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &details); err != nil {
		return nil, err
	}
	if d := details.CompletionTokensDetails; d != nil {
		u.reasoning = d.ReasoningTokens
	}
	return &u, nil
}

// responses maps chat usage to the Responses usage object, nil to nil.
func (u *chatUsage) responses() *openai.ResponseUsage {
	if u == nil {
		return nil
	}
	w := u.wire
	r := &openai.ResponseUsage{InputTokens: w.PromptTokens, OutputTokens: w.CompletionTokens, TotalTokens: w.TotalTokens}
	if r.TotalTokens == 0 {
		r.TotalTokens = w.PromptTokens + w.CompletionTokens
	}
	if d := w.PromptTokensDetails; d != nil {
		r.InputTokensDetails.CachedTokens = d.CachedTokens
	}
	r.OutputTokensDetails.ReasoningTokens = u.reasoning
	return r
}

func (u *chatUsage) llm() llm.Usage {
	if u == nil {
		return llm.Usage{}
	}
	return u.wire.LLM()
}

// The request-echo fields of a translated response: the API's defaults.
var (
	defaultText       = json.RawMessage(`{"format":{"type":"text"}}`)
	defaultToolChoice = json.RawMessage(`"auto"`)
)

// newResponseObject starts the response for a chat completion: in
// progress, no output, no usage.
func newResponseObject(chatID string, created int64, model string) openai.ResponseObject {
	if created <= 0 {
		created = now().Unix()
	}
	return openai.ResponseObject{ID: withPrefix("resp_", chatID), Object: "response", CreatedAt: created,
		Status: openai.StatusInProgress, Metadata: map[string]string{}, Model: model, Output: []openai.OutputItem{},
		ParallelToolCalls: true, Text: defaultText, ToolChoice: defaultToolChoice, Tools: []json.RawMessage{}}
}

// finishResponse sets the status for a finish_reason.
func finishResponse(r *openai.ResponseObject, finish string) {
	reason := incompleteReason(finish)
	if reason == "" {
		r.Status = openai.StatusCompleted
		return
	}
	r.Status = openai.StatusIncomplete
	r.IncompleteDetails = &openai.IncompleteDetails{Reason: reason}
	if n := len(r.Output); n > 0 {
		r.Output[n-1].Status = openai.StatusIncomplete
	}
}

// incompleteReason is the incomplete_details.reason of a finish_reason, ""
// for one that completes the response.
func incompleteReason(finish string) string {
	switch finish {
	case openai.FinishLength:
		return "max_output_tokens"
	case openai.FinishContentFilter:
		return "content_filter"
	}
	return ""
}

// baseID is the chat completion id the response ids derive from, made up
// for a server that sent none.
func baseID(chatID string) string {
	if chatID != "" {
		return chatID
	}
	return "gen-" + strconv.FormatInt(now().UnixNano(), 36)
}

// itemID is the id of the output item at index n of the answer to chatID.
func itemID(prefix, chatID string, n int) string {
	return prefix + chatID + "_" + strconv.Itoa(n)
}

// callID keeps the upstream's tool call id, or makes one for a server
// that sent none.
func callID(id, chatID string, n int) string {
	if id != "" {
		return id
	}
	return itemID("call_", chatID, n)
}
