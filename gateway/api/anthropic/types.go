package anthropic

import (
	"encoding/json"
	"errors"

	"github.com/memproxy/memproxy/gateway/llm"
)

// MessagesRequest is the body of POST /v1/messages, as far as the gateway
// reads or writes it. Pointer and omitempty fields are absent from the wire
// when unset.
type MessagesRequest struct {
	Model string `json:"model"`
	// MaxTokens is required by the API; nil means the client left it out.
	MaxTokens     *int            `json:"max_tokens,omitempty"`
	System        *Content        `json:"system,omitempty"`
	Messages      []Message       `json:"messages"`
	Metadata      *Metadata       `json:"metadata,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	TopK          *int            `json:"top_k,omitempty"`
	Tools         []Tool          `json:"tools,omitempty"`
	ToolChoice    *ToolChoice     `json:"tool_choice,omitempty"`
	Thinking      json.RawMessage `json:"thinking,omitempty"`
	ServiceTier   string          `json:"service_tier,omitempty"`
}

// Metadata is the request's metadata object; user_id is its only field.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// Message is one turn of the conversation, role "user" or "assistant".
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is what the API accepts for system, message content and
// tool_result content: a plain string or an array of content blocks. Blocks
// == nil means the string form (Text); a non-nil Blocks, even empty, is the
// array form.
type Content struct {
	Text   string
	Blocks []ContentBlock
}

// MarshalJSON writes the string form when Blocks is nil, else the array.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Blocks == nil {
		return json.Marshal(c.Text)
	}
	return json.Marshal(c.Blocks)
}

// UnmarshalJSON accepts a string or an array of blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.Text)
	}
	if len(b) > 0 && b[0] == '[' {
		c.Blocks = []ContentBlock{}
		return json.Unmarshal(b, &c.Blocks)
	}
	return errors.New("content must be a string or an array of content blocks")
}

// The content block types the gateway knows.
const (
	BlockText             = "text"
	BlockImage            = "image"
	BlockToolUse          = "tool_use"
	BlockToolResult       = "tool_result"
	BlockThinking         = "thinking"
	BlockRedactedThinking = "redacted_thinking"
)

// ContentBlock is one block of a message's content. Which fields are used
// depends on Type: text (Text), image (Source), tool_use (ID, Name, Input),
// tool_result (ToolUseID, Content, IsError), thinking (Thinking, Signature),
// redacted_thinking (Data). Blocks of other types keep their bytes in Raw
// and are written back unchanged.
type ContentBlock struct {
	Type         string
	Text         string
	Citations    json.RawMessage
	Source       *ImageSource
	ID           string
	Name         string
	Input        json.RawMessage
	ToolUseID    string
	Content      *Content
	IsError      bool
	Thinking     string
	Signature    string
	Data         string
	CacheControl json.RawMessage
	Raw          json.RawMessage
}

// ImageSource is an image block's source: type "base64" (MediaType, Data)
// or "url" (URL).
type ImageSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type wireBlock struct {
	Type         string          `json:"type"`
	Text         string          `json:"text"`
	Citations    json.RawMessage `json:"citations"`
	Source       *ImageSource    `json:"source"`
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Input        json.RawMessage `json:"input"`
	ToolUseID    string          `json:"tool_use_id"`
	Content      *Content        `json:"content"`
	IsError      bool            `json:"is_error"`
	Thinking     string          `json:"thinking"`
	Signature    string          `json:"signature"`
	Data         string          `json:"data"`
	CacheControl json.RawMessage `json:"cache_control"`
}

// UnmarshalJSON decodes any block type, keeping the raw bytes.
func (c *ContentBlock) UnmarshalJSON(b []byte) error {
	var w wireBlock
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = w.block()
	c.Raw = append(json.RawMessage(nil), b...)
	return nil
}

func (w wireBlock) block() ContentBlock {
	return ContentBlock{Type: w.Type, Text: w.Text, Citations: nonNull(w.Citations), Source: w.Source,
		ID: w.ID, Name: w.Name, Input: nonNull(w.Input), ToolUseID: w.ToolUseID, Content: w.Content,
		IsError: w.IsError, Thinking: w.Thinking, Signature: w.Signature, Data: w.Data,
		CacheControl: nonNull(w.CacheControl)}
}

func nonNull(r json.RawMessage) json.RawMessage {
	if string(r) == "null" {
		return nil
	}
	return r
}

// MarshalJSON writes exactly the fields the API documents for the block's
// type; a tool_use block without Input gets "input":{}.
func (c ContentBlock) MarshalJSON() ([]byte, error) {
	cc := c.CacheControl
	switch c.Type {
	case BlockText:
		return json.Marshal(struct {
			Type         string          `json:"type"`
			Text         string          `json:"text"`
			Citations    json.RawMessage `json:"citations,omitempty"`
			CacheControl json.RawMessage `json:"cache_control,omitempty"`
		}{c.Type, c.Text, c.Citations, cc})
	case BlockImage:
		return json.Marshal(struct {
			Type         string          `json:"type"`
			Source       *ImageSource    `json:"source"`
			CacheControl json.RawMessage `json:"cache_control,omitempty"`
		}{c.Type, c.Source, cc})
	case BlockToolUse:
		in := c.Input
		if len(in) == 0 {
			in = json.RawMessage(`{}`)
		}
		return json.Marshal(struct {
			Type         string          `json:"type"`
			ID           string          `json:"id"`
			Name         string          `json:"name"`
			Input        json.RawMessage `json:"input"`
			CacheControl json.RawMessage `json:"cache_control,omitempty"`
		}{c.Type, c.ID, c.Name, in, cc})
	case BlockToolResult:
		return json.Marshal(struct {
			Type         string          `json:"type"`
			ToolUseID    string          `json:"tool_use_id"`
			Content      *Content        `json:"content,omitempty"`
			IsError      bool            `json:"is_error,omitempty"`
			CacheControl json.RawMessage `json:"cache_control,omitempty"`
		}{c.Type, c.ToolUseID, c.Content, c.IsError, cc})
	case BlockThinking:
		return json.Marshal(struct {
			Type      string `json:"type"`
			Thinking  string `json:"thinking"`
			Signature string `json:"signature"`
		}{c.Type, c.Thinking, c.Signature})
	case BlockRedactedThinking:
		return json.Marshal(struct {
			Type string `json:"type"`
			Data string `json:"data"`
		}{c.Type, c.Data})
	}
	if len(c.Raw) > 0 {
		return c.Raw, nil
	}
	return nil, errors.New("anthropic: content block of type " + c.Type + " has no raw form")
}

// Tool is a client tool definition. Type is empty (or "custom") for tools
// the client runs; other types are Anthropic's server and versioned tools.
type Tool struct {
	Type         string          `json:"type,omitempty"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ToolChoice is the tool_choice object: type "auto", "any", "tool" (with
// Name) or "none". DisableParallelToolUse is not allowed with "none".
type ToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// The stop reasons of a message.
const (
	StopEndTurn      = "end_turn"
	StopMaxTokens    = "max_tokens"
	StopSequence     = "stop_sequence"
	StopToolUse      = "tool_use"
	StopPauseTurn    = "pause_turn"
	StopRefusal      = "refusal"
	StopContextLimit = "model_context_window_exceeded"
)

// MessageResponse is the body of a non-streaming reply, and the message of
// a message_start event. StopReason and StopSequence are null until known.
type MessageResponse struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

// Usage is a message's token accounting. InputTokens excludes the tokens
// read from or written to the prompt cache.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
}

// LLM returns the neutral usage: every prompt token, cached or not, counts
// in PromptTokens; cache reads are the CachedTokens and cache writes the
// CacheWriteTokens.
func (u Usage) LLM() llm.Usage {
	return llm.Usage{
		PromptTokens:     u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens,
		CompletionTokens: u.OutputTokens,
		CachedTokens:     u.CacheReadInputTokens,
		CacheWriteTokens: u.CacheCreationInputTokens,
	}
}

// UsageFromLLM is the inverse of Usage.LLM: cache reads and writes come out
// of the input tokens (providers that do not report cache writes leave
// CacheWriteTokens zero).
func UsageFromLLM(u llm.Usage) Usage {
	return Usage{
		InputTokens:              u.PromptTokens - u.CachedTokens - u.CacheWriteTokens,
		CacheCreationInputTokens: u.CacheWriteTokens,
		CacheReadInputTokens:     u.CachedTokens,
		OutputTokens:             u.CompletionTokens,
	}
}
