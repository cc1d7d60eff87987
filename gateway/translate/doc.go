// Package translate converts requests, responses and streams between the
// OpenAI Chat Completions dialect and the Anthropic Messages dialect, for
// when a client's dialect differs from its deployment's. Every function is
// pure: bytes in, bytes out, no I/O. Files are named <client>_<backend>.go:
// openai_anthropic*.go serve an OpenAI client in front of an Anthropic
// deployment, anthropic_openai*.go the reverse.
//
// # Requests
//
// The model is replaced by the deployment's upstream model. A request that
// cannot be said in the other dialect without changing what it asks for is
// refused with an *Error naming the field; the gateway answers it as a 400.
// Fields whose loss does not change the answer's shape or meaning are
// dropped (lists below). Unknown fields are refused, as both APIs do.
//
// Roles and system prompts. OpenAI system and developer messages, wherever
// they stand, become the Anthropic system prompt in order: a string when
// there is one system message with string content, else one text block
// per message (or per text part). The Anthropic system prompt becomes one
// leading OpenAI system message: string content for a string, one text part
// per block for an array; cache_control is dropped (OpenAI caches prompts
// by itself).
//
// Messages. Consecutive messages that map to the same Anthropic role are
// merged into one turn, as Anthropic requires alternating roles: a run of
// OpenAI tool messages becomes one user turn of tool_result blocks, and a
// user message right after them joins that turn (tool_result blocks are
// kept first in a turn, as Anthropic requires). A message that is not
// merged keeps its string form. Text parts ⇄ text blocks; image_url parts ⇄
// image blocks (data: URLs ⇄ base64 sources, http(s) URLs ⇄ url sources;
// only image/jpeg, png, gif and webp; "detail" is dropped). Assistant
// tool_calls ⇄ tool_use blocks (the arguments string ⇄ the input object;
// arguments that are not a JSON object are refused; "" means {}). OpenAI
// tool messages ⇄ tool_result blocks (string content stays a string, text
// parts become text blocks; Anthropic's is_error flag has no OpenAI
// counterpart and is dropped). An Anthropic user turn with tool_result
// blocks becomes one tool message per result, then a user message with the
// rest. Assistant refusals become text. Message "name" fields are dropped.
// Tool call ids pass unchanged, except that characters outside
// [A-Za-z0-9_-] become '_' towards Anthropic, which allows no others.
//
// Anthropic thinking and redacted_thinking blocks in assistant history are
// provider-specific (signed for Anthropic only) and are dropped towards
// OpenAI; the thinking config is dropped too, so the OpenAI model answers
// without extended thinking. An assistant turn left empty is dropped.
//
// Tools. function {name, description, parameters} ⇄ {name, description,
// input_schema} (no parameters ⇄ {"type":"object","properties":{}});
// tool_choice "auto"/"none"/"required"/{"type":"function",...} ⇄
// {"type":"auto"}/{"type":"none"}/{"type":"any"}/{"type":"tool","name"};
// parallel_tool_calls false ⇄ disable_parallel_tool_use true. OpenAI
// "strict" is dropped (Anthropic follows the schema without the
// guarantee). Non-function tools (OpenAI "custom", Anthropic server and
// versioned tools such as web_search or bash) are refused. Without tools,
// tool_choice and parallel_tool_calls change nothing and are not sent
// (OpenAI refuses tool_choice without tools).
//
// Parameters. max_completion_tokens (preferred) or max_tokens ⇄
// max_tokens; towards Anthropic, which requires it, defaultMaxTokens fills
// it in; towards OpenAI it is written as max_completion_tokens, the
// current name (max_tokens is refused by OpenAI's reasoning models).
// temperature (OpenAI's 0–2 is refused above Anthropic's 1), top_p,
// stop (string or list) ⇄ stop_sequences, stream, user ⇄ metadata.user_id.
// Towards OpenAI with stream, stream_options.include_usage is set so usage
// can be read.
//
// OpenAI fields refused towards Anthropic: n > 1, logprobs true,
// top_logprobs, response_format json_object or json_schema, audio,
// modalities other than text, logit_bias, functions, function_call,
// web_search_options, messages of role function, audio or file parts.
// Dropped: frequency_penalty, presence_penalty, seed, metadata, store,
// service_tier, prompt_cache_key, prompt_cache_retention,
// safety_identifier, reasoning_effort, verbosity, prediction,
// stream_options, and the neutral values n 1, logprobs false,
// response_format text, modalities ["text"]. JSON null counts as absent.
//
// Anthropic fields refused towards OpenAI: container, mcp_servers,
// output_config.format (structured output), document and search_result
// blocks, images in tool_result content or the system prompt, image file
// sources, server tool blocks, a missing max_tokens (Anthropic requires
// it). Dropped: thinking, top_k, service_tier, cache_control, citations,
// context_management (it only trims old tool results and thinking to save
// context) and output_config.effort — Claude Code sends both on every
// request. A system turn inside messages (Claude Code's mid-conversation
// instructions) stays a system message at its place.
//
// # Memory
//
// A request translation costs about one copy of the request, whatever its
// size: the tails of large string values (texts, tool results, base64
// images, tool arguments) are cut out of the body before it is decoded
// and written into the output, re-escaped straight from the client's
// bytes, into one buffer of the exact size (stash.go). The output is byte
// for byte that of the whole-body translation; TestStashSameOutput and
// FuzzStash hold that, TestTranslateMemory the cost (at most 2.5× the
// body; 1.0× measured). Chain runs a client → hub → wire route over one
// stashed body, so crossing the hub twice costs one copy too. A request
// that fails is translated again whole, so that its error is the one it
// always was.
//
// # Responses
//
// Stop reasons: end_turn, stop_sequence and pause_turn → stop; max_tokens
// and model_context_window_exceeded → length; tool_use → tool_calls;
// refusal → content_filter. Back: stop → end_turn (OpenAI does not say
// which stop sequence matched, so stop_sequence stays null), length →
// max_tokens, tool_calls and function_call → tool_use, content_filter →
// refusal, and a message with an OpenAI refusal → refusal.
//
// Usage: prompt_tokens = input_tokens + cache_read_input_tokens +
// cache_creation_input_tokens, cached_tokens = cache_read_input_tokens.
// Back: input_tokens = prompt_tokens − cached_tokens,
// cache_read_input_tokens = cached_tokens, cache_creation_input_tokens = 0.
//
// Ids keep the upstream id behind the client dialect's prefix when it
// lacks it: msg_X → chatcmpl-msg_X, chatcmpl-X → msg_chatcmpl-X. Text
// blocks are joined without separator into the message content (as a
// stream concatenates them); thinking blocks are dropped.
//
// # Streams
//
// A Stream is written the upstream's SSE bytes, split anywhere, and writes
// the client's events to out as each upstream event completes. It holds
// back only what depends on the upstream's proper end: towards Anthropic,
// message_delta waits for data: [DONE], since OpenAI's usage chunk comes
// after finish_reason; towards OpenAI, the finish chunk waits for
// message_stop, so that a cut stream never shows a finish_reason. SSE
// lines end in \n, \r\n or \r; comments and
// unknown fields are ignored; data lines are joined with \n; a line longer
// than 1 MiB fails the stream.
//
// A stream that fails (an upstream error event, a malformed event, an
// over-long line) writes one error event in the client's dialect and stops
// translating. Close then returns an error wrapping ErrIncomplete; so does
// Close on a stream cut before its proper end (message_stop, or data:
// [DONE]), after writing the error event. A cut stream never ends with a
// made-up finish.
package translate

