package pipeline

import (
	"context"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"unicode"

	"cicdllm/store"
)

// questionDedup drops a new question that is too similar to one already
// stored for the same repository, before an answer is paid for. Questions
// are short, so similarity is the Jaccard index of their word-bigram sets
// (5-word shingles, right for whole answers, would miss "What does X do
// if…" against "What does X do when…"); an inverted index from bigram to
// question finds the only candidates worth comparing, so a check costs a
// few map lookups, not a pass over every question. One index per
// repository, seeded from the database on first use with its active and
// pending questions (stale ones belong to old file versions).
type questionDedup struct {
	threshold float64
	st        *store.Store

	mu    sync.Mutex
	repos map[int64]*bigramIndex
}

func newQuestionDedup(threshold float64, st *store.Store) *questionDedup {
	if threshold <= 0 {
		return nil
	}
	return &questionDedup{threshold: threshold, st: st, repos: map[int64]*bigramIndex{}}
}

// keep returns the questions that are not near-duplicates (of stored
// questions or of each other), remembering them, and how many it dropped.
func (q *questionDedup) keep(ctx context.Context, repoID int64, questions []string) ([]string, int, error) {
	if q == nil {
		return questions, 0, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	ix, err := q.index(ctx, repoID)
	if err != nil {
		return nil, 0, err
	}
	kept := questions[:0:0]
	for _, text := range questions {
		if !ix.addUnlessSimilar(text, q.threshold) {
			kept = append(kept, text)
		}
	}
	return kept, len(questions) - len(kept), nil
}

func (q *questionDedup) index(ctx context.Context, repoID int64) (*bigramIndex, error) {
	if ix := q.repos[repoID]; ix != nil {
		return ix, nil
	}
	ix := &bigramIndex{postings: map[uint64][]int32{}}
	sq := store.SampleQuery{RepoID: repoID, Statuses: []string{store.StatusActive, store.StatusPending}, Limit: store.MaxPageSize}
	for {
		page, err := q.st.ListSamples(ctx, sq)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Samples {
			ix.add(bigrams(s.Question))
		}
		if page.Next == 0 {
			break
		}
		sq.After = page.Next
	}
	q.repos[repoID] = ix
	return ix, nil
}

// bigramIndex holds the bigram sets of the questions seen.
type bigramIndex struct {
	sizes    []int
	postings map[uint64][]int32 // bigram → questions containing it
}

func (ix *bigramIndex) add(set []uint64) {
	id := int32(len(ix.sizes))
	ix.sizes = append(ix.sizes, len(set))
	for _, b := range set {
		ix.postings[b] = append(ix.postings[b], id)
	}
}

// addUnlessSimilar reports whether text is at least threshold similar to
// a question seen; if not, it remembers text.
func (ix *bigramIndex) addUnlessSimilar(text string, threshold float64) bool {
	set := bigrams(text)
	if len(set) == 0 {
		return false
	}
	shared := map[int32]int{}
	for _, b := range set {
		for _, id := range ix.postings[b] {
			shared[id]++
		}
	}
	for id, n := range shared {
		if float64(n)/float64(len(set)+ix.sizes[id]-n) >= threshold {
			return true
		}
	}
	ix.add(set)
	return false
}

// bigrams is the set of hashed word pairs of text, lower-cased, with
// punctuation and backticks ignored (a one-word text is its word).
func bigrams(text string) []uint64 {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
	})
	if len(words) == 1 {
		words = append(words, "")
	}
	set := make([]uint64, 0, len(words))
	h := fnv.New64a()
	for i := 0; i+1 < len(words); i++ {
		h.Reset()
		h.Write([]byte(words[i]))
		h.Write([]byte{0})
		h.Write([]byte(words[i+1]))
		set = append(set, h.Sum64())
	}
	slices.Sort(set)
	return slices.Compact(set)
}
