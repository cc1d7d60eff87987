package dialect

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/inject"
	"github.com/memproxy/memproxy/gateway/llm"
)

// conversations holds, per client dialect, one request with a system
// prompt, two turns the person wrote (the second with a client wrapper
// part), an assistant answer, and a tool call with its result last. A
// dialect added to All() without one fails TestConformance.
var conversations = map[string]string{
	OpenAI: `{"model":"m","messages":[{"role":"system","content":"S"},{"role":"user","content":"first q"},{"role":"assistant","content":"answer one"},
		{"role":"user","content":[{"type":"text","text":"<wrap>x</wrap>"},{"type":"text","text":"second q"}]},
		{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"Read","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"file body"}],"max_tokens":77,"tools":[{"type":"function","function":{"name":"Read","parameters":{}}}]}`,
	Anthropic: `{"model":"m","system":[{"type":"text","text":"S","cache_control":{"type":"ephemeral"}}],"max_tokens":77,"tools":[{"name":"Read","input_schema":{}}],
		"messages":[{"role":"user","content":"first q"},{"role":"assistant","content":[{"type":"text","text":"answer one"}]},
		{"role":"user","content":[{"type":"text","text":"<wrap>x</wrap>"},{"type":"text","text":"second q"}]},
		{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Read","input":{}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"file body"}]}]}`,
	Responses: `{"model":"m","instructions":"S","max_output_tokens":77,"tools":[{"type":"function","name":"Read","parameters":{}}],"input":[
		{"type":"message","role":"user","content":[{"type":"input_text","text":"first q"}]},
		{"type":"message","role":"assistant","content":[{"type":"output_text","text":"answer one"}]},
		{"type":"message","role":"user","content":[{"type":"input_text","text":"<wrap>x</wrap>"},{"type":"input_text","text":"second q"}]},
		{"type":"function_call","call_id":"c1","name":"Read","arguments":"{}"},
		{"type":"function_call_output","call_id":"c1","output":"file body"}]}`,
}

// clean drops the test's client wrapper and recalled memories.
func clean(s string) string {
	if strings.HasPrefix(s, "<wrap>") {
		return ""
	}
	return inject.Strip(s)
}

const block = "<memproxy-context>\nremember M\n</memproxy-context>"

func TestConformance(t *testing.T) {
	for _, c := range All() {
		t.Run(c.Name(), func(t *testing.T) {
			body := []byte(conversations[c.Name()])
			if len(body) == 0 {
				t.Fatalf("no conversation fixture for dialect %s", c.Name())
			}
			p, e := c.Peek(body)
			if e != nil || p.Model != "m" {
				t.Fatalf("Peek: %v %+v", e, p)
			}
			conv := p.Conversation()
			if conv.MaxTokens != 77 || strings.Join(conv.Tools, ",") != "Read" || strings.Join(conv.System, "") != "S" {
				t.Errorf("conversation head: %+v", conv)
			}
			checkQueries(t, conv)
			human, text := conv.Human(clean)
			if text != "second q" || human < 0 {
				t.Fatalf("Human = %d %q", human, text)
			}
			last := conv.Messages[len(conv.Messages)-1]
			if !last.ToolResult || !conv.Messages[len(conv.Messages)-2].ToolCall {
				t.Errorf("tool call and result not recognised: %+v", conv.Messages)
			}
			for _, strategy := range []string{inject.CacheAware, inject.System, inject.Dual, inject.UserPrefix, inject.UserSuffix} {
				checkInjection(t, c, body, strategy, conv.Messages[human].Index)
			}
			checkAnswers(t, c)
			checkErrors(t, c)
			checkPass(t, c)
		})
	}
}

func checkQueries(t *testing.T, conv *Conversation) {
	t.Helper()
	for strategy, want := range map[string]string{inject.LastUser: "second q", inject.FirstUser: "first q",
		inject.AllUser: "first q\nsecond q", inject.LastAssistant: "answer one", "": "second q"} {
		if got := conv.Query(strategy, clean); got != want {
			t.Errorf("Query(%q) = %q, want %q", strategy, got, want)
		}
	}
}

// checkInjection: the block lands in the body; the injected body still
// reads as the same conversation once memories are stripped; cache_aware
// changes nothing before the human message.
func checkInjection(t *testing.T, c Client, body []byte, strategy string, at int) {
	t.Helper()
	out, err := inject.Apply(c.Layout(), body, strategy, block, at)
	if err != nil || !bytes.Contains(out, []byte("remember M")) || !json.Valid(out) {
		t.Errorf("%s: %v %s", strategy, err, out)
		return
	}
	p, e := c.Peek(out)
	if e != nil {
		t.Fatalf("%s: injected body does not peek: %v", strategy, e)
	}
	if q := p.Conversation().Query(inject.AllUser, clean); q != "first q\nsecond q" {
		t.Errorf("%s: after injection the person's words read %q", strategy, q)
	}
	if strategy == inject.CacheAware {
		i := bytes.Index(out, []byte("remember M"))
		j := bytes.Index(body, []byte("second q"))
		if i < j || !bytes.Equal(out[:j], body[:j]) {
			t.Errorf("cache_aware changed the prefix before the human message:\n%s", out)
		}
	}
}

