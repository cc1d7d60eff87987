// Package dialect is the gateway's table of API dialects: everything that
// differs between the ways clients and providers speak lives here, one
// value per dialect, so the request pipeline never branches on a dialect's
// name.
//
// Clients speak OpenAI Chat Completions, OpenAI Responses (Codex) or
// Anthropic Messages; each is a Client. Deployments speak OpenAI chat,
// Anthropic Messages, Gemini generateContent or (OpenAI itself) Responses;
// each is a Wire. OpenAI chat is the hub: a request goes client → hub →
// wire, the answer wire → hub → client, and when client and wire are the
// same dialect the bytes pass untouched but for the model name.
//
// The conformance test (dialect_test.go) runs every capability over All(),
// so a client dialect that lacks memory, folding or errors does not pass.
package dialect

import (
	"io"
	"net/http"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/sse"
	"github.com/memproxy/memproxy/gateway/inject"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/translate"
)

// Dialect names, as deployments (provider.Deployment.Dialect) and usage
// rows spell them.
const (
	OpenAI    = "openai"
	Anthropic = "anthropic"
	Gemini    = "gemini"
	Responses = "responses"
)

// Provider operations a wire dialect's completions are served by; the
// same strings as provider.Op*.
const (
	OpChat      = "chat/completions"
	OpMessages  = "messages"
	OpResponses = "responses"
)

// Client is a dialect clients speak.
type Client interface {
	Name() string
	// Path is the endpoint that serves the dialect ("/v1/messages").
	Path() string
	// Peek validates a request body and reads, in one pass, what the
	// gateway decides by; the conversation is decoded on first use.
	Peek(body []byte) (*Peek, *Error)
	// Layout is where bodies of the dialect keep what memory injection
	// edits (inject.Apply).
	Layout() inject.Layout
	// ToHub turns a request into the hub dialect (OpenAI chat).
	ToHub(body []byte, model string) ([]byte, error)
	// FromHub turns a non-streaming hub answer into the dialect.
	FromHub(hub []byte, model string) ([]byte, error)
	// HubStream translates a hub stream into the dialect, writing to out;
	// nil for the hub itself.
	HubStream(out io.Writer, model string) translate.Stream
	// Pass forwards a stream of the dialect unchanged from an upstream
	// that speaks it too, reading usage and its end from a copy. hideUsage
	// drops the usage chunk the gateway asked for on its own account.
	Pass(out io.Writer, hideUsage bool) Sink
	// Usage reads the usage of a non-streaming answer.
	Usage(body []byte) llm.Usage
	// Answer reads the assistant's text of a non-streaming answer;
	// NewFold collects it from a stream as it is written to the client.
	Answer(body []byte) Answer
	NewFold() Fold
	// WriteError answers with e in the dialect; StreamError is the event
	// that tells a client mid-stream that its stream failed.
	WriteError(w http.ResponseWriter, e *Error)
	StreamError(e *Error) []byte
}

// Wire is a dialect deployments serve.
type Wire interface {
	Name() string
	// Op is the provider operation that serves its completions.
	Op() string
	// Encode turns a hub request into the wire dialect for upstreamModel.
	Encode(hub []byte, upstreamModel string) ([]byte, error)
	// Decode turns a non-streaming answer into the hub and reads its
	// usage.
	Decode(body []byte, model string) ([]byte, llm.Usage, error)
	// DecodeStream translates the wire's stream into hub chunks written
	// to out; nil for the hub itself.
	DecodeStream(out io.Writer, model string, includeUsage bool) translate.Stream
	// ParseError reads an error answer's message and code.
	ParseError(body []byte) (msg, code string)
}

// Sink receives an upstream stream's bytes and writes what the client
// must see. Finish is called at the upstream's end: it reports the usage
// and whether the stream was complete; an incomplete stream gets an error
// event in the client's dialect (written by Finish), never a made-up
// normal ending.
type Sink interface {
	io.Writer
	Finish(e *Error) (llm.Usage, bool)
	// Usage is what the stream reported so far, for a stream that will
	// not finish (its client left).
	Usage() llm.Usage
}

// Answer is what write-back and the turn logic read of an answer.
type Answer struct {
	// Text is the assistant's text, as the client received it.
	Text string
	// ToolCalls: the answer asks the client to run tools, so the agent's
	// turn goes on; an answer without ends the turn.
	ToolCalls bool
}

// Fold collects an Answer from a stream in the client's dialect.
type Fold interface {
	io.Writer
	Answer() Answer
}

// maxFold bounds the answer text kept for write-back.
const maxFold = 64 << 10

var (
	openAIChat    = &openAIDialect{}
	anthropicMsgs = &anthropicDialect{}
	responsesAPI  = &responsesDialect{}
	geminiWire    = &geminiDialect{}
)

// All returns every client dialect.
func All() []Client { return []Client{openAIChat, anthropicMsgs, responsesAPI} }

// Wires returns every wire dialect.
func Wires() []Wire { return []Wire{openAIChat, anthropicMsgs, responsesAPI, geminiWire} }

// ClientOf returns the client dialect named name.
func ClientOf(name string) (Client, bool) {
	for _, c := range All() {
		if c.Name() == name {
			return c, true
		}
	}
	return nil, false
}

// WireOf returns the wire dialect named name.
func WireOf(name string) (Wire, bool) {
	for _, w := range Wires() {
		if w.Name() == name {
			return w, true
		}
	}
	return nil, false
}

// ForPath is the client dialect of a request path, also of one no route
// took (its errors must still be in the client's dialect): Anthropic for
// /v1/messages and below, OpenAI otherwise (Responses errors are OpenAI's).
func ForPath(path string) Client {
	p := strings.TrimPrefix(path, "/v1")
	switch {
	case strings.HasPrefix(p, "/messages"):
		return anthropicMsgs
	case strings.HasPrefix(p, "/responses"):
		return responsesAPI
	}
	return openAIChat
}

// Hub is the hub's Wire (OpenAI chat): what the tool loop speaks.
func Hub() Wire { return openAIChat }

// newEventReader parses one SSE stream for a fold or an observer.
func newEventReader(on func(name, data []byte)) *sse.Reader {
	return &sse.Reader{OnEvent: func(ev *sse.Event) error {
		on(ev.Name, ev.Data)
		return nil
	}}
}
