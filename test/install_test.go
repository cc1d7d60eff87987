package test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestInstallScript: scripts/install.sh installs a release binary whose
// SHA-256 matches SHA256SUMS, and installs nothing when it does not.
func TestInstallScript(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("install.sh is for Linux and macOS")
	}
	rel := t.TempDir()
	name := fmt.Sprintf("memedge_v9.9.9_%s_%s", runtime.GOOS, runtime.GOARCH)
	body := []byte("#!/bin/sh\necho memedge v9.9.9\n")
	if err := os.WriteFile(filepath.Join(rel, name), body, 0o644); err != nil {
		t.Fatal(err)
	}
	sums := fmt.Sprintf("%x  %s\n%x  install.sh\n", sha256.Sum256(body), name, sha256.Sum256([]byte("x")))
	if err := os.WriteFile(filepath.Join(rel, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	install := func(dir string) (string, error) {
		cmd := exec.Command("sh", "../scripts/install.sh", "--from", rel, "--dir", dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	dir := filepath.Join(t.TempDir(), "bin")
	out, err := install(dir)
	if err != nil || !strings.Contains(out, "installed memedge v9.9.9") {
		t.Fatalf("install: %v\n%s", err, out)
	}
	got, _ := exec.Command(filepath.Join(dir, "memedge")).Output()
	if string(got) != "memedge v9.9.9\n" {
		t.Errorf("the installed binary printed %q", got)
	}

	// A binary that does not match its sum is refused.
	if err := os.WriteFile(filepath.Join(rel, name), append(body, '#'), 0o644); err != nil {
		t.Fatal(err)
	}
	dir2 := filepath.Join(t.TempDir(), "bin")
	out, err = install(dir2)
	if err == nil || !strings.Contains(out, "checksum mismatch") {
		t.Errorf("tampered binary: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir2, "memedge")); !os.IsNotExist(err) {
		t.Errorf("a tampered binary was installed: %v", err)
	}
}
