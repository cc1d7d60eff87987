// Package gemini holds the Gemini API (generativelanguage.googleapis.com)
// wire format pieces the gateway needs: the generateContent request and
// response bodies, usage, the error envelope, and the conversion of JSON
// Schema into Gemini's Schema object. Field names and meanings follow
// Google's REST reference (ai.google.dev/api/generate-content); the API
// speaks proto3 JSON, so it refuses unknown fields.
package gemini

import (
	"encoding/json"

	"github.com/memproxy/memproxy/gateway/llm"
)

// GenerateContentRequest is the body of models/{model}:generateContent and
// :streamGenerateContent. The model is named in the URL, never the body,
// and there is no "stream" field: the method says it.
type GenerateContentRequest struct {
	Contents          []Content         `json:"contents"`
	SystemInstruction *Content          `json:"systemInstruction,omitempty"`
	Tools             []Tool            `json:"tools,omitempty"`
	ToolConfig        *ToolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *GenerationConfig `json:"generationConfig,omitempty"`
}

// The roles of a Content.
const (
	RoleUser  = "user"
	RoleModel = "model"
)

// Content is one turn: Role "user" or "model" (omitted in
// systemInstruction) and its ordered parts.
type Content struct {
	Role  string `json:"role,omitempty"`
	Parts []Part `json:"parts"`
}

// Part is one piece of a Content; exactly one data field is set. Thought
// marks a thought summary (sent only with includeThoughts);
// ThoughtSignature is an opaque base64 token the model attaches to a part
// (to the first functionCall of a step on Gemini 3) that must be sent back
// unchanged with that part. ExecutableCode and CodeExecutionResult are
// only read, to refuse them.
type Part struct {
	Text                string            `json:"text,omitempty"`
	Thought             bool              `json:"thought,omitempty"`
	ThoughtSignature    string            `json:"thoughtSignature,omitempty"`
	InlineData          *Blob             `json:"inlineData,omitempty"`
	FileData            *FileData         `json:"fileData,omitempty"`
	FunctionCall        *FunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse    *FunctionResponse `json:"functionResponse,omitempty"`
	ExecutableCode      json.RawMessage   `json:"executableCode,omitempty"`
	CodeExecutionResult json.RawMessage   `json:"codeExecutionResult,omitempty"`
}

// Blob is inline bytes: Data is base64 (standard alphabet, padded).
type Blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

// FileData refers to a file by URI: a Files API URI, or, per Google's file
// input guide, a public or signed HTTPS URL the API fetches.
type FileData struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

// FunctionCall is a call the model asks the client to make. Args is a JSON
// object (absent for a function without parameters). ID is optional and
// not sent by the gateway.
type FunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

// FunctionResponse is the result of a FunctionCall. Response must be a
// JSON object; Google's reference says to put the output under "output"
// (and failures under "error"), else the whole object is the output.
type FunctionResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

// Tool holds the function declarations the model may call.
type Tool struct {
	FunctionDeclarations []FunctionDeclaration `json:"functionDeclarations,omitempty"`
}

// FunctionDeclaration describes a function. Parameters is a Schema (see
// SchemaFromJSONSchema) of type object; absent means no parameters.
type FunctionDeclaration struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// ToolConfig configures function calling.
type ToolConfig struct {
	FunctionCallingConfig *FunctionCallingConfig `json:"functionCallingConfig,omitempty"`
}

// The function calling modes.
const (
	ModeAuto = "AUTO" // the model picks text or calls
	ModeAny  = "ANY"  // the model must call (one of AllowedFunctionNames)
	ModeNone = "NONE" // the model must not call
)

