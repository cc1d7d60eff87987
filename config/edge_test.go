package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestHome(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory:", err)
	}
	for _, tc := range []struct{ memproxyHome, xdg, want string }{
		{"/srv/mp", "/x", "/srv/mp"},
		{"", "/xdg", "/xdg/memproxy"},
		{"", "relative", filepath.Join(home, ".config", "memproxy")},
		{"", "", filepath.Join(home, ".config", "memproxy")},
	} {
		t.Setenv("MEMPROXY_HOME", tc.memproxyHome)
		t.Setenv("XDG_CONFIG_HOME", tc.xdg)
		got, err := Home()
		if err != nil || got != tc.want {
			t.Errorf("Home() with MEMPROXY_HOME=%q XDG_CONFIG_HOME=%q = %q, %v; want %q", tc.memproxyHome, tc.xdg, got, err, tc.want)
		}
	}
	t.Setenv("MEMPROXY_HOME", "/srv/mp")
	if p, err := EdgePath(); err != nil || p != "/srv/mp/edge.yaml" {
		t.Errorf("EdgePath() = %q, %v", p, err)
	}
}

func TestLoadEdgeMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadEdge(filepath.Join(dir, "edge.yaml"))
	if !errors.Is(err, ErrNoLogin) {
		t.Errorf("missing file: %v, want ErrNoLogin", err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, []byte("\n  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadEdge(empty); !errors.Is(err, ErrNoLogin) {
		t.Errorf("empty file: %v, want ErrNoLogin", err)
	}
}

func TestSaveLoadEdge(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "home")
	path := filepath.Join(dir, "edge.yaml")
	in := &Edge{
		Gateway:        "gw.example.com:8443",
		Key:            "mpk-edge-secret",
		User:           "alice",
		CAFile:         "/etc/memproxy/ca.pem",
		AllowedOrigins: []string{"http://localhost:3000"},
		Clients:        []ClientRule{{Name: "myapp", Header: "x-app", Pattern: "^myapp/"}},
	}
	if err := SaveEdge(path, in); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", p, got, want)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "key: mpk-edge-secret") || strings.Contains(string(raw), "redacted") {
		t.Errorf("edge file must hold the key in clear:\n%s", raw)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	out, err := LoadEdge(path)
	if err != nil {
		t.Fatal(err)
	}
	if out.Gateway != in.Gateway || out.Key.Reveal() != "mpk-edge-secret" || out.User != "alice" || out.CAFile != in.CAFile ||
		out.Insecure || !slices.Equal(out.AllowedOrigins, in.AllowedOrigins) || !slices.Equal(out.Clients, in.Clients) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}

	// Overwrite keeps mode 0600 and replaces the content.
	in.Key, in.Insecure = "mpk-rotated", true
	if err := SaveEdge(path, in); err != nil {
		t.Fatal(err)
	}
	if out, err := LoadEdge(path); err != nil || out.Key.Reveal() != "mpk-rotated" || !out.Insecure {
		t.Errorf("after overwrite: %+v, %v", out, err)
	}
}

func TestSaveEdgeValidates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.yaml")
	err := SaveEdge(path, &Edge{Gateway: "no-port", Key: "k"})
	if err == nil || err.Error() != path+`: gateway: expected host:port, got "no-port"` {
		t.Errorf("SaveEdge(bad gateway) = %v", err)
	}
	if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
		t.Error("SaveEdge wrote an invalid config")
	}
}

func TestLoadEdgeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"typo key", "gateway: gw:443\nkey: k\nallowed_origin: [x]\n",
			[]string{`edge.yaml:3: allowed_origin: unknown key (did you mean "allowed_origins"?)`}},
		{"wrong type", "gateway: gw:443\nkey: k\ninsecure: maybe\n",
			[]string{`edge.yaml:3: insecure: expected true or false, got "maybe"`}},
		{"no env resolution", "gateway: gw:443\nkey: os.environ/KEY\nclients: {}\n",
			[]string{"edge.yaml:3: clients: expected a list, got a mapping"}},
		{"invalid client regexp", "gateway: gw:443\nkey: k\nclients:\n  - name: x\n    pattern: \"(\"\n",
			[]string{"edge.yaml:4: clients[0]: invalid pattern: error parsing regexp: missing closing ): `(`"}},
		{"missing fields", "user: alice\n",
			[]string{"edge.yaml:1: gateway: required: the gateway address as host:port", "edge.yaml:1: key: required"}},
		{"bad port and origin", "gateway: gw:99999\nkey: k\nallowed_origins: ['*', http://ok:1]\n",
			[]string{`edge.yaml:1: gateway: invalid port "99999"`, `edge.yaml:3: allowed_origins[0]: expected an origin like http://localhost:3000, got "*"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "edge.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadEdge(path)
			if err == nil {
				t.Fatal("LoadEdge succeeded")
			}
			want := strings.ReplaceAll(strings.Join(tc.want, "\n"), "edge.yaml:", path+":")
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
			if errors.Is(err, ErrNoLogin) {
				t.Error("a broken file is not ErrNoLogin")
			}
		})
	}
}

func TestEdgeGatewayList(t *testing.T) {
	if got := SplitGateways(" a:1, b:2 ,,"); !slices.Equal(got, []string{"a:1", "b:2"}) {
		t.Fatalf("SplitGateways: %q", got)
	}
	path := filepath.Join(t.TempDir(), "edge.yaml")
	if err := SaveEdge(path, &Edge{Gateway: "gw1:8765,gw2:8765", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := SaveEdge(path, &Edge{Gateway: "gw1:8765,gw2", Key: "k"}); err == nil || !strings.Contains(err.Error(), `"gw2"`) {
		t.Fatalf("a list with an address without a port: %v", err)
	}
}
