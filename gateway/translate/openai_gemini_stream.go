package translate

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/memproxy/memproxy/gateway/api/gemini"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// NewGeminiToOpenAIChatStream returns a Stream that translates a Gemini
// streamGenerateContent?alt=sse stream into OpenAI chat-completion chunks
// on out, for clientModel. With includeUsage, every chunk carries
// "usage":null and a last chunk with empty choices carries the usage, as
// OpenAI does for stream_options.include_usage.
//
// Each upstream event is a GenerateContentResponse holding a partial
// candidate; it is translated as it arrives: the first event also sends
// the role chunk; each text part → a content chunk; each functionCall part
// → one tool_calls chunk with the call's index, id (as in
// GeminiResponseToOpenAIChat), type, name and its whole arguments (Gemini
// sends a call whole); thought parts and empty parts → nothing. The event
// with a finishReason (or a promptFeedback.blockReason instead of
// candidates) ends the stream: the finish chunk, the usage chunk, then
// data: [DONE]. Gemini sends no end marker of its own, so a stream that
// closes without a finishReason was cut. Usage is the last usageMetadata
// seen (Gemini's counts are cumulative). An error envelope sent as an
// event, {"error":{…}}, becomes data: {"error":{…}} and the stream is not
// Done.
func NewGeminiToOpenAIChatStream(out io.Writer, clientModel string, includeUsage bool) Stream {
	s := &geminiToOpenAI{chatChunks: chatChunks{model: clientModel, includeUsage: includeUsage}}
	s.init(out, s.onEvent, func(cause error) []byte {
		return openai.MarshalStreamError("server_error", string(llm.ErrUpstreamCut), failMessage(cause))
	})
	s.emit = s.write
	return s
}

type geminiToOpenAI struct {
	streamBase
	chatChunks
	started bool
	calls   int
	usage   gemini.UsageMetadata
	ev      gemini.GenerateContentResponse
}

func (s *geminiToOpenAI) Usage() llm.Usage { return s.usage.LLM() }

func (s *geminiToOpenAI) onEvent(_, data []byte) error {
	s.ev = gemini.GenerateContentResponse{}
	if err := json.Unmarshal(data, &s.ev); err != nil {
		return fmt.Errorf("malformed event: %w", err)
	}
	ev := &s.ev
	if e := ev.Error; e != nil {
		if e.Message == "" {
			e.Message = "upstream error"
		}
		if err := s.write(openai.MarshalStreamError("api_error", e.Status, e.Message)); err != nil {
			return err
		}
		return &upstreamError{e.Status, e.Message}
	}
	if !s.started {
		if err := s.start(ev.ResponseID); err != nil {
			return err
		}
	}
	if ev.UsageMetadata != nil {
		s.usage = *ev.UsageMetadata
	}
	if len(ev.Candidates) == 0 {
		if ev.PromptFeedback != nil && ev.PromptFeedback.BlockReason != "" {
			return s.finish(openai.FinishContentFilter)
		}
		return nil // usage only
	}
	c := ev.Candidates[0]
	if c.Content != nil {
		for i, p := range c.Content.Parts {
			if err := geminiPartErr(p, "candidates[0].content.parts["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
			var err error
			switch {
			case p.Thought:
			case p.FunctionCall != nil:
				err = s.callChunk(p.FunctionCall, p.ThoughtSignature)
			case p.Text != "":
				err = s.chunk(append(appendString(append(s.begin(), `{"content":`...), p.Text), '}'), "")
			}
			if err != nil {
				return err
			}
		}
	}
	if c.FinishReason != "" {
		return s.finish(geminiFinish(c.FinishReason, s.calls > 0))
	}
	return nil
}

func (s *geminiToOpenAI) start(responseID string) error {
	s.started = true
	return s.startChunks(geminiCompletionID(responseID))
}

func (s *geminiToOpenAI) callChunk(fc *gemini.FunctionCall, sig string) error {
	d := strconv.AppendInt(append(s.begin(), `{"tool_calls":[{"index":`...), int64(s.calls), 10)
	d = appendString(append(d, `,"id":`...), geminiCallID(s.calls, sig))
	d = appendString(append(d, `,"type":"function","function":{"name":`...), fc.Name)
	d = appendString(append(d, `,"arguments":`...), toolArguments(fc.Args))
	s.calls++
	return s.chunk(append(d, `}}]}`...), "")
}

// finish ends the stream properly: finish chunk, usage chunk, [DONE].
func (s *geminiToOpenAI) finish(reason string) error {
	if err := s.chunk(append(s.begin(), `{}`...), reason); err != nil {
		return err
	}
	b, _ := json.Marshal(geminiWireUsage(s.usage.LLM()))
	s.done = true
	return s.end(b)
}
