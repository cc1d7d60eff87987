package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// NewOpenAIChatToResponsesStream returns a Stream that translates an
// OpenAI chat-completion stream into Responses API events on out, for
// clientModel. Every event is `event: <type>` and a data line whose
// sequence_number counts the events from 0.
//
// The first chunk sends response.created and response.in_progress (status
// in_progress, no output, usage null). Content opens a message item
// (response.output_item.added, in_progress, empty content) and an
// output_text part (response.content_part.added), then sends each piece as
// response.output_text.delta; refusal pieces get a refusal part and
// response.refusal.delta. A part is closed (output_text.done or
// refusal.done with the whole text, then content_part.done) when the other
// kind begins or the item closes; an item is closed (output_item.done,
// with everything it holds) when the next item opens or finish_reason
// arrives. Each new tool call index opens a function_call item (call_id,
// name, empty arguments) whose argument fragments become
// response.function_call_arguments.delta, closed by
// function_call_arguments.done and output_item.done; a call with no
// argument fragments gets a "{}" delta first, as clients parse arguments
// as JSON. output_index counts the items in order; at most one is open,
// and a fragment for a tool call whose item was already closed cannot be
// said and fails the stream.
//
// data: [DONE] sends the terminal event with the whole response (output and
// the usage of the include_usage chunk): response.completed, or, for
// finish_reason length or content_filter, response.incomplete with
// incomplete_details, as OpenAI does. Items and ids are those of
// OpenAIChatResponseToResponses for the same answer.
//
// A failure (an upstream error chunk, a malformed chunk, a stream cut
// before [DONE]) ends the output with response.failed, whose response has
// status failed, error {code, message} and the items closed so far. That
// is the terminal event clients act on: Codex reads its error (and retries
// the turn), where it ignores a bare `error` event and would only see the
// connection close; the SDKs' stream helpers surface it too. The code is
// the upstream's for an error chunk, else "server_error".
func NewOpenAIChatToResponsesStream(out io.Writer, clientModel string) Stream {
	s := &openAIToResponses{model: clientModel, open: -1}
	s.init(out, s.onEvent, func(cause error) []byte {
		return s.lifecycle(openai.ResponsesEventFailed, &openai.ResponseError{Code: "server_error", Message: failMessage(cause)})
	})
	return s
}

type openAIToResponses struct {
	streamBase
	model   string
	started bool
	chatID  string
	created int64
	seq     int64
	items   []openai.OutputItem // in output order; items[open] is open
	open    int                 // output index of the open item, -1 when none
	part    string              // type of the open part of the open message, "" when none
	text    []byte              // the open part's text, or the open call's arguments
	calls   []int               // chat tool call index → output index + 1
	finish  string
	usage   *chatUsage
	buf, ev []byte
}

func (s *openAIToResponses) Usage() llm.Usage { return s.usage.llm() }

// responsesChunk is a chat chunk whose usage is read by parseChatUsage.
type responsesChunk struct {
	openai.ChatChunk
	Usage json.RawMessage `json:"usage"`
}

