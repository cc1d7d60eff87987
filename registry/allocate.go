package registry

import (
	"cmp"
	"fmt"
	"slices"
)

// AllocateRequest says which port a project wants and who claims it.
type AllocateRequest struct {
	// Port is 0 to accept any port (the project's recorded one when it can
	// be used), or a port in 1..65535 to pin the project to it.
	Port int
	// PID is the process that will serve the project, recorded in the
	// entry; 0 records no owner.
	PID int
}

// Allocation is the result of Allocate.
type Allocation struct {
	// Entry is the project's entry as now recorded.
	Entry Entry
	// Previous is the project's old port when the mapping moved, else 0.
	Previous int
	// Reason says in words why the mapping moved (for example "port 8895
	// is in use by another program"), else "".
	Reason string
}

// Allocate returns the project's port, creating or updating its entry, and
// records req.PID and LastUsed. The rules, in order:
//
//   - A project keeps its recorded port whenever that port can be bound or
//     is recorded as served by req.PID (a non-zero PID that already
//     listens on it). This holds across reopenings, restarts and crashes.
//   - If another live process is recorded as serving the project and the
//     port cannot be bound, the result is ErrProjectBusy; the mapping is
//     left alone rather than moved under a running server.
//   - If req.Port is non-zero the project is pinned to it. If another
//     project that is running or pinned holds it: ErrPortTaken, naming
//     that project. If another program holds it: ErrPortInUse. An idle,
//     unpinned project holding it loses its entry.
//   - If the recorded port is held by another program, a pinned project
//     fails with ErrPortInUse; an unpinned one moves to a new port and
//     Previous and Reason say so.
//   - A new port is the lowest never-assigned port in the range that can
//     be bound. When none is left, the least recently used entry whose
//     process is gone (PID 0 or dead), that is not pinned, lies in the
//     range and whose port can be bound is deleted and its port reused.
//     An entry whose PID is alive is never reassigned. When nothing can be
//     reclaimed the result wraps ErrNoFreePort.
//
// Ports assigned to other projects' entries are never handed out by the
// probe alone, so concurrent Allocate calls from any processes sharing the
// directory never return the same port to two projects. Allocate fails
// with ErrInvalidProject or ErrInvalidPort for bad arguments.
func (r *Registry) Allocate(project string, req AllocateRequest) (Allocation, error) {
	if err := validateProject(project); err != nil {
		return Allocation{}, err
	}
	if req.Port < 0 || req.Port > 65535 {
		return Allocation{}, fmt.Errorf("registry: %w: %d", ErrInvalidPort, req.Port)
	}
	if req.PID < 0 {
		return Allocation{}, fmt.Errorf("registry: invalid pid %d", req.PID)
	}
	var out Allocation
	err := r.update(func(t *table) (bool, error) {
		a, err := r.allocate(t, project, req)
		out = a
		return err == nil, err
	})
	if err != nil {
		return Allocation{}, err
	}
	return out, nil
}

// allocate applies the rules of Allocate to t. On error t may be partly
// changed; update then discards it.
func (r *Registry) allocate(t *table, project string, req AllocateRequest) (Allocation, error) {
	old, exists := t.entries[project]
	if exists && old.PID != 0 && old.PID != req.PID && r.alive(old.PID) {
		if !r.portFree(old.Port) {
			return Allocation{}, fmt.Errorf("registry: %w: %q is served by pid %d on port %d",
				ErrProjectBusy, project, old.PID, old.Port)
		}
		// The recorded owner exists but is not listening: most likely its
		// pid was reused after a crash. Taking over keeps the port stable.
		r.log.Info("taking over project whose recorded process is not listening",
			"project", project, "port", old.Port, "old_pid", old.PID, "pid", req.PID)
	}

	var (
		port   int
		pinned = exists && old.Pinned
		reason string
	)
	switch {
	case req.Port != 0:
		if err := r.claimPinned(t, project, req); err != nil {
			return Allocation{}, err
		}
		port, pinned = req.Port, true
		if exists && old.Port != req.Port {
			reason = fmt.Sprintf("pinned to port %d by request", req.Port)
		}
	case exists && r.usable(old, req.PID):
		port = old.Port
	case exists && old.Pinned:
		return Allocation{}, fmt.Errorf("registry: %w: port %d, pinned by project %q",
			ErrPortInUse, old.Port, project)
	default:
		if exists {
			reason = fmt.Sprintf("port %d is in use by another program", old.Port)
		}
		p, err := r.pickPort(t, project)
		if err != nil {
			return Allocation{}, err
		}
		port = p
	}

	now := r.now()
	e := Entry{Project: project, Port: port, PID: req.PID, Pinned: pinned, CreatedAt: now, LastUsed: now}
	if exists {
		e.CreatedAt = old.CreatedAt
	}
	t.entries[project] = e
	a := Allocation{Entry: e}
	if exists && old.Port != port {
		a.Previous, a.Reason = old.Port, reason
		r.log.Warn("project moved to a new port", "project", project,
			"port", port, "previous", old.Port, "reason", reason)
	}
	return a, nil
}

