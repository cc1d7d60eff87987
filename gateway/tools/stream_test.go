package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// (9) A model stream that breaks: the client gets an error event, never a
// finish chunk or [DONE], and Run fails.
func TestStreamBreaks(t *testing.T) {
	head := roleChunk("r1") + textChunk("r1", "Hel")
	tests := []struct {
		name    string
		rounds  []string
		wantErr error
		wantMsg string // in the one error event
	}{
		{"cut mid-text", []string{head}, ErrStreamCut, "before it was complete"},
		{"cut mid-line", []string{head + `data: {"id":"chatcmpl-r1","choi`}, ErrStreamCut, "before it was complete"},
		{"cut after finish", []string{head + finishChunk("r1", "stop") + usageChunk("r1", 1, 1)}, ErrStreamCut, "before it was complete"},
		{"cut in a tool round", []string{roleChunk("r1") + callStart("r1", 0, "c1", SearchToolName) + callArgs("r1", 0, `{"que`)}, ErrStreamCut, "before it was complete"},
		{"cut in the second round", []string{toolRound("r1", 1, 1, tc{"c1", SearchToolName, `{"query":"x"}`}), head}, ErrStreamCut, "before it was complete"},
		{"malformed chunk", []string{head + "data: {not json\n\n" + doneEvent}, ErrStreamCut, "before it was complete"},
		{"upstream error event", []string{head + `data: {"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}` + "\n\n"}, ErrStreamCut, "overloaded"},
		{"line too long", []string{head + "data: " + strings.Repeat("x", 1<<20+10) + "\n\n"}, ErrStreamCut, "before it was complete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := scripted(tt.rounds...)
			var out strings.Builder
			_, err := Run(t.Context(), []byte(clientBody), MemoryTools(rexBackend(), scope, 5), m.call, &out, true, Options{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			v := parseOut(t, out.String())
			if len(v.finishes) != 0 || v.done || v.usageChunks != 0 {
				t.Errorf("broken stream shows finishes %v, done %v, usage %d", v.finishes, v.done, v.usageChunks)
			}
			if len(v.errs) != 1 || !strings.Contains(v.errs[0].Message, tt.wantMsg) {
				t.Errorf("error events %+v, want one saying %q", v.errs, tt.wantMsg)
			}
			if !strings.HasSuffix(out.String(), "}}\n\n") || !strings.Contains(out.String()[strings.LastIndex(out.String(), "data: "):], `"error"`) {
				t.Errorf("the error event is not the last event: %q", out.String())
			}
		})
	}
}

// A model call that fails: an error event (with the upstream's message for
// a CallError), and Run returns the error.
func TestModelCallFails(t *testing.T) {
	for _, callErr := range []error{
		errors.New("dial tcp 10.0.0.1:443: connection refused"),
		&CallError{Status: 429, Type: "rate_limit_error", Code: "rate_limited", Message: "slow down"},
	} {
		m := &fakeModel{Round: func(context.Context, int, []byte) (io.ReadCloser, error) { return nil, callErr }}
		var out strings.Builder
		_, err := Run(t.Context(), []byte(clientBody), nil, m.call, &out, false, Options{})
		if !errors.Is(err, callErr) {
			t.Errorf("err = %v, want it to wrap %v", err, callErr)
		}
		v := parseOut(t, out.String())
		if len(v.errs) != 1 || len(v.finishes) != 0 || v.done {
			t.Fatalf("out %q", out.String())
		}
		if strings.Contains(v.errs[0].Message, "10.0.0.1") {
			t.Errorf("internal error text reached the client: %q", v.errs[0].Message)
		}
		if ce, ok := errors.AsType[*CallError](callErr); ok && (v.errs[0].Message != ce.Message || v.errs[0].Type != ce.Type) {
			t.Errorf("error event %+v, want the CallError's", v.errs[0])
		}
	}
}

// (10) Cancelling ctx while a tool runs (one that ignores its ctx) or while
// the model stream is silent returns at once, with no further model call.
func TestCancel(t *testing.T) {
	t.Run("during a tool", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			started, release := make(chan struct{}), make(chan struct{})
			deaf := &fakeTool{name: "deaf", fn: func(context.Context, json.RawMessage) (string, error) {
				close(started)
				<-release // ignores ctx
				return "late", nil
			}}
			defer close(release)
			m := scripted(toolRound("r1", 1, 1, tc{"c1", "deaf", `{}`}), textRound("r2", 1, 1, "never"))
			runCancelled(t, m, []Tool{deaf}, started)
		})
	})
	t.Run("during the model stream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			started := make(chan struct{})
			m := &fakeModel{Round: func(_ context.Context, n int, _ []byte) (io.ReadCloser, error) {
				pr, pw := io.Pipe()
				go func() { _, _ = io.WriteString(pw, roleChunk("r1")+textChunk("r1", "Hel")); close(started) }()
				return pr, nil // never ends: only closing it stops a read
			}}
			runCancelled(t, m, nil, started)
		})
	})
}

