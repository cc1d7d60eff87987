package inject

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/memproxy/memproxy/gateway/jsonscan"
)

// Injection strategies (the seed's context_retrieval.injection_strategy).
const (
	// CacheAware, the default, appends the block as the last part of the
	// final user turn: after every prompt-cache breakpoint, so the system
	// prompt, the tools and the earlier turns stay byte for byte what the
	// provider cached, and cheap cached tokens stay cheap.
	CacheAware = "cache_aware"
	// System prepends the block to the system prompt (creating one).
	System = "system"
	// UserPrefix prepends the block to the first user message.
	UserPrefix = "user_prefix"
	// UserSuffix appends the block to the last user message.
	UserSuffix = "user_suffix"
	// Dual is the seed's: a cache breakpoint on the system prompt, then
	// the memories as a separate system block after it.
	Dual = "dual"
)

// ErrNoPlace means the strategy found nowhere to put memories (e.g. the
// conversation has no message the person wrote): the request goes on
// without them.
var ErrNoPlace = errors.New("no place to inject memories")

// Layout is where a dialect keeps what injection edits. The dialect table
// (gateway/dialect) holds one per client dialect.
type Layout struct {
	// Messages is the top-level key of the conversation: "messages", or
	// "input" for OpenAI Responses (where it may also be a string).
	Messages string
	// TextType is the type of a text part: "text", or "input_text".
	TextType string
	// System is where the system prompt lives: "" for a leading message
	// of role system (OpenAI chat), or a top-level key: "system"
	// (Anthropic, a string or blocks) or "instructions" (Responses, a
	// string).
	System string
	// SystemRole is the role of a system message added to the
	// conversation ("system", or "developer" for Responses).
	SystemRole string
}

// Apply returns body with block injected by strategy. at is the index of
// the message the person wrote last (the turn's human message, -1 when
// there is none): cache_aware and user_suffix put the block there, so the
// continuation calls of an agent turn carry it in the same place and the
// provider's prompt cache keeps hitting. Fields it does not change keep
// their bytes. ErrNoPlace leaves body unchanged.
func Apply(l Layout, body []byte, strategy, block string, at int) ([]byte, error) {
	body, err := itemsInput(l, body)
	if err != nil {
		return body, err
	}
	raws, ms, err := messages(body, l.Messages)
	if err != nil {
		return body, err
	}
	if at >= len(ms) || (at >= 0 && ms[at].Role != "user") {
		return body, fmt.Errorf("message %d is not a user message", at)
	}
	switch strategy {
	case System, Dual:
		switch l.System {
		case "system":
			return anthropicSystem(body, block, strategy == Dual)
		case "instructions":
			return instructions(l, body, raws, ms, block, strategy == Dual)
		}
		return openAISystem(l, body, raws, ms, block, strategy == Dual)
	case UserPrefix:
		for i, m := range ms {
			if m.Role == "user" {
				return setMessage(l, body, raws, i, withText(l, raws[i], block, true))
			}
		}
	case UserSuffix:
		if at >= 0 {
			return setMessage(l, body, raws, at, withText(l, raws[at], block, false))
		}
		for i := len(ms) - 1; i >= 0; i-- {
			if ms[i].Role == "user" {
				return setMessage(l, body, raws, i, withText(l, raws[i], block, false))
			}
		}
	case CacheAware, "":
		if at >= 0 {
			return setMessage(l, body, raws, at, withPart(l, raws[at], block))
		}
	default:
		return body, fmt.Errorf("unknown injection strategy %q", strategy)
	}
	return body, ErrNoPlace
}

// itemsInput turns a Responses string input into the one user message it
// stands for, so that it can be edited like any conversation.
func itemsInput(l Layout, body []byte) ([]byte, error) {
	s, e, ok := jsonscan.TopLevel(body, l.Messages)
	if !ok || body[s] != '"' {
		return body, nil
	}
	var text string
	if err := json.Unmarshal(body[s:e], &text); err != nil {
		return body, err
	}
	return setTop(body, l.Messages, []map[string]any{{"role": "user", "content": []part{{Type: l.TextType, Text: text}}}})
}

