package translate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// NewAnthropicToOpenAIChatStream returns a Stream that translates an
// Anthropic Messages stream into OpenAI chat-completion chunks on out, for
// clientModel. With includeUsage, every chunk carries "usage":null and a
// last chunk with empty choices carries the usage, as OpenAI does for
// stream_options.include_usage.
//
// Events map as: message_start → a role chunk; text_delta → a content
// chunk; a tool_use content_block_start → a tool_calls chunk with the call's
// index (counting tool calls, not blocks), id, type, name and empty
// arguments; input_json_delta → an arguments fragment (a call whose input
// had no fragments gets "{}" at its content_block_stop); message_delta
// gives the stop reason and usage, which message_stop sends as the finish
// chunk, the usage chunk, then data: [DONE]. (The finish chunk waits for
// message_stop, the event after message_delta, so that a stream cut between
// the two never shows the client a finish_reason.)
// Thinking blocks and ping are dropped; an upstream `event: error` becomes
// data: {"error":{…}} and the stream is not Done.
func NewAnthropicToOpenAIChatStream(out io.Writer, clientModel string, includeUsage bool) Stream {
	s := &anthropicToOpenAI{chatChunks: chatChunks{model: clientModel, includeUsage: includeUsage}}
	s.init(out, s.onEvent, func(cause error) []byte {
		return openai.MarshalStreamError("server_error", string(llm.ErrUpstreamCut), failMessage(cause))
	})
	s.emit = s.write
	return s
}

type anthropicToOpenAI struct {
	streamBase
	chatChunks
	started bool
	tools   []int // content block index → tool call index + 1 (0: no tool)
	argLen  []int // tool call index → argument bytes sent
	usage   anthropic.Usage
	stop    string
}

func (s *anthropicToOpenAI) Usage() llm.Usage { return s.usage.LLM() }

var errNotStarted = errors.New("event before message_start")

func (s *anthropicToOpenAI) onEvent(name, data []byte) error {
	var ev anthropic.StreamEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return fmt.Errorf("malformed %s event: %w", name, err)
	}
	if ev.Type == "" {
		ev.Type = string(name)
	}
	if !s.started && ev.Type != anthropic.EventMessageStart && ev.Type != anthropic.EventPing && ev.Type != anthropic.EventError {
		return errNotStarted
	}
	switch ev.Type {
	case anthropic.EventMessageStart:
		if ev.Message == nil {
			return errors.New("message_start without a message")
		}
		return s.start(ev.Message)
	case anthropic.EventContentBlockStart:
		if ev.ContentBlock == nil {
			return errors.New("content_block_start without a content_block")
		}
		return s.blockStart(ev.Index, ev.ContentBlock)
	case anthropic.EventContentBlockDelta:
		if ev.Delta == nil {
			return errors.New("content_block_delta without a delta")
		}
		return s.blockDelta(ev.Index, ev.Delta)
	case anthropic.EventContentBlockStop:
		if t := s.tool(ev.Index); t >= 0 && s.argLen[t] == 0 {
			s.argLen[t] = 2
			return s.argsChunk(t, "{}")
		}
	case anthropic.EventMessageDelta:
		if ev.Usage != nil {
			ev.Usage.Apply(&s.usage)
		}
		if ev.Delta != nil && ev.Delta.StopReason != nil {
			s.stop = *ev.Delta.StopReason
		}
	case anthropic.EventMessageStop:
		if err := s.finish(); err != nil {
			return err
		}
		b, _ := json.Marshal(openAIUsage(s.usage))
		s.done = true
		return s.end(b)
	case anthropic.EventError:
		e := anthropic.ErrorDetail{Type: "api_error", Message: "upstream error"}
		if ev.Error != nil {
			e = *ev.Error
		}
		if err := s.write(openai.MarshalStreamError(e.Type, "", e.Message)); err != nil {
			return err
		}
		return &upstreamError{e.Type, e.Message}
	}
	return nil // ping, and event types added after this was written
}

func (s *anthropicToOpenAI) start(m *anthropic.MessageResponse) error {
	if s.started {
		return errors.New("second message_start")
	}
	s.started, s.usage = true, m.Usage
	return s.startChunks(withPrefix("chatcmpl-", m.ID))
}

func (s *anthropicToOpenAI) blockStart(index int, b *anthropic.ContentBlock) error {
	switch b.Type {
	case anthropic.BlockText:
		if b.Text != "" {
			return s.textChunk(b.Text)
		}
	case anthropic.BlockToolUse:
		if index < 0 || index > 1<<16 || s.tool(index) >= 0 {
			return fmt.Errorf("bad content block index %d", index)
		}
		for len(s.tools) <= index {
			s.tools = append(s.tools, 0)
		}
		t := len(s.argLen)
		s.tools[index] = t + 1
		s.argLen = append(s.argLen, 0)
		d := append(s.begin(), `{"tool_calls":[{"index":`...)
		d = strconv.AppendInt(d, int64(t), 10)
		d = appendString(append(d, `,"id":`...), b.ID)
		d = appendString(append(d, `,"type":"function","function":{"name":`...), b.Name)
		return s.chunk(append(d, `,"arguments":""}}]}`...), "")
	}
	return nil // thinking, redacted_thinking: provider-specific, dropped
}

func (s *anthropicToOpenAI) blockDelta(index int, d *anthropic.EventDelta) error {
	switch d.Type {
	case anthropic.DeltaText:
		if d.Text != "" {
			return s.textChunk(d.Text)
		}
	case anthropic.DeltaInputJSON:
		t := s.tool(index)
		if t < 0 {
			return fmt.Errorf("input_json_delta for content block %d, which is not a tool_use", index)
		}
		if d.PartialJSON != "" {
			s.argLen[t] += len(d.PartialJSON)
			return s.argsChunk(t, d.PartialJSON)
		}
	}
	return nil // thinking_delta, signature_delta, citations_delta
}

// tool returns the tool call index of a content block, or -1.
func (s *anthropicToOpenAI) tool(index int) int {
	if index < 0 || index >= len(s.tools) {
		return -1
	}
	return s.tools[index] - 1
}

func (s *anthropicToOpenAI) textChunk(text string) error {
	return s.chunk(append(appendString(append(s.begin(), `{"content":`...), text), '}'), "")
}

func (s *anthropicToOpenAI) argsChunk(t int, args string) error {
	d := strconv.AppendInt(append(s.begin(), `{"tool_calls":[{"index":`...), int64(t), 10)
	d = appendString(append(d, `,"function":{"arguments":`...), args)
	return s.chunk(append(d, `}}]}`...), "")
}

func (s *anthropicToOpenAI) finish() error {
	return s.chunk(append(s.begin(), `{}`...), finishReason(s.stop))
}
