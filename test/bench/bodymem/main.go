// Command bodymem measures what large request bodies cost in memory: the
// peak RSS (VmHWM) of memgateway and memedge while 4 maximum-size bodies
// arrive at once, over plain HTTP and through the edge, with a declared
// length and chunked, and while the edge refuses an over-limit chunked body.
// A fake OpenAI upstream in this process reads each body and answers a
// short completion, so the answer costs nothing. Linux only (/proc).
//
//	make build && go run ./test/bench/bodymem -bin bin
//
// -run picks the scenarios whose name contains its text ("→" for the
// translated ones).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	bin := flag.String("bin", "bin", "directory of memgateway and memedge")
	limitMB := flag.Int("limit-mb", 32, "the gateway's max_request_size_mb (the edge's limit is 32 MiB)")
	only := flag.String("run", "", "run only the scenarios whose name contains this text")
	flag.Parse()
	if err := run(*bin, *limitMB, *only); err != nil {
		fmt.Fprintln(os.Stderr, "bodymem:", err)
		os.Exit(1)
	}
}

// upstream reads the request body and answers a short completion.
func upstream(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
}

// Client dialects of the scenarios' requests.
const (
	chat      = ""
	anthropic = "anthropic"
	responses = "responses"
)

// paths are the endpoints of the client dialects.
var paths = map[string]string{chat: "/v1/chat/completions", anthropic: "/v1/messages", responses: "/v1/responses"}

// body is a request of exactly size bytes in the client dialect (chat
// completions by default): one user message of x.
func body(size int, dialect ...string) []byte {
	head, tail := `{"model":"m","messages":[{"role":"user","content":"`, `"}]}`
	d := chat
	if len(dialect) > 0 {
		d = dialect[0]
	}
	switch d {
	case anthropic:
		head = `{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"`
	case responses:
		head, tail = `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"`, `"}]}]}`
	}
	b := make([]byte, 0, size)
	b = append(b, head...)
	for len(b) < size-len(tail) {
		b = append(b, 'x')
	}
	return append(b, tail...)
}

