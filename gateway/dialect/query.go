package dialect

import (
	"strings"

	"github.com/memproxy/memproxy/gateway/inject"
)

// Query returns the text to search memories with, by strategy
// (inject.LastUser, FirstUser, AllUser, LastAssistant; others act as
// LastUser): the person's messages (never tool results), each passed
// through clean. Empty when the conversation has no such text.
func (c *Conversation) Query(strategy string, clean func(string) string) string {
	role, first, all := "user", false, false
	switch strategy {
	case inject.FirstUser:
		first = true
	case inject.AllUser:
		all = true
	case inject.LastAssistant:
		role = "assistant"
	}
	var out []string
	n := len(c.Messages)
	for i := range n {
		m := c.Messages[n-1-i]
		if first {
			m = c.Messages[i]
		}
		if m.Role != role || m.ToolResult {
			continue
		}
		if t := m.Text(clean); t != "" {
			out = append(out, t)
			if !all {
				break
			}
		}
	}
	if all {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i] // back to conversation order
		}
	}
	return strings.Join(out, "\n")
}
