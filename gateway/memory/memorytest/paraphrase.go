package memorytest

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/memproxy/memproxy/gateway/memory"
)

// EvaluateSet is Evaluate over any data set (ParaphraseSet, QualitySet):
// it loads set into b, one scope per project under EvalUser, runs every
// query in its project's scope, and returns the mean recall@5 and
// MRR@10. The scopes are emptied before and after.
func EvaluateSet(ctx context.Context, b memory.Backend, set []QualityProject) (recallAt5, mrr float64, err error) {
	scopes := make([]memory.Scope, len(set))
	for i, p := range set {
		scopes[i] = memory.Scope(EvalUser + "/p:" + p.Name)
	}
	empty := func() error {
		for _, s := range scopes {
			if _, err := b.DeleteAll(ctx, s); err != nil {
				return fmt.Errorf("emptying %s: %w", s, err)
			}
		}
		return nil
	}
	if err := empty(); err != nil {
		return 0, 0, err
	}
	defer func() {
		if cerr := empty(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	n := 0
	for i, p := range set {
		ids, err := load(ctx, b, scopes[i], p)
		if err != nil {
			return 0, 0, err
		}
		for _, q := range p.Queries {
			res, err := b.Search(ctx, scopes[i], q.Text, evalDepth)
			if err != nil {
				return 0, 0, fmt.Errorf("searching %s for %q: %w", p.Name, q.Text, err)
			}
			r5, rr, err := score(res, ids, q.Relevant)
			if err != nil {
				return 0, 0, fmt.Errorf("searching %s for %q: %w", p.Name, q.Text, err)
			}
			recallAt5, mrr, n = recallAt5+r5, mrr+rr, n+1
		}
	}
	return recallAt5 / float64(n), mrr / float64(n), nil
}

// load adds a project's memories to s and returns their ids in order.
func load(ctx context.Context, b memory.Backend, s memory.Scope, p QualityProject) ([]string, error) {
	ids := make([]string, len(p.Memories))
	for j, c := range p.Memories {
		m, created, err := b.Add(ctx, s, c, map[string]string{"project": p.Name})
		if err != nil {
			return nil, fmt.Errorf("adding %s #%d: %w", p.Name, j, err)
		}
		if !created {
			return nil, fmt.Errorf("%s #%d duplicates an earlier memory", p.Name, j)
		}
		ids[j] = m.ID
	}
	return ids, nil
}

// SharedContentWords returns the content words of query that a's text
// shares with b's, compared by a light stem (SharesStem). Words are runs
// of letters and digits, as full-text tokenizers split them; stop words
// (the Snowball English list both SQL stores ignore) do not count.
func SharedContentWords(a, b string) []string {
	var out []string
	bw := contentWords(b)
	for _, w := range contentWords(a) {
		for _, x := range bw {
			if SharesStem(w, x) {
				out = append(out, w+"~"+x)
				break
			}
		}
	}
	return out
}

// SharesStem reports whether two lower-case words could meet in a
// stemmed full-text index: their light stems are equal, or share their
// first five letters or more (so "config" and "configuration" meet). It
// errs on the side of "shared": a paraphrase check built on it is stricter
// than Porter stemming.
func SharesStem(a, b string) bool {
	sa, sb := lightStem(a), lightStem(b)
	if sa == sb {
		return true
	}
	n := 0
	for n < len(sa) && n < len(sb) && sa[n] == sb[n] {
		n++
	}
	return n >= 5
}

func contentWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		if !snowballStop[w] {
			out = append(out, w)
		}
	}
	return out
}

// lightStem strips the commonest English inflections: plural -s/-es/-ies,
// -ing, -ed, -ly, and a final -e, undoubling a final consonant.
func lightStem(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		w = w[:len(w)-1]
	}
	for _, suf := range []string{"ing", "ed", "ly"} {
		if len(w) > len(suf)+2 && strings.HasSuffix(w, suf) {
			w = w[:len(w)-len(suf)]
			if n := len(w); n > 2 && w[n-1] == w[n-2] && !strings.ContainsRune("aeiouslz", rune(w[n-1])) {
				w = w[:n-1]
			}
			break
		}
	}
	if len(w) > 3 && strings.HasSuffix(w, "e") {
		w = w[:len(w)-1]
	}
	return w
}

// snowballStop is the Snowball English stop list (PostgreSQL's
// english.stop), the words the SQL stores leave out of a query.
var snowballStop = func() map[string]bool {
	m := map[string]bool{}
	const list = "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her " +
		"hers herself it its itself they them their theirs themselves what which who whom this that these those am is " +
		"are was were be been being have has had having do does did doing a an the and but if or because as until while " +
		"of at by for with about against between into through during before after above below to from up down in out on " +
		"off over under again further then once here there when where why how all any both each few more most other " +
		"some such no nor not only own same so than too very s t can will just don should now"
	for _, w := range strings.Fields(list) {
		m[w] = true
	}
	return m
}()

// IsStopWord reports whether w (lower case) is on the Snowball English
// stop list that the SQL stores leave out of queries.
func IsStopWord(w string) bool { return snowballStop[w] }