func runCancelled(t *testing.T, m *fakeModel, tools []Tool, started chan struct{}) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		_, err := Run(ctx, []byte(clientBody), tools, m.call, &out, false, Options{})
		done <- err
	}()
	<-started
	synctest.Wait()
	cancel()
	synctest.Wait() // Run must now be finished, without any time passing
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	default:
		t.Fatal("Run did not return when ctx was cancelled")
	}
	if m.calls() != 1 {
		t.Errorf("model called %d times, want 1", m.calls())
	}
	if v := parseOut(t, out.String()); len(v.finishes) != 0 || v.done || len(v.errs) != 1 {
		t.Errorf("cancelled stream: finishes %v, done %v, errors %v", v.finishes, v.done, v.errs)
	}
}

// (11) The final round's text reaches the client while the model is still
// writing: the fake holds its end until the first delta has come out.
func TestStreamsIncrementally(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		m := &fakeModel{Round: func(_ context.Context, n int, _ []byte) (io.ReadCloser, error) {
			pr, pw := io.Pipe()
			go func() {
				if n == 1 {
					_, _ = io.WriteString(pw, toolRound("r1", 1, 1, tc{"c1", SearchToolName, `{"query":"dog"}`}))
					_ = pw.Close()
					return
				}
				_, _ = io.WriteString(pw, roleChunk("r2")+textChunk("r2", "Your dog "))
				<-gate
				_, _ = io.WriteString(pw, textChunk("r2", "is Rex.")+finishChunk("r2", "stop")+usageChunk("r2", 1, 1)+doneEvent)
				_ = pw.Close()
			}()
			return pr, nil
		}}
		out := &watchWriter{want: "Your dog ", seen: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := Run(t.Context(), []byte(clientBody), MemoryTools(rexBackend(), scope, 5), m.call, out, true, Options{})
			done <- err
		}()
		select {
		case <-out.seen:
		case <-time.After(time.Minute): // fires at once in the bubble if Run holds the text
			t.Error("the first delta did not reach the client before the model finished")
		}
		close(gate)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		v := parseOut(t, out.String())
		v.wellFormed(t)
		if v.text != "Your dog is Rex." {
			t.Errorf("text %q", v.text)
		}
	})
}

// watchWriter closes seen once what was written contains want.
type watchWriter struct {
	mu   sync.Mutex
	b    strings.Builder
	want string
	seen chan struct{}
	once sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// The debug record of each call has sizes and latency, and the texts only
// with StorePrompts; the hooks see each round and each run.
func TestLoggingAndHooks(t *testing.T) {
	for _, store := range []bool{false, true} {
		var logs bytes.Buffer
		var rounds []int
		var ran []string
		opts := Options{
			Logger:       slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			StorePrompts: store,
			OnRound:      func(n int) { rounds = append(rounds, n) },
			OnTool:       func(name string, _ time.Duration, err error) { ran = append(ran, name) },
		}
		m := scripted(
			toolRound("r1", 1, 1, tc{"c1", SearchToolName, `{"query":"secret dog question"}`}),
			toolRound("r2", 1, 1, tc{"c2", SearchToolName, `{"query":"secret dog question"}`}),
			textRound("r3", 1, 1, "Rex."),
		)
		if _, err := Run(t.Context(), []byte(clientBody), MemoryTools(rexBackend(), scope, 5), m.call, io.Discard, false, opts); err != nil {
			t.Fatal(err)
		}
		var recs []map[string]any
		for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
			var r map[string]any
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
		if len(recs) != 2 || recs[0]["status"] != "ok" || recs[1]["status"] != "cached" ||
			recs[0]["tool"] != SearchToolName || recs[0]["round"] != 1.0 || recs[0]["args_bytes"] != 31.0 ||
			recs[0]["result_bytes"] == 0.0 || recs[0]["latency"] == nil {
			t.Errorf("records %v", recs)
		}
		leaked := strings.Contains(logs.String(), "secret dog") || strings.Contains(logs.String(), "Rex")
		if leaked != store {
			t.Errorf("StorePrompts %v: texts in the log = %v\n%s", store, leaked, logs.String())
		}
		if len(rounds) != 3 || rounds[2] != 3 || len(ran) != 1 {
			t.Errorf("OnRound %v, OnTool %v", rounds, ran)
		}
	}
}
