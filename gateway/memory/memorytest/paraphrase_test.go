package memorytest

import (
	"testing"
)

// TestParaphraseSharesNoWord enforces what makes the paraphrase set one:
// no query shares a content word (after stemming) with a memory that
// answers it.
func TestParaphraseSharesNoWord(t *testing.T) {
	queries := 0
	for _, p := range ParaphraseSet {
		for _, q := range p.Queries {
			queries++
			for _, r := range q.Relevant {
				if shared := SharedContentWords(q.Text, p.Memories[r]); len(shared) > 0 {
					t.Errorf("%s: %q shares %v with its answer %q", p.Name, q.Text, shared, p.Memories[r])
				}
			}
		}
	}
	if queries < 60 {
		t.Errorf("%d paraphrase queries; the set promises at least 60", queries)
	}
}

func TestParaphraseFactKeys(t *testing.T) {
	for _, p := range ParaphraseSet {
		keys := ParaphraseFactKeys[p.Name]
		if len(keys) != len(p.Memories) {
			t.Fatalf("%s: %d fact-key lists for %d memories", p.Name, len(keys), len(p.Memories))
		}
		for i, k := range keys {
			if len(k) == 0 {
				t.Errorf("%s #%d has no fact keys", p.Name, i)
			}
		}
	}
}

func TestSharesStem(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"deploy", "deploys", true},
		{"deploy", "deployment", true},
		{"config", "configuration", true},
		{"running", "run", true},
		{"stopped", "stop", true},
		{"libraries", "library", true},
		{"locale", "local", true},
		{"tests", "testing", true},
		{"prod", "production", false},
		{"release", "relevant", false},
		{"ship", "shipment", false}, // Porter keeps "shipment" whole too
		{"server", "service", false},
	} {
		if got := SharesStem(tt.a, tt.b); got != tt.want {
			t.Errorf("SharesStem(%q, %q) = %v; want %v", tt.a, tt.b, got, tt.want)
		}
	}
	if got := SharedContentWords("How do we ship to prod?", "Releases go out by blue-green deploy"); len(got) != 0 {
		t.Errorf("shared %v; want none (how, do, we, to are stop words)", got)
	}
	if got := SharedContentWords("where is the deploy config", "Deployments read configs from etcd"); len(got) != 2 {
		t.Errorf("shared %v; want deploy and config", got)
	}
}
