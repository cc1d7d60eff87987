// Package lexical is the in-process full-text index of one scope's active
// memories, which the SQL stores search instead of their database's
// full-text search: postings with term frequencies, ranked by BM25 over
// the scope's own statistics, the best few kept in a bounded heap. Both
// stores analyse text alike (terms.go), so they rank alike.
//
// A scope's index is built from the database on its first search, kept in
// step with the writes of the process that holds it, and rebuilt when the
// scope's text version (kept by triggers in the database, so writes of
// another replica count too) moves otherwise; see Cache.
package lexical

import (
	"math"
	"slices"
	"sync"
)

// BM25 parameters: Robertson's usual values, as SQLite FTS5 and Lucene
// use. The score is FTS5's bm25() with one column: the memory's content
// and keys count as one text, as FTS5 sums a term's hits over columns.
const (
	k1 = 1.2
	b  = 0.75
)

// Hit is one search result: a memory id and its BM25 score (higher is
// better).
type Hit struct {
	ID    string
	Score float64
}

// Index is one scope's postings. Safe for concurrent use: searches share a
// read lock, changes take the write lock.
type Index struct {
	mu sync.RWMutex

	// Per document, by position (the order of Add).
	ids    []string
	orders []int64  // the store's recency key: newer is larger
	lens   []uint32 // indexed terms, repeats counted
	live   []bool
	terms  [][]uint32 // distinct term numbers, to undo df on Remove

	byID  map[string]uint32
	dict  map[string]uint32 // term → term number
	posts []posting         // by term number

	nLive    int
	totalLen int64
	dead     int
	bytes    int64

	nums []uint32 // add's scratch
}

// posting lists the documents holding one term, in Add order, with the
// term's count in each; df counts the live ones.
type posting struct {
	docs []uint32
	tfs  []uint16
	df   int32
}

// New returns an empty index.
func New() *Index {
	return &Index{byID: map[string]uint32{}, dict: map[string]uint32{}}
}

// Per-item overheads in the byte estimate (slice headers, map entries).
const (
	docOverhead  = 16 + 8 + 4 + 1 + 24 + 16 + 4 + 48 // id header, order, len, live, terms header, byID entry
	termOverhead = 16 + 4 + 48 + 48 + 4              // dict key header and value, posting slices, df
	postingBytes = 4 + 2 + 4                         // doc, tf, the document's term number
)

// Add indexes a memory's text (its content and hidden keys) under id;
// order is the store's recency key (ties rank the larger first). Adding
// an id already live does nothing.
func (ix *Index) Add(id string, order int64, text string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.add(id, order, Terms(text))
}