import (
	"errors"
	"io"
	"time"

	"github.com/memproxy/memproxy/gateway/api/sse"
	"github.com/memproxy/memproxy/gateway/llm"
)

// Error is a request (or upstream answer) that cannot be said in the other
// dialect. Field is a path into the input body, such as
// "messages[2].content[0].image_url.url".
type Error struct {
	Field string
	Msg   string
}

// Error returns "cannot translate <field>: <msg>".
func (e *Error) Error() string { return "cannot translate " + e.Field + ": " + e.Msg }

// ErrIncomplete is wrapped by Stream.Close when the upstream stream did not
// reach its proper end: it was cut, it sent an error event, or it could not
// be translated.
var ErrIncomplete = errors.New("translate: upstream stream ended before completion")

// ErrLineTooLong fails a stream whose upstream sent an SSE line longer
// than sse.MaxLine.
var ErrLineTooLong = sse.ErrLineTooLong

// Stream translates one upstream SSE stream into the client's dialect.
// Write and Close must not be called concurrently.
type Stream interface {
	// Write takes upstream bytes, split anywhere, and writes the client
	// events they complete. It returns the error of a failed stream or of
	// the client's writer.
	io.Writer
	// Close marks the end of upstream input. It returns nil when the
	// upstream's proper end was seen; otherwise it writes an error event
	// in the client's dialect (unless the failure already wrote one) and
	// returns an error wrapping ErrIncomplete.
	Close() error
	// Usage returns the usage accumulated so far.
	Usage() llm.Usage
	// Done reports whether the upstream's proper end was seen.
	Done() bool
}

// now stamps OpenAI "created" fields; tests fix it.
var now = time.Now
