package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/memproxy/memproxy/gateway/clientmsg"
	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/inject"
	"github.com/memproxy/memproxy/gateway/memory"
)

// An agent's turn is many model calls: the person's message, then the
// model's tool calls and their results until an answer without tool calls
// ends it. Memory works per turn: the first call retrieves, the
// continuation calls get the same memories in the same place (so the
// provider's prompt cache keeps hitting), and the turn is written back
// once, with the answer that ends it.

// cleaner returns what the person wrote in one text of a request from
// client: the memories the gateway injected are stripped, then the
// client's own wrappers (clientmsg).
func cleaner(client string) func(string) string {
	return func(s string) string { return clientmsg.Clean(client, inject.Strip(s)) }
}

// sideRequest reports whether the request is one the client makes on its
// own (a title, a quota probe, a compaction…), and why.
func sideRequest(r *http.Request, x *exchange) (string, bool) {
	conv := x.peek.Conversation()
	req := clientmsg.Request{Client: x.clientName, Path: r.URL.Path, MaxTokens: conv.MaxTokens, Stream: x.stream,
		Tools: conv.Tools, Metadata: map[string]string{}}
	for i, s := range conv.System {
		if i > 0 {
			req.System += "\n"
		}
		req.System += s
	}
	req.Messages = sideMessages(conv.Messages)
	for _, h := range []string{"x-codex-turn-metadata", "x-openai-subagent", "x-openai-memgen-request"} {
		if v := r.Header.Get(h); v != "" {
			req.Metadata[h] = v
		}
	}
	return clientmsg.Side(req)
}

// sideMessages lays a conversation out as clientmsg's blocks: a message's
// tool result first (as Anthropic requires), its texts, then its tool
// call. Only the texts of a tool message (OpenAI role tool) are a tool's
// output: the text blocks beside an Anthropic tool_result are the
// client's — Claude Code sends its /compact instruction in the user
// message that carries the last tool_result (recorded:
// clientmsg/testdata/claude-code 03-compact), and the rules must read it.
func sideMessages(msgs []dialect.Message) []clientmsg.Message {
	var out []clientmsg.Message
	for _, m := range msgs {
		toolText := m.Role == "tool" || m.Role == "function"
		switch {
		case toolText && len(m.Texts) > 0: // its texts are the output, marked below
		case m.ToolResult, len(m.Texts) == 0 && !m.ToolCall: // the result block, or an empty message
			out = append(out, clientmsg.Message{Index: m.Index, Role: m.Role, ToolResult: m.ToolResult})
		}
		for _, t := range m.Texts {
			out = append(out, clientmsg.Message{Index: m.Index, Role: m.Role, Text: t, ToolResult: toolText})
		}
		if m.ToolCall {
			out = append(out, clientmsg.Message{Index: m.Index, Role: m.Role, ToolCall: true})
		}
	}
	return out
}

// turnKey names an agent turn within a scope: the client's session and
// the person's message that opened it (its text and its place in the
// conversation, so the same words said again are a new turn).
func turnKey(scope memory.Scope, session string, human int, text string) string {
	h := sha256.New()
	for _, p := range []string{string(scope), session, strconv.Itoa(human), text} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// turnRecall is what a turn's first call retrieved.
type turnRecall struct {
	block  string
	ids    []string
	scores []float64
	at     time.Time
}

// turnCache keeps the first retrieval of recent turns, bounded in size
// and age; a turn it has forgotten is retrieved again with the same query
// (the person's message, never a tool result).
type turnCache struct {
	mu      sync.Mutex
	m       map[string]turnRecall
	written map[string]time.Time
}

const (
	maxTurns = 4096
	turnTTL  = time.Hour
)

func (c *turnCache) get(key string) (turnRecall, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[key]
	if !ok || time.Since(t.at) > turnTTL {
		return turnRecall{}, false
	}
	return t, true
}

func (c *turnCache) put(key string, t turnRecall) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxTurns {
		c.m = map[string]turnRecall{}
	}
	t.at = time.Now()
	c.m[key] = t
}

// firstWrite reports whether the turn has not been written back yet by
// this process, and marks it written: retries and re-sent final calls of a
// turn are stored once.
func (c *turnCache) firstWrite(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.written == nil || len(c.written) >= maxTurns {
		c.written = map[string]time.Time{}
	}
	if t, ok := c.written[key]; ok && time.Since(t) < turnTTL {
		return false
	}
	c.written[key] = time.Now()
	return true
}

// humanOf finds the turn's human message: its index in the body's list
// (-1 when none), its cleaned text, and whether the request continues the
// turn (tool calls and results follow the person's message).
func humanOf(x *exchange) (at int, text string, cont bool) {
	conv := x.peek.Conversation()
	i, text := conv.Human(cleaner(x.clientName))
	if i < 0 {
		return -1, "", false
	}
	return conv.Messages[i].Index, text, i < len(conv.Messages)-1
}
