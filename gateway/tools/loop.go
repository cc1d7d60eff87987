package tools

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// Run answers one chat request (body, in the hub format) with the tool
// loop described in the package comment, writing one chat.completion.chunk
// stream to out: a role chunk, the visible deltas (choice index 0, tool
// call indices as the client sees them), exactly one finish chunk, the
// usage chunk (choices: [], usage summed over all rounds) when
// includeUsage, then data: [DONE]. The chunks carry the id, created and
// model of the first round's first chunk. Deltas are passed on with their
// fields (content, refusal, reasoning and others) minus role and
// tool_calls; choice logprobs are not passed on.
//
// The client's tools stay offered; a gateway tool whose name the client
// also declares is not offered (the client's wins). Every model call gets
// "stream": true and stream_options.include_usage, whatever the client
// asked. After a gateway round, a tool_choice that forced that round's
// call (a gateway tool by name, or "required" when the client declared no
// tools) becomes "auto", so the model can answer.
//
// Run returns an error when the request is not one the loop can run
// (ErrBadRequest; nothing written), when the model could not be called
// (wrapping CallModel's error), when a model stream broke (ErrStreamCut),
// when ctx ended (wrapping ctx.Err()), or when out failed (ErrWrite). In
// every case but ErrBadRequest an OpenAI error event is the last thing
// written to out (unless out itself failed), and no finish chunk or
// data: [DONE] has been written. Once ctx ends Run makes no more model
// calls and returns without waiting for running tools.
func Run(ctx context.Context, body []byte, tools []Tool, call CallModel, out io.Writer, includeUsage bool, opts Options) (res Result, err error) {
	opts = opts.withDefaults()
	conv, err := parseConversation(body)
	if err != nil {
		return res, err
	}
	gw := conv.offer(tools)
	isGateway := func(name string) bool { _, ok := gw[name]; return ok }
	ex := newExecutor(gw, opts)
	defer func() { res.ToolsCalled = ex.called }()
	cs := &clientStream{out: out, includeUsage: includeUsage}

	for gatewayRounds := 0; ; gatewayRounds++ {
		if ctx.Err() != nil {
			return res, cancelled(ctx, cs)
		}
		last := gatewayRounds >= opts.MaxIterations
		req, err := conv.body(!last)
		if err != nil {
			return res, fmt.Errorf("tools: encoding the request: %w", err) // cannot happen: it was decoded
		}
		res.Rounds++
		if opts.OnRound != nil {
			opts.OnRound(res.Rounds)
		}
		r := &round{out: cs}
		err = modelRound(ctx, call, req, r, cs)
		if r.usage != nil {
			res.Usage.Add(r.usage.LLM())
		}
		if err != nil {
			return res, fmt.Errorf("tools: round %d: %w", res.Rounds, err)
		}

		switch r.classify(isGateway, !last) {
		case answer:
			res.FinishReason = r.finish
			if res.FinishReason == "" || res.FinishReason == openai.FinishToolCalls {
				res.FinishReason = openai.FinishStop
			}
			if err := cs.finish(res.FinishReason); err != nil {
				return res, err
			}
			return res, cs.end(res.Usage)
		case toClient:
			if res.FinishReason, err = r.release(isGateway); err != nil {
				return res, err
			}
			return res, cs.end(res.Usage)
		}

		results, err := ex.run(ctx, res.Rounds, r.calls)
		if err != nil {
			return res, cancelled(ctx, cs)
		}
		conv.appendRound(res.Rounds, r, results)
		conv.relaxToolChoice(gw)
		cs.endRound()
	}
}

// modelRound makes one model call and reads its stream into r. Any error
// but a failed write to the client has been told to the client.
func modelRound(ctx context.Context, call CallModel, req []byte, r *round, cs *clientStream) error {
	body, err := call(ctx, req)
	if err == nil && body == nil {
		err = errors.New("CallModel returned no stream and no error")
	}
	if err != nil {
		if ctx.Err() != nil {
			return cancelled(ctx, cs)
		}
		d := openai.ErrorDetail{Type: "server_error", Message: "the model could not be called"}
		code := string(llm.ErrUpstream)
		if ce, ok := errors.AsType[*CallError](err); ok {
			d.Type, d.Message, code = ce.Type, ce.Message, ce.Code
		}
		if code != "" {
			d.Code = &code
		}
		cs.fail(d)
		return fmt.Errorf("calling the model: %w", err)
	}
	// Closing the body is what unblocks a read when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = body.Close() })
	defer func() {
		if stop() {
			_ = body.Close()
		}
	}()
	err = r.read(body)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return cancelled(ctx, cs)
	case errors.Is(err, ErrWrite):
		return err
	}
	if _, relayed := errors.AsType[*upstreamError](err); !relayed {
		code, msg := string(llm.ErrUpstreamCut), "the model's stream ended before it was complete"
		if te, ok := errors.AsType[interface {
			error
			Timeout() bool
		}](err); ok && te.Timeout() {
			code, msg = string(llm.ErrUpstreamTimeout), "the model's stream went silent: "+err.Error()
		}
		cs.fail(openai.ErrorDetail{Type: "server_error", Code: &code, Message: msg})
	}
	return err
}

// cancelled tells the client (if it is still there) that the request
// ended early and returns ctx's error, with its cause.
func cancelled(ctx context.Context, cs *clientStream) error {
	code, msg := "request_cancelled", "the request was cancelled"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code, msg = "request_timeout", "the request took too long"
	}
	cs.fail(openai.ErrorDetail{Type: "server_error", Code: &code, Message: msg})
	if c := context.Cause(ctx); c != nil && c != ctx.Err() {
		return fmt.Errorf("%w: %w", ctx.Err(), c)
	}
	return ctx.Err()
}
