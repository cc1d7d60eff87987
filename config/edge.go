package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EdgeFileName is the edge config's file name inside Home().
const EdgeFileName = "edge.yaml"

// ErrNoLogin is returned (wrapped) by LoadEdge when the edge has no login
// file yet, or it is empty: the user must run `memedge login` first.
var ErrNoLogin = errors.New("not logged in")

// Home returns memproxy's per-user directory: $MEMPROXY_HOME if set (made
// absolute), else $XDG_CONFIG_HOME/memproxy when XDG_CONFIG_HOME is an
// absolute path, else ~/.config/memproxy (on Windows, the user config dir).
// It does not create the directory.
func Home() (string, error) {
	if h := os.Getenv("MEMPROXY_HOME"); h != "" {
		abs, err := filepath.Abs(h)
		if err != nil {
			return "", fmt.Errorf("resolving MEMPROXY_HOME: %w", err)
		}
		return abs, nil
	}
	if runtime.GOOS == "windows" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("finding memproxy home (set MEMPROXY_HOME): %w", err)
		}
		return filepath.Join(dir, "memproxy"), nil
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "memproxy"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding memproxy home (set MEMPROXY_HOME): %w", err)
	}
	return filepath.Join(home, ".config", "memproxy"), nil
}

// EdgePath returns the default edge config path, Home()/edge.yaml.
func EdgePath() (string, error) {
	h, err := Home()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, EdgeFileName), nil
}

// Edge is the laptop side's config, written by `memedge login`. It holds
// the gateway credential, so it lives in a 0600 file.
type Edge struct {
	Gateway        string       `yaml:"gateway"`         // gateway gRPC address(es): host:port, or several joined by commas
	Key            Secret       `yaml:"key"`             // edge credential for the gateway
	User           string       `yaml:"user"`            // user the key belongs to, for display
	CAFile         string       `yaml:"ca_file"`         // PEM CA bundle to trust; "" = system roots
	Insecure       bool         `yaml:"insecure"`        // plaintext gRPC (development only)
	AllowedOrigins []string     `yaml:"allowed_origins"` // browser origins allowed on the local port, e.g. http://localhost:3000
	Clients        []ClientRule `yaml:"clients"`         // extra client rules, checked before the defaults
}

// LoadEdge reads and validates the edge config at path. A missing or empty
// file returns an error wrapping ErrNoLogin. Unknown keys, wrong types and
// invalid values are *Error values naming the file, line and key, joined.
func LoadEdge(path string) (*Edge, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist (run memedge login)", ErrNoLogin, path)
	}
	if err != nil {
		return nil, fmt.Errorf("loading edge config: %w", err)
	}
	if strings.TrimSpace(string(data)) == "" {
		return nil, fmt.Errorf("%w: %s is empty (run memedge login)", ErrNoLogin, path)
	}
	d := newDecoder(path, nil, nil)
	e := &Edge{}
	if top := d.root(data); top != nil {
		d.value(top, reflect.ValueOf(e).Elem(), keyPath{})
		e.validate(d.fail)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return e, nil
}

// SplitGateways splits a gateway setting into its addresses: one host:port
// (a DNS name may resolve to several replicas) or several joined by commas.
// Spaces around the commas are dropped, and so are empty items.
func SplitGateways(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// validate reports problems through fail(key, format, args...).
func (e *Edge) validate(fail func(key, format string, args ...any)) {
	if e.Gateway == "" {
		fail("gateway", "required: the gateway address as host:port")
	}
	for _, g := range SplitGateways(e.Gateway) {
		if host, port, err := net.SplitHostPort(g); err != nil || host == "" {
			fail("gateway", "expected host:port, got %q", g)
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			fail("gateway", "invalid port %q", port)
		}
	}
	if e.Key == "" {
		fail("key", "required")
	} else if err := validHeaderValue(e.Key.Reveal()); err != nil {
		fail("key", "%v", err)
	}
	for i, o := range e.AllowedOrigins {
		u, err := url.Parse(o)
		if o == "*" || o == "null" || err != nil || u.Scheme == "" || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			fail(fmt.Sprintf("allowed_origins[%d]", i), "expected an origin like http://localhost:3000, got %q", o)
		}
	}
	for i, r := range e.Clients {
		if _, err := compileRule(r); err != nil {
			fail(fmt.Sprintf("clients[%d]", i), "%v", err)
		}
	}
}

// edgeFile mirrors Edge with the key in clear: the edge file is the
// credential store, so SaveEdge must write Key.Reveal(), not "[redacted]".
type edgeFile struct {
	Gateway        string       `yaml:"gateway"`
	Key            string       `yaml:"key"`
	User           string       `yaml:"user,omitempty"`
	CAFile         string       `yaml:"ca_file,omitempty"`
	Insecure       bool         `yaml:"insecure,omitempty"`
	AllowedOrigins []string     `yaml:"allowed_origins,omitempty"`
	Clients        []ClientRule `yaml:"clients,omitempty"`
}

const edgeHeader = "# memproxy edge login, written by `memedge login`.\n" +
	"# It holds your gateway key: keep it private (mode 0600).\n"

// SaveEdge validates e and writes it to path atomically: a temporary file in
// the same directory, fsynced, mode 0600, then renamed over path. Missing
// parent directories are created with mode 0700 (existing ones are left as
// they are).
func SaveEdge(path string, e *Edge) error {
	var errs []error
	e.validate(func(key, format string, args ...any) {
		errs = append(errs, &Error{File: path, Key: key, Msg: fmt.Sprintf(format, args...)})
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	data, err := yaml.Marshal(edgeFile{
		Gateway: e.Gateway, Key: e.Key.Reveal(), User: e.User, CAFile: e.CAFile,
		Insecure: e.Insecure, AllowedOrigins: e.AllowedOrigins, Clients: e.Clients,
	})
	if err != nil {
		return fmt.Errorf("encoding edge config: %w", err)
	}
	return writeFileAtomic(path, append([]byte(edgeHeader), data...), 0o600)
}

// writeFileAtomic writes data to path via a synced temporary file and a
// rename, so readers see the old file or the new one, never a partial one.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// Persist the rename itself; best effort (not every platform can sync a
	// directory).
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
