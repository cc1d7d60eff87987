package lexical

import (
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
)

// The text analysis shared by both SQL stores, so that they rank alike:
// words are runs of letters, digits and marks (everything else separates
// them, as SQLite's unicode61 tokenizer does), lowercased, English stop
// words dropped (PostgreSQL's english.stop, the Snowball list), and the
// rest stemmed with the Snowball English stemmer (Porter2, the algorithm
// of PostgreSQL's english configuration; github.com/kljensen/snowball, a
// dependency-free implementation checked against the Snowball project's
// reference vocabulary).

// Bounds on what of a text is indexed or looked up.
const (
	// MaxQueryTerms bounds the distinct terms of a query.
	MaxQueryTerms = 32
	// maxWordBytes truncates longer words (base64 blobs, hashes): they
	// are kept, as a prefix, but never stemmed.
	maxWordBytes = 64
)

// IsStopWord reports whether the lowercase word w is on the stop list.
func IsStopWord(w string) bool { return stopwords[w] }

// Words splits text into its lowercase words, stop words included.
func Words(text string) []string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r)
	})
	out := words[:0]
	for _, w := range words {
		// A run of marks alone is no word.
		if !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) {
			continue
		}
		out = append(out, strings.ToLower(w))
	}
	return out
}

// Stem returns the term of the lowercase word w, or "" for a stop word.
func Stem(w string) string {
	if stopwords[w] {
		return ""
	}
	if len(w) > maxWordBytes {
		return strings.ToValidUTF8(w[:maxWordBytes], "")
	}
	return english.Stem(w, true)
}

// Terms returns the terms of text in order, repeats included (what the
// index counts), stop words left out.
func Terms(text string) []string { return stemAll(Words(text), nil) }

// stemAll stems words in place, dropping stop words; memo, when not nil,
// keeps stems already computed (a scope's memories repeat their words).
func stemAll(words []string, memo map[string]string) []string {
	out := words[:0]
	for _, w := range words {
		t, ok := memo[w]
		if !ok {
			t = Stem(w)
			if memo != nil {
				memo[w] = t
			}
		}
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// QueryTerms returns the distinct terms of a search query, at most
// MaxQueryTerms, in order of first appearance; nil when it has none.
// Characters a query language would read as syntax are separators here,
// so a query is always plain words.
func QueryTerms(query string) []string {
	var out []string
	for _, t := range Terms(query) {
		if !contains(out, t) {
			out = append(out, t)
			if len(out) == MaxQueryTerms {
				break
			}
		}
	}
	return out
}

func contains(ts []string, t string) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// stopwords is PostgreSQL's english.stop (the Snowball list).
var stopwords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`i me my myself we our ours ourselves you your yours yourself yourselves
		he him his himself she her hers herself it its itself they them their theirs themselves what which who
		whom this that these those am is are was were be been being have has had having do does did doing a an
		the and but if or because as until while of at by for with about against between into through during
		before after above below to from up down in out on off over under again further then once here there
		when where why how all any both each few more most other some such no nor not only own same so than too
		very s t can will just don should now`) {
		m[w] = true
	}
	return m
}()
