package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// executor runs the gateway rounds' tool calls of one request and keeps
// what must last across rounds: successful results by call, failures by
// tool. Its methods are called from Run's goroutine only.
type executor struct {
	tools    map[string]Tool
	opts     Options
	cache    map[string]string // tool name + canonical args → result
	failures map[string]int
	called   []string
}

func newExecutor(tools map[string]Tool, opts Options) *executor {
	return &executor{tools: tools, opts: opts, cache: map[string]string{}, failures: map[string]int{}}
}

// outcome is one tool run.
type outcome struct {
	result string
	err    error
	dur    time.Duration
}

// job is one tool run answering one or more identical calls of a round.
type job struct {
	tool  Tool
	args  json.RawMessage
	key   string
	calls []int
	out   outcome
}

// run answers the calls of a gateway round, in their order: from the
// cache, as disabled, or by running the tool (all runs at once). It
// returns an error only when ctx ends, without waiting for the tools.
func (e *executor) run(ctx context.Context, round int, calls []*call) ([]string, error) {
	results := make([]string, len(calls))
	var jobs []*job
	byKey := map[string]*job{}
	for i, c := range calls {
		e.called = append(e.called, c.name)
		args := normArgs(c.args.String())
		key := c.name + "\x00" + canonical(args)
		if res, ok := e.cache[key]; ok {
			results[i] = res
			e.log(ctx, round, c.name, args, outcome{result: res}, "cached")
			continue
		}
		if j := byKey[key]; j != nil {
			j.calls = append(j.calls, i)
			continue
		}
		if n := e.failures[c.name]; n > e.opts.MaxRetries {
			results[i] = errorResult(fmt.Sprintf("tool disabled after %d failures", n),
				"do not call this tool again; answer with what you have", n)
			e.log(ctx, round, c.name, args, outcome{result: results[i]}, "disabled")
			continue
		}
		j := &job{tool: e.tools[c.name], args: args, key: key, calls: []int{i}}
		jobs = append(jobs, j)
		byKey[key] = j
	}

	done := make(chan struct{}, len(jobs))
	for _, j := range jobs {
		go func() {
			j.out = e.call(ctx, j.tool, j.args)
			done <- struct{}{}
		}()
	}
	for range jobs {
		select {
		case <-done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}

	for _, j := range jobs { // in call order, so attempts are numbered predictably
		name := j.tool.Name()
		if e.opts.OnTool != nil {
			e.opts.OnTool(name, j.out.dur, j.out.err)
		}
		res := j.out.result
		status := "ok"
		if j.out.err != nil {
			status = "error"
			e.failures[name]++
			n := e.failures[name]
			res = errorResult(j.out.err.Error(), e.hint(j.out.err, n), n)
		} else {
			e.cache[j.key] = res
		}
		e.log(ctx, round, name, j.args, outcome{result: res, err: j.out.err, dur: j.out.dur}, status)
		for _, i := range j.calls {
			results[i] = res
		}
	}
	return results, nil
}

// call runs one tool with the per-tool timeout. It returns when the tool
// does or when the timeout or ctx ends, whichever is first: a tool that
// ignores its ctx is left behind rather than waited for. A panicking tool
// is a failed call.
func (e *executor) call(ctx context.Context, t Tool, args json.RawMessage) outcome {
	tctx, cancel := context.WithTimeout(ctx, e.opts.TimeoutPerTool)
	defer cancel()
	ch := make(chan outcome, 1)
	start := time.Now()
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- outcome{err: &failure{msg: "the tool failed unexpectedly", cause: fmt.Errorf("panic: %v", p)}}
			}
		}()
		r, err := t.Call(tctx, args)
		ch <- outcome{result: r, err: err}
	}()
	var o outcome
	select {
	case o = <-ch:
	case <-tctx.Done():
		o.err = tctx.Err()
	}
	o.dur = time.Since(start)
	if o.err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		o.err = &failure{msg: fmt.Sprintf("%s did not answer within %s", t.Name(), e.opts.TimeoutPerTool),
			hint: "call it again once, with a narrower request, or answer without it", cause: o.err}
	}
	return o
}

// hint is the retry_hint of a tool's n-th failure.
func (e *executor) hint(err error, n int) string {
	if n > e.opts.MaxRetries {
		return fmt.Sprintf("this tool is now disabled for this request after %d failures; answer without it", n)
	}
	if h, ok := errors.AsType[Hinted](err); ok && h.RetryHint() != "" {
		return h.RetryHint()
	}
	return "check the arguments against the tool's parameters and call it again"
}

// log writes the ToolDebugLogger record of one call: sizes, error and
// latency, and the texts only when prompts may be stored.
func (e *executor) log(ctx context.Context, round int, name string, args json.RawMessage, o outcome, status string) {
	l := e.opts.Logger
	if !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{slog.String("tool", name), slog.Int("round", round), slog.String("status", status),
		slog.Int("args_bytes", len(args)), slog.Int("result_bytes", len(o.result)), slog.Duration("latency", o.dur)}
	if o.err != nil {
		attrs = append(attrs, slog.String("err", o.err.Error()))
		if f, ok := errors.AsType[*failure](o.err); ok && f.cause != nil {
			attrs = append(attrs, slog.String("cause", f.cause.Error()))
		}
	}
	if e.opts.StorePrompts {
		attrs = append(attrs, slog.String("args", string(args)), slog.String("result", o.result))
	}
	l.LogAttrs(ctx, slog.LevelDebug, "tool call", attrs...)
}

// failure is a tool error with a model-facing message, an optional retry
// hint, and the cause, which is logged but never shown to the model.
type failure struct {
	msg, hint string
	cause     error
}

func (f *failure) Error() string     { return f.msg }
func (f *failure) RetryHint() string { return f.hint }
func (f *failure) Unwrap() error     { return f.cause }

var _ Hinted = (*failure)(nil)

// errorResult is the seed's structured error, as the tool message text.
func errorResult(msg, hint string, attempt int) string {
	b, _ := json.Marshal(struct {
		Error     string `json:"error"`
		RetryHint string `json:"retry_hint"`
		Attempt   int    `json:"attempt"`
	}{msg, hint, attempt})
	return string(b)
}

// normArgs is the arguments a tool gets: "{}" for none.
func normArgs(s string) json.RawMessage {
	if strings.TrimSpace(s) == "" {
		return json.RawMessage("{}")
	}
	return json.RawMessage(s)
}

// canonical is args with insignificant differences removed (white space,
// key order), or args unchanged when they are not JSON.
func canonical(args json.RawMessage) string {
	d := json.NewDecoder(bytes.NewReader(args))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return string(args)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return string(args)
	}
	return string(b)
}
