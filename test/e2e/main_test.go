// Package e2e runs the real binaries: a gateway against fake upstreams and
// an edge daemon in front of it, driven by HTTP clients as an IDE would.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bin holds the binaries built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "memproxy-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-tags", "sqlite_fts5", "-o", dir+"/", "github.com/memproxy/memproxy/cmd/memgateway", "github.com/memproxy/memproxy/cmd/memedge")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building binaries:", err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// edgePortRange returns the start of a range of loopback ports for an
// edge's projects (MEMEDGE_PORT_MIN). The registry probes every port
// before handing it out and skips busy ones, so the range only needs to
// start somewhere likely free: the kernel's choice for :0.
func edgePortRange(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return min(ln.Addr().(*net.TCPAddr).Port, 65535-50)
}

// unusedAddr is where a gateway that has not started yet "listens": port
// 1 on loopback, where nothing does, so an edge pointed at it gets
// connection refused.
const unusedAddr = "127.0.0.1:1"

// gateway is a running memgateway process.
type gateway struct {
	t          *testing.T
	cmd        *exec.Cmd
	httpURL    string
	grpcAddr   string
	masterKey  string
	logs       *bytes.Buffer
	terminated bool
	args       []string
	addrFile   string        // --addr-file: the bound addresses, read after start
	exited     chan struct{} // closed when the process started last has exited
	healthURL  string
	roots      *x509.CertPool
}

// startGateway runs memgateway with the given config body (a master key is
// added) and waits until /health answers. extra are more serve flags.
func startGateway(t *testing.T, configBody string, extra ...string) *gateway {
	t.Helper()
	g := prepareGateway(t, configBody, extra...)
	g.start()
	return g
}

// prepareGateway sets up a gateway's files and flags without starting it.
func prepareGateway(t *testing.T, configBody string, extra ...string) *gateway {
	t.Helper()
	dir := t.TempDir()
	g := &gateway{t: t, masterKey: "sk-e2e-master", logs: &bytes.Buffer{},
		httpURL: "http://" + unusedAddr, grpcAddr: unusedAddr, addrFile: filepath.Join(dir, "addrs.json")}
	cfg := filepath.Join(dir, "gateway.yaml")
	body := "general_settings:\n  master_key: " + g.masterKey + "\n" + configBody
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// The gateway binds :0 and writes what it bound to --addr-file; start
	// reads it. A restart binds the same addresses again (edges know them).
	g.args = append([]string{"serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data"),
		"--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--addr-file", g.addrFile}, extra...)
	g.healthURL = g.httpURL
	if slices.Contains(extra, "--tls-cert") {
		g.healthURL = "https://" + unusedAddr
	}
	g.terminated = true // until start
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.logs)
		}
	})
	return g
}

// start runs the gateway process (again, after stop) and waits for it.
// The first start learns the addresses the gateway bound; later ones ask
// for the same addresses, as a restarted server would.
func (g *gateway) start() {
	g.t.Helper()
	os.Remove(g.addrFile)
	g.cmd = exec.Command(filepath.Join(bin, "memgateway"), g.args...)
	g.cmd.Stdout, g.cmd.Stderr = g.logs, g.logs
	// Once the gateway has exited, Wait stops copying its output after a
	// moment even if another process inherited the pipe. Only the goroutine
	// below calls Wait: tests wait on g.exited (two Waits on one process
	// race, and one of them can hang for good).
	g.cmd.WaitDelay = 5 * time.Second
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	g.terminated = false
	exited := make(chan struct{})
	go func() { _ = g.cmd.Wait(); close(exited) }()
	g.exited = exited
	var addrs struct{ HTTP, GRPC string }
	waitFor(g.t, "gateway --addr-file", func() bool {
		select {
		case <-exited:
			g.t.Fatalf("gateway exited before listening:\n%s", g.logs)
		default:
		}
		b, err := os.ReadFile(g.addrFile)
		return err == nil && json.Unmarshal(b, &addrs) == nil
	})
	scheme := "http://"
	if strings.HasPrefix(g.healthURL, "https://") {
		scheme = "https://"
	}
	g.httpURL, g.grpcAddr, g.healthURL = "http://"+addrs.HTTP, addrs.GRPC, scheme+addrs.HTTP
	g.args = replaceFlag(replaceFlag(g.args, "--http", addrs.HTTP), "--grpc", addrs.GRPC)
	waitFor(g.t, "gateway /health", func() bool {
		resp, err := g.client().Get(g.healthURL + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
}

// replaceFlag returns args with the value after flag set to v.
func replaceFlag(args []string, flag, v string) []string {
	out := slices.Clone(args)
	if i := slices.Index(out, flag); i >= 0 && i+1 < len(out) {
		out[i+1] = v
	}
	return out
}

// client is an HTTP client for the gateway's own API (trusting its test
// certificate when it serves TLS).
func (g *gateway) client() *http.Client {
	if g.roots == nil {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: g.roots}}}
}

func (g *gateway) stop() {
	if g.terminated {
		return
	}
	g.terminated = true
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		g.t.Error("gateway did not stop within 15s of SIGTERM")
	}
}

