package main

import (
	"fmt"
	"regexp"
	"strings"
)

// Codex's config.toml is edited as text (no TOML library in the module):
// two blocks between marker comments, one of top-level keys at the start
// (TOML wants them before any table) and the provider table at the end.
// Top-level model_provider/model lines of the user's are commented out
// with a prefix, and a [model_providers.memedge] table of the user's is
// refused rather than merged.
const (
	codexBegin   = "# >>> memedge setup: do not edit; memedge setup codex --undo restores the file"
	codexEnd     = "# <<< memedge setup"
	codexOff     = "#memedge-off# "
	codexTableID = "memedge"
)

var (
	codexTopKey = regexp.MustCompile(`^\s*(model_provider|model)\s*=`)
	codexKeyVal = regexp.MustCompile(`^\s*([A-Za-z0-9_-]+)\s*=\s*"([^"]*)"`)
)

var codexCLI = setupClient{
	name: "Codex",
	path: func() (string, error) { return homeFile("CODEX_HOME", ".codex", "config.toml") },
	apply: func(old []byte, t setupTarget) ([]byte, error) {
		model := t.Model
		if model == "" && len(t.Models) > 0 {
			model = t.Models[0]
		}
		var user []string
		inTable := false
		for _, l := range codexUserLines(string(old)) {
			trim := strings.TrimSpace(l)
			if trim == "[model_providers."+codexTableID+"]" {
				return nil, fmt.Errorf("it already has a [model_providers.%s] table that setup did not write: remove it, then run setup again", codexTableID)
			}
			if strings.HasPrefix(trim, "[") {
				inTable = true
			}
			if !inTable && codexTopKey.MatchString(l) {
				l = codexOff + l
			}
			user = append(user, l)
		}
		top := []string{codexBegin, fmt.Sprintf("model_provider = %q", codexTableID), fmt.Sprintf("model = %q", model), codexEnd}
		table := []string{codexBegin, "[model_providers." + codexTableID + "]",
			fmt.Sprintf("name = %q", "memproxy edge, project "+t.Project),
			fmt.Sprintf("base_url = %q", t.Base+"/v1"), `wire_api = "responses"`, codexEnd}
		body := strings.TrimSpace(strings.Join(user, "\n"))
		out := strings.Join(top, "\n") + "\n\n"
		if body != "" {
			out += body + "\n\n"
		}
		return []byte(out + strings.Join(table, "\n") + "\n"), nil
	},
	read: func(data []byte) (string, string, error) {
		var base, model, section string
		provider := ""
		for _, l := range strings.Split(string(data), "\n") {
			trim := strings.TrimSpace(l)
			if strings.HasPrefix(trim, "[") {
				section = trim
				continue
			}
			m := codexKeyVal.FindStringSubmatch(l)
			switch {
			case m == nil:
			case section == "" && m[1] == "model_provider":
				provider = m[2]
			case section == "" && m[1] == "model":
				model = m[2]
			case m[1] == "base_url" && section == "[model_providers."+provider+"]":
				base = m[2]
			}
		}
		return strings.TrimSuffix(base, "/v1"), model, nil
	},
	next: "Run codex in the project (codex exec \"…\" for one answer).",
}

// codexUserLines returns the file's lines without the blocks setup wrote
// and with the lines it commented out restored.
func codexUserLines(s string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		switch {
		case l == codexBegin:
			in = true
		case l == codexEnd:
			in = false
		case !in:
			out = append(out, strings.TrimPrefix(l, codexOff))
		}
	}
	return out
}
