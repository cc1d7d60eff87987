package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCompletionAndExamples: every shell's completion script is served,
// and the root help shows the common tasks.
func TestCompletionAndExamples(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_memedge", "zsh": "#compdef memedge", "fish": "complete -c memedge", "powershell": "Register-ArgumentCompleter"} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"completion", shell}, &out, &errb); err != nil || !strings.Contains(out.String(), want) {
			t.Errorf("completion %s: %v, output lacks %q (%d bytes)", shell, err, want, out.Len())
		}
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"memedge setup claude-code", "memedge list --json", "memedge service install", "completion bash"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks the example %q", want)
		}
	}
}
