package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/store"
)

func runOut(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// check asks the database, as a gateway would, whether key is accepted.
func check(t *testing.T, dbURL, dataDir, key string) (auth.Principal, error) {
	t.Helper()
	db, err := store.Open(t.Context(), dbURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := auth.NewKeys("")
	k.Attach(db, auth.CacheOptions{})
	return k.Check(t.Context(), key)
}

func TestKeysCreateListRevoke(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(`general_settings:
  database_url: sqlite:keys.db
model_list:
  - model_name: mock
    litellm_params:
      model: mock/echo
`), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	base := []string{"--config", cfg, "--data-dir", data}

	out, stderr, err := runOut(t, append([]string{"keys", "create", "--user", "o'brien; DROP TABLE api_keys", "--project", "shop",
		"--models", "gpt-4o, claude", "--rpm", "60", "--tpm", "1000", "--max-budget", "25", "--budget-period", "30d"}, base...)...)
	if err != nil {
		t.Fatalf("keys create: %v (%s)", err, stderr)
	}
	m := regexp.MustCompile(`(?m)^id:\s+(key_[a-z2-7]{12})\nkey:\s+(sk-mp-\S{43})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys create printed %q", out)
	}
	id, key := m[1], m[2]
	if !strings.Contains(stderr, "not shown again") {
		t.Errorf("no warning that the key is shown once: %q", stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "keys.db")); err != nil {
		t.Errorf("the config's database_url was not used: %v", err)
	}
	p, err := check(t, "sqlite:keys.db", data, key)
	if err != nil || p.User != "o'brien; DROP TABLE api_keys" || p.Project != "shop" || p.KeyID != id ||
		!p.AllowsModel("claude") || p.AllowsModel("other") {
		t.Fatalf("the created key: %+v, %v", p, err)
	}

	list, _, err := runOut(t, append([]string{"keys", "list"}, base...)...)
	if err != nil {
		t.Fatalf("keys list: %v", err)
	}
	for _, want := range []string{"ID", "LAST USED", id, "o'brien; DROP TABLE api_keys", "shop", "gpt-4o,claude", "rpm=60 tpm=1000 budget=$25/30d"} {
		if !strings.Contains(list, want) {
			t.Errorf("keys list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, key[len(auth.KeyPrefix):len(auth.KeyPrefix)+12]) || strings.Contains(list, "sk-mp-") {
		t.Errorf("keys list shows the secret:\n%s", list)
	}

	js, _, err := runOut(t, append([]string{"keys", "list", "--json"}, base...)...)
	var keys []map[string]any
	if err != nil || json.Unmarshal([]byte(js), &keys) != nil || len(keys) != 1 || keys[0]["id"] != id ||
		keys[0]["project"] != "shop" || keys[0]["rpm"] != 60.0 || keys[0]["revoked_at"] != nil || keys[0]["last_used_at"] != nil {
		t.Errorf("keys list --json: %v\n%s", err, js)
	}
	if strings.Contains(js, "sk-mp-") {
		t.Errorf("keys list --json shows the secret:\n%s", js)
	}

	if out, _, err := runOut(t, append([]string{"keys", "revoke", id}, base...)...); err != nil || !strings.Contains(out, id) {
		t.Fatalf("keys revoke: %q, %v", out, err)
	}
	if _, err := check(t, "sqlite:keys.db", data, key); !errors.Is(err, auth.ErrBadKey) {
		t.Errorf("revoked key: %v, want ErrBadKey", err)
	}
	list, _, _ = runOut(t, append([]string{"keys", "list", "--user", "o'brien; DROP TABLE api_keys"}, base...)...)
	if lines := strings.Split(strings.TrimSpace(list), "\n"); len(lines) != 2 || strings.HasSuffix(strings.TrimSpace(lines[1]), " -") {
		t.Errorf("revoked key not marked in the list:\n%s", list)
	}
	if _, _, err := runOut(t, append([]string{"keys", "revoke", "key_nosuchkey00"}, base...)...); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("revoke of an unknown id: %v", err)
	}
}

func TestKeysCreateRefusesBadInput(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"keys", "create"}, // no --user
		{"keys", "create", "--user", "a", "--budget-period", "30d"},
		{"keys", "create", "--user", "a", "--max-budget", "-1"},
		{"keys", "create", "--user", "a", "--max-budget", "5", "--budget-period", "monthly"},
		{"keys", "create", "--user", "a", "--models", "a,,b"},
		{"keys", "create", "--user", "a", "--rpm", "-5"},
	} {
		if out, _, err := runOut(t, append(args, "--data-dir", data)...); err == nil || strings.Contains(out, "sk-mp-") {
			t.Errorf("%q: %q, %v; want an error and no key", args, out, err)
		}
	}
	// The default database (SQLite in --data-dir) holds no key.
	list, _, err := runOut(t, "keys", "list", "--data-dir", data)
	if err != nil || strings.Count(strings.TrimSpace(list), "\n") != 0 {
		t.Errorf("keys list after refusals: %q, %v", list, err)
	}
}
