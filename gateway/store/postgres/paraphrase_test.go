package postgres_test

import (
	"testing"

	"github.com/memproxy/memproxy/gateway/memory/memorytest"
)

// TestMemoryParaphrase: full-text search finds none of the paraphrase
// set's answers (their questions share no word with them), here with
// PostgreSQL's english (Snowball) stemmer.
func TestMemoryParaphrase(t *testing.T) {
	r5, mrr, err := memorytest.EvaluateSet(t.Context(), memoryDB(t), memorytest.ParaphraseSet)
	if err != nil {
		t.Fatal(err)
	}
	if r5 != 0 || mrr != 0 {
		t.Errorf("recall@5 %.3f, MRR %.3f on the paraphrase set; want 0: a question shares a word with its answer", r5, mrr)
	}
}
