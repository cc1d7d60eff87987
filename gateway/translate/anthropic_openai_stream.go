package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// NewOpenAIChatToAnthropicStream returns a Stream that translates an
// OpenAI chat-completion stream into Anthropic Messages events on out, for
// clientModel.
//
// The first chunk starts the message (message_start, with zero usage:
// OpenAI reports usage last). Content opens a text block; each new tool
// call index closes the open block and opens a tool_use block whose
// argument fragments become input_json_delta events; blocks are numbered
// in order and at most one is open. finish_reason closes the open block.
// data: [DONE] sends message_delta, with the stop reason and the usage of
// the include_usage chunk (all four counts, cumulative), then
// message_stop. An upstream error chunk becomes `event: error` and the
// stream is not Done. A fragment for a tool call whose block was already
// closed cannot be said in Anthropic's stream and fails it.
func NewOpenAIChatToAnthropicStream(out io.Writer, clientModel string) Stream {
	s := &openAIToAnthropic{model: clientModel, open: -1}
	s.init(out, s.onEvent, func(cause error) []byte {
		return anthropic.MarshalStreamError("api_error", failMessage(cause))
	})
	return s
}

type openAIToAnthropic struct {
	streamBase
	model    string
	started  bool
	msgID    string
	next     int   // index of the next content block
	open     int   // index of the open block, -1 when none
	openText bool  // the open block is a text block
	toolBlk  []int // OpenAI tool call index → content block index + 1
	refusal  bool
	finish   string
	usage    *openai.WireUsage
	buf      []byte
	ev       []byte
}

func (s *openAIToAnthropic) Usage() llm.Usage {
	if s.usage == nil {
		return llm.Usage{}
	}
	return s.usage.LLM()
}

var doneData = []byte("[DONE]")

