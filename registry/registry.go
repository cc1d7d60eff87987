// Package registry keeps memedge's per-machine table that maps each project
// to a stable TCP port on 127.0.0.1.
//
// The table lives in registry.json inside a directory the caller chooses
// (normally $MEMPROXY_HOME). Every operation takes an exclusive flock on
// registry.lock in the same directory, reads the file, and (when it changes
// anything) writes it back atomically, so separate memedge processes on one
// machine coordinate safely. IDEs are configured with a project's port once,
// so the package's first goal is that a project keeps its port: across
// daemon restarts, crashes and releases, a port moves only when another
// program has taken it.
//
// This package is a leaf: it imports only the standard library (and
// golang.org/x/sys/windows on Windows). The file locking and liveness
// checks are flock and kill(pid, 0) on Unix (Linux and macOS), LockFileEx
// and OpenProcess on Windows.
package registry

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors. Functions wrap them with detail; test with errors.Is.
var (
	// ErrInvalidProject reports a project name that is empty, longer than
	// MaxProjectLen characters, not valid UTF-8, or contains a control
	// character or a path separator ('/' or '\').
	ErrInvalidProject = errors.New("invalid project name")
	// ErrInvalidPort reports a requested port outside 1..65535.
	ErrInvalidPort = errors.New("invalid port")
	// ErrNotFound reports that the project has no entry in the registry.
	ErrNotFound = errors.New("project not found")
	// ErrNoFreePort reports that every port in the range is either in use
	// by another program or assigned to a project that cannot be reclaimed.
	ErrNoFreePort = errors.New("no free port")
	// ErrPortTaken reports that a requested port is assigned to another
	// project that is running or pinned; the wrapped message names it.
	ErrPortTaken = errors.New("port assigned to another project")
	// ErrPortInUse reports that a pinned or requested port cannot be bound
	// because another program holds it.
	ErrPortInUse = errors.New("port in use by another program")
	// ErrProjectBusy reports that the project is already served by another
	// live process that is listening on the project's port.
	ErrProjectBusy = errors.New("project served by another process")
)

// Defaults for Options.PortMin and Options.PortMax.
const (
	DefaultPortMin = 8895
	DefaultPortMax = 9999
)

// MaxProjectLen is the longest accepted project name, in characters.
const MaxProjectLen = 128

const (
	fileName = "registry.json"
	lockName = "registry.lock"
)

// Entry is one project's mapping. Entries are values: changing a returned
// Entry does not change the registry.
type Entry struct {
	// Project is the project name (see ErrInvalidProject for the rules).
	Project string `json:"project"`
	// Port is the project's TCP port on 127.0.0.1.
	Port int `json:"port"`
	// PID is the process currently serving the project, or 0 when none.
	PID int `json:"pid"`
	// Pinned is true when the port was chosen explicitly. A pinned port is
	// never moved or reclaimed automatically.
	Pinned bool `json:"pinned"`
	// CreatedAt is when the project first got an entry.
	CreatedAt time.Time `json:"created_at"`
	// LastUsed is when the project was last allocated or released; the
	// least recently used idle entry is reclaimed first.
	LastUsed time.Time `json:"last_used"`
}

// Options configures a Registry. The zero value is usable.
type Options struct {
	// PortMin and PortMax bound the ports Allocate hands out, inclusive.
	// Zero means DefaultPortMin and DefaultPortMax. Pinned ports may lie
	// outside the range. See RangeFromEnv for reading them from the
	// environment.
	PortMin, PortMax int
	// Logger receives warnings (a corrupt file set aside, a project moved
	// to a new port) and informational events (a port reclaimed). Nil
	// discards them.
	Logger *slog.Logger
	// PortFree reports whether port can be bound on 127.0.0.1 now. Nil
	// means try net.Listen("tcp", "127.0.0.1:port") and close the listener.
	PortFree func(port int) bool
	// ProcessAlive reports whether process pid exists. Nil means
	// kill(pid, 0) semantics: only ESRCH counts as dead (EPERM is alive),
	// and pid <= 0 is never alive.
	ProcessAlive func(pid int) bool
	// Live returns the projects being served right now (Project, Port and
	// PID). It is asked only when registry.json is found corrupt, to put
	// them back on the ports they listen on, on top of the last good copy
	// (registry.json.bak). It runs under the registry's file lock, so it
	// must not wait for anything that may be waiting for the registry:
	// hand it a snapshot taken before Open. Nil means none.
	Live func() []Entry
}

// Registry is the project → port table in one directory. Its methods are
// safe for concurrent use by goroutines and, through the file lock, by
// separate processes sharing the directory.
type Registry struct {
	dir      string
	path     string
	lockPath string
	min, max int
	log      *slog.Logger
	portFree func(int) bool
	alive    func(int) bool
	live     func() []Entry
	now      func() time.Time // replaced in tests

	mu sync.Mutex // serialises goroutines before they contend for the flock
}

