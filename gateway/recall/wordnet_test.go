package recall_test

// Query expansion from WordNet, measured by TestRecallQuality and not
// shipped (docs/performance.md has the figures and the reason). It reads
// WordNet 3.0's database where Debian's wordnet-base installs it; the
// expansion rows are skipped where it is absent.

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/memproxy/memproxy/gateway/memory/memorytest"
)

const wordnetDir = "/usr/share/wordnet"

// thesaurus maps a lemma to its synonyms, and irregular forms to lemmas.
type thesaurus struct {
	syn map[string][]string
	irr map[string]string
}

var wnPOS = []string{"noun", "verb", "adj", "adv"}

// loadWordNet builds a thesaurus: for each single-word lemma with senses
// seen in SemCor (tagsense_cnt > 0, the common words), the other single
// words of its first `senses` tagged senses, most frequent sense first,
// at most `max` of them; stop words are neither heads nor synonyms.
func loadWordNet(dir string, senses, max int) (*thesaurus, error) {
	type sense struct{ rank, pos int }
	synsets := map[string][]string{}
	order := map[string][]struct {
		sense
		key string
	}{}
	for pi, pos := range wnPOS {
		err := eachLine(filepath.Join(dir, "data."+pos), func(f []string) {
			if len(f) < 4 {
				return
			}
			n, err := strconv.ParseInt(f[3], 16, 32)
			if err != nil || len(f) < 4+2*int(n) {
				return
			}
			for i := range int(n) {
				w, _, _ := strings.Cut(strings.ToLower(f[4+2*i]), "(") // adjective markers: "(a)"
				synsets[pos+f[0]] = append(synsets[pos+f[0]], w)
			}
		})
		if err != nil {
			return nil, err
		}
		err = eachLine(filepath.Join(dir, "index."+pos), func(f []string) {
			if len(f) < 6 || !usableWord(f[0]) {
				return
			}
			p, _ := strconv.Atoi(f[3])
			if len(f) < 6+p {
				return
			}
			tagged, _ := strconv.Atoi(f[5+p])
			for i, off := range f[6+p:] {
				if i < min(senses, tagged) {
					order[f[0]] = append(order[f[0]], struct {
						sense
						key string
					}{sense{i, pi}, pos + off})
				}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	t := &thesaurus{syn: map[string][]string{}, irr: map[string]string{}}
	for lemma, ss := range order {
		sort.SliceStable(ss, func(i, j int) bool {
			return ss[i].rank < ss[j].rank || ss[i].rank == ss[j].rank && ss[i].pos < ss[j].pos
		})
		seen := map[string]bool{lemma: true}
		for _, s := range ss {
			for _, w := range synsets[s.key] {
				if len(t.syn[lemma]) < max && !seen[w] && usableWord(w) {
					seen[w] = true
					t.syn[lemma] = append(t.syn[lemma], w)
				}
			}
		}
	}
	for _, pos := range wnPOS[:3] {
		err := eachLine(filepath.Join(dir, pos+".exc"), func(f []string) {
			if len(f) >= 2 && t.syn[f[1]] != nil {
				t.irr[f[0]] = f[1]
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// usableWord: a lower-case word of letters, not a stop word.
func usableWord(w string) bool {
	return len(w) > 1 && !memorytest.IsStopWord(w) && !strings.ContainsFunc(w, func(r rune) bool { return r < 'a' || r > 'z' })
}

// maxExpansion bounds the words added to a query, so that the query's
// own words stay within SQLite's 32-term limit.
const maxExpansion = 16

// expand returns query followed by the synonyms of its words (found by
// base form), skipping words already there, at most maxExpansion.
func (t *thesaurus) expand(query string) string {
	words := strings.FieldsFunc(strings.ToLower(query), func(r rune) bool { return !unicode.IsLetter(r) })
	have := map[string]bool{}
	for _, w := range words {
		have[w] = true
	}
	var add []string
	for _, w := range words {
		for _, s := range t.syn[t.lemma(w)] {
			if len(add) < maxExpansion && !have[s] {
				have[s] = true
				add = append(add, s)
			}
		}
	}
	if len(add) == 0 {
		return query
	}
	return query + " " + strings.Join(add, " ")
}

// detach is WordNet's morphy rules: (suffix, replacement).
var detach = [][2]string{
	{"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"},
	{"es", "e"}, {"es", ""}, {"s", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""},
	{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"},
}

// lemma finds w's base form among the heads ("" when none).
func (t *thesaurus) lemma(w string) string {
	if t.syn[w] != nil {
		return w
	}
	if l, ok := t.irr[w]; ok {
		return l
	}
	for _, r := range detach {
		if base, ok := strings.CutSuffix(w, r[0]); ok && base != "" && t.syn[base+r[1]] != nil {
			return base + r[1]
		}
	}
	return ""
}

// eachLine calls fn with the fields of every line not starting with a
// space (WordNet's licence header does).
func eachLine(path string, fn func([]string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	for {
		line, err := r.ReadString('\n')
		if len(line) > 0 && line[0] != ' ' {
			fn(strings.Fields(line))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
