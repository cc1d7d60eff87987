package registry

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestPortHeldByAnotherProgram uses real listeners and the default probes.
func TestPortHeldByAnotherProgram(t *testing.T) {
	base := freeRange(t, 4)
	me := os.Getpid()
	listen(t, base) // another program owns the first port of the range
	r := openTest(t, t.TempDir(), Options{PortMin: base, PortMax: base + 3})

	wantPort(t, mustAllocate(t, r, "a", AllocateRequest{PID: me}), "a", base+1)
	wantPort(t, mustAllocate(t, r, "b", AllocateRequest{}), "b", base+2)

	// a's server stops and another program grabs its port.
	if err := r.Release("a", me); err != nil {
		t.Fatal(err)
	}
	listen(t, base+1)
	a := mustAllocate(t, r, "a", AllocateRequest{PID: me})
	wantReason := fmt.Sprintf("port %d is in use by another program", base+1)
	if a.Entry.Port != base+3 || a.Previous != base+1 || a.Reason != wantReason || a.Entry.PID != me {
		t.Fatalf("Allocate(a) after its port was taken = %+v, want port %d, previous %d, reason %q",
			a, base+3, base+1, wantReason)
	}
	if e, _, _ := r.Get("a"); e.Port != base+3 {
		t.Fatalf("Get(a).Port = %d, want %d", e.Port, base+3)
	}

	// Now a's server (this process) listens on its port; allocating again
	// for the same pid keeps it although it cannot be bound.
	listen(t, base+3)
	wantPort(t, mustAllocate(t, r, "a", AllocateRequest{PID: me}), "a", base+3)

	// b is idle and its port is bindable, the others are held: c reclaims it.
	wantPort(t, mustAllocate(t, r, "c", AllocateRequest{PID: me}), "c", base+2)
	if _, ok, _ := r.Get("b"); ok {
		t.Fatal("b still has an entry after its port was reclaimed")
	}
	// Everything is held by running projects or other programs.
	if _, err := r.Allocate("d", AllocateRequest{}); !errors.Is(err, ErrNoFreePort) {
		t.Fatalf("Allocate(d) = %v, want ErrNoFreePort", err)
	}
}

func TestReclaimLeastRecentlyUsedDead(t *testing.T) {
	dead := deadPID(t)
	live := os.Getpid()
	r := openTest(t, t.TempDir(), Options{PortMin: 30000, PortMax: 30002, PortFree: allFree})

	wantPort(t, mustAllocate(t, r, "a", AllocateRequest{PID: dead}), "a", 30000)
	wantPort(t, mustAllocate(t, r, "b", AllocateRequest{PID: live}), "b", 30001)
	wantPort(t, mustAllocate(t, r, "c", AllocateRequest{PID: live}), "c", 30002)
	if err := r.Release("c", live); err != nil { // c idle: PID 0
		t.Fatal(err)
	}
	// a is used again (by a process that has since died), so c is now the
	// least recently used idle entry, though its port is higher; b is
	// older still but alive.
	wantPort(t, mustAllocate(t, r, "a", AllocateRequest{PID: dead}), "a", 30000)

	wantPort(t, mustAllocate(t, r, "d", AllocateRequest{PID: live}), "d", 30002)
	if _, ok, _ := r.Get("c"); ok {
		t.Fatal("c still has an entry after its port was reclaimed")
	}
	wantPort(t, mustAllocate(t, r, "e", AllocateRequest{PID: live}), "e", 30000)

	_, err := r.Allocate("f", AllocateRequest{PID: live})
	if !errors.Is(err, ErrNoFreePort) {
		t.Fatalf("Allocate(f) = %v, want ErrNoFreePort", err)
	}
	if !strings.Contains(err.Error(), "3 by running projects") {
		t.Errorf("ErrNoFreePort detail = %q, want it to count 3 running projects", err)
	}
	list, _ := r.List()
	if got := fmt.Sprint(projectsPorts(list)); got != "[b:30001 d:30002 e:30000]" {
		t.Fatalf("List = %s, want [b:30001 d:30002 e:30000]", got)
	}
}

