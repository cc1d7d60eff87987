package translate

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

func BenchmarkOpenAIChatToAnthropic(b *testing.B) {
	in, err := os.ReadFile("testdata/openai_anthropic/request/tools.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := OpenAIChatToAnthropic(in, "claude-x", 1024); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAnthropicToOpenAIChat(b *testing.B) {
	in, err := os.ReadFile("testdata/anthropic_openai/request/tools.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := AnthropicToOpenAIChat(in, "gpt-x"); err != nil {
			b.Fatal(err)
		}
	}
}

// anthropicStream200 is an upstream stream of 200 text_delta events.
func anthropicStream200() []byte {
	var sb strings.Builder
	ev := func(name, data string) { sb.WriteString("event: " + name + "\ndata: " + data + "\n\n") }
	ev("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"c",`+
		`"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}`)
	ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	for i := range 200 {
		ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word%d, \"quoted\""}}`, i))
	}
	ev("content_block_stop", `{"type":"content_block_stop","index":0}`)
	ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":200}}`)
	ev("message_stop", `{"type":"message_stop"}`)
	return []byte(sb.String())
}

// openAIStream200 is an upstream stream of 200 content chunks.
func openAIStream200() []byte {
	var sb strings.Builder
	sb.WriteString(oaChunk(`{"role":"assistant","content":""}`, "null"))
	for i := range 200 {
		sb.WriteString(oaChunk(fmt.Sprintf(`{"content":" word%d, \"quoted\""}`, i), "null"))
	}
	sb.WriteString(oaChunk(`{}`, `"stop"`) + oaUsageChunk + oaDone)
	return []byte(sb.String())
}

// benchStream feeds in to a fresh stream per iteration, in 512-byte writes
// as a network read would deliver it.
func benchStream(b *testing.B, in []byte, mk func(io.Writer) Stream) {
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		s := mk(io.Discard)
		for p := in; len(p) > 0; {
			n := min(512, len(p))
			if _, err := s.Write(p[:n]); err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAnthropicToOpenAIChatStream200(b *testing.B) {
	benchStream(b, anthropicStream200(), func(w io.Writer) Stream { return NewAnthropicToOpenAIChatStream(w, "m", true) })
}

func BenchmarkOpenAIChatToAnthropicStream200(b *testing.B) {
	benchStream(b, openAIStream200(), func(w io.Writer) Stream { return NewOpenAIChatToAnthropicStream(w, "m") })
}