// post sends b to url, chunked (no length) when asked, and returns the
// status.
func post(url, key string, b []byte, chunked bool) (int, error) {
	var r io.Reader = strings.NewReader(string(b))
	if chunked {
		r = io.MultiReader(r) // hides the length: chunked
	}
	req, _ := http.NewRequest(http.MethodPost, url, r)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// status reads VmRSS and VmHWM (kB) of pid.
func status(pid int) (rss, hwm int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

// procs is one gateway and one edge daemon, started for one scenario.
type procs struct {
	gw, ed         *exec.Cmd
	gwURL, edgeURL string
	cancel         func()
	shutdown       func()
}

func start(bin, dir, up string, limitMB int) (*procs, error) {
	free := func() string { l, _ := net.Listen("tcp", "127.0.0.1:0"); defer l.Close(); return l.Addr().String() }
	httpAddr, grpcAddr, port := free(), free(), strings.Split(free(), ":")[1]
	cfg := fmt.Sprintf("general_settings:\n  master_key: sk-bodymem\n  max_request_size_mb: %d\nmodel_list:\n"+
		"  - model_name: m\n    litellm_params: {model: openai/m, api_base: \"%s/v1\", api_key: k}\n", limitMB, up)
	if err := os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &procs{cancel: cancel, gwURL: "http://" + httpAddr + "/v1/chat/completions", edgeURL: "http://127.0.0.1:" + port + "/v1/chat/completions"}
	p.gw = exec.CommandContext(ctx, filepath.Join(bin, "memgateway"), "serve", "--config", filepath.Join(dir, "gw.yaml"),
		"--data-dir", filepath.Join(dir, "data"), "--http", httpAddr, "--grpc", grpcAddr)
	if err := p.gw.Start(); err != nil {
		cancel()
		return nil, err
	}
	env := append(os.Environ(), "MEMPROXY_HOME="+filepath.Join(dir, "home"), "MEMEDGE_PORT_MIN="+port, "MEMEDGE_PORT_MAX="+port)
	edgeCmd := func(args ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, filepath.Join(bin, "memedge"), args...)
		c.Env = env
		return c
	}
	p.shutdown = func() { _ = edgeCmd("shutdown").Run(); _ = p.ed.Wait(); cancel(); _ = p.gw.Wait() }
	if err := waitOK(func() error { _, err := post(p.gwURL, "sk-bodymem", body(200), false); return err }); err != nil {
		cancel()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if out, err := edgeCmd("login", "--gateway", grpcAddr, "--key", "sk-bodymem").CombinedOutput(); err != nil {
		cancel()
		return nil, fmt.Errorf("login: %v %s", err, out)
	}
	p.ed = edgeCmd("run", "--project", "bodymem")
	if err := p.ed.Start(); err != nil {
		cancel()
		return nil, err
	}
	if err := waitOK(func() error { _, err := post(p.edgeURL, "", body(200), false); return err }); err != nil {
		p.shutdown()
		return nil, fmt.Errorf("edge: %w", err)
	}
	return p, nil
}

func run(bin string, limitMB int, only string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(ln, http.HandlerFunc(upstream))
	up := "http://" + ln.Addr().String()
	max := limitMB<<20 - 1024
	fmt.Printf("body %d bytes (limit %d MiB - 1 KiB); fresh processes per scenario; RSS in MiB: idle → peak (VmHWM)\n\n", max, limitMB)
	fmt.Printf("%-46s %-7s %16s %16s\n", "scenario", "status", "memgateway", "memedge")
	scenarios := []struct {
		name    string
		viaEdge bool
		size, n int
		chunked bool
		dialect string
	}{
		{"gateway HTTP, 4 × Content-Length", false, max, 4, false, chat},
		{"gateway HTTP, 4 × chunked", false, max, 4, true, chat},
		{"edge → gateway, 4 × Content-Length", true, max, 4, false, chat},
		{"edge → gateway, 4 × chunked", true, max, 4, true, chat},
		{"edge, 1 × 50 MiB chunked (refused)", true, 50 << 20, 1, true, chat},
		{"gateway HTTP, 4 × Anthropic → OpenAI upstream", false, max, 4, false, anthropic},
		{"gateway HTTP, 4 × Responses → OpenAI upstream", false, max, 4, false, responses},
	}
	for _, s := range scenarios {
		if !strings.Contains(s.name, only) {
			continue
		}
		dir, _ := os.MkdirTemp("", "bodymem")
		p, err := start(bin, dir, up, limitMB)
		if err != nil {
			os.RemoveAll(dir)
			return err
		}
		url, key := p.gwURL, "sk-bodymem"
		if s.viaEdge {
			url, key = p.edgeURL, ""
		}
		b := body(s.size, s.dialect)
		url = strings.Replace(url, paths[chat], paths[s.dialect], 1)
		g0, _ := status(p.gw.Process.Pid)
		e0, _ := status(p.ed.Process.Pid)
		var wg sync.WaitGroup
		codes := make([]string, s.n)
		for i := range s.n {
			wg.Go(func() {
				c, err := post(url, key, b, s.chunked)
				codes[i] = strconv.Itoa(c)
				if err != nil {
					codes[i] = "err"
				}
			})
		}
		wg.Wait()
		_, g1 := status(p.gw.Process.Pid)
		_, e1 := status(p.ed.Process.Pid)
		fmt.Printf("%-46s %-7s %6d → %6d %6d → %6d\n", s.name, strings.Join(uniq(codes), ","), g0>>10, g1>>10, e0>>10, e1>>10)
		p.shutdown()
		os.RemoveAll(dir)
	}
	return nil
}

func uniq(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// waitOK retries f for up to 10 s.
func waitOK(f func() error) error {
	var err error
	for range 100 {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
