package anthropic

import (
	"encoding/json"
)

// The event types of a Messages stream, in the order a stream sends them
// (ping may come anywhere; error replaces the rest of the stream).
const (
	EventMessageStart      = "message_start"
	EventContentBlockStart = "content_block_start"
	EventPing              = "ping"
	EventContentBlockDelta = "content_block_delta"
	EventContentBlockStop  = "content_block_stop"
	EventMessageDelta      = "message_delta"
	EventMessageStop       = "message_stop"
	EventError             = "error"
)

// The delta types of content_block_delta events.
const (
	DeltaText      = "text_delta"
	DeltaInputJSON = "input_json_delta"
	DeltaThinking  = "thinking_delta"
	DeltaSignature = "signature_delta"
	DeltaCitations = "citations_delta"
)

// StreamEvent is the data of any stream event, decoded into one struct:
// message_start fills Message; content_block_start Index and ContentBlock;
// content_block_delta Index and Delta (Type, Text, PartialJSON, Thinking,
// Signature); content_block_stop Index; message_delta Delta (StopReason,
// StopSequence) and Usage; error Error.
type StreamEvent struct {
	Type         string           `json:"type"`
	Message      *MessageResponse `json:"message"`
	Index        int              `json:"index"`
	ContentBlock *ContentBlock    `json:"content_block"`
	Delta        *EventDelta      `json:"delta"`
	Usage        *DeltaUsage      `json:"usage"`
	Error        *ErrorDetail     `json:"error"`
}

// EventDelta is the delta of a content_block_delta or message_delta event.
type EventDelta struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	PartialJSON  string  `json:"partial_json"`
	Thinking     string  `json:"thinking"`
	Signature    string  `json:"signature"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// DeltaUsage is the usage of a message_delta event. Its counts are
// cumulative; OutputTokens is always sent, the input counts only by newer
// API versions (nil when absent).
type DeltaUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	OutputTokens             int64  `json:"output_tokens"`
}

// Apply folds the cumulative counts of d into u.
func (d *DeltaUsage) Apply(u *Usage) {
	if d.InputTokens != nil {
		u.InputTokens = *d.InputTokens
	}
	if d.CacheCreationInputTokens != nil {
		u.CacheCreationInputTokens = *d.CacheCreationInputTokens
	}
	if d.CacheReadInputTokens != nil {
		u.CacheReadInputTokens = *d.CacheReadInputTokens
	}
	u.OutputTokens = d.OutputTokens
}

// AppendEvent appends one server-sent event in the API's framing,
// "event: <name>\ndata: <data>\n\n". data must be one line of JSON.
func AppendEvent(dst []byte, name string, data []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}

// MarshalStreamError renders an error raised after a stream has begun as
// the API does: `event: error` with the error envelope as data.
func MarshalStreamError(typ, message string) []byte {
	b, _ := json.Marshal(ErrorBody{Type: "error", Error: ErrorDetail{Type: typ, Message: message}})
	return AppendEvent(nil, EventError, b)
}
