package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
)

// finishReason maps an Anthropic stop_reason to an OpenAI finish_reason.
func finishReason(stop string) string {
	switch stop {
	case anthropic.StopMaxTokens, anthropic.StopContextLimit:
		return openai.FinishLength
	case anthropic.StopToolUse:
		return openai.FinishToolCalls
	case anthropic.StopRefusal:
		return openai.FinishContentFilter
	default: // end_turn, stop_sequence, pause_turn
		return openai.FinishStop
	}
}

// stopReason maps an OpenAI finish_reason to an Anthropic stop_reason.
func stopReason(finish string) string {
	switch finish {
	case openai.FinishLength:
		return anthropic.StopMaxTokens
	case openai.FinishToolCalls, openai.FinishFunctionCall:
		return anthropic.StopToolUse
	case openai.FinishContentFilter:
		return anthropic.StopRefusal
	default:
		return anthropic.StopEndTurn
	}
}

// withPrefix returns id behind prefix, unless it already starts with it.
func withPrefix(prefix, id string) string {
	if strings.HasPrefix(id, prefix) {
		return id
	}
	return prefix + id
}

// toolUseID makes an OpenAI tool call id fit Anthropic's ^[a-zA-Z0-9_-]+$.
func toolUseID(id string) string {
	ok := func(r rune) bool {
		return r == '_' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	if strings.IndexFunc(id, func(r rune) bool { return !ok(r) }) < 0 {
		return id
	}
	return strings.Map(func(r rune) rune {
		if ok(r) {
			return r
		}
		return '_'
	}, id)
}

var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// imageSource turns an image_url URL into an Anthropic image source.
func imageSource(url, field string) (*anthropic.ImageSource, error) {
	switch {
	case strings.HasPrefix(url, "https://"), strings.HasPrefix(url, "http://"):
		return &anthropic.ImageSource{Type: "url", URL: url}, nil
	case strings.HasPrefix(url, "data:"):
		meta, data, ok := strings.Cut(url[len("data:"):], ",")
		params := strings.Split(meta, ";")
		if !ok || len(params) < 2 || params[len(params)-1] != "base64" {
			return nil, &Error{field, "only base64 data: URLs can be sent to Anthropic"}
		}
		mt := strings.ToLower(params[0])
		if !imageTypes[mt] {
			return nil, &Error{field, "media type " + quote(params[0]) + " is not one of image/jpeg, image/png, image/gif, image/webp"}
		}
		return &anthropic.ImageSource{Type: "base64", MediaType: mt, Data: data}, nil
	}
	return nil, &Error{field, "image URL must be http(s) or a data: URL"}
}

// imageURL turns an Anthropic image source into an image_url URL.
func imageURL(src *anthropic.ImageSource, field string) (string, error) {
	if src == nil {
		return "", &Error{field, "image block without a source"}
	}
	switch src.Type {
	case "base64":
		return "data:" + src.MediaType + ";base64," + src.Data, nil
	case "url":
		return src.URL, nil
	}
	return "", &Error{field + ".type", "image source " + quote(src.Type) + " has no OpenAI counterpart"}
}

// toolInput parses tool-call arguments into an input object; "" means {}.
func toolInput(args, field string) (json.RawMessage, error) {
	b := bytes.TrimSpace([]byte(args))
	if len(b) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if b[0] != '{' || !json.Valid(b) {
		return nil, &Error{field, "arguments are not a JSON object"}
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, b)
	return buf.Bytes(), nil
}

// toolArguments renders a tool_use input as an arguments string.
func toolArguments(input json.RawMessage) string {
	if len(input) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, input) != nil {
		return string(input)
	}
	return buf.String()
}

// openAIUsage maps Anthropic usage to OpenAI's usage object.
func openAIUsage(u anthropic.Usage) *openai.WireUsage {
	n := u.LLM()
	w := &openai.WireUsage{PromptTokens: n.PromptTokens, CompletionTokens: n.CompletionTokens,
		TotalTokens: n.PromptTokens + n.CompletionTokens}
	w.PromptTokensDetails = &struct {
		CachedTokens int64 `json:"cached_tokens"`
	}{n.CachedTokens}
	return w
}

// anthropicUsage maps OpenAI's usage object to Anthropic usage.
func anthropicUsage(w *openai.WireUsage) anthropic.Usage {
	if w == nil {
		return anthropic.Usage{}
	}
	return anthropic.UsageFromLLM(w.LLM())
}

func quote(s string) string { return string(appendString(nil, s)) }

// isNull reports whether a raw field is absent or JSON null.
func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}

// fields decodes the top level of a JSON object body and returns its keys
// in order, so checks on them are deterministic.
func fields(body []byte) (map[string]json.RawMessage, []string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, nil, &Error{"body", "not a JSON object"}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return m, keys, nil
}

// decodeErr turns a decoding failure of the request body into an *Error,
// naming the message at fault when M, the message type, locates it
// (encoding/json does not say where a custom decoder failed).
func decodeErr[M any](err error, raw map[string]json.RawMessage) error {
	if ute, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && ute.Field != "" {
		return &Error{ute.Field, "wrong type: " + ute.Value}
	}
	var msgs []json.RawMessage
	if json.Unmarshal(raw["messages"], &msgs) == nil {
		for i, m := range msgs {
			var v M
			if e := json.Unmarshal(m, &v); e != nil {
				return &Error{"messages[" + strconv.Itoa(i) + "]", e.Error()}
			}
		}
	}
	return &Error{"body", err.Error()}
}
