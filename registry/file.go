package registry

import (
	"bytes"
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

// load reads registry.json. A missing file is an empty table. A file that
// does not parse or validate is renamed aside and an empty table returned,
// so a damaged file never stops memedge; only I/O errors are returned.
// The caller must hold the file lock.
func (r *Registry) load() (*table, error) {
	data, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return newTable(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: reading %s: %w", r.path, err)
	}
	t, perr := parse(data)
	if perr == nil {
		return t, nil
	}
	backup := r.path + ".corrupt-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := os.Rename(r.path, backup); err != nil {
		// Carrying on would overwrite the only copy at the next save.
		return nil, fmt.Errorf("registry: %s is corrupt (%v) and could not be moved aside: %w", r.path, perr, err)
	}
	r.log.Warn("registry file is corrupt; moved it aside and started an empty registry",
		"path", r.path, "backup", backup, "err", perr.Error())
	return newTable(), nil
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