// Open returns the registry kept in dir, creating dir with mode 0700 if it
// is missing. It reads the file once, so an unreadable file is reported
// here and a corrupt one is set aside (see Registry.List) at startup. It
// fails if dir is empty, cannot be created, or the port range is invalid
// (it must satisfy 1 <= PortMin <= PortMax <= 65535 after defaults).
func Open(dir string, opts Options) (*Registry, error) {
	if dir == "" {
		return nil, errors.New("registry: empty directory")
	}
	r := &Registry{
		dir:      dir,
		path:     filepath.Join(dir, fileName),
		lockPath: filepath.Join(dir, lockName),
		min:      cmp.Or(opts.PortMin, DefaultPortMin),
		max:      cmp.Or(opts.PortMax, DefaultPortMax),
		log:      opts.Logger,
		portFree: opts.PortFree,
		alive:    opts.ProcessAlive,
		live:     opts.Live,
		now:      func() time.Time { return time.Now().UTC() },
	}
	if r.min < 1 || r.max > 65535 || r.min > r.max {
		return nil, fmt.Errorf("registry: invalid port range %d-%d", r.min, r.max)
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.portFree == nil {
		r.portFree = portFree
	}
	if r.alive == nil {
		r.alive = processAlive
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("registry: creating %s: %w", dir, err)
	}
	err := r.update(func(*table) (bool, error) {
		r.removeStaleTemps() // safe: no writer can be mid-write while we hold the lock
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Get returns the project's entry and true, or a zero Entry and false when
// the project has none. It fails with ErrInvalidProject for a bad name or
// when the file cannot be read or locked.
func (r *Registry) Get(project string) (Entry, bool, error) {
	if err := validateProject(project); err != nil {
		return Entry{}, false, err
	}
	var (
		e  Entry
		ok bool
	)
	err := r.update(func(t *table) (bool, error) {
		e, ok = t.entries[project]
		return false, nil
	})
	if err != nil {
		return Entry{}, false, err
	}
	return e, ok, nil
}

// List returns all entries sorted by project name (empty, not an error,
// when there are none). Like every operation, if registry.json is corrupt
// (bad or truncated JSON, an unknown version, duplicate projects or ports,
// ports outside 1..65535) it is renamed to registry.json.corrupt-<unix
// nanoseconds>, the registry is rebuilt from the last good copy
// (registry.json.bak, rewritten after every save) and Options.Live, and a
// warning says so; with neither, it starts empty.
func (r *Registry) List() ([]Entry, error) {
	var out []Entry
	err := r.update(func(t *table) (bool, error) {
		out = t.sorted()
		return false, nil
	})
	return out, err
}

// Release records that process pid no longer serves project: if the
// entry's PID equals pid (and pid is not 0), PID becomes 0 and LastUsed is
// set to now. The mapping stays, so the project gets the same port next
// time. A different pid is a no-op. It fails with ErrNotFound when the
// project has no entry and ErrInvalidProject for a bad name.
func (r *Registry) Release(project string, pid int) error {
	if err := validateProject(project); err != nil {
		return err
	}
	return r.update(func(t *table) (bool, error) {
		e, ok := t.entries[project]
		if !ok {
			return false, notFound(project)
		}
		if pid == 0 || e.PID != pid {
			return false, nil
		}
		e.PID = 0
		e.LastUsed = r.now()
		t.entries[project] = e
		return true, nil
	})
}

// Remove deletes the project's entry, freeing its port for others. It
// fails with ErrNotFound when the project has no entry and
// ErrInvalidProject for a bad name. It does not check whether a process
// still serves the project; stopping it is the caller's job.
func (r *Registry) Remove(project string) error {
	if err := validateProject(project); err != nil {
		return err
	}
	return r.update(func(t *table) (bool, error) {
		if _, ok := t.entries[project]; !ok {
			return false, notFound(project)
		}
		delete(t.entries, project)
		return true, nil
	})
}

// update runs fn on the table loaded under the exclusive file lock, and
// saves the table if fn reports a change and no error. Every operation goes
// through here, so each is one atomic read-modify-write across processes.
func (r *Registry) update(fn func(t *table) (changed bool, err error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	unlock, err := lockFile(r.lockPath, true)
	if err != nil {
		return fmt.Errorf("registry: locking %s: %w", r.lockPath, err)
	}
	defer unlock()
	t, recovered, err := r.load()
	if err != nil {
		return err
	}
	changed, err := fn(t)
	if err != nil || !(changed || recovered) {
		return err
	}
	return r.save(t)
}

// table is the in-memory form of registry.json.
type table struct {
	entries map[string]Entry
}

func newTable() *table { return &table{entries: make(map[string]Entry)} }

// sorted returns the entries ordered by project name.
func (t *table) sorted() []Entry {
	out := make([]Entry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Project, b.Project) })
	return out
}

// owners maps each assigned port to its project.
func (t *table) owners() map[int]string {
	m := make(map[int]string, len(t.entries))
	for _, e := range t.entries {
		m[e.Port] = e.Project
	}
	return m
}

// validateProject enforces the project name rules of ErrInvalidProject.
func validateProject(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("registry: %w: empty", ErrInvalidProject)
	case !utf8.ValidString(p):
		return fmt.Errorf("registry: %w: %q is not valid UTF-8", ErrInvalidProject, p)
	case utf8.RuneCountInString(p) > MaxProjectLen:
		return fmt.Errorf("registry: %w: longer than %d characters", ErrInvalidProject, MaxProjectLen)
	}
	for _, c := range p {
		if unicode.IsControl(c) || c == '/' || c == '\\' {
			return fmt.Errorf("registry: %w: %q contains %q", ErrInvalidProject, p, c)
		}
	}
	return nil
}

func notFound(project string) error {
	return fmt.Errorf("registry: %w: %q", ErrNotFound, project)
}

// portFree is the default Options.PortFree.
func portFree(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
