package registry

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock returns strictly increasing times, one second apart, so
// LastUsed order is the order of calls.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// openTest opens a registry in dir with a fake clock.
func openTest(t *testing.T, dir string, opts Options) *Registry {
	t.Helper()
	r, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r.now = clock.Now
	return r
}

func allFree(int) bool   { return true }
func noneAlive(int) bool { return false }

// mustAllocate allocates and fails the test on error.
func mustAllocate(t *testing.T, r *Registry, project string, req AllocateRequest) Allocation {
	t.Helper()
	a, err := r.Allocate(project, req)
	if err != nil {
		t.Fatalf("Allocate(%q, %+v): %v", project, req, err)
	}
	return a
}

// wantPort checks an allocation that must not have moved.
func wantPort(t *testing.T, a Allocation, project string, port int) {
	t.Helper()
	if a.Entry.Project != project || a.Entry.Port != port || a.Previous != 0 || a.Reason != "" {
		t.Fatalf("Allocate(%q) = %+v, want port %d, no move", project, a, port)
	}
}

// freeRange returns the first of n consecutive ports on 127.0.0.1 that
// could all be bound just now, chosen below the Linux and macOS ephemeral
// ranges so that outgoing connections do not grab them meanwhile.
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		base := 10000 + rand.IntN(20000)
		var lns []net.Listener
		for p := base; p < base+n; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if len(lns) == n {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports found", n)
	return 0
}

// listen holds port on 127.0.0.1 until the test ends, playing "another
// program".
func listen(t *testing.T, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("listen %d: %v", port, err)
	}
	t.Cleanup(func() { ln.Close() })
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=")
	if err := cmd.Run(); err != nil {
		t.Fatalf("running child: %v", err)
	}
	pid := cmd.Process.Pid
	if processAlive(pid) {
		t.Fatalf("pid %d of a reaped child is alive (reused?)", pid)
	}
	return pid
}

func TestStableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{PortMin: 20000, PortMax: 20009, PortFree: allFree, ProcessAlive: noneAlive}
	r := openTest(t, dir, opts)
	want := map[string]int{"a": 20000, "b": 20001, "c": 20002}
	for i, p := range []string{"a", "b", "c"} {
		a := mustAllocate(t, r, p, AllocateRequest{PID: 100 + i})
		wantPort(t, a, p, want[p])
		if a.Entry.PID != 100+i || a.Entry.Pinned {
			t.Fatalf("Allocate(%q).Entry = %+v, want pid %d unpinned", p, a.Entry, 100+i)
		}
	}
	if err := r.Release("b", 101); err != nil {
		t.Fatalf("Release: %v", err)
	}

	// A new Registry value, as after a daemon restart or crash (the
	// processes 100 and 102 never released and are now dead).
	r2 := openTest(t, dir, opts)
	e, ok, err := r2.Get("b")
	if err != nil || !ok || e.Port != 20001 || e.PID != 0 {
		t.Fatalf("Get(b) after release = %+v, %v, %v; want port 20001 pid 0", e, ok, err)
	}
	for _, p := range []string{"c", "b", "a"} {
		wantPort(t, mustAllocate(t, r2, p, AllocateRequest{PID: 200}), p, want[p])
	}
	// A newcomer gets the next never-used port, not a released one.
	wantPort(t, mustAllocate(t, r2, "d", AllocateRequest{}), "d", 20003)
}

func TestKeepsPortServedBySameProcess(t *testing.T) {
	busy := map[int]bool{}
	alive := map[int]bool{}
	r := openTest(t, t.TempDir(), Options{PortMin: 20000, PortMax: 20009,
		PortFree: func(p int) bool { return !busy[p] }, ProcessAlive: func(pid int) bool { return alive[pid] }})
	wantPort(t, mustAllocate(t, r, "a", AllocateRequest{PID: 100}), "a", 20000)

	// Process 100 now listens on 20000, so the probe fails, but it is ours.
	busy[20000], alive[100] = true, true
	wantPort(t, mustAllocate(t, r, "a", AllocateRequest{PID: 100}), "a", 20000)

	// A second live process claiming the project is refused, not moved.
	_, err := r.Allocate("a", AllocateRequest{PID: 200})
	if !errors.Is(err, ErrProjectBusy) {
		t.Fatalf("Allocate by second process: err = %v, want ErrProjectBusy", err)
	}

	// Process 100 died without releasing; a restarted daemon keeps the port.
	busy[20000], alive[100] = false, false
	wantPort(t, mustAllocate(t, r, "a", AllocateRequest{PID: 300}), "a", 20000)

	// Recorded owner alive (pid reused) but not listening: take over.
	alive[300] = true
	wantPort(t, mustAllocate(t, r, "a", AllocateRequest{PID: 400}), "a", 20000)
}