func (s *openAIToResponses) onEvent(_, data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, doneData) {
		return s.end()
	}
	var c responsesChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("malformed chunk: %w", err)
	}
	if e := c.Error; e != nil {
		code := "server_error"
		if e.Code != nil && *e.Code != "" {
			code = *e.Code
		}
		if err := s.write(s.lifecycle(openai.ResponsesEventFailed, &openai.ResponseError{Code: code, Message: e.Message})); err != nil {
			return err
		}
		return &upstreamError{e.Type, e.Message}
	}
	if err := s.start(c.ID, c.Created); err != nil {
		return err
	}
	if u, err := parseChatUsage(c.Usage); err != nil {
		return fmt.Errorf("malformed usage: %w", err)
	} else if u != nil {
		s.usage = u
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue
		}
		if d := ch.Delta.Content; d != nil && *d != "" {
			if err := s.textDelta("output_text", *d); err != nil {
				return err
			}
		}
		if d := ch.Delta.Refusal; d != nil && *d != "" {
			if err := s.textDelta("refusal", *d); err != nil {
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
			if err := s.closeItem(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *openAIToResponses) start(id string, created int64) error {
	if s.started {
		return nil
	}
	s.started, s.chatID, s.created = true, baseID(id), created
	if err := s.write(s.lifecycle(openai.ResponsesEventCreated, nil)); err != nil {
		return err
	}
	return s.write(s.lifecycle(openai.ResponsesEventInProgress, nil))
}

// lifecycle renders a lifecycle event (created, in_progress, completed,
// incomplete, failed) carrying the whole response: the closed items, and
// for a failure e.
func (s *openAIToResponses) lifecycle(typ string, e *openai.ResponseError) []byte {
	if s.chatID == "" {
		s.chatID = baseID("") // a failure before the first chunk
	}
	r := newResponseObject(s.chatID, s.created, s.model)
	closed := s.items
	if s.open >= 0 {
		closed = s.items[:s.open]
	}
	switch typ {
	case openai.ResponsesEventCompleted, openai.ResponsesEventIncomplete:
		r.Output = append(r.Output, closed...)
		finishResponse(&r, s.finish)
		r.Usage = s.usage.responses()
	case openai.ResponsesEventFailed:
		r.Output = append(r.Output, closed...)
		r.Status, r.Error = openai.StatusFailed, e
	}
	b, _ := json.Marshal(r)
	d := append(s.begin(typ), `,"response":`...)
	return s.event(typ, append(d, b...))
}

func (s *openAIToResponses) textDelta(kind, t string) error {
	if s.open < 0 || s.items[s.open].Type != "message" {
		if err := s.closeItem(); err != nil {
			return err
		}
		n := len(s.items)
		s.items = append(s.items, openai.OutputItem{Type: "message", ID: itemID("msg_", s.chatID, n),
			Status: openai.StatusInProgress, Role: "assistant", Content: []openai.OutputPart{}})
		if err := s.itemEvent(openai.ResponsesEventItemAdded, n); err != nil {
			return err
		}
	}
	if s.part != kind {
		if err := s.closePart(); err != nil {
			return err
		}
		s.part, s.text = kind, s.text[:0]
		if err := s.partEvent(openai.ResponsesEventPartAdded, openai.OutputPart{Type: kind}); err != nil {
			return err
		}
	}
	s.text = append(s.text, t...)
	typ := openai.ResponsesEventTextDelta
	if kind == "refusal" {
		typ = openai.ResponsesEventRefusalDelta
	}
	d := appendString(append(s.partHead(typ), `,"delta":`...), t)
	if kind == "output_text" {
		d = append(d, `,"logprobs":[]`...)
	}
	return s.write(s.event(typ, d))
}

func (s *openAIToResponses) tool(tc openai.ToolCallDelta) error {
	if tc.Index < 0 || tc.Index > 1<<16 {
		return fmt.Errorf("bad tool call index %d", tc.Index)
	}
	for len(s.calls) <= tc.Index {
		s.calls = append(s.calls, 0)
	}
	if out := s.calls[tc.Index] - 1; out < 0 {
		if err := s.closeItem(); err != nil {
			return err
		}
		n := len(s.items)
		s.calls[tc.Index], s.text = n+1, s.text[:0]
		s.items = append(s.items, openai.OutputItem{Type: "function_call", ID: itemID("fc_", s.chatID, n),
			Status: openai.StatusInProgress, CallID: callID(tc.ID, s.chatID, n), Name: tc.Function.Name})
		if err := s.itemEvent(openai.ResponsesEventItemAdded, n); err != nil {
			return err
		}
	} else if out != s.open {
		return fmt.Errorf("fragment for tool call %d after its item was closed", tc.Index)
	}
	if tc.Function.Arguments == "" {
		return nil
	}
	s.text = append(s.text, tc.Function.Arguments...)
	d := appendString(append(s.itemHead(openai.ResponsesEventArgumentsDelta), `,"delta":`...), tc.Function.Arguments)
	return s.write(s.event(openai.ResponsesEventArgumentsDelta, d))
}

// closePart closes the open part of the open message.
func (s *openAIToResponses) closePart() error {
	if s.part == "" {
		return nil
	}
	p := openai.OutputPart{Type: s.part}
	var typ string
	var d []byte
	if s.part == "refusal" {
		typ, p.Refusal = openai.ResponsesEventRefusalDone, string(s.text)
		d = appendString(append(s.partHead(typ), `,"refusal":`...), p.Refusal)
	} else {
		typ, p.Text = openai.ResponsesEventTextDone, string(s.text)
		d = append(appendString(append(s.partHead(typ), `,"text":`...), p.Text), `,"logprobs":[]`...)
	}
	if err := s.write(s.event(typ, d)); err != nil {
		return err
	}
	if err := s.partEvent(openai.ResponsesEventPartDone, p); err != nil {
		return err
	}
	it := &s.items[s.open]
	it.Content, s.part = append(it.Content, p), ""
	return nil
}

// closeItem closes the open item, if any.
func (s *openAIToResponses) closeItem() error {
	if s.open < 0 {
		return nil
	}
	it := &s.items[s.open]
	if it.Type == "message" {
		if err := s.closePart(); err != nil {
			return err
		}
	} else {
		if len(s.text) == 0 {
			// A call without arguments: say {} as OpenAI would, since
			// clients parse the arguments as JSON.
			s.text = append(s.text, "{}"...)
			d := appendString(append(s.itemHead(openai.ResponsesEventArgumentsDelta), `,"delta":`...), "{}")
			if err := s.write(s.event(openai.ResponsesEventArgumentsDelta, d)); err != nil {
				return err
			}
		}
		it.Arguments = string(s.text)
		d := appendString(append(s.itemHead(openai.ResponsesEventArgumentsDone), `,"name":`...), it.Name)
		d = appendString(append(d, `,"arguments":`...), it.Arguments)
		if err := s.write(s.event(openai.ResponsesEventArgumentsDone, d)); err != nil {
			return err
		}
	}
	it.Status = openai.StatusCompleted
	if incompleteReason(s.finish) != "" {
		it.Status = openai.StatusIncomplete
	}
	n := s.open
	s.open = -1
	return s.itemEvent(openai.ResponsesEventItemDone, n)
}

// end answers data: [DONE], the upstream's proper end.
func (s *openAIToResponses) end() error {
	if err := s.start("", 0); err != nil {
		return err
	}
	if err := s.closeItem(); err != nil {
		return err
	}
	typ := openai.ResponsesEventCompleted
	if incompleteReason(s.finish) != "" {
		typ = openai.ResponsesEventIncomplete
	}
	s.done = true
	return s.write(s.lifecycle(typ, nil))
}

// itemEvent sends output_item.added or .done for the item at index n,
// opening it for added.
func (s *openAIToResponses) itemEvent(typ string, n int) error {
	if typ == openai.ResponsesEventItemAdded {
		s.open = n
	}
	b, _ := json.Marshal(s.items[n])
	d := strconv.AppendInt(append(s.begin(typ), `,"output_index":`...), int64(n), 10)
	return s.write(s.event(typ, append(append(d, `,"item":`...), b...)))
}

// partEvent sends content_part.added or .done for part p of the open item.
func (s *openAIToResponses) partEvent(typ string, p openai.OutputPart) error {
	if p.Type == "output_text" {
		p.Annotations = []json.RawMessage{}
	}
	b, _ := json.Marshal(p)
	return s.write(s.event(typ, append(append(s.partHead(typ), `,"part":`...), b...)))
}

// begin starts the data of the next event in s.buf.
func (s *openAIToResponses) begin(typ string) []byte {
	b := append(append(append(s.buf[:0], `{"type":"`...), typ...), `","sequence_number":`...)
	s.seq++
	return strconv.AppendInt(b, s.seq-1, 10)
}

// itemHead begins an event about the open item.
func (s *openAIToResponses) itemHead(typ string) []byte {
	b := appendString(append(s.begin(typ), `,"item_id":`...), s.items[s.open].ID)
	return strconv.AppendInt(append(b, `,"output_index":`...), int64(s.open), 10)
}

// partHead begins an event about the open part of the open message; its
// content_index is the number of parts closed before it.
func (s *openAIToResponses) partHead(typ string) []byte {
	b := append(s.itemHead(typ), `,"content_index":`...)
	return strconv.AppendInt(b, int64(len(s.items[s.open].Content)), 10)
}

// event ends the data begun in d and renders the SSE event in s.ev.
func (s *openAIToResponses) event(typ string, d []byte) []byte {
	s.buf = append(d, '}')
	s.ev = openai.AppendResponsesEvent(s.ev[:0], typ, s.buf)
	return s.ev
}