// usage returns the gateway's usage rows matching query (newest first).
func (g *gateway) usage(query string) []map[string]any {
	g.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.healthURL+"/v1/usage?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+g.masterKey)
	resp, err := g.client().Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		g.t.Fatal(err)
	}
	return out.Data
}

// edgeHome is one laptop's $MEMPROXY_HOME with a daemon running in it.
type edgeHome struct {
	t    *testing.T
	home string
	env  []string
}

func newEdge(t *testing.T, g *gateway, user string, loginFlags ...string) *edgeHome {
	t.Helper()
	home, err := os.MkdirTemp("", "mp-e2e") // short: unix socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	port := edgePortRange(t)
	e := &edgeHome{t: t, home: home, env: append(os.Environ(), "MEMPROXY_HOME="+home,
		fmt.Sprintf("MEMEDGE_PORT_MIN=%d", port), fmt.Sprintf("MEMEDGE_PORT_MAX=%d", port+50))}
	t.Cleanup(func() {
		e.run("shutdown")
		waitFor(t, "edge daemon exit", func() bool {
			_, err := os.Stat(filepath.Join(home, "memedge.sock"))
			return os.IsNotExist(err)
		})
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(home, "memedge.log"))
			t.Logf("edge log:\n%s", b)
		}
		os.RemoveAll(home)
	})
	e.run(append([]string{"login", "--gateway", g.grpcAddr, "--key", g.masterKey, "--user", user}, loginFlags...)...)
	return e
}

// run runs memedge with args and returns its stdout; failure fails the test.
func (e *edgeHome) run(args ...string) string {
	e.t.Helper()
	out, err := e.runErr(args...)
	if err != nil {
		e.t.Fatalf("memedge %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// runErr runs memedge with args and returns its stdout (and stderr, when it
// failed) and its error.
func (e *edgeHome) runErr(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(bin, "memedge"), args...)
	cmd.Env = e.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second // `memedge start` leaves a daemon behind: never wait on its inherited pipes
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

// start serves project and returns its base URL from `memedge list --json`.
func (e *edgeHome) start(project string) string {
	e.t.Helper()
	e.run("start", "--project", project)
	var rows []struct {
		Project string `json:"project"`
		Port    int    `json:"port"`
		Running bool   `json:"running"`
	}
	if err := json.Unmarshal([]byte(e.run("list", "--json")), &rows); err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rows {
		if r.Project == project && r.Running {
			return fmt.Sprintf("http://127.0.0.1:%d", r.Port)
		}
	}
	e.t.Fatalf("project %s not running in memedge list: %+v", project, rows)
	return ""
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ownGroup runs cmd in a process group of its own and, when the test ends
// (before its temporary directories are removed), kills that group and
// waits until its processes are gone: a client CLI's background helpers
// must not outlive it and write into a HOME being deleted (a SIGKILL is
// delivered, not awaited, so without the wait RemoveAll raced them).
func ownGroup(t *testing.T, cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		if cmd.Process != nil {
			killAndWait(processes(func(p procInfo) bool { return p.pgid == cmd.Process.Pid }))
		}
	})
}

// killTree kills pid and every process below it (a pty's child runs in a
// session of its own, out of reach of a group kill) and waits until they
// are gone.
func killTree(pid int) {
	all := processes(func(procInfo) bool { return true })
	below := map[int]bool{pid: true}
	for grew := true; grew; {
		grew = false
		for _, p := range all {
			if below[p.ppid] && !below[p.pid] {
				below[p.pid], grew = true, true
			}
		}
	}
	var tree []procInfo
	for _, p := range all {
		if below[p.pid] {
			tree = append(tree, p)
		}
	}
	killAndWait(tree)
}

// procInfo is what /proc/PID/stat says of a process.
type procInfo struct {
	pid, ppid, pgid int
	zombie          bool
}

// processes lists the live processes keep accepts, from /proc.
func processes(keep func(procInfo) bool) []procInfo {
	var out []procInfo
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := procStat(pid); ok && !p.zombie && keep(p) {
			out = append(out, p)
		}
	}
	return out
}

func procStat(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	// pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
	rest := string(b[bytes.LastIndexByte(b, ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 3 {
		return procInfo{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	return procInfo{pid: pid, ppid: ppid, pgid: pgid, zombie: f[0] == "Z"}, true
}

// killAndWait SIGKILLs ps and waits, up to 10 s, until each has exited or
// is a zombie (which writes nothing).
func killAndWait(ps []procInfo) {
	for _, p := range ps {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, q := range ps {
		pid := q.pid
		for time.Now().Before(deadline) {
			if p, ok := procStat(pid); !ok || p.zombie {
				break
			}
			time.Sleep(5 * time.Millisecond) // polling the condition, bounded by the deadline
		}
	}
}