func TestReleaseGetListRemove(t *testing.T) {
	r := openTest(t, t.TempDir(), Options{PortMin: 20000, PortMax: 20009, PortFree: allFree, ProcessAlive: noneAlive})
	a := mustAllocate(t, r, "b", AllocateRequest{PID: 7})
	mustAllocate(t, r, "a", AllocateRequest{PID: 8})

	if err := r.Release("b", 99); err != nil {
		t.Fatalf("Release with another pid: %v", err)
	}
	if e, _, _ := r.Get("b"); e.PID != 7 || !e.LastUsed.Equal(a.Entry.LastUsed) {
		t.Fatalf("Release with another pid changed the entry: %+v", e)
	}
	if err := r.Release("b", 7); err != nil {
		t.Fatalf("Release: %v", err)
	}
	e, ok, err := r.Get("b")
	if err != nil || !ok || e.PID != 0 || e.Port != 20000 || !e.LastUsed.After(a.Entry.LastUsed) ||
		!e.CreatedAt.Equal(a.Entry.CreatedAt) {
		t.Fatalf("Get(b) after Release = %+v, %v, %v", e, ok, err)
	}
	if err := r.Release("zzz", 7); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Release(missing) = %v, want ErrNotFound", err)
	}

	list, err := r.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := fmt.Sprint(projectsPorts(list)); got != "[a:20001 b:20000]" {
		t.Fatalf("List = %s, want [a:20001 b:20000]", got)
	}

	if err := r.Remove("b"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := r.Remove("b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove = %v, want ErrNotFound", err)
	}
	if _, ok, err := r.Get("b"); ok || err != nil {
		t.Fatalf("Get(removed) = %v, %v; want false, nil", ok, err)
	}
	// The removed project's port is free for the next newcomer.
	wantPort(t, mustAllocate(t, r, "c", AllocateRequest{}), "c", 20000)
	list, _ = r.List()
	if got := fmt.Sprint(projectsPorts(list)); got != "[a:20001 c:20000]" {
		t.Fatalf("List = %s, want [a:20001 c:20000]", got)
	}
}

func projectsPorts(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Project+":"+strconv.Itoa(e.Port))
	}
	return out
}

func TestInvalidProjectNames(t *testing.T) {
	r := openTest(t, t.TempDir(), Options{PortFree: allFree})
	for _, name := range []string{"", strings.Repeat("x", 129), "a/b", `a\b`, "a\x00b", "a\nb", "tab\t", "del\x7f", "c1\u0085", "bad\xffutf8"} {
		if _, err := r.Allocate(name, AllocateRequest{}); !errors.Is(err, ErrInvalidProject) {
			t.Errorf("Allocate(%q) = %v, want ErrInvalidProject", name, err)
		}
		if _, _, err := r.Get(name); !errors.Is(err, ErrInvalidProject) {
			t.Errorf("Get(%q) = %v, want ErrInvalidProject", name, err)
		}
		if err := r.Release(name, 1); !errors.Is(err, ErrInvalidProject) {
			t.Errorf("Release(%q) = %v, want ErrInvalidProject", name, err)
		}
		if err := r.Remove(name); !errors.Is(err, ErrInvalidProject) {
			t.Errorf("Remove(%q) = %v, want ErrInvalidProject", name, err)
		}
	}
	for _, name := range []string{"memproxy", "My Project", "日本語", "..", strings.Repeat("é", 128)} {
		if _, err := r.Allocate(name, AllocateRequest{}); err != nil {
			t.Errorf("Allocate(%q) = %v, want success", name, err)
		}
	}
	if list, _ := r.List(); len(list) != 5 {
		t.Errorf("List has %d entries, want 5", len(list))
	}
}

func TestOpenOptionsAndPermissions(t *testing.T) {
	for _, o := range []Options{{PortMin: 9000, PortMax: 8999}, {PortMax: 70000}, {PortMin: -1}, {PortMin: 10000}} {
		if _, err := Open(t.TempDir(), o); err == nil {
			t.Errorf("Open with range %d-%d succeeded, want error", o.PortMin, o.PortMax)
		}
	}
	if _, err := Open("", Options{}); err == nil {
		t.Error("Open(\"\") succeeded, want error")
	}

	dir := filepath.Join(t.TempDir(), "home", "memproxy")
	r := openTest(t, dir, Options{PortFree: allFree})
	wantPort(t, mustAllocate(t, r, "seed", AllocateRequest{}), "seed", DefaultPortMin)
	for path, want := range map[string]os.FileMode{
		dir:                          os.ModeDir | 0o700,
		filepath.Join(dir, fileName): 0o600,
		filepath.Join(dir, fileName+backupSuffix): 0o600,
		filepath.Join(dir, lockName):              0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("mode of %s = %v, want %v", path, fi.Mode(), want)
		}
	}
	// No temporary files are left behind by a write.
	des, _ := os.ReadDir(dir)
	if len(des) != 3 {
		t.Errorf("dir has %d files, want registry.json, its .bak and registry.lock", len(des))
	}
}

func TestOpenRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, tempPrefix+"123")
	if err := os.WriteFile(stale, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	openTest(t, dir, Options{})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temp file still there: %v", err)
	}
}