// withText joins block to a message's text: before it (prefix) or after.
// String content stays a string; parts get a text part first or last.
func withText(l Layout, raw json.RawMessage, block string, prefix bool) func() (json.RawMessage, error) {
	return func() (json.RawMessage, error) {
		return editContent(raw, func(c json.RawMessage) (any, error) {
			var s string
			if json.Unmarshal(c, &s) == nil {
				if prefix {
					return block + "\n\n" + s, nil
				}
				return s + "\n\n" + block, nil
			}
			return addPart(l, c, block, prefix)
		})
	}
}

// withPart adds block as a separate last part (converting string content
// to one text part first), so any cache_control on earlier parts still
// marks the same prefix.
func withPart(l Layout, raw json.RawMessage, block string) func() (json.RawMessage, error) {
	return func() (json.RawMessage, error) {
		return editContent(raw, func(c json.RawMessage) (any, error) {
			var s string
			if json.Unmarshal(c, &s) == nil {
				return []part{{Type: l.TextType, Text: s}, {Type: l.TextType, Text: block}}, nil
			}
			return addPart(l, c, block, false)
		})
	}
}

func addPart(l Layout, c json.RawMessage, block string, first bool) (any, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(c, &parts); err != nil {
		return nil, fmt.Errorf("message content is neither text nor parts: %w", err)
	}
	p, _ := marshal(part{Type: l.TextType, Text: block})
	if first {
		return append([]json.RawMessage{p}, parts...), nil
	}
	return append(parts, p), nil
}

// editContent rewrites one message's "content" and keeps its other keys.
func editContent(raw json.RawMessage, f func(json.RawMessage) (any, error)) (json.RawMessage, error) {
	s, e, ok := jsonscan.TopLevel(raw, "content")
	if !ok {
		return nil, errors.New("message has no content")
	}
	v, err := f(raw[s:e])
	if err != nil {
		return nil, err
	}
	b, err := marshal(v)
	if err != nil {
		return nil, err
	}
	return splice(raw, s, e, b), nil
}

// setMessage replaces message i with what edit returns, splicing that
// message's bytes alone: every other byte of the body stays as it was.
func setMessage(l Layout, body []byte, _ []json.RawMessage, i int, edit func() (json.RawMessage, error)) ([]byte, error) {
	m, err := edit()
	if err != nil {
		return body, err
	}
	as, spans, err := listSpans(body, l.Messages)
	if err != nil || i >= len(spans) {
		return body, fmt.Errorf("message %d not found", i)
	}
	return splice(body, as+spans[i][0], as+spans[i][1], m), nil
}

// listSpans finds the top-level list key in body and the byte spans of
// its elements, relative to the list's start (returned first).
func listSpans(body []byte, key string) (int, [][2]int, error) {
	s, e, ok := jsonscan.TopLevel(body, key)
	if !ok {
		return 0, nil, fmt.Errorf("no %s", key)
	}
	dec := json.NewDecoder(bytes.NewReader(body[s:e]))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return 0, nil, fmt.Errorf("%s is not a list", key)
	}
	var spans [][2]int
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return 0, nil, err
		}
		end := int(dec.InputOffset())
		spans = append(spans, [2]int{end - len(raw), end})
	}
	return s, spans, nil
}

func openAISystem(l Layout, body []byte, raws []json.RawMessage, ms []message, block string, dual bool) ([]byte, error) {
	lead := leadingSystem(ms)
	if dual || lead == 0 {
		at := lead // dual: after the system messages; else a new first message
		if !dual {
			at = 0
		}
		return insertMessage(l, body, raws, at, block)
	}
	return setMessage(l, body, raws, 0, withText(l, raws[0], block, true))
}

