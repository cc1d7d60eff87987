package profiling

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStartWritesProfile(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "cpu")
	t.Setenv(Env, prefix)
	stop := Start("test")
	stop()
	matches, _ := filepath.Glob(prefix + ".test.*.pprof")
	if len(matches) != 1 {
		t.Fatalf("profiles %v, want one", matches)
	}
	if fi, err := os.Stat(matches[0]); err != nil || fi.Size() == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("profile %v %v: want a non-empty private file", fi, err)
	}
}

func TestStartWithoutEnvDoesNothing(t *testing.T) {
	t.Setenv(Env, "")
	Start("test")() // no file, no panic
}
