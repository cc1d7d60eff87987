// Package test holds the tests that look at the whole module: the import
// boundaries between its packages.
package test

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/memproxy/memproxy/"

// TestDeps enforces the package boundaries of docs/architecture.md on the
// non-test imports of every package.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}`, "github.com/memproxy/memproxy/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		pkg, imports, deps := strings.TrimPrefix(parts[0], mod), ours(parts[1]), ours(parts[2])
		checked++
		for _, rule := range rules {
			if rule.applies(pkg) {
				list := imports
				if rule.transitive {
					list = deps
				}
				for _, imp := range list {
					if rule.denies(pkg, imp) {
						t.Errorf("%s imports %s: %s", pkg, imp, rule.why)
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages listed; is the module path right?", checked)
	}
}

// ours returns the module-relative paths among space-separated packages.
func ours(list string) []string {
	var out []string
	for _, p := range strings.Fields(list) {
		if rel, ok := strings.CutPrefix(p, mod); ok {
			out = append(out, rel)
		}
	}
	return out
}

type rule struct {
	applies    func(pkg string) bool
	denies     func(pkg, imp string) bool
	transitive bool
	why        string
}

func under(prefix string) func(string) bool {
	return func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
}

func anyPkg(string) bool { return true }

var rules = []rule{
	{applies: under("edge"), transitive: true, why: "edge and gateway share only proto/*",
		denies: func(_, imp string) bool { return under("gateway")(imp) }},
	{applies: under("gateway"), transitive: true, why: "edge and gateway share only proto/*",
		denies: func(_, imp string) bool { return under("edge")(imp) }},
	{applies: anyPkg, why: "nothing imports cmd/",
		denies: func(_, imp string) bool { return under("cmd")(imp) }},
	{applies: func(p string) bool { return !under("test")(p) }, why: "only tests import test/",
		denies: func(_, imp string) bool { return under("test")(imp) }},
	{applies: func(p string) bool {
		return p == "config" || p == "registry" || p == "gateway/llm" || p == "proto/memproxy/v1" || p == "internal/version" ||
			p == "gateway/clientmsg" || p == "internal/wal" || p == "internal/jsonstr"
	}, why: "leaf packages import nothing of ours",
		denies: func(_, imp string) bool { return true }},
	{applies: anyPkg, why: "only cmd/*, the edge and gateway roots and the gateway's HTTP layers (relay, adminapi) see the raw config",
		denies: func(pkg, imp string) bool {
			return imp == "config" && !under("cmd")(pkg) && pkg != "edge" && pkg != "gateway" &&
				pkg != "gateway/relay" && pkg != "gateway/adminapi"
		}},
	{applies: func(p string) bool { return under("gateway")(p) && p != "gateway" }, why: "subpackages never import the gateway root",
		denies: func(_, imp string) bool { return imp == "gateway" }},
	{applies: func(p string) bool { return p == "gateway/recall" }, why: "recall is pure: it ranks what the stores found and does no I/O",
		denies: func(_, imp string) bool { return true }},
	{applies: under("gateway/memory/extract"), why: "the extractor sees memories and usage only; the gateway gives it a model caller",
		denies: func(_, imp string) bool { return imp != "gateway/memory" && imp != "gateway/llm" }},
	{applies: func(p string) bool { return under("gateway/provider")(p) && p != "gateway/provider/providertest" },
		why: "providers do not reach into storage, auth or usage",
		denies: func(_, imp string) bool {
			return under("gateway/store")(imp) || under("gateway/usage")(imp) || under("gateway/auth")(imp)
		}},
	{applies: under("gateway/dialect"), why: "the dialect table knows wire formats and body edits, nothing of the pipeline",
		denies: func(_, imp string) bool {
			for _, ok := range []string{"gateway/api", "gateway/translate", "gateway/llm", "gateway/inject", "gateway/jsonscan", "gateway/guard"} {
				if under(ok)(imp) {
					return false
				}
			}
			return true
		}},
	{applies: func(p string) bool {
		return under("gateway")(p) && p != "gateway" && !under("gateway/dialect")(p) && p != "gateway/relay" && p != "gateway/track"
	},
		why:    "only the pipeline (gateway/relay), the request record (gateway/track: errors in the client's dialect) and the routes (the gateway root) use the dialect table",
		denies: func(_, imp string) bool { return under("gateway/dialect")(imp) }},
	{applies: under("gateway/adminapi"), why: "the admin APIs see the usage log and the memory receipts, never the request pipeline",
		denies: func(_, imp string) bool { return under("gateway/relay")(imp) }},
	{applies: under("gateway/relay"), why: "the pipeline does not reach into the admin APIs",
		denies: func(_, imp string) bool { return under("gateway/adminapi")(imp) }},
	{applies: under("gateway/track"), why: "the request record sits under both the pipeline and the admin APIs",
		denies: func(_, imp string) bool { return under("gateway/relay")(imp) || under("gateway/adminapi")(imp) }},
	{applies: under("gateway/memory/hybrid"), why: "hybrid recall sees memories and the pure ranking; the gateway gives it an embedder",
		denies: func(_, imp string) bool { return imp != "gateway/memory" && imp != "gateway/recall" }},
	{applies: under("gateway/memory/writeback"), why: "the write-back queue knows jobs and its journal only, not the backends",
		denies: func(_, imp string) bool { return imp != "internal/wal" }},
}
