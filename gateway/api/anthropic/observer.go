package anthropic

import (
	"bytes"
	"encoding/json"

	"github.com/memproxy/memproxy/gateway/api/sse"
	"github.com/memproxy/memproxy/gateway/llm"
)

// StreamObserver reads a copy of a Messages SSE stream as it passes and
// records the usage (message_start's, updated by message_delta's
// cumulative counts), the stop reason, and whether message_stop was seen.
// It never modifies or holds back the bytes it is given.
type StreamObserver struct {
	lines sse.Lines
	usage Usage

	StopReason string
	SawStop    bool
	// Err is the error event's detail when the upstream sent one.
	Err *ErrorDetail
}

// Write implements io.Writer; it never fails.
func (o *StreamObserver) Write(p []byte) (int, error) {
	if o.lines.OnLine == nil {
		o.lines.OnLine = o.onLine
	}
	return o.lines.Write(p)
}

// Usage returns the usage seen so far, in neutral form.
func (o *StreamObserver) Usage() llm.Usage { return o.usage.LLM() }

var interesting = [][]byte{[]byte(`"message_start"`), []byte(`"message_delta"`), []byte(`"message_stop"`), []byte(`"error"`)}

func (o *StreamObserver) onLine(line []byte) {
	data, ok := sse.Data(line)
	if !ok || !containsAny(data, interesting) {
		return // content deltas: no parse at all
	}
	var ev StreamEvent
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	switch ev.Type {
	case EventMessageStart:
		if ev.Message != nil {
			o.usage = ev.Message.Usage
		}
	case EventMessageDelta:
		if ev.Usage != nil {
			ev.Usage.Apply(&o.usage)
		}
		if ev.Delta != nil && ev.Delta.StopReason != nil {
			o.StopReason = *ev.Delta.StopReason
		}
	case EventMessageStop:
		o.SawStop = true
	case EventError:
		o.Err = ev.Error
	}
}

func containsAny(b []byte, subs [][]byte) bool {
	for _, s := range subs {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}

// UsageOf reads the usage of a non-streaming Messages response.
func UsageOf(body []byte) (llm.Usage, bool) {
	var r struct {
		Usage *Usage `json:"usage"`
	}
	if json.Unmarshal(body, &r) != nil || r.Usage == nil {
		return llm.Usage{}, false
	}
	return r.Usage.LLM(), true
}

// ParseError reads an Anthropic error body; ok is false when it is not one.
func ParseError(b []byte) (ErrorDetail, bool) {
	var e ErrorBody
	if json.Unmarshal(b, &e) != nil || e.Error.Message == "" {
		return ErrorDetail{}, false
	}
	return e.Error, true
}
