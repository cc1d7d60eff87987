package config

import (
	"strings"
	"testing"
)

func TestUsageFsync(t *testing.T) {
	const models = "model_list:\n  - {model_name: m, litellm_params: {model: mock/x}}\n"
	for in, want := range map[string]string{"": "batch", "usage:\n  fsync: always\n": "always", "usage:\n  fsync: never\n": "never"} {
		g, err := Parse("c.yaml", []byte(in+models), nil)
		if err != nil || g.Usage.Fsync != want {
			t.Errorf("%q: fsync %q, %v; want %q", in, g.Usage.Fsync, err, want)
		}
	}
	_, err := Parse("c.yaml", []byte("usage:\n  fsync: sometimes\n"+models), nil)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:2") || !strings.Contains(err.Error(), "usage.fsync") {
		t.Errorf("bad fsync mode: %v, want an error naming c.yaml:2 and usage.fsync", err)
	}
}
