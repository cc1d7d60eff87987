package translate

import (
	"flag"
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

func BenchmarkResponsesToOpenAIChat(b *testing.B) {
	in, err := os.ReadFile("testdata/responses_openai/request/codex.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ResponsesToOpenAIChat(in, "gpt-x"); err != nil {
			b.Fatal(err)
		}
	}
}

var noStash = flag.Bool("nostash", false, "BenchmarkLargeRequest and BenchmarkMediumRequest translate without stashing large strings, as before it")

// benchDirections runs each direction over the request of each kind that
// reqs holds for its client dialect.
func benchDirections(b *testing.B, reqs map[string]map[string][]byte) {
	if *noStash {
		minimum := stashMin
		stashMin = 1 << 62
		defer func() { stashMin = minimum }()
	}
	for _, d := range directions {
		for _, kind := range []string{"text", "image", "tool"} {
			body, ok := reqs[clientOf[d.name]][kind]
			if !ok {
				continue
			}
			b.Run(d.name+"/"+kind, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					if _, err := d.public(body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkLargeRequest translates requests carrying an 8 MiB string: a
// pasted file, an image, a tool result.
func BenchmarkLargeRequest(b *testing.B) { benchDirections(b, bigRequests(bigSize)) }

// BenchmarkMediumRequest translates a coding agent's request of about
// 100 KB: 16 tool results of 6 KB and the turns around them.
func BenchmarkMediumRequest(b *testing.B) {
	file := bigText(6000)
	var oa, an, rs strings.Builder
	oa.WriteString(`{"model":"m","messages":[{"role":"system","content":"You are a coding agent."}`)
	an.WriteString(`{"model":"m","max_tokens":1000,"system":"You are a coding agent.","messages":[`)
	rs.WriteString(`{"model":"m","instructions":"You are a coding agent.","input":[`)
	for i := range 16 {
		id := fmt.Sprintf("call_%d", i)
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&oa, `,{"role":"user","content":"read file %d"},{"role":"assistant","content":null,"tool_calls":[{"id":"%s","type":"function","function":{"name":"read","arguments":"{\"path\":\"f%d.go\"}"}}]},{"role":"tool","tool_call_id":"%s","content":%s}`, i, id, i, id, file)
		fmt.Fprintf(&an, `%s{"role":"user","content":"read file %d"},{"role":"assistant","content":[{"type":"tool_use","id":"%s","name":"read","input":{"path":"f%d.go"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"%s","content":%s}]}`, sep, i, id, i, id, file)
		fmt.Fprintf(&rs, `%s{"role":"user","content":"read file %d"},{"type":"function_call","call_id":"%s","name":"read","arguments":"{\"path\":\"f%d.go\"}"},{"type":"function_call_output","call_id":"%s","output":%s}`, sep, i, id, i, id, file)
	}
	oa.WriteString(`,{"role":"user","content":"now fix the bug"}],"tools":[{"type":"function","function":{"name":"read","description":"Reads a file.","parameters":{"type":"object","properties":{"path":{"type":"string"}}}}}]}`)
	an.WriteString(`,{"role":"user","content":[{"type":"text","text":"now fix the bug"}]}],"tools":[{"name":"read","description":"Reads a file.","input_schema":{"type":"object","properties":{"path":{"type":"string"}}}}]}`)
	rs.WriteString(`,{"role":"user","content":"now fix the bug"}],"tools":[{"type":"function","name":"read","description":"Reads a file.","parameters":{"type":"object","properties":{"path":{"type":"string"}}}}]}`)
	benchDirections(b, map[string]map[string][]byte{
		"openai": {"tool": []byte(oa.String())}, "anthropic": {"tool": []byte(an.String())}, "responses": {"tool": []byte(rs.String())},
	})
}

// BenchmarkStashScanMiss is what stashing adds to a request above 4 KiB
// with no string to stash: one scan of the body (a 100 KB conversation of
// 1 KB strings).
func BenchmarkStashScanMiss(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"model":"m","messages":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"role":"user","content":` + bigText(1000) + `}`)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, st := stashBody(body); st != nil {
			b.Fatal("stashed")
		}
	}
}

// BenchmarkSmallRequest compares, in one process, each direction's
// exported function (stash, then translate) with the translation alone on
// its small golden request: what stashing adds to a request under 4 KiB.
func BenchmarkSmallRequest(b *testing.B) {
	files := map[string]string{"anthropic→openai": "tools.json", "openai→anthropic": "tools.json",
		"openai→gemini": "tools.json", "responses→openai": "codex.json"}
	for _, d := range directions {
		in, err := os.ReadFile(d.dir + "/" + files[d.name])
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range []struct {
			name string
			fn   func([]byte) ([]byte, error)
		}{{"translate", d.raw}, {"exported", d.public}} {
			b.Run(d.name+"/"+f.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					if _, err := f.fn(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkChainOverhead is what Chain adds to one translation of a body
// under 4 KiB: a length check and a call (the step here does nothing).
func BenchmarkChainOverhead(b *testing.B) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	step := Step{func(b []byte, _ *stash) ([]byte, error) { return b, nil }}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Chain(body, step); err != nil {
			b.Fatal(err)
		}
	}
}
