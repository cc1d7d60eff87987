// Command chunklat measures what memproxy adds to each chunk of a long
// stream: a fake OpenAI upstream in this process sends 200 chunks 2 ms
// apart and stamps each with its send time; a client in this process
// reads the stream directly and through edge + gateway, and the delay of
// every chunk (arrival − send) is compared.
//
//	make build && go run ./test/bench/chunklat -bin bin
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const chunks = 200

func main() {
	bin := flag.String("bin", "bin", "directory of memgateway and memedge")
	streams := flag.Int("streams", 20, "streams per path")
	flag.Parse()
	if err := run(*bin, *streams); err != nil {
		fmt.Fprintln(os.Stderr, "chunklat:", err)
		os.Exit(1)
	}
}

// upstream sends chunks 2 ms apart, each carrying its send time (ns).
func upstream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	for i := 0; i < chunks; i++ {
		fmt.Fprintf(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"%d "},"finish_reason":null}]}`+"\n\n", time.Now().UnixNano())
		fl.Flush()
		time.Sleep(2 * time.Millisecond)
	}
	fmt.Fprint(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	fl.Flush()
}

// delays reads one stream from url and returns each chunk's delay.
func delays(url, key string) ([]time.Duration, error) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []time.Duration
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		now := time.Now().UnixNano()
		_, rest, ok := strings.Cut(line, `"content":"`)
		if !ok {
			continue
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(rest, " ", 2)[0]), 10, 64)
		if err == nil {
			out = append(out, time.Duration(now-ns))
		}
	}
	if len(out) != chunks {
		return out, fmt.Errorf("got %d chunks of %d", len(out), chunks)
	}
	return out, nil
}

func pct(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[int(p*float64(len(d)-1))]
}

func run(bin string, streams int) error {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go http.Serve(ln, http.HandlerFunc(upstream))
	up := "http://" + ln.Addr().String()
	dir, _ := os.MkdirTemp("", "chunklat")
	defer os.RemoveAll(dir)
	free := func() string { l, _ := net.Listen("tcp", "127.0.0.1:0"); defer l.Close(); return l.Addr().String() }
	httpAddr, grpcAddr := free(), free()
	cfg := "general_settings:\n  master_key: sk-chunklat\nmodel_list:\n  - model_name: m\n    litellm_params: {model: openai/m, api_base: \"" + up + "/v1\", api_key: k}\n"
	os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(cfg), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw := exec.CommandContext(ctx, filepath.Join(bin, "memgateway"), "serve", "--config", filepath.Join(dir, "gw.yaml"),
		"--data-dir", filepath.Join(dir, "data"), "--http", httpAddr, "--grpc", grpcAddr)
	if err := gw.Start(); err != nil {
		return err
	}
	env := append(os.Environ(), "MEMPROXY_HOME="+filepath.Join(dir, "home"))
	edgeCmd := func(args ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, filepath.Join(bin, "memedge"), args...)
		c.Env = env
		return c
	}
	time.Sleep(500 * time.Millisecond)
	if out, err := edgeCmd("login", "--gateway", grpcAddr, "--key", "sk-chunklat").CombinedOutput(); err != nil {
		return fmt.Errorf("login: %v %s", err, out)
	}
	port := strings.Split(free(), ":")[1]
	ed := edgeCmd("run", "--project", "chunklat")
	ed.Env = append(env, "MEMEDGE_PORT_MIN="+port, "MEMEDGE_PORT_MAX="+port)
	if err := ed.Start(); err != nil {
		return err
	}
	defer edgeCmd("shutdown").Run()
	time.Sleep(700 * time.Millisecond)
	paths := []struct{ name, url, key string }{
		{"direct", up + "/v1/chat/completions", ""},
		{"gateway (HTTP)", "http://" + httpAddr + "/v1/chat/completions", "sk-chunklat"},
		{"edge + gateway", "http://127.0.0.1:" + port + "/v1/chat/completions", ""},
	}
	fmt.Printf("%d streams × %d chunks, 2 ms apart, per path; chunk delay = client arrival − upstream send\n\n", streams, chunks)
	fmt.Printf("%-16s %10s %10s %10s\n", "path", "p50", "p99", "max")
	for _, p := range paths {
		var all []time.Duration
		for i := 0; i < streams; i++ {
			d, err := delays(p.url, p.key)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			all = append(all, d...)
		}
		fmt.Printf("%-16s %10s %10s %10s\n", p.name, pct(all, .5).Round(time.Microsecond), pct(all, .99).Round(time.Microsecond), pct(all, 1).Round(time.Microsecond))
	}
	return nil
}
