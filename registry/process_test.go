package registry

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// helperEnv selects helper-process mode in TestHelperProcess; the other
// helper variables carry its arguments.
const (
	helperEnv        = "MEMPROXY_REGISTRY_HELPER"
	helperDirEnv     = "MEMPROXY_REGISTRY_HELPER_DIR"
	helperProjectEnv = "MEMPROXY_REGISTRY_HELPER_PROJECT"
)

// TestHelperProcess is not a test: it is the body of the processes that
// TestParallelProcesses starts by re-executing the test binary. It waits
// for its stdin to close (so all helpers start allocating together),
// allocates one project with the default probes and prints "PORT=<n>".
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestParallelProcesses")
	}
	io.Copy(io.Discard, os.Stdin)
	lo, err1 := strconv.Atoi(os.Getenv(EnvPortMin))
	hi, err2 := strconv.Atoi(os.Getenv(EnvPortMax))
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "helper: bad range:", err1, err2)
		os.Exit(2)
	}
	r, err := Open(os.Getenv(helperDirEnv), Options{PortMin: lo, PortMax: hi})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	a, err := r.Allocate(os.Getenv(helperProjectEnv), AllocateRequest{PID: os.Getpid()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	fmt.Printf("PORT=%d\n", a.Entry.Port)
	os.Exit(0)
}

// TestParallelProcesses starts separate processes that allocate different
// projects in one directory at the same moment; only the file lock keeps
// them from picking the same port.
func TestParallelProcesses(t *testing.T) {
	const n, width = 12, 20
	dir := t.TempDir()
	base := freeRange(t, width)

	type helper struct {
		project string
		cmd     *exec.Cmd
		stdin   io.WriteCloser
		stdout  bytes.Buffer
		stderr  bytes.Buffer
	}
	helpers := make([]*helper, n)
	for i := range helpers {
		h := &helper{project: fmt.Sprintf("proj-%02d", i)}
		h.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		h.cmd.Env = append(os.Environ(),
			helperEnv+"=1",
			helperDirEnv+"="+dir,
			helperProjectEnv+"="+h.project,
			EnvPortMin+"="+strconv.Itoa(base),
			EnvPortMax+"="+strconv.Itoa(base+width-1),
		)
		h.cmd.Stdout, h.cmd.Stderr = &h.stdout, &h.stderr
		var err error
		if h.stdin, err = h.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := h.cmd.Start(); err != nil {
			t.Fatalf("starting helper %d: %v", i, err)
		}
		helpers[i] = h
	}
	for _, h := range helpers { // release them all at once
		h.stdin.Close()
	}

	got := make(map[string]int)
	byPort := make(map[int]string)
	for _, h := range helpers {
		if err := h.cmd.Wait(); err != nil {
			t.Fatalf("helper %s: %v\nstdout:\n%s\nstderr:\n%s", h.project, err, &h.stdout, &h.stderr)
		}
		port := parsePort(t, h.stdout.String())
		if port < base || port >= base+width {
			t.Errorf("helper %s got port %d outside %d-%d", h.project, port, base, base+width-1)
		}
		if other, dup := byPort[port]; dup {
			t.Errorf("port %d given to both %s and %s", port, other, h.project)
		}
		byPort[port] = h.project
		got[h.project] = port
	}

	r := openTest(t, dir, Options{PortMin: base, PortMax: base + width - 1})
	list, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Fatalf("registry lists %d entries, want %d: %v", len(list), n, projectsPorts(list))
	}
	for _, e := range list {
		if got[e.Project] != e.Port {
			t.Errorf("registry has %s on %d, its process printed %d", e.Project, e.Port, got[e.Project])
		}
	}
}

func parsePort(t *testing.T, out string) int {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "PORT="); ok {
			p, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("bad helper output %q", sc.Text())
			}
			return p
		}
	}
	t.Fatalf("no PORT= line in helper output %q", out)
	return 0
}
