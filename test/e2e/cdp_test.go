package e2e

// A minimal Chrome DevTools Protocol driver over --remote-debugging-pipe
// (messages are JSON separated by NUL on fds 3 and 4), enough for a test
// to run script in a page: no websocket, no library.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"

	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// page is one tab of a headless Chromium driven over the pipe.
type page struct {
	t       *testing.T
	w       *os.File
	session string
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpReply
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// openPage starts browser on url and attaches to its tab. The browser is
// stopped when the test ends.
func openPage(t *testing.T, browser, url string) *page {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	toBrowser, ourW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ourR, fromBrowser, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser} // fds 3 and 4
	// Its own process group: Chromium's renderer and helper processes go
	// down with it, so none writes into the profile while it is removed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toBrowser.Close()
	fromBrowser.Close()
	p := &page{t: t, w: ourW, waiting: map[int]chan cdpReply{}}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		ourW.Close()
		ourR.Close()
	})
	go p.read(ourR)
	var target struct {
		TargetID string `json:"targetId"`
	}
	p.call("Target.createTarget", map[string]any{"url": url}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	p.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	p.session = att.SessionID
	return p
}

// read dispatches the browser's replies to their callers; events are
// dropped.
func (p *page) read(r *os.File) {
	br := bufio.NewReader(r)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue
		}
		p.mu.Lock()
		ch := p.waiting[m.ID]
		delete(p.waiting, m.ID)
		p.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
}

// call sends one command (to the attached tab once there is one) and
// decodes its result into out; an error answer fails the test.
func (p *page) call(method string, params map[string]any, out any) {
	p.t.Helper()
	if err := p.try(method, params, out); err != nil {
		p.t.Fatal(err)
	}
}

// try is call returning the browser's error instead.
func (p *page) try(method string, params map[string]any, out any) error {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan cdpReply, 1)
	p.waiting[id] = ch
	p.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if p.session != "" {
		msg["sessionId"] = p.session
	}
	b, _ := json.Marshal(msg)
	if _, err := p.w.Write(append(b, 0)); err != nil {
		return fmt.Errorf("CDP %s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("CDP %s: %s", method, r.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-time.After(60 * time.Second):
		return fmt.Errorf("CDP %s: no answer from the browser", method)
	}
}

// eval runs expression in the page (awaiting a promise) and decodes its
// JSON value into out (may be nil). A thrown exception fails the test.
func (p *page) eval(expression string, out any) {
	p.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	p.call("Runtime.evaluate", map[string]any{"expression": expression, "awaitPromise": true, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		p.t.Fatalf("script %q threw: %s %s", expression, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			p.t.Fatalf("script %q: %v", expression, err)
		}
	}
}

// waitTrue evaluates a boolean expression until it holds (the page loads
// and fetches asynchronously; until it has loaded, evaluation itself may
// fail), failing after a minute.
func (p *page) waitTrue(what, expression string) {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var r struct {
			Result struct {
				Value bool `json:"value"`
			} `json:"result"`
		}
		err := p.try("Runtime.evaluate", map[string]any{"expression": "!!(" + expression + ")", "returnByValue": true}, &r)
		if err == nil && r.Result.Value {
			return
		}
		if time.Now().After(deadline) {
			var body string
			p.eval("document.body ? document.body.innerText : ''", &body)
			p.t.Fatalf("waiting for %s: %s never held (%v); page text:\n%s", what, expression, err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