func TestReclaimSkipsPinnedAndBusyPorts(t *testing.T) {
	busy := map[int]bool{}
	r := openTest(t, t.TempDir(), Options{PortMin: 30000, PortMax: 30002,
		PortFree: func(p int) bool { return !busy[p] }, ProcessAlive: func(pid int) bool { return pid == 42 }})
	mustAllocate(t, r, "pinned", AllocateRequest{Port: 30000})
	mustAllocate(t, r, "busy", AllocateRequest{})  // 30001
	mustAllocate(t, r, "newer", AllocateRequest{}) // 30002
	busy[30001] = true                             // another program took busy's port

	// Oldest is "pinned", then "busy"; both are skipped.
	wantPort(t, mustAllocate(t, r, "x", AllocateRequest{PID: 42}), "x", 30002)
	_, err := r.Allocate("y", AllocateRequest{})
	if !errors.Is(err, ErrNoFreePort) {
		t.Fatalf("Allocate(y) = %v, want ErrNoFreePort", err)
	}
	if e, ok, _ := r.Get("pinned"); !ok || e.Port != 30000 {
		t.Fatalf("pinned entry = %+v, %v; want kept on 30000", e, ok)
	}
}

func TestPinned(t *testing.T) {
	busy := map[int]bool{}
	alive := map[int]bool{}
	r := openTest(t, t.TempDir(), Options{PortMin: 20000, PortMax: 20004,
		PortFree: func(p int) bool { return !busy[p] }, ProcessAlive: func(pid int) bool { return alive[pid] }})

	// Pinning a free port, even outside the range.
	a := mustAllocate(t, r, "a", AllocateRequest{Port: 25000, PID: 1})
	if a.Entry.Port != 25000 || !a.Entry.Pinned || a.Previous != 0 || a.Reason != "" {
		t.Fatalf("pin a = %+v, want pinned 25000", a)
	}
	alive[1] = true

	_, err := r.Allocate("b", AllocateRequest{Port: 25000})
	if !errors.Is(err, ErrPortTaken) || !strings.Contains(err.Error(), `project "a"`) {
		t.Fatalf("pin port of live project = %v, want ErrPortTaken naming \"a\"", err)
	}
	busy[25001] = true
	if _, err := r.Allocate("b", AllocateRequest{Port: 25001}); !errors.Is(err, ErrPortInUse) {
		t.Fatalf("pin port of another program = %v, want ErrPortInUse", err)
	}
	if _, ok, _ := r.Get("b"); ok {
		t.Fatal("failed pins created an entry for b")
	}
	for _, p := range []int{-1, 65536} {
		if _, err := r.Allocate("b", AllocateRequest{Port: p}); !errors.Is(err, ErrInvalidPort) {
			t.Fatalf("pin %d = %v, want ErrInvalidPort", p, err)
		}
	}

	// An unpinned project moves when pinned elsewhere.
	wantPort(t, mustAllocate(t, r, "b", AllocateRequest{}), "b", 20000)
	b := mustAllocate(t, r, "b", AllocateRequest{Port: 25002})
	if b.Entry.Port != 25002 || !b.Entry.Pinned || b.Previous != 20000 || b.Reason != "pinned to port 25002 by request" {
		t.Fatalf("re-pin b = %+v", b)
	}

	// A pinned project keeps its port when allocated without one.
	if err := r.Release("a", 1); err != nil {
		t.Fatal(err)
	}
	a = mustAllocate(t, r, "a", AllocateRequest{PID: 2})
	if a.Entry.Port != 25000 || !a.Entry.Pinned || a.Previous != 0 {
		t.Fatalf("re-allocate pinned a = %+v", a)
	}
	// ... and fails rather than moving when another program holds it.
	if err := r.Release("a", 2); err != nil {
		t.Fatal(err)
	}
	busy[25000] = true
	if _, err := r.Allocate("a", AllocateRequest{PID: 3}); !errors.Is(err, ErrPortInUse) {
		t.Fatalf("pinned port held by another program = %v, want ErrPortInUse", err)
	}
	if e, _, _ := r.Get("a"); e.Port != 25000 || e.PID != 0 {
		t.Fatalf("a after failed allocation = %+v, want unchanged", e)
	}

	// Pinning an idle, unpinned project's port takes it over.
	wantPort(t, mustAllocate(t, r, "c", AllocateRequest{}), "c", 20000)
	d := mustAllocate(t, r, "d", AllocateRequest{Port: 20000})
	if d.Entry.Port != 20000 || !d.Entry.Pinned {
		t.Fatalf("pin idle c's port = %+v", d)
	}
	if _, ok, _ := r.Get("c"); ok {
		t.Fatal("c kept its entry after d pinned its port")
	}
	// ...but an idle pinned project's port is not taken.
	_, err = r.Allocate("e", AllocateRequest{Port: 25002})
	if !errors.Is(err, ErrPortTaken) || !strings.Contains(err.Error(), `project "b"`) {
		t.Fatalf("pin idle pinned b's port = %v, want ErrPortTaken naming \"b\"", err)
	}
}
