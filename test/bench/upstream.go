package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The fake upstream: an OpenAI-compatible chat completions endpoint that
// answers at once. Its answers are a pure function of the request's sequence
// number (carried in the user message as "bench N"), so the load generator
// can rebuild the exact bytes the upstream sent and compare them with what
// arrived through the gateway or the edge.

const (
	benchModel   = "fast"
	upstreamKey  = "sk-upstream"
	createdAt    = 1767225600 // fixed, so the bytes are reproducible
	promptTokens = 9
)

// answerWords returns the content pieces of the answer to request seq, one
// per stream chunk; joined they give the whole answer.
func answerWords(seq int64) []string {
	return []string{"Reply ", strconv.FormatInt(seq, 10) + " ", "from ", "the ", "bench ", "upstream, ", "all ", "good."}
}

// appendHead writes the fields every completion object starts with, up to
// and including the opening bracket of "choices".
func appendHead(b []byte, seq int64, object string) []byte {
	b = append(b, `{"id":"chatcmpl-bench`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, createdAt, 10)
	b = append(b, `,"model":"`+benchModel+`","system_fingerprint":"fp_bench","choices":[`...)
	return b
}

// appendUsage writes the usage object of an answer of n completion tokens.
func appendUsage(b []byte, n int) []byte {
	b = append(b, `{"prompt_tokens":`+strconv.Itoa(promptTokens)+`,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(n+promptTokens), 10)
	return append(b, `,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}`...)
}

// completionBody renders the non-streaming answer, a chat.completion object.
func completionBody(seq int64) []byte {
	words := answerWords(seq)
	b := appendHead(make([]byte, 0, 512), seq, "chat.completion")
	b = append(b, `{"index":0,"message":{"role":"assistant","content":"`...)
	for _, w := range words {
		b = append(b, w...)
	}
	b = append(b, `","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":`...)
	b = appendUsage(b, len(words))
	return append(b, '}')
}

// streamEvents renders the streamed answer as SSE events of
// chat.completion.chunk objects: a role chunk, one content chunk per word, a
// finish chunk, the usage chunk (empty choices) when includeUsage is set,
// and the [DONE] sentinel. With includeUsage every other chunk carries
// "usage":null, as OpenAI sends it.
func streamEvents(seq int64, includeUsage bool) [][]byte {
	chunk := func(choice string) []byte {
		b := append([]byte("data: "), appendHead(make([]byte, 0, 320), seq, "chat.completion.chunk")...)
		b = append(b, choice...)
		b = append(b, ']')
		if includeUsage {
			b = append(b, `,"usage":null`...)
		}
		return append(b, "}\n\n"...)
	}
	words := answerWords(seq)
	events := make([][]byte, 0, len(words)+4)
	events = append(events, chunk(`{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}`))
	for _, w := range words {
		events = append(events, chunk(`{"index":0,"delta":{"content":"`+w+`"},"logprobs":null,"finish_reason":null}`))
	}
	events = append(events, chunk(`{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}`))
	if includeUsage {
		b := append([]byte("data: "), appendHead(make([]byte, 0, 400), seq, "chat.completion.chunk")...)
		b = append(b, `],"usage":`...)
		b = appendUsage(b, len(words))
		events = append(events, append(b, "}\n\n"...))
	}
	return append(events, []byte("data: [DONE]\n\n"))
}

// streamBody is the whole stream as one byte slice.
func streamBody(seq int64, includeUsage bool) []byte {
	var out []byte
	for _, e := range streamEvents(seq, includeUsage) {
		out = append(out, e...)
	}
	return out
}

// requestBody renders the client's request for sequence number seq.
func requestBody(seq int64, stream bool) []byte {
	b := append(make([]byte, 0, 160), `{"model":"`+benchModel+`","messages":[{"role":"user","content":"bench `...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `"}]`...)
	if stream {
		b = append(b, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	return append(b, '}')
}

// runUpstream serves the fake upstream on addr until SIGTERM, SIGINT, or
// the end of stdin (the parent bench process went away).
func runUpstream(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(serveChat), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Printf("upstream ready on %s\n", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// upstreamError answers in OpenAI's error format.
func upstreamError(w http.ResponseWriter, status int, typ, code, msg string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// serveChat is POST /v1/chat/completions of the fake upstream.
func serveChat(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		upstreamError(w, http.StatusNotFound, "invalid_request_error", "unknown_url", "Unknown request URL: "+r.Method+" "+r.URL.Path)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+upstreamKey {
		upstreamError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.")
		return
	}
	var req struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		Messages []struct {
			Content any `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		upstreamError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "We could not parse the JSON body of your request.")
		return
	}
	if req.Model != benchModel {
		upstreamError(w, http.StatusNotFound, "invalid_request_error", "model_not_found", "The model `"+req.Model+"` does not exist or you do not have access to it.")
		return
	}
	var seq int64 = -1
	if n := len(req.Messages); n > 0 {
		if s, ok := req.Messages[n-1].Content.(string); ok {
			if v, err := strconv.ParseInt(strings.TrimPrefix(s, "bench "), 10, 64); err == nil && strings.HasPrefix(s, "bench ") {
				seq = v
			}
		}
	}
	if seq < 0 {
		upstreamError(w, http.StatusBadRequest, "invalid_request_error", "invalid_value", `the last message must read "bench N"`)
		return
	}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(completionBody(seq))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	for _, e := range streamEvents(seq, req.StreamOptions != nil && req.StreamOptions.IncludeUsage) {
		if _, err := w.Write(e); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
