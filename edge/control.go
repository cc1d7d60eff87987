package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/memproxy/memproxy/internal/version"
	"github.com/memproxy/memproxy/registry"
)

// SocketName is the control socket's file name in $MEMPROXY_HOME.
const SocketName = "memedge.sock"

// ListenControl creates the control socket at path, readable and writable
// by the owner only. An exclusive lock on path+".lock", held for as long
// as the listener is open, makes the daemon one per machine even when
// several start at once; a stale socket left by a crashed daemon is then
// safely replaced. Another live daemon is an error.
func ListenControl(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	release, err := registry.Lock(path+".lock", false)
	if errors.Is(err, registry.ErrLocked) {
		return nil, fmt.Errorf("a memedge daemon is already running (%s)", path)
	}
	if err != nil {
		return nil, err
	}
	_ = os.Remove(path) // we hold the lock: any socket here is a crashed daemon's
	ln, err := net.Listen("unix", path)
	if err == nil && runtime.GOOS != "windows" {
		// Windows has no mode bits for it: the socket file takes the ACL
		// of $MEMPROXY_HOME, which is the user's own.
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		release()
		return nil, err
	}
	return &lockedListener{Listener: ln, release: release}, nil
}

// lockedListener releases the daemon lock when the control socket closes.
type lockedListener struct {
	net.Listener
	release func()
	once    sync.Once
}

func (l *lockedListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(l.release)
	return err
}

// DaemonStatus is the answer of the control API's status call.
type DaemonStatus struct {
	PID      int             `json:"pid"`
	Version  string          `json:"version"`
	Gateway  string          `json:"gateway"`
	User     string          `json:"user"`
	Projects []ProjectStatus `json:"projects"`
}

func (d *Daemon) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, DaemonStatus{PID: os.Getpid(), Version: version.Version, Gateway: d.opts.Gateway, User: d.opts.User, Projects: d.Status()})
	})
	mux.HandleFunc("POST /v1/projects", func(w http.ResponseWriter, r *http.Request) {
		var req StartRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			replyJSON(w, http.StatusBadRequest, errorReply{err.Error()})
			return
		}
		st, err := d.Start(req)
		if err != nil {
			replyJSON(w, http.StatusConflict, errorReply{err.Error()})
			return
		}
		replyJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("DELETE /v1/projects/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := d.Stop(r.PathValue("name")); err != nil {
			replyJSON(w, http.StatusNotFound, errorReply{err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		d.Shutdown()
	})
	return mux
}

type errorReply struct {
	Error string `json:"error"`
}

func replyJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Client talks to a running daemon over its control socket.
type Client struct {
	hc *http.Client
}

// ErrNotRunning is returned (wrapped) when no daemon answers on the socket.
var ErrNotRunning = errors.New("memedge daemon is not running")

// NewClient returns a client for the daemon listening at socket path.
func NewClient(path string) *Client {
	return &Client{hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", path)
			if err != nil {
				return nil, fmt.Errorf("%w (%s)", ErrNotRunning, path)
			}
			return c, nil
		},
	}}}
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (DaemonStatus, error) {
	var st DaemonStatus
	return st, c.call(ctx, http.MethodGet, "/v1/status", nil, &st)
}

// Start asks the daemon to serve a project.
func (c *Client) Start(ctx context.Context, req StartRequest) (ProjectStatus, error) {
	var st ProjectStatus
	return st, c.call(ctx, http.MethodPost, "/v1/projects", req, &st)
}

// Stop asks the daemon to stop serving a project.
func (c *Client) Stop(ctx context.Context, project string) error {
	return c.call(ctx, http.MethodDelete, "/v1/projects/"+project, nil, nil)
}

// Shutdown asks the daemon to stop every project and exit.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/shutdown", nil, nil)
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://memedge"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, ErrNotRunning) {
			return ErrNotRunning
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e errorReply
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		return errors.New(e.Error)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}