const hubAnswer = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello world"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`
const hubToolAnswer = `{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"Read","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`

func hubStream(toolCall bool) string {
	head := `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":`
	s := head + `{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n"
	finish := "stop"
	if toolCall {
		s += head + `{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"Read","arguments":"{}"}}]},"finish_reason":null}]}` + "\n\n"
		finish = "tool_calls"
	} else {
		s += head + `{"content":"Hello"},"finish_reason":null}]}` + "\n\n" + head + `{"content":" world"},"finish_reason":null}]}` + "\n\n"
	}
	s += head + `{},"finish_reason":"` + finish + `"}]}` + "\n\n"
	s += `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}` + "\n\n"
	return s + "data: [DONE]\n\n"
}

// checkAnswers: a hub answer in the dialect (translated when the dialect
// is not the hub) folds to the same text, JSON or stream, and a tool call
// is recognised as one.
func checkAnswers(t *testing.T, c Client) {
	t.Helper()
	for _, tool := range []bool{false, true} {
		hub := hubAnswer
		if tool {
			hub = hubToolAnswer
		}
		b, err := c.FromHub([]byte(hub), "m")
		if err != nil {
			t.Fatalf("FromHub: %v", err)
		}
		want := Answer{Text: "Hello world", ToolCalls: tool}
		if tool {
			want.Text = ""
		}
		if a := c.Answer(b); a != want {
			t.Errorf("Answer(%s) = %+v, want %+v", b, a, want)
		}
		if u := c.Usage(b); u.PromptTokens != 3 || u.CompletionTokens != 2 {
			t.Errorf("Usage = %+v", u)
		}
		var stream bytes.Buffer
		var sink Sink = c.Pass(&stream, false)
		if hs := c.HubStream(&stream, "m"); hs != nil {
			sink = translated{hs}
		}
		_, _ = sink.Write([]byte(hubStream(tool)))
		if _, ok := sink.Finish(NewError(502, llm.ErrUpstreamCut, "", "cut")); !ok {
			t.Fatalf("a complete stream finished incomplete: %s", stream.String())
		}
		fold := c.NewFold()
		for _, ch := range splitEvery(stream.Bytes(), 7) {
			_, _ = fold.Write(ch)
		}
		if a := fold.Answer(); a != want {
			t.Errorf("fold = %+v, want %+v, of\n%s", a, want, stream.String())
		}
	}
}

func splitEvery(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out, b = append(out, b[:n]), b[n:]
	}
	return append(out, b)
}

// checkErrors: an error answer is JSON in the dialect with the status and
// the message; the stream error event carries the message.
func checkErrors(t *testing.T, c Client) {
	t.Helper()
	rec := httptest.NewRecorder()
	e := NewError(http.StatusTooManyRequests, llm.ErrRateLimit, "rate_limited", "slow down")
	e.RetryAfter = 7
	c.WriteError(rec, e)
	var body struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 429 || body.Error.Message != "slow down" ||
		body.Error.Type != "rate_limit_error" || rec.Header().Get("Retry-After") != "7" {
		t.Errorf("WriteError: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	if ev := c.StreamError(NewError(502, llm.ErrUpstreamCut, "", "the stream was cut")); !bytes.Contains(ev, []byte("the stream was cut")) ||
		!bytes.HasPrefix(ev, []byte("event: ")) && !bytes.HasPrefix(ev, []byte("data: ")) {
		t.Errorf("StreamError: %s", ev)
	}
}

// checkPass: a stream of the dialect cut short gets the dialect's error
// event and finishes incomplete.
func checkPass(t *testing.T, c Client) {
	t.Helper()
	var out bytes.Buffer
	p := c.Pass(&out, false)
	_, _ = p.Write([]byte("data: {\"partial\":true}\n\n"))
	if _, ok := p.Finish(NewError(502, llm.ErrUpstreamCut, "", "cut short")); ok || !strings.Contains(out.String(), "cut short") {
		t.Errorf("a cut stream: ok=%v %s", ok, out.String())
	}
}

func TestForPath(t *testing.T) {
	for path, want := range map[string]string{"/v1/messages": Anthropic, "/messages/count_tokens": Anthropic,
		"/v1/responses": Responses, "/v1/chat/completions": OpenAI, "/v1/usage": OpenAI} {
		if got := ForPath(path).Name(); got != want {
			t.Errorf("ForPath(%s) = %s, want %s", path, got, want)
		}
	}
}

func TestPeekRefusals(t *testing.T) {
	for body, code := range map[string]string{`{`: "invalid_json", `[]`: "invalid_request", `{"stream":true}`: "missing_model",
		`{"model":1}`: "invalid_model", `{"model":"m","stream":"yes"}`: "invalid_stream",
		`{"model":"m","api_base":"http://evil"}`: "forbidden_parameter"} {
		for _, c := range All() {
			if _, e := c.Peek([]byte(body)); e == nil || e.Code != code || e.Status != 400 {
				t.Errorf("%s %s: %+v, want %s", c.Name(), body, e, code)
			}
		}
	}
}
