package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var target = setupTarget{Project: "shop", Base: "http://127.0.0.1:8895", Models: []string{"gpt-4o", "claude-x"}}

// TestSetupApply: each client's edit keeps what the user had, points the
// client at the port, is idempotent, and reads back what it wrote.
func TestSetupApply(t *testing.T) {
	for _, tc := range []struct {
		client     string
		old        string
		keep       []string // user content that must survive
		wantModel  string
		wantInFile []string
	}{
		{"claude-code", "", nil, "", []string{`"ANTHROPIC_BASE_URL": "http://127.0.0.1:8895"`, `"ANTHROPIC_AUTH_TOKEN": "memedge"`}},
		{"claude-code", `{"model":"opus","env":{"FOO":"1","ANTHROPIC_BASE_URL":"https://elsewhere"}}`, []string{`"FOO": "1"`, `"model": "opus"`}, "",
			[]string{`"ANTHROPIC_BASE_URL": "http://127.0.0.1:8895"`}},
		{"codex", "", nil, "gpt-4o", []string{`model_provider = "memedge"`, `base_url = "http://127.0.0.1:8895/v1"`, `wire_api = "responses"`}},
		{"codex", "model = \"o3\"\nmodel_provider = \"openai\"\napproval_policy = \"never\"\n\n[mcp_servers.x]\ncommand = \"x\"\nmodel = \"inner\"\n",
			[]string{`approval_policy = "never"`, "[mcp_servers.x]", `model = "inner"`, "#memedge-off# model = \"o3\""}, "gpt-4o",
			[]string{`model = "gpt-4o"`}},
		{"continue", "", nil, "gpt-4o", []string{"schema: v1", "name: 'memedge shop: claude-x'", "apiBase: http://127.0.0.1:8895/v1"}},
		{"continue", "name: mine\nversion: 0.0.1\nschema: v1\nmodels:\n  - name: local\n    provider: ollama\n    model: llama3\n",
			[]string{"name: mine", "provider: ollama"}, "gpt-4o", []string{"name: 'memedge shop: gpt-4o'"}},
	} {
		t.Run(tc.client, func(t *testing.T) {
			cl := setupClients[tc.client]
			once, err := cl.apply([]byte(tc.old), target)
			if err != nil {
				t.Fatal(err)
			}
			twice, err := cl.apply(once, target)
			if err != nil || string(twice) != string(once) {
				t.Fatalf("not idempotent (%v):\n%s\n---\n%s", err, once, twice)
			}
			for _, want := range append(tc.keep, tc.wantInFile...) {
				if !strings.Contains(string(once), want) {
					t.Errorf("lacks %q:\n%s", want, once)
				}
			}
			base, model, err := cl.read(once)
			if err != nil || base != target.Base || model != tc.wantModel {
				t.Errorf("read back base %q model %q (%v), want %q %q\n%s", base, model, err, target.Base, tc.wantModel, once)
			}
		})
	}
}

func TestSetupCodexRefusesForeignTable(t *testing.T) {
	if _, err := codexCLI.apply([]byte("[model_providers.memedge]\nbase_url = \"x\"\n"), target); err == nil {
		t.Error("a user's own [model_providers.memedge] table was overwritten")
	}
	if _, err := claudeCode.apply([]byte("{not json"), target); err == nil {
		t.Error("a broken settings.json was overwritten")
	}
}

// TestSetupBackupUndo: the first setup keeps the original, later ones keep
// that first backup, and undo restores it (or removes a file setup made).
func TestSetupBackupUndo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "settings.json")
	edit := func(v string) func([]byte) ([]byte, error) {
		return func(old []byte) ([]byte, error) { return []byte(v), nil }
	}
	if changed, err := applySetup(path, edit("one")); err != nil || !changed {
		t.Fatalf("first setup: %v %v", changed, err)
	}
	if changed, _ := applySetup(path, edit("one")); changed {
		t.Error("the same setup again changed the file")
	}
	if _, err := applySetup(path, edit("two")); err != nil {
		t.Fatal(err)
	}
	if msg, err := undoSetup(path); err != nil || !strings.Contains(msg, "removed") {
		t.Fatalf("undo of a created file: %q %v", msg, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("file setup created is still there: %v", err)
	}

	os.WriteFile(path, []byte("original"), 0o644)
	applySetup(path, edit("one"))
	applySetup(path, edit("two"))
	if _, err := undoSetup(path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "original" {
		t.Errorf("after undo: %q, want the original", b)
	}
	if _, err := undoSetup(path); err == nil {
		t.Error("a second undo found something to restore")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "sub", "*tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}
