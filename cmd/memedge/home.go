package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/edge"
	"github.com/memproxy/memproxy/registry"
)

// home returns $MEMPROXY_HOME, created with mode 0700.
func home() (string, error) {
	h, err := config.Home()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(h, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", h, err)
	}
	return h, nil
}

func socketPath(h string) string { return filepath.Join(h, edge.SocketName) }

// openRegistry opens the registry in h; a nil log prints warnings (such as
// a corrupt file set aside) on stderr.
func openRegistry(h string, log *slog.Logger) (*registry.Registry, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	lo, hi, err := registry.RangeFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	live := liveProjects(h)
	return registry.Open(h, registry.Options{PortMin: lo, PortMax: hi, Logger: log,
		Live: func() []registry.Entry { return live }})
}

// liveProjects asks a running daemon which projects it serves, before the
// registry is opened: should registry.json turn out corrupt, they are put
// back on the ports they listen on. (Asked later, under the registry's
// lock, the daemon could be waiting for that same lock.) None when no
// daemon answers within a second.
func liveProjects(h string) []registry.Entry {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := newClient(h).Status(ctx)
	if err != nil {
		return nil
	}
	out := make([]registry.Entry, 0, len(st.Projects))
	for _, p := range st.Projects {
		out = append(out, registry.Entry{Project: p.Project, Port: p.Port, PID: st.PID})
	}
	return out
}

// edgeID returns this machine's stable edge id, created on first use.
func edgeID(h string) (string, error) {
	path := filepath.Join(h, "edge-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := "edge-" + hex.EncodeToString(b[:])
	return id, os.WriteFile(path, []byte(id+"\n"), 0o600)
}

// projectDir returns the git root of dir, or "" outside a checkout.
func projectDir(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// defaultProject names the project of the working directory: the git root's
// folder name, else the directory's own name.
func defaultProject() (name, dir string, err error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	if root := projectDir(wd); root != "" {
		return filepath.Base(root), root, nil
	}
	return filepath.Base(wd), "", nil
}
