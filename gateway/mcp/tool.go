package mcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memproxy/memproxy/gateway/tools"
)

// Separator joins a server's name and one of its tools' names in the
// function name the model sees: <server>__<tool>. Server names never hold
// it (config requires letters, digits, '-' and single '_'), so the first
// occurrence always ends the server's part.
const Separator = "__"

// MaxToolName is OpenAI's limit on a function name (^[a-zA-Z0-9_-]{1,64}$).
const MaxToolName = 64

// Bounds on what one MCP tool hands the model.
const (
	maxDescription = 2048
	// MaxResultBytes bounds the text of one tool result; longer results
	// are cut (on a character boundary) and end with a note saying so.
	MaxResultBytes = 100 << 10
)

// ToolNames returns the function names the model sees for a server's
// tools, by the server's name for each: server + Separator + tool, with
// every character outside [A-Za-z0-9_-] replaced by '_'. A name that would
// pass MaxToolName, or that another tool of the server already took (the
// tools are taken in sorted order), is cut and ends in '_' and 8 hex
// digits of the tool's SHA-256 instead, so names stay unique, valid and
// the same from one connection to the next.
func ToolNames(server string, remote []string) map[string]string {
	out := make(map[string]string, len(remote))
	taken := map[string]bool{}
	for _, t := range slices.Sorted(slices.Values(remote)) {
		if t == "" || out[t] != "" {
			continue
		}
		name := server + Separator + sanitize(t)
		if len(name) > MaxToolName || taken[name] {
			sum := sha256.Sum256([]byte(t))
			suffix := "_" + hex.EncodeToString(sum[:4])
			name = name[:min(len(name), MaxToolName-len(suffix))] + suffix
		}
		if taken[name] {
			continue // two names with one hash prefix: vanishingly rare; the later is left out
		}
		taken[name] = true
		out[t] = name
	}
	return out
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// remoteTool is one tool of a connected MCP server, as the tool loop
// sees it. It calls through the server's current session, so a tool
// listed before a reconnect still works after it.
type remoteTool struct {
	srv    *server
	name   string // what the model calls
	remote string // what the server calls it
	def    json.RawMessage
}

var _ tools.Tool = (*remoteTool)(nil)

func (t *remoteTool) Name() string                { return t.name }
func (t *remoteTool) Definition() json.RawMessage { return t.def }

// Call runs the tool on its server. A result marked isError, a refused
// call and an unreachable server are errors, which the loop hands the
// model as structured error results; the server's own words reach the
// model only for the first two (a transport failure's detail is logged).
func (t *remoteTool) Call(ctx context.Context, args json.RawMessage) (string, error) {
	sess := t.srv.session()
	if sess == nil {
		return "", &toolError{msg: fmt.Sprintf("the %s tool server is not connected right now", t.srv.name),
			hint: "answer without this tool, or call it again later"}
	}
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(args, &obj) != nil || obj == nil {
		return "", &toolError{msg: "the arguments are not a JSON object",
			hint: "call it again with arguments that are one JSON object matching the tool's parameters"}
	}
	res, err := sess.CallTool(ctx, &sdk.CallToolParams{Name: t.remote, Arguments: args})
	if err != nil {
		if ctx.Err() != nil {
			return "", err // the loop reports its own timeout or cancellation
		}
		if we, ok := errors.AsType[*jsonrpc.Error](err); ok && !localCode(we.Code) {
			return "", &toolError{msg: fmt.Sprintf("%s refused the call: %s", t.name, clip(we.Message, 1024)),
				hint: "check the arguments against the tool's parameters and call it again", cause: err}
		}
		t.srv.broken(sess, err)
		return "", &toolError{msg: fmt.Sprintf("the %s tool server is unavailable right now", t.srv.name),
			hint: "call it again once; if it fails again, answer without it", cause: err}
	}
	text := resultText(res)
	if res.IsError {
		if text == "" {
			text = "the tool reported an error"
		}
		return "", &toolError{msg: text, hint: "read the error, fix the arguments if they caused it, and call it again"}
	}
	return text, nil
}

// localCode reports the JSON-RPC codes the SDK itself uses for calls that
// never got an answer (the transport refused the request, or one side is
// closing): failures of the connection, not the server's refusal.
func localCode(code int64) bool {
	switch code {
	case -32003, -32004, -32005: // client closing, server closing, rejected by transport
		return true
	}
	return false
}

// toolError is a failed call: the message goes to the model, the cause to
// the log only.
type toolError struct {
	msg, hint string
	cause     error
}

func (e *toolError) Error() string     { return e.msg }
func (e *toolError) RetryHint() string { return e.hint }
func (e *toolError) Unwrap() error     { return e.cause }

var _ tools.Hinted = (*toolError)(nil)

// definition is the OpenAI function of an MCP tool: its description and
// its input schema as the parameters (an object schema; "$schema" and
// anything else OpenAI would reject at the top level are dropped).
func definition(name string, t *sdk.Tool) json.RawMessage {
	params := map[string]any{}
	if m, ok := t.InputSchema.(map[string]any); ok {
		params = maps.Clone(m)
	}
	delete(params, "$schema")
	delete(params, "$id")
	if _, typed := params["type"]; !typed && params["properties"] != nil {
		params["type"] = "object" // a server that left the (required) type out
	}
	if params["type"] != "object" {
		params = map[string]any{"type": "object"} // MCP requires an object schema; anything else is unusable
	}
	if _, ok := params["properties"]; !ok {
		params["properties"] = map[string]any{}
	}
	desc := t.Description
	if desc == "" {
		desc = t.Title
	}
	def, err := json.Marshal(map[string]any{"type": "function", "function": map[string]any{
		"name": name, "description": clip(desc, maxDescription), "parameters": params,
	}})
	if err != nil { // a schema that does not marshal back: offer the tool without parameters
		def, _ = json.Marshal(map[string]any{"type": "function", "function": map[string]any{
			"name": name, "description": clip(desc, maxDescription), "parameters": map[string]any{"type": "object", "properties": map[string]any{}},
		}})
	}
	return def
}

// resultText is what the model reads of a result: text content joined by
// newlines, embedded text resources as their text, other content named in
// brackets (images and audio are not passed on), and the structured
// content as JSON when there is nothing else. Cut at MaxResultBytes.
func resultText(r *sdk.CallToolResult) string {
	var parts []string
	for _, c := range r.Content {
		switch c := c.(type) {
		case *sdk.TextContent:
			parts = append(parts, c.Text)
		case *sdk.ImageContent:
			parts = append(parts, fmt.Sprintf("[image %s, %d bytes: not shown]", c.MIMEType, len(c.Data)))
		case *sdk.AudioContent:
			parts = append(parts, fmt.Sprintf("[audio %s, %d bytes: not shown]", c.MIMEType, len(c.Data)))
		case *sdk.ResourceLink:
			parts = append(parts, fmt.Sprintf("[resource %s: %s]", c.Name, c.URI))
		case *sdk.EmbeddedResource:
			switch {
			case c.Resource == nil:
			case c.Resource.Text != "":
				parts = append(parts, c.Resource.Text)
			default:
				parts = append(parts, fmt.Sprintf("[resource %s, %s: not shown]", c.Resource.URI, c.Resource.MIMEType))
			}
		}
	}
	if len(parts) == 0 && r.StructuredContent != nil {
		if b, err := json.Marshal(r.StructuredContent); err == nil {
			parts = append(parts, string(b))
		}
	}
	text := strings.Join(parts, "\n")
	if len(text) > MaxResultBytes {
		text = clip(text, MaxResultBytes) + "\n[result cut at " + fmt.Sprint(MaxResultBytes) + " bytes]"
	}
	return text
}

// clip cuts s to at most n bytes on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