// usable reports whether e's port can serve pid: either pid already serves
// it (so it is bound by us and the probe would fail) or it can be bound.
func (r *Registry) usable(e Entry, pid int) bool {
	return (pid != 0 && e.PID == pid) || r.portFree(e.Port)
}

// claimPinned checks that req.Port may be pinned to project and removes an
// idle, unpinned entry of another project that holds it.
func (r *Registry) claimPinned(t *table, project string, req AllocateRequest) error {
	holder, held := t.owners()[req.Port]
	if held && holder == project {
		if !r.usable(t.entries[project], req.PID) {
			return fmt.Errorf("registry: %w: port %d", ErrPortInUse, req.Port)
		}
		return nil
	}
	if held {
		o := t.entries[holder]
		if o.PID != 0 && r.alive(o.PID) {
			return fmt.Errorf("registry: %w: port %d is held by project %q (pid %d)",
				ErrPortTaken, req.Port, holder, o.PID)
		}
		if o.Pinned {
			return fmt.Errorf("registry: %w: port %d is pinned by project %q",
				ErrPortTaken, req.Port, holder)
		}
	}
	if !r.portFree(req.Port) {
		return fmt.Errorf("registry: %w: port %d", ErrPortInUse, req.Port)
	}
	if held {
		delete(t.entries, holder)
		r.log.Warn("pinned port taken from an idle project", "port", req.Port,
			"from", holder, "to", project)
	}
	return nil
}

// pickPort chooses a new port for project: the lowest never-assigned
// bindable port in the range, else one reclaimed from the least recently
// used idle entry (which is deleted).
func (r *Registry) pickPort(t *table, project string) (int, error) {
	owners := t.owners()
	otherProgram := 0
	for p := r.min; p <= r.max; p++ {
		if _, assigned := owners[p]; assigned {
			continue
		}
		if r.portFree(p) {
			return p, nil
		}
		otherProgram++
	}

	var idle []Entry
	live, pinned := 0, 0
	for _, e := range t.entries {
		switch {
		case e.Project == project || e.Port < r.min || e.Port > r.max:
			// Not a candidate and not counted: the project's own old port is
			// held by another program, and out-of-range ports are not ours
			// to hand out.
		case e.Pinned:
			pinned++
		case e.PID != 0 && r.alive(e.PID):
			live++
		default:
			idle = append(idle, e)
		}
	}
	slices.SortFunc(idle, func(a, b Entry) int {
		return cmp.Or(a.LastUsed.Compare(b.LastUsed), cmp.Compare(a.Project, b.Project))
	})
	for _, e := range idle {
		if !r.portFree(e.Port) {
			continue
		}
		delete(t.entries, e.Project)
		r.log.Info("reclaimed port from least recently used idle project",
			"port", e.Port, "from", e.Project, "to", project, "last_used", e.LastUsed)
		return e.Port, nil
	}
	return 0, fmt.Errorf("registry: %w in %d-%d for %q: %d held by other programs, "+
		"%d by running projects, %d pinned, %d by idle projects whose port is busy",
		ErrNoFreePort, r.min, r.max, project, otherProgram, live, pinned, len(idle))
}
