package gateway

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/sse"
)

// maxFold bounds the answer text kept for write-back.
const maxFold = 64 << 10

// textFold collects the assistant text a client received, from the bytes
// written to it (OpenAI chunks or Anthropic events), for write-back.
type textFold struct {
	dialect string
	lines   sse.Lines
	b       strings.Builder
}

func newTextFold(dialect string) *textFold {
	f := &textFold{dialect: dialect}
	f.lines.OnLine = f.onLine
	return f
}

func (f *textFold) Write(p []byte) (int, error) { return f.lines.Write(p) }

func (f *textFold) String() string { return f.b.String() }

func (f *textFold) onLine(line []byte) {
	data, ok := sse.Data(line)
	if !ok || f.b.Len() >= maxFold {
		return
	}
	if f.dialect == dialectAnthropic {
		if !bytes.Contains(data, []byte(`"text_delta"`)) {
			return
		}
		var ev struct {
			Delta struct{ Type, Text string } `json:"delta"`
		}
		if json.Unmarshal(data, &ev) == nil && ev.Delta.Type == "text_delta" {
			f.b.WriteString(ev.Delta.Text)
		}
		return
	}
	if !bytes.Contains(data, []byte(`"content"`)) {
		return
	}
	var c struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if json.Unmarshal(data, &c) == nil && len(c.Choices) > 0 {
		f.b.WriteString(c.Choices[0].Delta.Content)
	}
}

// answerText is the assistant text of a non-streaming answer in dialect d.
func answerText(d string, body []byte) string {
	if d == dialectAnthropic {
		var m struct {
			Content []struct{ Type, Text string } `json:"content"`
		}
		_ = json.Unmarshal(body, &m)
		var b strings.Builder
		for _, c := range m.Content {
			if c.Type == "text" {
				b.WriteString(c.Text)
			}
		}
		return b.String()
	}
	var c struct {
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if json.Unmarshal(body, &c) != nil || len(c.Choices) == 0 || c.Choices[0].Message.Content == nil {
		return ""
	}
	return *c.Choices[0].Message.Content
}
