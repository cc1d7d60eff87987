// Package tools runs the gateway's server-side tool loop: tools the model
// may call that the gateway executes itself (memory search and document
// lookup; MCP tools later), so that the client sees only the final answer.
//
// The loop speaks the gateway's hub format, OpenAI Chat Completions JSON:
// the caller translates the client's request to chat before Run and the
// streamed answer back after it. Run adds the gateway tools' definitions to
// the client's own tools, calls the model (always streaming), and loops.
//
// # Rounds
//
// A round is one model call. Text deltas are forwarded to the client as they
// arrive until the round's first tool_calls delta; from then on everything
// the round sends is held until its end (data: [DONE]), when the round's
// tool calls decide what it was:
//
//   - No tool call: the final answer. Its text has already streamed; the
//     finish chunk, the usage chunk and data: [DONE] follow.
//   - Every call targets a gateway tool: a gateway round. The calls are
//     executed (in parallel when there are several), the assistant message
//     with its tool_calls and one tool message per call are appended to the
//     conversation, and the model is called again. The round's tool calls,
//     held text, finish and usage chunks never reach the client; text it
//     streamed before its first tool call has (it is joined to the next
//     visible text by a blank line).
//   - Any call targets a tool that is not a gateway tool (one the client
//     declared, or a name nobody declared): the mixed-turn rule below.
//
// # The mixed-turn rule
//
// A round with at least one call the gateway does not own goes to the
// client as the model gave it, minus the gateway-tool calls: those are
// removed, the remaining calls are renumbered 0, 1, … in their order, and
// the gateway tools of that round are not executed. The finish reason is
// the model's (tool_calls). Why not execute them: the client answers its
// own tool calls and sends the conversation back, and that history holds
// only what the client saw. An assistant message with a gateway call but
// no tool message answering it is an invalid history (OpenAI and Anthropic
// both refuse a tool call without its result), and a result the client
// never saw cannot be put back. So the gateway calls of a mixed turn are
// dropped; the model can call them again on the next request, where the
// memory is as available as before.
//
// # Limits
//
// After Options.MaxIterations gateway rounds the model is called once more
// without any tools (tools, tool_choice and parallel_tool_calls removed)
// for a final answer; gateway calls it makes anyway are dropped. A tool call
// runs at most Options.TimeoutPerTool. A tool that failed more than
// Options.MaxRetries times (failures counted per tool name over the whole
// request, checked when a round's calls are dispatched) is disabled: its
// later calls are answered with an error without running it. A call with
// the same tool name and the same arguments (compared as canonical JSON) as
// an earlier successful call is answered with the earlier result without
// running the tool again; identical calls in one round run once.
//
// Tool errors never fail the request: the model gets a tool message
// {"error": "...", "retry_hint": "...", "attempt": n}, n counting that
// tool's failures so far.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/memproxy/memproxy/gateway/llm"
)

// Tool is one gateway-executed tool. Implementations must be safe for
// concurrent use: calls of one round run in parallel.
type Tool interface {
	// Name is the function name the model calls; unique among the tools
	// passed to Run.
	Name() string
	// Definition is the OpenAI chat tool definition:
	// {"type":"function","function":{"name","description","parameters"}}.
	Definition() json.RawMessage
	// Call runs the tool with the model's arguments (a JSON object; "{}"
	// when the model sent none) and returns the text of the tool message.
	// An error means the tool failed: its Error() text goes back to the
	// model as a structured error result, so it must be fit for the model
	// to read (no credentials, no upstream addresses). An error may carry
	// its own retry hint (see Hinted). Call must return when ctx is done.
	Call(ctx context.Context, args json.RawMessage) (result string, err error)
}

// Hinted is implemented by tool errors that know better than the loop
// what the model should do next; RetryHint becomes the "retry_hint" of the
// error result. Found with errors.As.
type Hinted interface {
	error
	RetryHint() string
}

// CallModel sends one chat request (body is the whole chat request JSON,
// always with "stream": true and stream_options.include_usage) to the
// model and returns its chat.completion.chunk SSE stream, ending in
// data: [DONE]. It returns an error when no stream was had (transport
// failure, upstream error status: return a *CallError to let Run tell the
// client the upstream's message). Closing the stream must abort the call;
// Run closes it when ctx is done. The implementation owns retries,
// fallbacks and the stream's idle timeout.
type CallModel func(ctx context.Context, body []byte) (io.ReadCloser, error)

// CallError is a model call that was answered with an error. Run writes
// it to the client as an OpenAI error event with these fields and returns
// an error wrapping it.
type CallError struct {
	Status  int    // the upstream's HTTP status, 0 if none
	Type    string // OpenAI error type, e.g. "rate_limit_error"
	Code    string // optional
	Message string // shown to the client
}

func (e *CallError) Error() string {
	return fmt.Sprintf("model call failed (status %d): %s", e.Status, e.Message)
}

// Errors Run returns; test with errors.Is.
var (
	// ErrBadRequest: the body is not a chat request the loop can run (not
	// a JSON object with a messages array, or n > 1). Nothing was written
	// to out; answer it as a 400.
	ErrBadRequest = errors.New("tools: request cannot run the tool loop")
	// ErrStreamCut: a model stream ended before data: [DONE], sent an
	// error event, or could not be read (malformed chunk, line over 1
	// MiB). An error event has been written to out.
	ErrStreamCut = errors.New("tools: model stream ended before completion")
	// ErrWrite: writing to out failed (the client is gone).
	ErrWrite = errors.New("tools: writing to client")
)

// Defaults of Options, from the seed's tool_execution section.
const (
	DefaultMaxIterations  = 10
	DefaultTimeoutPerTool = 30 * time.Second
	DefaultMaxRetries     = 2
)

// Options configures Run. Zero values take the defaults.
type Options struct {
	// MaxIterations bounds the gateway rounds (default 10); then one last
	// call without tools gives the answer.
	MaxIterations int
	// TimeoutPerTool bounds one tool call (default 30s).
	TimeoutPerTool time.Duration
	// MaxRetries is how many failures of one tool are retried across
	// rounds (default 2; negative means 0): after MaxRetries+1 failures
	// the tool is disabled for the request.
	MaxRetries int
	// Logger gets one debug record per tool call (the ToolDebugLogger):
	// tool, round, argument and result sizes, error, latency. Nil
	// discards.
	Logger *slog.Logger
	// StorePrompts adds the argument and result text to those records;
	// without it no request or memory text is logged.
	StorePrompts bool
	// OnRound, if set, is called before each model call with the round
	// number (1-based), from Run's goroutine.
	OnRound func(round int)
	// OnTool, if set, is called after each executed tool call (not for
	// answers from the cache or to a disabled tool) with its duration and
	// error, from Run's goroutine, one call at a time.
	OnTool func(name string, dur time.Duration, err error)
}

func (o Options) withDefaults() Options {
	if o.MaxIterations <= 0 {
		o.MaxIterations = DefaultMaxIterations
	}
	if o.TimeoutPerTool <= 0 {
		o.TimeoutPerTool = DefaultTimeoutPerTool
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Result is what Run did.
type Result struct {
	// Rounds counts the model calls made.
	Rounds int
	// ToolsCalled names the gateway tool calls the model made, in order,
	// one entry per call the gateway answered (run, from the cache, or
	// refused as disabled).
	ToolsCalled []string
	// Usage sums the usage of every round.
	Usage llm.Usage
	// FinishReason is the finish reason sent to the client ("" when none
	// was).
	FinishReason string
}
