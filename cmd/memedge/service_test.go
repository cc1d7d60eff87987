package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit: the unit passes systemd-analyze verify where systemd
// is installed, and quotes a path with spaces and specials.
func TestSystemdUnit(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "my tools", "mem%edge")
	os.MkdirAll(filepath.Dir(exe), 0o755)
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := systemdUnit(exe, "/home/a b/.config/memproxy")
	for _, want := range []string{`ExecStart="` + filepath.Join(dir, "my tools", "mem%%edge") + `" run`,
		`Environment="MEMPROXY_HOME=/home/a b/.config/memproxy"`, "WantedBy=default.target", "Restart=on-failure"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: unit not verified")
	}
	path := filepath.Join(dir, systemdUnitName)
	os.WriteFile(path, []byte(unit), 0o644)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte(systemdUnitName)) {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestLaunchdPlist: the agent is well-formed XML (plutil -lint where it
// exists) with the program, its argument and escaped paths.
func TestLaunchdPlist(t *testing.T) {
	p := launchdPlist("/Apps/mem&edge", "/Users/a/.config/memproxy", "/Users/a/.config/memproxy/memedge.log")
	dec := xml.NewDecoder(strings.NewReader(p))
	dec.Strict = true
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plist is not well-formed XML: %v\n%s", err, p)
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
			texts = append(texts, string(cd))
		}
	}
	joined := strings.Join(texts, "|")
	if !strings.Contains(joined, "ProgramArguments|/Apps/mem&edge|run|") || !strings.Contains(joined, launchdLabel) {
		t.Errorf("plist values: %s", joined)
	}
	if plutil, err := exec.LookPath("plutil"); err == nil {
		path := filepath.Join(t.TempDir(), "a.plist")
		os.WriteFile(path, []byte(p), 0o644)
		if out, err := exec.Command(plutil, "-lint", path).CombinedOutput(); err != nil {
			t.Errorf("plutil -lint: %v\n%s", err, out)
		}
	}
}

func TestSchtasks(t *testing.T) {
	got := strings.Join(schtasksCreate(`C:\Program Files\memedge.exe`), " ")
	if got != `schtasks /Create /TN memedge /TR "C:\Program Files\memedge.exe" run /SC ONLOGON /RL LIMITED /F` {
		t.Errorf("schtasks: %s", got)
	}
}

// TestServicePrint: --print writes nothing and shows the file and the
// commands.
func TestServicePrint(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	var out bytes.Buffer
	s := serviceSetup{out: &out, print: true, install: true, exe: "/usr/bin/memedge", home: "/h"}
	if err := s.run("linux"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "systemctl --user enable --now memedge.service") || !strings.Contains(out.String(), "[Service]") {
		t.Errorf("--print:\n%s", &out)
	}
	if m, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".config", "systemd", "user", "*")); len(m) != 0 {
		t.Errorf("--print wrote %v", m)
	}
}
