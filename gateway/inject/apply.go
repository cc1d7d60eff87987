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
// final turn is a tool result): the request goes on without them.
var ErrNoPlace = errors.New("no place to inject memories")

// Apply returns body with block injected by strategy in dialect d. Fields
// it does not change keep their bytes. ErrNoPlace leaves body unchanged.
func Apply(d string, body []byte, strategy, block string) ([]byte, error) {
	raws, ms, err := messages(body)
	if err != nil {
		return body, err
	}
	switch strategy {
	case System, Dual:
		if d == Anthropic {
			return anthropicSystem(body, block, strategy == Dual)
		}
		return openAISystem(body, raws, ms, block, strategy == Dual)
	case UserPrefix:
		for i, m := range ms {
			if m.Role == "user" {
				return setMessage(body, raws, i, withText(raws[i], block, true))
			}
		}
	case UserSuffix:
		for i := len(ms) - 1; i >= 0; i-- {
			if ms[i].Role == "user" {
				return setMessage(body, raws, i, withText(raws[i], block, false))
			}
		}
	case CacheAware, "":
		i := len(ms) - 1
		if i >= 0 && ms[i].Role == "user" && contentText(ms[i].Content) != "" {
			return setMessage(body, raws, i, withPart(raws[i], block))
		}
	default:
		return body, fmt.Errorf("unknown injection strategy %q", strategy)
	}
	return body, ErrNoPlace
}

// withText joins block to a message's text: before it (prefix) or after.
// String content stays a string; parts get a text part first or last.
func withText(raw json.RawMessage, block string, prefix bool) func() (json.RawMessage, error) {
	return func() (json.RawMessage, error) {
		return editContent(raw, func(c json.RawMessage) (any, error) {
			var s string
			if json.Unmarshal(c, &s) == nil {
				if prefix {
					return block + "\n\n" + s, nil
				}
				return s + "\n\n" + block, nil
			}
			return addPart(c, block, prefix)
		})
	}
}

// withPart adds block as a separate last part (converting string content
// to one text part first), so any cache_control on earlier parts still
// marks the same prefix.
func withPart(raw json.RawMessage, block string) func() (json.RawMessage, error) {
	return func() (json.RawMessage, error) {
		return editContent(raw, func(c json.RawMessage) (any, error) {
			var s string
			if json.Unmarshal(c, &s) == nil {
				return []part{{Type: "text", Text: s}, {Type: "text", Text: block}}, nil
			}
			return addPart(c, block, false)
		})
	}
}

func addPart(c json.RawMessage, block string, first bool) (any, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(c, &parts); err != nil {
		return nil, fmt.Errorf("message content is neither text nor parts: %w", err)
	}
	p, _ := marshal(part{Type: "text", Text: block})
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

// setMessage replaces message i with what edit returns.
func setMessage(body []byte, raws []json.RawMessage, i int, edit func() (json.RawMessage, error)) ([]byte, error) {
	m, err := edit()
	if err != nil {
		return body, err
	}
	out := append([]json.RawMessage(nil), raws...)
	out[i] = m
	return setTop(body, "messages", out)
}

func openAISystem(body []byte, raws []json.RawMessage, ms []message, block string, dual bool) ([]byte, error) {
	lead := 0
	for lead < len(ms) && (ms[lead].Role == "system" || ms[lead].Role == "developer") {
		lead++
	}
	sys, _ := marshal(map[string]string{"role": "system", "content": block})
	if dual || lead == 0 {
		at := lead // dual: after the system messages; else a new first message
		if !dual {
			at = 0
		}
		out := make([]json.RawMessage, 0, len(raws)+1)
		out = append(append(append(out, raws[:at]...), sys), raws[at:]...)
		return setTop(body, "messages", out)
	}
	return setMessage(body, raws, 0, withText(raws[0], block, true))
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