// add indexes a document's terms; the caller holds the write lock.
func (ix *Index) add(id string, order int64, terms []string) {
	if _, ok := ix.byID[id]; ok {
		return
	}
	d := uint32(len(ix.ids))
	// The document's term numbers, sorted: each run is one term and its
	// count (cheaper than a map per document when building 10k).
	nums := ix.nums[:0]
	for _, t := range terms {
		n, ok := ix.dict[t]
		if !ok {
			n = uint32(len(ix.posts))
			ix.dict[t] = n
			ix.posts = append(ix.posts, posting{})
			ix.bytes += int64(len(t) + termOverhead)
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	ix.nums = nums
	var distinct []uint32
	for i := 0; i < len(nums); {
		j := i + 1
		for j < len(nums) && nums[j] == nums[i] {
			j++
		}
		n := nums[i]
		distinct = append(distinct, n)
		p := &ix.posts[n]
		p.docs = append(p.docs, d)
		p.tfs = append(p.tfs, uint16(min(j-i, math.MaxUint16)))
		p.df++
		i = j
	}
	ix.ids = append(ix.ids, id)
	ix.orders = append(ix.orders, order)
	ix.lens = append(ix.lens, uint32(len(terms)))
	ix.live = append(ix.live, true)
	ix.terms = append(ix.terms, distinct)
	ix.byID[id] = d
	ix.nLive++
	ix.totalLen += int64(len(terms))
	ix.bytes += int64(len(id)*2+docOverhead) + int64(len(distinct))*postingBytes
}

// Remove takes the memory id out of the index (superseded or deleted);
// an id not in it is ignored. Its postings stay, skipped, until the index
// is rebuilt (see Sparse).
func (ix *Index) Remove(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.remove(id)
}

// remove is Remove with the write lock held.
func (ix *Index) remove(id string) {
	d, ok := ix.byID[id]
	if !ok {
		return
	}
	delete(ix.byID, id)
	ix.live[d] = false
	for _, n := range ix.terms[d] {
		ix.posts[n].df--
	}
	ix.terms[d] = nil
	ix.nLive--
	ix.totalLen -= int64(ix.lens[d])
	ix.dead++
}

// Has reports whether the memory id is in the index.
func (ix *Index) Has(id string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.byID[id]
	return ok
}

// apply makes the index hold exactly the snapshot's live memories.
func (ix *Index) apply(snap Snapshot) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var gone []string
	for id := range ix.byID {
		if !snap.Live[id] {
			gone = append(gone, id)
		}
	}
	for _, id := range gone {
		ix.remove(id)
	}
	for _, d := range snap.Missing {
		ix.add(d.ID, d.Order, Terms(d.Text))
	}
}

// Len returns the number of live memories.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.nLive
}

// Bytes estimates the memory the index holds.
func (ix *Index) Bytes() int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.bytes
}

// Sparse reports whether removed memories make up more than a quarter of
// the index (at least 256 of them), so that a rebuild is worth it.
func (ix *Index) Sparse() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.dead >= 256 && ix.dead*4 > len(ix.ids)
}

// scratch is a search's per-document score array, reused between
// searches (zeroed where it was written before it goes back).
type scratch struct {
	acc     []float32
	touched []uint32
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// Search returns up to limit live memories matching any of terms (as
// QueryTerms gives them), by BM25 best first, ties newest first. Every
// matching memory is scored (term at a time into a dense array: at 10k
// memories a scope this costs tens of microseconds, so no pruning is
// needed; see docs/performance.md), and a heap of limit keeps the best.
func (ix *Index) Search(terms []string, limit int) []Hit {
	if limit <= 0 || len(terms) == 0 {
		return nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.nLive == 0 {
		return nil
	}
	sc := scratches.Get().(*scratch)
	defer scratches.Put(sc)
	if cap(sc.acc) < len(ix.ids) {
		sc.acc = make([]float32, len(ix.ids))
	}
	acc := sc.acc[:len(ix.ids)]
	touched := sc.touched[:0]
	n := float64(ix.nLive)
	avg := float64(ix.totalLen) / n
	if avg == 0 {
		avg = 1
	}
	// norm[len] = k1·(1 − b + b·len/avg), computed per document below.
	kb, ka := k1*(1-b), k1*b/avg
	for _, t := range terms {
		num, ok := ix.dict[t]
		if !ok {
			continue
		}
		p := &ix.posts[num]
		if p.df <= 0 {
			continue
		}
		df := float64(p.df)
		// FTS5's BM25 idf, floored as FTS5 floors it (a term in more
		// than half of the scope counts almost nothing). Lucene's
		// log(1 + …), always positive, ranked slightly worse on the
		// quality sets (docs/performance.md).
		idf := max(math.Log((n-df+0.5)/(df+0.5)), 1e-6)
		w := float32(idf * (k1 + 1))
		for j, d := range p.docs {
			tf := float32(p.tfs[j])
			s := w * tf / (tf + float32(kb+ka*float64(ix.lens[d])))
			if acc[d] == 0 {
				touched = append(touched, d)
			}
			acc[d] += s
		}
	}
	h := topK{limit: limit, ix: ix}
	for _, d := range touched {
		if ix.live[d] {
			h.offer(d, acc[d])
		}
		acc[d] = 0
	}
	sc.touched = touched
	return h.hits()
}
