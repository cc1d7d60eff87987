package memory

import (
	"context"
	"strings"
	"unicode"
)

// NearDuplicateThreshold is the Similarity from which NearDuplicate may
// take a new text for a restatement of an existing memory (rules-mode
// write-back then supersedes the memory rather than adding a new one). It
// was chosen on the labelled pairs in similar_data_test.go (restatements
// of one fact versus different facts on one topic, including the same
// sentence with another value): see docs/performance.md for the sweep.
const NearDuplicateThreshold = 0.6

// Similarity is how much two texts say the same words in the same order,
// from 0 (nothing shared) to 1 (the same words): the Jaccard index of
// their word shingles — the words that are not stop words, and every pair
// of adjacent words (stop words included, so "on port 6543" and "on port
// 7000" differ). Words are runs of letters and digits, compared ignoring
// case; punctuation and white space do not count. When a text has no
// shingle (no words, or a single stop word) the similarity is 1 if the
// other has none either, else 0.
func Similarity(a, b string) float64 {
	sa, sb := shingles(a), shingles(b)
	if len(sa) == 0 || len(sb) == 0 {
		if len(sa) == len(sb) {
			return 1
		}
		return 0
	}
	inter := 0
	for s := range sa {
		if sb[s] {
			inter++
		}
	}
	return float64(inter) / float64(len(sa)+len(sb)-inter)
}

// NearDuplicate reports whether b restates a: Similarity(a, b) reaches
// NearDuplicateThreshold and the texts do not each hold a content word
// the other lacks. Restating adds or drops words ("for the record", "by
// the way", "please"); a changed fact substitutes one ("port 6543" →
// "port 7000", "Alice" → "Bob"), which no similarity threshold tells
// apart from a restatement with a few extra words. Words are compared
// after a light stemming (plural and -ed/-ing endings), so "reviews" and
// "reviewed" are one word.
func NearDuplicate(a, b string) bool {
	if Similarity(a, b) < NearDuplicateThreshold {
		return false
	}
	wa, wb := contentWords(a), contentWords(b)
	return !(hasExtra(wa, wb) && hasExtra(wb, wa))
}

// hasExtra reports whether a holds a word b does not.
func hasExtra(a, b map[string]bool) bool {
	for w := range a {
		if !b[w] {
			return true
		}
	}
	return false
}

// contentWords are text's words that are not stop words, lightly stemmed.
func contentWords(text string) map[string]bool {
	out := make(map[string]bool)
	for _, w := range words(text) {
		if !shingleStopwords[w] {
			out[stem(w)] = true
		}
	}
	return out
}

// stem strips the commonest English endings from longer words.
func stem(w string) string {
	for _, suf := range []string{"ing", "ed", "es", "s"} {
		if len(w) > len(suf)+3 && strings.HasSuffix(w, suf) {
			return strings.TrimSuffix(w, suf)
		}
	}
	return w
}

// words are text's runs of letters and digits, lower-cased.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
}

// shingles are the content words and adjacent word pairs of text.
func shingles(text string) map[string]bool {
	words := words(text)
	out := make(map[string]bool, 2*len(words))
	for i, w := range words {
		if !shingleStopwords[w] {
			out[w] = true
		}
		if i > 0 {
			out[words[i-1]+" "+w] = true
		}
	}
	return out
}

// shingleStopwords are words too common to count alone.
var shingleStopwords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`a an the and or but if of at by for with to from in on into onto is are was were be
		been being it its this that these those we our us i me my you your he she they them their do does did so as
		please just also then than there here now very really`) {
		m[w] = true
	}
	return m
}()

// nearCandidates is how many search results NearestDuplicate compares.
const nearCandidates = 5

// NearestDuplicate looks in s for an active memory that text restates
// (NearDuplicate of its content), among the best few Search results for
// text, and returns the most similar; ok is false when there is none. Rules
// mode calls it before adding a turn's text, and supersedes the memory it
// finds instead of adding a second one.
func NearestDuplicate(ctx context.Context, b Backend, s Scope, text string) (m Memory, ok bool, err error) {
	ms, err := b.Search(ctx, s, text, nearCandidates)
	if err != nil {
		return Memory{}, false, err
	}
	best := -1.0
	for _, c := range ms {
		if c.Status == StatusSuperseded || !NearDuplicate(c.Content, text) {
			continue
		}
		if sim := Similarity(c.Content, text); sim > best {
			m, best, ok = c, sim, true
		}
	}
	return m, ok, nil
}
