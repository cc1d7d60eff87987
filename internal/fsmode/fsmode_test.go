package fsmode

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNarrow(t *testing.T) {
	dir := t.TempDir()
	wide, narrow := filepath.Join(dir, "wide"), filepath.Join(dir, "narrow")
	for f, mode := range map[string]os.FileMode{wide: 0o644, narrow: 0o400} {
		if err := os.WriteFile(f, nil, mode); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(f, mode)
	}
	if c, err := Narrow(wide, 0o600); err != nil || c == nil || c.From != 0o644 || c.To != 0o600 {
		t.Errorf("0644: %+v, %v", c, err)
	}
	if c, err := Narrow(narrow, 0o600); err != nil || c != nil {
		t.Errorf("0400 must be left alone: %+v, %v", c, err)
	}
	if c, err := Narrow(filepath.Join(dir, "missing"), 0o600); err != nil || c != nil {
		t.Errorf("missing: %+v, %v", c, err)
	}
	if err := CreatePrivate(filepath.Join(dir, "new")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "new")); fi.Mode().Perm() != 0o600 {
		t.Errorf("CreatePrivate: mode %o", fi.Mode().Perm())
	}
}