func (s *openAIToAnthropic) onEvent(_, data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, doneData) {
		return s.end()
	}
	var c openai.ChatChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("malformed chunk: %w", err)
	}
	if c.Error != nil {
		typ := anthropicErrorType(c.Error.Type)
		if err := s.write(anthropic.MarshalStreamError(typ, c.Error.Message)); err != nil {
			return err
		}
		return &upstreamError{c.Error.Type, c.Error.Message}
	}
	if err := s.start(c.ID); err != nil {
		return err
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue
		}
		if d := ch.Delta.Content; d != nil && *d != "" {
			if err := s.text(*d); err != nil {
				return err
			}
		}
		if d := ch.Delta.Refusal; d != nil && *d != "" {
			s.refusal = true
			if err := s.text(*d); err != nil {
				return err
			}
		}
		for _, tc := range ch.Delta.ToolCalls {
			if err := s.tool(tc); err != nil {
				return err
			}
		}
		if ch.FinishReason != nil {
			s.finish = *ch.FinishReason
			if err := s.closeBlock(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *openAIToAnthropic) start(id string) error {
	if s.started {
		return nil
	}
	s.started, s.msgID = true, withPrefix("msg_", id)
	b := appendString(append(s.buf[:0], `{"type":"message_start","message":{"id":`...), s.msgID)
	b = appendString(append(b, `,"type":"message","role":"assistant","model":`...), s.model)
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,`+
		`"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}`...)
	return s.event(anthropic.EventMessageStart, b)
}

func (s *openAIToAnthropic) text(t string) error {
	if s.open < 0 || !s.openText {
		if err := s.closeBlock(); err != nil {
			return err
		}
		b := s.blockHead(anthropic.EventContentBlockStart)
		if err := s.event(anthropic.EventContentBlockStart, append(b, `,"content_block":{"type":"text","text":""}}`...)); err != nil {
			return err
		}
		s.openText = true
	}
	b := append(s.blockHead(anthropic.EventContentBlockDelta), `,"delta":{"type":"text_delta","text":`...)
	return s.event(anthropic.EventContentBlockDelta, append(appendString(b, t), "}}"...))
}

func (s *openAIToAnthropic) tool(tc openai.ToolCallDelta) error {
	if tc.Index < 0 || tc.Index > 1<<16 {
		return fmt.Errorf("bad tool call index %d", tc.Index)
	}
	for len(s.toolBlk) <= tc.Index {
		s.toolBlk = append(s.toolBlk, 0)
	}
	blk := s.toolBlk[tc.Index] - 1
	if blk < 0 {
		if err := s.closeBlock(); err != nil {
			return err
		}
		id := tc.ID
		if id == "" {
			id = "toolu_" + s.msgID + "_" + strconv.Itoa(tc.Index)
		}
		s.toolBlk[tc.Index] = s.next + 1
		blk = s.next
		b := append(s.blockHead(anthropic.EventContentBlockStart), `,"content_block":{"type":"tool_use","id":`...)
		b = appendString(b, toolUseID(id))
		b = appendString(append(b, `,"name":`...), tc.Function.Name)
		if err := s.event(anthropic.EventContentBlockStart, append(b, `,"input":{}}}`...)); err != nil {
			return err
		}
		s.openText = false
	} else if blk != s.open {
		return fmt.Errorf("fragment for tool call %d after its block was closed", tc.Index)
	}
	if tc.Function.Arguments == "" {
		return nil
	}
	b := append(s.blockHead(anthropic.EventContentBlockDelta), `,"delta":{"type":"input_json_delta","partial_json":`...)
	return s.event(anthropic.EventContentBlockDelta, append(appendString(b, tc.Function.Arguments), "}}"...))
}

// blockHead begins an event about the block at s.open, opening the next
// block for a start event.
func (s *openAIToAnthropic) blockHead(typ string) []byte {
	if typ == anthropic.EventContentBlockStart {
		s.open = s.next
		s.next++
	}
	b := append(append(append(s.buf[:0], `{"type":"`...), typ...), `","index":`...)
	return strconv.AppendInt(b, int64(s.open), 10)
}

func (s *openAIToAnthropic) closeBlock() error {
	if s.open < 0 {
		return nil
	}
	b := append(s.blockHead(anthropic.EventContentBlockStop), '}')
	s.open, s.openText = -1, false
	return s.event(anthropic.EventContentBlockStop, b)
}

// end answers data: [DONE], the upstream's proper end.
func (s *openAIToAnthropic) end() error {
	if err := s.start(""); err != nil {
		return err
	}
	if err := s.closeBlock(); err != nil {
		return err
	}
	stop := stopReason(s.finish)
	if s.refusal {
		stop = anthropic.StopRefusal
	}
	u := anthropicUsage(s.usage)
	b := appendString(append(s.buf[:0], `{"type":"message_delta","delta":{"stop_reason":`...), stop)
	b = strconv.AppendInt(append(b, `,"stop_sequence":null},"usage":{"input_tokens":`...), u.InputTokens, 10)
	b = strconv.AppendInt(append(b, `,"cache_creation_input_tokens":`...), u.CacheCreationInputTokens, 10)
	b = strconv.AppendInt(append(b, `,"cache_read_input_tokens":`...), u.CacheReadInputTokens, 10)
	b = strconv.AppendInt(append(b, `,"output_tokens":`...), u.OutputTokens, 10)
	if err := s.event(anthropic.EventMessageDelta, append(b, "}}"...)); err != nil {
		return err
	}
	s.done = true
	return s.event(anthropic.EventMessageStop, append(s.buf[:0], `{"type":"message_stop"}`...))
}

func (s *openAIToAnthropic) event(name string, data []byte) error {
	s.buf = data
	s.ev = anthropic.AppendEvent(s.ev[:0], name, data)
	return s.write(s.ev)
}

// anthropicErrorType keeps an OpenAI error type Anthropic also uses, and
// calls the rest api_error.
func anthropicErrorType(t string) string {
	switch t {
	case "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
		"request_too_large", "rate_limit_error", "overloaded_error":
		return t
	}
	return "api_error"
}
