package tools

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/memproxy/memproxy/gateway/api/openai"
)

// conversation is the chat request the loop grows round by round. Fields
// of the client's body other than those it manages are kept as they came.
type conversation struct {
	top         map[string]json.RawMessage
	messages    []json.RawMessage
	clientTools []json.RawMessage
	clientNames map[string]bool
	gatewayDefs []json.RawMessage
}

func badRequest(msg string) error { return fmt.Errorf("%w: %s", ErrBadRequest, msg) }

func parseConversation(body []byte) (*conversation, error) {
	c := &conversation{clientNames: map[string]bool{}}
	if err := json.Unmarshal(body, &c.top); err != nil || c.top == nil {
		return nil, badRequest("the body is not a JSON object")
	}
	if err := json.Unmarshal(c.top["messages"], &c.messages); err != nil || c.messages == nil {
		return nil, badRequest("messages must be an array")
	}
	if raw, ok := c.top["n"]; ok && string(raw) != "null" {
		var n int
		if json.Unmarshal(raw, &n) != nil || n > 1 {
			return nil, badRequest("the tool loop answers one choice: n must be 1")
		}
	}
	if raw, ok := c.top["tools"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &c.clientTools); err != nil {
			return nil, badRequest("tools must be an array")
		}
	}
	for _, t := range c.clientTools {
		var d struct {
			Function struct{ Name string } `json:"function"`
			Custom   struct{ Name string } `json:"custom"`
		}
		_ = json.Unmarshal(t, &d)
		c.clientNames[d.Function.Name] = true
		c.clientNames[d.Custom.Name] = true
	}
	delete(c.clientNames, "")
	return c, nil
}

// offer adds the definitions of the gateway tools the client does not
// shadow and returns them by name (the first of duplicate names wins).
func (c *conversation) offer(tools []Tool) map[string]Tool {
	gw := map[string]Tool{}
	for _, t := range tools {
		name := t.Name()
		if _, dup := gw[name]; dup || c.clientNames[name] {
			continue
		}
		gw[name] = t
		c.gatewayDefs = append(c.gatewayDefs, t.Definition())
	}
	return gw
}

// body is the request of the next round: streaming with usage, and with
// the client's and the gateway's tools, or with no tools at all.
func (c *conversation) body(withTools bool) ([]byte, error) {
	top := maps.Clone(c.top)
	top["stream"] = json.RawMessage("true")
	var so map[string]json.RawMessage
	_ = json.Unmarshal(top["stream_options"], &so) // absent, null or not an object: replaced
	if so == nil {
		so = map[string]json.RawMessage{}
	}
	so["include_usage"] = json.RawMessage("true")
	var err error
	if top["stream_options"], err = json.Marshal(so); err != nil {
		return nil, err
	}
	if top["messages"], err = json.Marshal(c.messages); err != nil {
		return nil, err
	}
	tools := append(slices.Clip(c.clientTools), c.gatewayDefs...)
	if withTools && len(tools) > 0 {
		if top["tools"], err = json.Marshal(tools); err != nil {
			return nil, err
		}
	} else {
		// OpenAI refuses tool_choice and parallel_tool_calls without tools.
		delete(top, "tools")
		delete(top, "tool_choice")
		delete(top, "parallel_tool_calls")
	}
	return json.Marshal(top)
}

// appendRound adds a gateway round to the conversation: the assistant
// message with its text and tool calls, then one tool message per call
// with its result. A call without an id gets one; arguments that are not
// a JSON object are recorded as {} (the tool's error result tells the
// model what was wrong), since a history holding them cannot be sent to
// every provider.
func (c *conversation) appendRound(round int, r *round, results []string) {
	msg := openai.ChatMessage{Role: "assistant"}
	if t := r.text.String(); t != "" {
		msg.Content = &openai.ChatContent{Text: t}
	}
	for i, cl := range r.calls {
		if cl.id == "" {
			cl.id = fmt.Sprintf("call_mp_%d_%d", round, i)
		}
		args := string(normArgs(cl.args.String()))
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(args), &obj) != nil || obj == nil {
			args = "{}"
		}
		msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: cl.id, Type: "function",
			Function: openai.FunctionCall{Name: cl.name, Arguments: args}})
	}
	c.messages = append(c.messages, mustJSON(msg))
	for i, cl := range r.calls {
		c.messages = append(c.messages, mustJSON(openai.ChatMessage{Role: "tool", ToolCallID: cl.id,
			Content: &openai.ChatContent{Text: results[i]}}))
	}
}

// relaxToolChoice lets the model answer after a gateway round that its
// tool_choice forced.
func (c *conversation) relaxToolChoice(gw map[string]Tool) {
	raw, ok := c.top["tool_choice"]
	if !ok {
		return
	}
	var tc openai.ToolChoice
	if json.Unmarshal(raw, &tc) != nil {
		return
	}
	_, forcedGateway := gw[tc.Name]
	if (tc.Mode == "required" && len(c.clientTools) == 0) || (tc.Type == "function" && forcedGateway) {
		c.top["tool_choice"] = json.RawMessage(`"auto"`)
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the message types always encode
	}
	return b
}