// instructions injects into a Responses request: System puts the block
// before the instructions (creating them), Dual keeps the instructions
// byte for byte and adds a developer message after the leading ones.
func instructions(l Layout, body []byte, raws []json.RawMessage, ms []message, block string, dual bool) ([]byte, error) {
	if dual {
		return insertMessage(l, body, raws, leadingSystem(ms), block)
	}
	s, e, ok := jsonscan.TopLevel(body, l.System)
	var cur string
	if ok && string(body[s:e]) != "null" {
		if err := json.Unmarshal(body[s:e], &cur); err != nil {
			return body, errors.New("instructions are not text")
		}
	}
	if cur != "" {
		block += "\n\n" + cur
	}
	return setTop(body, l.System, block)
}

func leadingSystem(ms []message) int {
	lead := 0
	for lead < len(ms) && (ms[lead].Role == "system" || ms[lead].Role == "developer") {
		lead++
	}
	return lead
}

// insertMessage adds a system message holding block before message at
// (at the end when at is the list's length), splicing it in.
func insertMessage(l Layout, body []byte, _ []json.RawMessage, at int, block string) ([]byte, error) {
	sys, _ := marshal(map[string]string{"role": l.SystemRole, "content": block})
	as, spans, err := listSpans(body, l.Messages)
	if err != nil {
		return body, err
	}
	if at < len(spans) {
		return splice(body, as+spans[at][0], as+spans[at][0], append(sys, ',')), nil
	}
	if len(spans) == 0 {
		_, e, _ := jsonscan.TopLevel(body, l.Messages)
		return splice(body, e-1, e-1, sys), nil
	}
	end := as + spans[len(spans)-1][1]
	return splice(body, end, end, append([]byte{','}, sys...)), nil
}

func anthropicSystem(body []byte, block string, dual bool) ([]byte, error) {
	s, e, ok := jsonscan.TopLevel(body, "system")
	var str string
	var blocks []map[string]any
	switch {
	case !ok || string(body[s:e]) == "null":
	case json.Unmarshal(body[s:e], &str) == nil:
		if str != "" {
			blocks = []map[string]any{{"type": "text", "text": str}}
		}
	case json.Unmarshal(body[s:e], &blocks) != nil:
		return body, errors.New("system is neither text nor blocks")
	}
	mem := map[string]any{"type": "text", "text": block}
	if !dual {
		if len(blocks) == 0 {
			return setTop(body, "system", block)
		}
		if str != "" {
			return setTop(body, "system", block+"\n\n"+str)
		}
		return setTop(body, "system", append([]map[string]any{mem}, blocks...))
	}
	if n := len(blocks); n > 0 && !hasCacheControl(blocks) {
		blocks[n-1]["cache_control"] = map[string]string{"type": "ephemeral"}
	}
	return setTop(body, "system", append(blocks, mem))
}

func hasCacheControl(blocks []map[string]any) bool {
	for _, b := range blocks {
		if _, ok := b["cache_control"]; ok {
			return true
		}
	}
	return false
}

// setTop sets a top-level key of body to v, in place when present, else as
// the first key.
func setTop(body []byte, key string, v any) ([]byte, error) {
	b, err := marshal(v)
	if err != nil {
		return body, err
	}
	if s, e, ok := jsonscan.TopLevel(body, key); ok {
		return splice(body, s, e, b), nil
	}
	i := 0
	for i < len(body) && body[i] != '{' {
		i++
	}
	k, _ := marshal(key)
	ins := append(append(k, ':'), b...)
	if rest := trimLeft(body[i+1:]); len(rest) > 0 && rest[0] != '}' {
		ins = append(ins, ',')
	}
	return splice(body, i+1, i+1, ins), nil
}

func trimLeft(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

func splice(b []byte, s, e int, v []byte) []byte {
	out := make([]byte, 0, len(b)-(e-s)+len(v))
	out = append(out, b[:s]...)
	out = append(out, v...)
	return append(out, b[e:]...)
}

// marshal encodes v without escaping <, > and & (the fence stays readable).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}
