package translate

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/gemini"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// GeminiResponseToOpenAIChat translates a non-streaming Gemini
// generateContent response into an OpenAI chat completion for
// clientModel, the model the client asked for, and returns its usage. Only
// the first candidate is read. Any error means the upstream's answer could
// not be translated (an upstream fault).
//
// Text parts are joined into the content; thought parts (thought: true)
// are dropped; each functionCall part becomes a tool call whose id is
// call_<n> (n counting the calls of the answer: Gemini gives no ids) and
// whose arguments are its args object. A thought signature on a
// functionCall part, which Gemini 3 requires back with the call, rides in
// the id as call_<n>_ts_<signature in base64url>: the only field every
// client echoes, and one Anthropic's id alphabet keeps too (the Anthropic
// chain passes it). OpenAIChatToGemini puts it back. Inline or file data,
// code execution and function responses in an answer are refused.
//
// Finish reasons: STOP → stop, or tool_calls when the answer has a
// functionCall; MAX_TOKENS → length; SAFETY, RECITATION, BLOCKLIST,
// PROHIBITED_CONTENT, SPII and the IMAGE_ safety reasons → content_filter;
// any other → stop. A prompt blocked before any candidate
// (promptFeedback.blockReason) is an empty answer with content_filter.
//
// Usage: prompt_tokens = promptTokenCount (+ toolUsePromptTokenCount),
// completion_tokens = candidatesTokenCount + thoughtsTokenCount, of which
// completion_tokens_details.reasoning_tokens = thoughtsTokenCount (sent
// when non-zero), cached_tokens = cachedContentTokenCount. The id is
// chatcmpl-<responseId>.
func GeminiResponseToOpenAIChat(body []byte, clientModel string) ([]byte, llm.Usage, error) {
	var r gemini.GenerateContentResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, llm.Usage{}, fmt.Errorf("translate: decoding Gemini response: %w", err)
	}
	if r.Error != nil {
		return nil, llm.Usage{}, &Error{"error", "upstream error " + r.Error.Status + ": " + r.Error.Message}
	}
	var (
		text   strings.Builder
		calls  []openai.ToolCall
		seen   bool
		finish string
	)
	switch {
	case len(r.Candidates) > 0:
		c := r.Candidates[0]
		if c.Content != nil {
			for i, p := range c.Content.Parts {
				if err := geminiPartErr(p, "candidates[0].content.parts["+strconv.Itoa(i)+"]"); err != nil {
					return nil, llm.Usage{}, err
				}
				switch {
				case p.Thought:
				case p.FunctionCall != nil:
					calls = append(calls, openai.ToolCall{ID: geminiCallID(len(calls), p.ThoughtSignature), Type: "function",
						Function: openai.FunctionCall{Name: p.FunctionCall.Name, Arguments: toolArguments(p.FunctionCall.Args)}})
				case p.Text != "":
					text.WriteString(p.Text)
					seen = true
				}
			}
		}
		finish = geminiFinish(c.FinishReason, len(calls) > 0)
	case r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "":
		finish = openai.FinishContentFilter
	default:
		return nil, llm.Usage{}, &Error{"candidates", "no candidate to translate"}
	}
	msg := openai.ResponseMessage{Role: "assistant", ToolCalls: calls}
	if seen || len(calls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	u := r.UsageMetadata.LLM()
	out := openai.ChatCompletion{
		ID: geminiCompletionID(r.ResponseID), Object: "chat.completion", Created: now().Unix(), Model: clientModel,
		Choices: []openai.ChatChoice{{Message: msg, FinishReason: finish}},
		Usage:   geminiWireUsage(u),
	}
	b, err := json.Marshal(out)
	return b, u, err
}

// geminiPartErr refuses the answer parts that have no OpenAI counterpart.
func geminiPartErr(p gemini.Part, field string) error {
	what := ""
	switch {
	case p.InlineData != nil:
		what = "inlineData"
	case p.FileData != nil:
		what = "fileData"
	case p.FunctionResponse != nil:
		what = "functionResponse"
	case len(p.ExecutableCode) > 0:
		what = "executableCode"
	case len(p.CodeExecutionResult) > 0:
		what = "codeExecutionResult"
	default:
		return nil
	}
	return &Error{field, what + " parts have no OpenAI chat counterpart"}
}

// geminiFinish maps a Gemini finishReason to an OpenAI finish_reason.
func geminiFinish(reason string, calls bool) string {
	switch reason {
	case gemini.FinishMaxTokens:
		return openai.FinishLength
	case gemini.FinishSafety, gemini.FinishRecitation, gemini.FinishBlocklist, gemini.FinishProhibitedContent,
		gemini.FinishSPII, gemini.FinishImageSafety, "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return openai.FinishContentFilter
	}
	if calls {
		return openai.FinishToolCalls
	}
	return openai.FinishStop
}

// geminiID makes a completion id when Gemini sent no responseId; tests fix it.
var geminiID = func() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func geminiCompletionID(responseID string) string {
	if responseID == "" {
		responseID = geminiID()
	}
	return withPrefix("chatcmpl-", responseID)
}

// sigMark separates a call's number from its thought signature in an id.
const sigMark = "_ts_"

// geminiCallID is the OpenAI id of the n-th function call of an answer,
// carrying its thought signature (standard base64, as the JSON of a proto
// bytes field) re-encoded as unpadded base64url. A signature that is not
// base64 cannot be carried and is left out.
func geminiCallID(n int, sig string) string {
	id := "call_" + strconv.Itoa(n)
	if sig == "" {
		return id
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return id
	}
	return id + sigMark + base64.RawURLEncoding.EncodeToString(raw)
}

// geminiSignature returns the thought signature a geminiCallID carries,
// or "" for any other id.
func geminiSignature(id string) string {
	rest, ok := strings.CutPrefix(id, "call_")
	if !ok {
		return ""
	}
	n, enc, ok := strings.Cut(rest, sigMark)
	if _, err := strconv.ParseUint(n, 10, 32); !ok || err != nil {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// geminiWireUsage writes neutral usage as OpenAI's usage object.
func geminiWireUsage(u llm.Usage) *openai.WireUsage {
	w := &openai.WireUsage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		TotalTokens: u.PromptTokens + u.CompletionTokens}
	w.PromptTokensDetails = &struct {
		CachedTokens int64 `json:"cached_tokens"`
	}{u.CachedTokens}
	if u.ReasoningTokens > 0 {
		w.CompletionTokensDetails = &struct {
			ReasoningTokens int64 `json:"reasoning_tokens"`
		}{u.ReasoningTokens}
	}
	return w
}
