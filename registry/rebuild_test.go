package registry

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// corrupt overwrites registry.json in dir with bytes that do not parse.
func corrupt(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, fileName), []byte(`{"version":1,"entries":[{"proj`), 0o600); err != nil {
		t.Fatal(err)
	}
}

func ports(t *testing.T, r *Registry) map[string]int {
	t.Helper()
	list, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, e := range list {
		m[e.Project] = e.Port
	}
	return m
}

// TestCorruptFileRebuiltFromBackup: a registry.json damaged after the last
// save comes back from registry.json.bak, so after a restart every project
// keeps its port.
func TestCorruptFileRebuiltFromBackup(t *testing.T) {
	dir := t.TempDir()
	opts := Options{PortMin: 20000, PortMax: 20009, PortFree: allFree, ProcessAlive: noneAlive}
	r := openTest(t, dir, opts)
	mustAllocate(t, r, "a", AllocateRequest{})
	mustAllocate(t, r, "b", AllocateRequest{})
	mustAllocate(t, r, "pinned", AllocateRequest{Port: 20007})
	corrupt(t, dir)

	r2 := openTest(t, dir, opts) // a restarted memedge
	want := map[string]int{"a": 20000, "b": 20001, "pinned": 20007}
	if got := ports(t, r2); len(got) != 3 || got["a"] != 20000 || got["b"] != 20001 || got["pinned"] != 20007 {
		t.Fatalf("after recovery: %v, want %v", got, want)
	}
	if e, _, _ := r2.Get("pinned"); !e.Pinned {
		t.Error("pinned lost its pin")
	}
	// A new project does not take a restored project's port.
	wantPort(t, mustAllocate(t, r2, "c", AllocateRequest{}), "c", 20002)
	// The recovered table was saved: the file parses again.
	data, _ := os.ReadFile(filepath.Join(dir, fileName))
	if _, err := parse(data); err != nil {
		t.Errorf("registry.json after recovery: %v", err)
	}
}

// TestCorruptFileRebuiltFromLive: projects being served that the backup
// does not know (or knows on another port) are put back on the ports they
// listen on; a stale entry on such a port gives way.
func TestCorruptFileRebuiltFromLive(t *testing.T) {
	dir := t.TempDir()
	opts := Options{PortMin: 20000, PortMax: 20009, PortFree: allFree, ProcessAlive: noneAlive}
	r := openTest(t, dir, opts)
	mustAllocate(t, r, "old", AllocateRequest{}) // 20000 in the backup
	// Both files damaged: nothing but the live listeners to go on.
	corrupt(t, dir)
	if err := os.WriteFile(filepath.Join(dir, fileName+backupSuffix), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	live := []Entry{{Project: "served", Port: 20004, PID: 4242}}
	opts.Live = func() []Entry { return live }
	r2 := openTest(t, dir, opts)
	if got := ports(t, r2); len(got) != 1 || got["served"] != 20004 {
		t.Fatalf("rebuilt from live listeners only: %v, want served:20004", got)
	}
	if e, _, _ := r2.Get("served"); e.PID != 4242 {
		t.Errorf("served: pid %d, want 4242", e.PID)
	}

	// A good backup that places another project on a live port, and the
	// live project elsewhere: the listener wins.
	r3dir := t.TempDir()
	opts.Live = nil
	r3 := openTest(t, r3dir, opts)
	mustAllocate(t, r3, "stale", AllocateRequest{})  // 20000
	mustAllocate(t, r3, "served", AllocateRequest{}) // 20001
	corrupt(t, r3dir)
	live = []Entry{{Project: "served", Port: 20000, PID: 7}}
	opts.Live = func() []Entry { return live }
	got := ports(t, openTest(t, r3dir, opts))
	if len(got) != 1 || got["served"] != 20000 {
		t.Fatalf("live listener vs backup: %v, want served:20000 only", got)
	}
}

// TestLiveNotAskedForGoodFile: Live is consulted only on recovery.
func TestLiveNotAskedForGoodFile(t *testing.T) {
	dir := t.TempDir()
	asked := 0
	r := openTest(t, dir, Options{PortMin: 20000, PortMax: 20009, PortFree: allFree,
		Live: func() []Entry { asked++; return nil }})
	mustAllocate(t, r, "a", AllocateRequest{})
	ports(t, r)
	if asked != 0 {
		t.Errorf("Live asked %d times for a good file", asked)
	}
}

// TestLockNoWait: a second holder is refused at once with ErrLocked, and
// gets the lock after the first releases it.
func TestLockNoWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	release, err := Lock(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock = %v, want ErrLocked", err)
	}
	release()
	again, err := Lock(path, false)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	again()
}
