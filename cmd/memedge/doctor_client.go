package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// clientProbe is how one client calls the edge: its User-Agent, dialect
// and path, a minimal streamed request, and the event that ends its
// stream.
type clientProbe struct {
	ua, path, done string
	headers        map[string]string
	body           func(model string) string
}

var clientProbes = map[string]clientProbe{
	"claude-code": {ua: "claude-cli/2.0.0 (external, cli)", path: "/v1/messages?beta=true", done: "message_stop",
		headers: map[string]string{"anthropic-version": "2023-06-01", "Authorization": "Bearer memedge", "x-app": "cli"},
		body: func(m string) string {
			return fmt.Sprintf(`{"model":%q,"max_tokens":32,"stream":true,"messages":[{"role":"user","content":"memedge doctor: reply ok"}]}`, m)
		}},
	"codex": {ua: "codex_exec/0.0.0 (memedge doctor)", path: "/v1/responses", done: "response.completed",
		body: func(m string) string {
			return fmt.Sprintf(`{"model":%q,"stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"memedge doctor: reply ok"}]}]}`, m)
		}},
	"continue":  {ua: "Continue/1.0.0 (memedge doctor)", path: "/v1/chat/completions", done: "[DONE]", body: chatProbe},
	"jetbrains": {ua: "OpenAIClientImpl/Java 4.0.0", path: "/v1/chat/completions", done: "[DONE]", body: chatProbe},
}

func chatProbe(m string) string {
	return fmt.Sprintf(`{"model":%q,"stream":true,"max_tokens":32,"messages":[{"role":"user","content":"memedge doctor: reply ok"}]}`, m)
}

// detectedAs maps doctor's client names to the names the edge tags.
var detectedAs = map[string]string{"claude-code": "claude-code", "codex": "codex", "continue": "continue", "jetbrains": "pycharm"}

// doctorClient makes one real round trip as client does, to where its
// configuration points, and prints one line: what worked, or what is
// wrong and what to do.
func doctorClient(ctx context.Context, w io.Writer, client string) error {
	probe, ok := clientProbes[client]
	if !ok {
		return fmt.Errorf("unknown client %q: use claude-code, codex, continue or jetbrains", client)
	}
	base, model, where, err := clientTarget(ctx, client)
	if err == nil {
		var took time.Duration
		took, model, err = roundTrip(ctx, probe, base, model)
		if err == nil {
			fmt.Fprintf(w, "ok    %s → %s (%s): POST %s streamed an answer from model %s in %s, tagged client %s\n",
				client, base, where, strings.SplitN(probe.path, "?", 2)[0], model, took.Round(time.Millisecond), detectedAs[client])
			return nil
		}
	}
	fmt.Fprintf(w, "FAIL  %s: %v\n", client, err)
	return errors.New("the client's round trip failed")
}

// clientTarget returns the base URL and model the client's own config
// points at (for jetbrains, whose settings are in the IDE, the current
// project's port), and a few words saying where that came from.
func clientTarget(ctx context.Context, client string) (base, model, where string, err error) {
	cl, ok := setupClients[client]
	if !ok {
		t, err := resolveTarget(ctx, "", "")
		return t.Base, "", "project " + t.Project + ", set in the IDE by hand", err
	}
	path, err := cl.path()
	if err != nil {
		return "", "", "", err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", "", fmt.Errorf("cannot read %s (%v): run 'memedge setup %s'", path, errors.Unwrap(err), client)
	}
	base, model, err = cl.read(data)
	if err != nil {
		return "", "", "", fmt.Errorf("%s: %v", path, err)
	}
	if base == "" {
		return "", "", "", fmt.Errorf("%s does not point %s at an edge port: run 'memedge setup %s'", path, cl.name, client)
	}
	return base, model, "from " + path, nil
}

// roundTrip sends the probe's request and reads the stream to its end. It
// picks a model when the config names none: for Claude Code the first
// claude-like model the gateway lists, else the first.
func roundTrip(ctx context.Context, p clientProbe, base, model string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	models, err := edgeModels(ctx, base)
	if err != nil {
		return 0, model, fmt.Errorf("nothing usable answers at %s (%v): run 'memedge start' in the project, or 'memedge setup' again if its port moved", base, err)
	}
	if model == "" {
		model = models[0]
		if i := slices.IndexFunc(models, func(m string) bool { return strings.Contains(m, "claude") }); i >= 0 && p.done == "message_stop" {
			model = models[i]
		}
	} else if !slices.Contains(models, model) {
		return 0, model, fmt.Errorf("the config asks for model %q, which the gateway does not list (it has: %s): run 'memedge setup --model NAME'", model, strings.Join(models, ", "))
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+p.path, strings.NewReader(p.body(model)))
	req.Header.Set("User-Agent", p.ua)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-memory-disable", "1") // a probe is not a conversation to remember
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, model, fmt.Errorf("POST %s: %v", base+p.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, model, fmt.Errorf("POST %s answered %d: %s", base+p.path, resp.StatusCode, errorMessage(resp.Body))
	}
	br := bufio.NewReader(io.LimitReader(resp.Body, 8<<20))
	for {
		line, err := br.ReadString('\n')
		if strings.Contains(line, p.done) {
			return time.Since(start), model, nil
		}
		if strings.HasPrefix(line, "event: error") || strings.Contains(line, `"type":"error"`) {
			return 0, model, fmt.Errorf("the stream from %s ended with an error: %s", base+p.path, strings.TrimSpace(line))
		}
		if err != nil {
			return 0, model, fmt.Errorf("the stream from %s ended before %q (%v)", base+p.path, p.done, err)
		}
	}
}

// errorMessage returns error.message from an OpenAI or Anthropic error
// body, else the start of the body.
func errorMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return strings.TrimSpace(string(b[:min(len(b), 200)]))
}
