package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/api/sse"
)

// call is one tool call of a round, assembled from its fragments.
type call struct {
	index    int // the model's tool call index
	id, name string
	args     strings.Builder
}

// item is what a round holds after its first tool call, in arrival order:
// a delta (text and whatever else besides tool_calls) or a tool call.
type item struct {
	delta map[string]json.RawMessage
	call  *call
}

// round reads one model stream. Before the first tool call it forwards
// deltas to the client as they come; from the first tool call on it holds
// everything (held) until the stream's end.
type round struct {
	out  *clientStream
	text strings.Builder // all the round's content, for the history

	holding bool
	held    []item
	calls   []*call
	byIndex map[int]*call

	finish string
	usage  *openai.WireUsage
	done   bool
}

var doneData = []byte("[DONE]")

// read consumes the stream to its end. It returns nil once data: [DONE]
// was seen (what follows is not read), else an error wrapping
// ErrStreamCut or ErrWrite; a read error other than EOF is wrapped too
// (the caller checks ctx for the cause).
func (r *round) read(body io.Reader) error {
	events := sse.Reader{OnEvent: func(ev *sse.Event) error {
		if r.done {
			return nil
		}
		return r.event(ev.Data)
	}}
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := events.Write(buf[:n]); werr != nil {
				if errors.Is(werr, sse.ErrLineTooLong) {
					return fmt.Errorf("%w: %w", ErrStreamCut, werr)
				}
				return werr
			}
			if r.done {
				return nil
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: reading: %w", ErrStreamCut, err)
		}
	}
	// The input ended: an event whose blank line was lost still counts.
	if err := events.End(); err != nil {
		if errors.Is(err, sse.ErrLineTooLong) {
			return fmt.Errorf("%w: %w", ErrStreamCut, err)
		}
		return err
	}
	if !r.done {
		return fmt.Errorf("%w: no data: [DONE]", ErrStreamCut)
	}
	return nil
}

// inChunk is what the loop reads of a model chunk.
type inChunk struct {
	ID      string `json:"id"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int                        `json:"index"`
		Delta        map[string]json.RawMessage `json:"delta"`
		FinishReason *string                    `json:"finish_reason"`
	} `json:"choices"`
	Usage *openai.WireUsage   `json:"usage"`
	Error *openai.ErrorDetail `json:"error"`
}

// upstreamError is an error event the model's stream sent; it has been
// relayed to the client.
type upstreamError struct{ d openai.ErrorDetail }

func (e *upstreamError) Error() string { return "error event: " + e.d.Type + ": " + e.d.Message }

func (r *round) event(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, doneData) {
		r.done = true
		return nil
	}
	var c inChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("%w: malformed chunk: %w", ErrStreamCut, err)
	}
	if c.Error != nil {
		r.out.fail(*c.Error)
		return fmt.Errorf("%w: %w", ErrStreamCut, &upstreamError{*c.Error})
	}
	if err := r.out.start(c.ID, c.Created, c.Model); err != nil {
		return err
	}
	if c.Usage != nil {
		r.usage = c.Usage
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // the loop runs one choice (Run refuses n > 1)
		}
		if err := r.delta(ch.Delta); err != nil {
			return err
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			r.finish = *ch.FinishReason
		}
	}
	return nil
}

func (r *round) delta(d map[string]json.RawMessage) error {
	var tcs []openai.ToolCallDelta
	if raw, ok := d["tool_calls"]; ok {
		if err := json.Unmarshal(raw, &tcs); err != nil {
			return fmt.Errorf("%w: malformed tool_calls: %w", ErrStreamCut, err)
		}
	}
	delete(d, "tool_calls")
	delete(d, "role")
	if raw, ok := d["content"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			r.text.WriteString(s)
		}
	}
	if hasText(d) {
		if !r.holding {
			if err := r.out.delta(d); err != nil {
				return err
			}
		} else {
			r.held = append(r.held, item{delta: d})
		}
	}
	for _, tc := range tcs {
		if tc.Index < 0 || tc.Index > 1<<16 {
			return fmt.Errorf("%w: bad tool call index %d", ErrStreamCut, tc.Index)
		}
		c := r.byIndex[tc.Index]
		if c == nil {
			if r.byIndex == nil {
				r.byIndex = map[int]*call{}
			}
			c = &call{index: tc.Index}
			r.byIndex[tc.Index] = c
			r.calls = append(r.calls, c)
			r.held = append(r.held, item{call: c})
			r.holding = true
		}
		if c.id == "" {
			c.id = tc.ID
		}
		if c.name == "" {
			c.name = tc.Function.Name
		}
		c.args.WriteString(tc.Function.Arguments)
	}
	return nil
}

// kind is what a finished round turned out to be.
type kind int

const (
	answer     kind = iota // no tool call: the final answer
	gatewayRun             // only gateway calls: execute them
	toClient               // a mixed turn, or the last round: to the client
)

// classify decides what the round was. gateway tells the gateway's tools;
// canRun is false in the last round, whose gateway calls are dropped.
func (r *round) classify(gateway func(string) bool, canRun bool) kind {
	if len(r.calls) == 0 {
		return answer
	}
	for _, c := range r.calls {
		if !gateway(c.name) {
			return toClient
		}
	}
	if canRun {
		return gatewayRun
	}
	return toClient
}

// release sends the held part of a client round in order, minus the
// gateway calls, with the remaining calls renumbered from 0, then the
// finish chunk. It returns the finish reason sent.
func (r *round) release(gateway func(string) bool) (string, error) {
	n := 0
	for _, it := range r.held {
		var err error
		switch {
		case it.delta != nil:
			err = r.out.delta(it.delta)
		case !gateway(it.call.name):
			if it.call.id == "" { // the client needs an id to answer the call
				it.call.id = fmt.Sprintf("call_mp_%d", n)
			}
			err = r.out.call(n, it.call)
			n++
		}
		if err != nil {
			return "", err
		}
	}
	reason := r.finish
	if reason == "" || (n == 0 && reason == openai.FinishToolCalls) {
		reason = openai.FinishStop // only dropped gateway calls were left
	}
	return reason, r.out.finish(reason)
}