// FunctionCallingConfig is the mode and, with ModeAny, the functions
// allowed.
type FunctionCallingConfig struct {
	Mode                 string   `json:"mode,omitempty"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

// GenerationConfig holds the sampling and output parameters the gateway
// sets; nil and empty fields are absent from the wire.
type GenerationConfig struct {
	StopSequences    []string        `json:"stopSequences,omitempty"`
	ResponseMimeType string          `json:"responseMimeType,omitempty"`
	ResponseSchema   json.RawMessage `json:"responseSchema,omitempty"`
	CandidateCount   *int            `json:"candidateCount,omitempty"`
	MaxOutputTokens  *int            `json:"maxOutputTokens,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	TopP             *float64        `json:"topP,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	PresencePenalty  *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty *float64        `json:"frequencyPenalty,omitempty"`
	ThinkingConfig   *ThinkingConfig `json:"thinkingConfig,omitempty"`
}

// ThinkingConfig controls thinking. ThinkingBudget (tokens; 0 off, -1
// dynamic) is what Gemini 2.5 accepts and Gemini 3 still accepts;
// ThinkingLevel is Gemini 3 only. The two must not be set together.
type ThinkingConfig struct {
	IncludeThoughts bool   `json:"includeThoughts,omitempty"`
	ThinkingBudget  *int   `json:"thinkingBudget,omitempty"`
	ThinkingLevel   string `json:"thinkingLevel,omitempty"`
}

// GenerateContentResponse is the answer of generateContent, and each
// event of streamGenerateContent?alt=sse (a partial candidate; the last
// carries the finishReason). ResponseID is the same in every event of a
// stream.
type GenerateContentResponse struct {
	Candidates     []Candidate     `json:"candidates,omitempty"`
	PromptFeedback *PromptFeedback `json:"promptFeedback,omitempty"`
	UsageMetadata  *UsageMetadata  `json:"usageMetadata,omitempty"`
	ModelVersion   string          `json:"modelVersion,omitempty"`
	ResponseID     string          `json:"responseId,omitempty"`
	// Error is set when a stream fails after it began: the event is
	// Google's error envelope instead of a response.
	Error *ErrorDetail `json:"error,omitempty"`
}

// Candidate is one generated answer. FinishReason is empty until the
// model stopped; Content may be absent (for a blocked answer).
type Candidate struct {
	Content      *Content `json:"content,omitempty"`
	FinishReason string   `json:"finishReason,omitempty"`
	Index        int      `json:"index,omitempty"`
}

// The finish reasons of a Candidate that the gateway tells apart. Others
// (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, …) are
// passed as strings.
const (
	FinishStop              = "STOP"
	FinishMaxTokens         = "MAX_TOKENS"
	FinishSafety            = "SAFETY"
	FinishRecitation        = "RECITATION"
	FinishBlocklist         = "BLOCKLIST"
	FinishProhibitedContent = "PROHIBITED_CONTENT"
	FinishSPII              = "SPII"
	FinishImageSafety       = "IMAGE_SAFETY"
)

// PromptFeedback says why a prompt was blocked, in which case there are
// no candidates.
type PromptFeedback struct {
	BlockReason string `json:"blockReason,omitempty"`
}

// UsageMetadata counts tokens. PromptTokenCount includes the cached
// CachedContentTokenCount; ToolUsePromptTokenCount (built-in tools) and
// ThoughtsTokenCount are counted apart from the prompt and the candidates.
type UsageMetadata struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount,omitempty"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount,omitempty"`
	ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount,omitempty"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount,omitempty"`
	TotalTokenCount         int64 `json:"totalTokenCount,omitempty"`
}

// LLM returns the neutral usage: prompt = prompt + tool-use prompt tokens,
// completion = candidates + thoughts (both billed as output), reasoning =
// thoughts, cached = cached content tokens. A nil u is zero usage.
func (u *UsageMetadata) LLM() llm.Usage {
	if u == nil {
		return llm.Usage{}
	}
	return llm.Usage{
		PromptTokens:     u.PromptTokenCount + u.ToolUsePromptTokenCount,
		CompletionTokens: u.CandidatesTokenCount + u.ThoughtsTokenCount,
		CachedTokens:     u.CachedContentTokenCount,
		ReasoningTokens:  u.ThoughtsTokenCount,
	}
}
