package anthropic

import (
	"strings"
	"testing"
)

// A Messages stream as the API reference shows it.
const docStream = "event: message_start\n" +
	`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":10,"cache_read_input_tokens":100,"output_tokens":1}}}` + "\n\n" +
	"event: content_block_start\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n" +
	"event: ping\n" + `data: {"type": "ping"}` + "\n\n" +
	"event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}` + "\n\n" +
	"event: content_block_stop\n" + `data: {"type":"content_block_stop","index":0}` + "\n\n" +
	"event: message_delta\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}` + "\n\n" +
	"event: message_stop\n" + `data: {"type":"message_stop"}` + "\n\n"

func TestStreamObserver(t *testing.T) {
	for size := 1; size <= len(docStream); size += 13 {
		var o StreamObserver
		for i := 0; i < len(docStream); i += size {
			o.Write([]byte(docStream[i:min(i+size, len(docStream))]))
		}
		u := o.Usage()
		if u.PromptTokens != 135 || u.CachedTokens != 100 || u.CompletionTokens != 15 || !o.SawStop || o.StopReason != "end_turn" {
			t.Fatalf("split %d: usage %+v stop %v %q", size, u, o.SawStop, o.StopReason)
		}
	}
}

func TestStreamObserverCutAndError(t *testing.T) {
	var o StreamObserver
	o.Write([]byte(docStream[:strings.Index(docStream, "event: message_stop")]))
	if o.SawStop {
		t.Error("a stream without message_stop was taken as complete")
	}
	var e StreamObserver
	e.Write([]byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"))
	if e.Err == nil || e.Err.Type != "overloaded_error" {
		t.Errorf("error event: %+v", e.Err)
	}
}

func TestUsageOfAndParseError(t *testing.T) {
	u, ok := UsageOf([]byte(`{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":2}}`))
	if !ok || u.PromptTokens != 5 || u.CompletionTokens != 4 || u.CachedTokens != 2 {
		t.Errorf("UsageOf: %+v %v", u, ok)
	}
	d, ok := ParseError([]byte(`{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`))
	if !ok || d.Type != "rate_limit_error" || d.Message != "slow down" {
		t.Errorf("ParseError: %+v %v", d, ok)
	}
	if _, ok := ParseError([]byte(`<html>`)); ok {
		t.Error("ParseError accepted HTML")
	}
}
