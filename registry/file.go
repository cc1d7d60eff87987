package registry

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// fileVersion is the only registry.json format this package reads and
// writes. A file with any other version is treated as corrupt.
const fileVersion = 1

// tempPrefix starts the names of temporary files written next to
// registry.json before they are renamed over it.
const tempPrefix = fileName + ".tmp-"

// fileFormat is the JSON document stored in registry.json.
type fileFormat struct {
	Version int     `json:"version"`
	Entries []Entry `json:"entries"`
}

// backupSuffix names the last good copy of registry.json, rewritten
// (atomically) after every successful save.
const backupSuffix = ".bak"

// load reads registry.json. A missing file is an empty table. A file that
// does not parse or validate is renamed aside and the table rebuilt from
// the last good copy (registry.json.bak) and the projects served right now
// (Options.Live); recovered then reports that the caller must save it.
// Only I/O errors are returned. The caller must hold the file lock.
func (r *Registry) load() (t *table, recovered bool, err error) {
	data, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return newTable(), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("registry: reading %s: %w", r.path, err)
	}
	t, perr := parse(data)
	if perr == nil {
		return t, false, nil
	}
	aside := r.path + ".corrupt-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := os.Rename(r.path, aside); err != nil {
		// Carrying on would overwrite the only copy at the next save.
		return nil, false, fmt.Errorf("registry: %s is corrupt (%v) and could not be moved aside: %w", r.path, perr, err)
	}
	t, from := r.rebuild()
	r.log.Warn("registry file is corrupt; moved it aside and rebuilt the registry",
		"path", r.path, "moved_to", aside, "err", perr.Error(), "rebuilt_from", from, "projects", len(t.entries))
	return t, true, nil
}

// rebuild returns the table to use after registry.json was found corrupt:
// the last good copy when it parses, with every project served right now
// (Options.Live) put back on the port it listens on. It says in words
// what it used.
func (r *Registry) rebuild() (*table, string) {
	t, from := newTable(), "nothing (no good backup)"
	if data, err := os.ReadFile(r.path + backupSuffix); err == nil {
		if bt, err := parse(data); err == nil {
			t, from = bt, "the last good copy"
		}
	}
	if r.live == nil {
		return t, from
	}
	n := 0
	for _, e := range r.live() {
		if validateProject(e.Project) != nil || e.Port < 1 || e.Port > 65535 {
			continue
		}
		if old, ok := t.entries[e.Project]; ok && old.Port == e.Port {
			old.PID = e.PID
			t.entries[e.Project] = old
			continue
		}
		// The live listener wins: another entry recorded on its port is
		// stale (that project cannot be listening there).
		if holder, ok := t.owners()[e.Port]; ok {
			delete(t.entries, holder)
		}
		now := r.now()
		e.CreatedAt, e.LastUsed = cmp.Or(e.CreatedAt, now), now
		if old, ok := t.entries[e.Project]; ok {
			e.CreatedAt, e.Pinned = old.CreatedAt, old.Pinned
		}
		t.entries[e.Project] = e
		n++
	}
	if n > 0 {
		from += fmt.Sprintf(" and %d projects being served", n)
	}
	return t, from
}

// parse decodes and validates the contents of registry.json.
func parse(data []byte) (*table, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var f fileFormat
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON document")
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("version %d, want %d", f.Version, fileVersion)
	}
	t := newTable()
	owners := make(map[int]string, len(f.Entries))
	for i, e := range f.Entries {
		if err := validateProject(e.Project); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if e.Port < 1 || e.Port > 65535 {
			return nil, fmt.Errorf("entry %d (%q): port %d outside 1..65535", i, e.Project, e.Port)
		}
		if e.PID < 0 {
			return nil, fmt.Errorf("entry %d (%q): negative pid %d", i, e.Project, e.PID)
		}
		if _, dup := t.entries[e.Project]; dup {
			return nil, fmt.Errorf("entry %d: duplicate project %q", i, e.Project)
		}
		if other, dup := owners[e.Port]; dup {
			return nil, fmt.Errorf("entry %d: port %d assigned to both %q and %q", i, e.Port, other, e.Project)
		}
		t.entries[e.Project] = e
		owners[e.Port] = e.Project
	}
	return t, nil
}

// save writes the table to registry.json atomically. The caller must hold
// the file lock.
func (r *Registry) save(t *table) error {
	data, err := json.MarshalIndent(fileFormat{Version: fileVersion, Entries: t.sorted()}, "", "  ")
	if err != nil {
		return fmt.Errorf("registry: encoding: %w", err)
	}
	data = append(data, '\n')
	if err := writeFileAtomic(r.path, data, 0o600); err != nil {
		return fmt.Errorf("registry: writing %s: %w", r.path, err)
	}
	// The last good copy, for rebuild. Written after the file itself, so
	// it never holds a table the file did not hold first.
	if err := writeFileAtomic(r.path+backupSuffix, data, 0o600); err != nil {
		return fmt.Errorf("registry: writing %s: %w", r.path+backupSuffix, err)
	}
	return nil
}

// writeFileAtomic replaces filename with data so that a reader (or a
// crash) sees either the old contents or the new, never a mix: it writes a
// temporary file in the same directory, fsyncs it, renames it over
// filename, then fsyncs the directory so the rename itself is durable.
// After Tailscale's atomicfile.WriteFile, plus the directory fsync.
func writeFileAtomic(filename string, data []byte, perm os.FileMode) (err error) {
	if fi, err := os.Lstat(filename); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s exists and is not a regular file", filename)
	}
	dir := filepath.Dir(filename)
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filename); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that a rename inside it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// removeStaleTemps deletes temporary files left by a process that died
// between creating and renaming one. The caller must hold the file lock,
// which every writer holds while its temporary file exists.
func (r *Registry) removeStaleTemps() {
	des, err := os.ReadDir(r.dir)
	if err != nil {
		return
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), tempPrefix) && de.Type().IsRegular() {
			p := filepath.Join(r.dir, de.Name())
			if err := os.Remove(p); err == nil {
				r.log.Info("removed stale temporary registry file", "path", p)
			}
		}
	}
}
