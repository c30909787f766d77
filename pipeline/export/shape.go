package export

// Dataset shaping: --split, --dedup and --shuffle.
//
// Everything here is deterministic: the same input (in the same order, for
// the streaming deduper) and the same seed give the same result on every run
// and every platform. Nothing depends on map iteration order or on time.

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ---------------------------------------------------------------- hashing

// splitmix64 is the SplitMix64 finaliser. It is a bijection on uint64, so
// distinct inputs give distinct outputs.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// FNV-1a, 64 bits (the same function as hash/fnv's New64a, inlined so that
// hashing a string does not allocate).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv1a(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// Domain constants keep the seeded hashes of the different uses apart, so
// that --seed 1 does not give related orders for shuffling and splitting.
const (
	shuffleDomain = 0x53485546464c45 // "SHUFFLE"
	splitDomain   = 0x53504c4954     // "SPLIT"
	minhashDomain = 0x4d494e48415348 // "MINHASH"
)

// ShuffleKey orders records for --shuffle: splitmix64 of the id XOR a
// constant derived from the seed. For a fixed seed it is a bijection of
// the id, so sorting ids by it gives a permutation without ties.
func ShuffleKey(seed, id int64) uint64 {
	return splitmix64(uint64(id) ^ splitmix64(uint64(seed)^shuffleDomain))
}

// ----------------------------------------------------------------- splits

// SplitSpec is one named share of the dataset.
type SplitSpec struct {
	Name     string // train, valid, test
	Fraction float64
}

// splitNames are the accepted names, in the order ParseSplits returns them.
var splitNames = []string{"train", "valid", "test"}

const splitForm = "train=0.9,valid=0.05,test=0.05"

// ParseSplits reads "train=0.9,valid=0.05,test=0.05": names train, valid and
// test, each at most once, fractions in (0,1] summing to 1 ± 0.001. Spaces
// around entries are allowed. The result is in the canonical order train,
// valid, test whatever the order of the input, so "valid=0.1,train=0.9"
// and "train=0.9,valid=0.1" plan the same split.
func ParseSplits(s string) ([]SplitSpec, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("invalid split %q: %s; expected a form like %q", s, fmt.Sprintf(format, args...), splitForm)
	}
	if strings.TrimSpace(s) == "" {
		return nil, bad("it is empty")
	}
	var frac [3]float64
	var seen [3]bool
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, bad("empty entry (a stray comma?)")
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, bad("entry %q is not name=fraction", part)
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		i := slices.Index(splitNames, name)
		if i < 0 {
			return nil, bad("unknown split name %q (the names are train, valid and test)", name)
		}
		if seen[i] {
			return nil, bad("split %q is given more than once", name)
		}
		seen[i] = true
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, bad("fraction %q of %s is not a number", val, name)
		}
		if f <= 0 || f > 1 {
			return nil, bad("fraction %s of %s must be greater than 0 and at most 1", val, name)
		}
		frac[i] = f
	}
	sum := 0.0
	var out []SplitSpec
	for i, name := range splitNames {
		if seen[i] {
			sum += frac[i]
			out = append(out, SplitSpec{Name: name, Fraction: frac[i]})
		}
	}
	if math.Abs(sum-1) > 0.001 {
		return nil, bad("the fractions sum to %.4g, not 1", sum)
	}
	return out, nil
}

// splitTargets turns fractions into whole sample counts that sum to total
// exactly (largest remainder method; ties go to the earlier spec), so each
// target is floor or ceil of fraction × total. Fractions are normalised by
// their sum; negative or NaN fractions count as 0.
func splitTargets(specs []SplitSpec, total int) []int {
	w := make([]float64, len(specs))
	sum := 0.0
	for i, sp := range specs {
		if sp.Fraction > 0 && !math.IsInf(sp.Fraction, 0) {
			w[i] = sp.Fraction
			sum += sp.Fraction
		}
	}
	targets := make([]int, len(specs))
	if sum == 0 {
		targets[0] = total
		return targets
	}
	rem := make([]float64, len(specs))
	left := total
	for i := range specs {
		exact := w[i] / sum * float64(total)
		fl := math.Floor(exact)
		targets[i], rem[i] = int(fl), exact-fl
		left -= targets[i]
	}
	order := make([]int, len(specs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rem[b], rem[a]) })
	for k := 0; left > 0; k++ {
		targets[order[k%len(order)]]++
		left--
	}
	return targets
}

// PlanSplits assigns every group (a source file, key "repo_id/path") to one
// split; counts holds each group's number of samples.
//
// Groups are ordered by a seeded hash of their key (ties, which need a
// 64-bit collision, by key), so the order does not depend on map order.
// Each split gets a target of whole samples (largest remainder, summing to
// the total). Walking the groups in that order, each goes to the split
// whose target is furthest from being met (ties to the earlier spec).
//
// Guarantee: every split ends within L samples of its target, where L is
// the largest group size; with single-sample groups every split meets its
// target exactly, i.e. is within 1 of round(fraction × total). (A split is
// chosen only while its shortfall is the largest, which is ≥ 0, so no split
// overshoots by more than L; and a split that took a group was then the
// furthest behind, so it stays within L of the furthest behind — as the
// shortfalls sum to 0 at the end, none is left more than L short.)
//
// Same inputs and seed → same result, always. specs should come from
// ParseSplits; with no specs the result is empty.
func PlanSplits(counts map[string]int, specs []SplitSpec, seed int64) map[string]string {
	out := make(map[string]string, len(counts))
	if len(specs) == 0 || len(counts) == 0 {
		return out
	}
	type group struct {
		key string
		n   int
		h   uint64
	}
	salt := splitmix64(uint64(seed) ^ splitDomain)
	groups := make([]group, 0, len(counts))
	total := 0
	for k, n := range counts {
		n = max(n, 0)
		groups = append(groups, group{key: k, n: n, h: splitmix64(fnv1a(k) ^ salt)})
		total += n
	}
	slices.SortFunc(groups, func(a, b group) int {
		if c := cmp.Compare(a.h, b.h); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	short := splitTargets(specs, total) // samples each split still lacks
	for _, g := range groups {
		best := 0
		for i := 1; i < len(short); i++ {
			if short[i] > short[best] {
				best = i
			}
		}
		short[best] -= g.n
		out[g.key] = specs[best].Name
	}
	return out
}

// ------------------------------------------------------------------ dedup

// Near-duplicate parameters.
//
// Each record's normalised words (question words, a boundary token, answer
// words; normalised as for "exact" and split at spaces) are cut into word
// 5-shingles; a text of fewer than 5 tokens (boundary included) is one
// shingle of all its tokens. Words are hashed with FNV-1a and combined into
// shingle hashes with splitmix64; MinHash then takes, for each of
// minhashK = 128 hash functions (a·x+b mod 2^64, high 32 bits, with a and b
// from a fixed splitmix64 sequence), the minimum over the shingles.
//
// Candidates: LSH over the full 32-bit minimums, lshBands = 8 bands of r
// rows. r is the largest number of rows (≤ 16) for which a pair whose
// Jaccard equals the threshold still shares a band with probability ≥ 95%:
// r = 5 for 0.8 (a pair at 0.8 is a candidate with p ≈ 0.96, at 0.9 with
// p ≈ 0.999, at 0.5 with p ≈ 0.22), r = 11 for 0.9, r = 1 for 0.5.
//
// Verification: only the low 4 bits of each minimum are kept ("b-bit
// MinHash", Li & König). Two 4-bit values agree with probability
// P = J + (1−J)/16, so J is estimated as (m/128 − 1/16)/(15/16) from the
// number m of agreeing values: unbiased, standard error ≈ 0.03 at J = 0.9,
// 0.04 at 0.8, 0.047 at 0.5. A record is dropped when its estimate against
// a kept candidate is ≥ the threshold. Measured at threshold 0.8
// (TestDedupNearPrecision): true J ≥ 0.9 always dropped, 0.85–0.9 ≈ 98%,
// 0.8–0.85 ≈ 80%, 0.75–0.8 ≈ 30%, 0.7–0.75 ≈ 3–6%, below 0.7 none.
//
// Memory per kept record: the 128 4-bit values (64 B) and the 8 band keys
// (uint32, 32 B, needed to probe and to rehash), in slabs of 4096 records;
// plus one uint32 slot per band in 8 open-addressed tables kept between 1/2
// and 3/4 full (43–64 B). Measured: 147 B per record at 200,000 and 148 B
// at 1,000,000 (148 MB live). No text is kept. A band key already shared
// by maxBucket kept records takes no more, which bounds the work per record
// on pathological input.
const (
	minhashK  = 128
	sigBytes  = minhashK / 2 // 4 bits per minimum
	lshBands  = 8
	maxBucket = 64 // a band key shared by this many kept records takes no more
	shingleW  = 5
	slabShift = 12 // records are stored in slabs of 4096
)

// Coefficients of the MinHash hash functions, fixed for all runs.
var mhA, mhB = func() (a, b [minhashK]uint64) {
	s := uint64(minhashDomain)
	for i := range a {
		s = splitmix64(s)
		a[i] = s | 1
		s = splitmix64(s)
		b[i] = s
	}
	return a, b
}()

// boundaryToken separates the question's words from the answer's.
var boundaryToken = splitmix64(minhashDomain ^ 0xb0)

// Deduper drops duplicates as records stream past, in a deterministic way:
// the first record seen is kept and later ones that duplicate a kept record
// are dropped (a dropped record is not remembered, so it cannot cause other
// drops). It keeps only hashes, never texts. Not safe for concurrent use.
type Deduper struct {
	mode    string
	dropped int
	buf     []byte
	exact   map[[16]byte]struct{}
	near    *nearIndex
}

// NewDeduper makes a deduper. mode is "off" (or ""), "exact" or "near".
// threshold, the estimated Jaccard similarity in (0,1] at or above which
// "near" drops a record, is checked and used only by "near".
func NewDeduper(mode string, threshold float64) (*Deduper, error) {
	d := &Deduper{mode: mode}
	switch mode {
	case "", "off":
		d.mode = "off"
	case "exact":
		d.exact = map[[16]byte]struct{}{}
	case "near":
		if !(threshold > 0 && threshold <= 1) {
			return nil, fmt.Errorf("near-duplicate threshold %v must be a Jaccard similarity greater than 0 and at most 1 (e.g. 0.8)", threshold)
		}
		d.near = newNearIndex(threshold)
	default:
		return nil, fmt.Errorf("unknown dedup mode %q; want off, exact or near", mode)
	}
	return d, nil
}

// Duplicate reports whether (question, answer) duplicates a record already
// kept; if not, it remembers it.
//
// exact: the first 128 bits of SHA-256 over the normalised question and
// answer (lowercase, whitespace runs collapsed to one space, trimmed), each
// preceded by its length so the boundary between them is unambiguous.
// Memory: 16 B keys in a Go map, 19–39 B per kept record as the map's load
// factor varies (measured 23 B at 200,000, 38 B at 1,000,000).
// near: see the parameters above.
func (d *Deduper) Duplicate(question, answer string) bool {
	var dup bool
	switch d.mode {
	case "exact":
		dup = d.exactDup(question, answer)
	case "near":
		dup = d.near.duplicate(d, question, answer)
	}
	if dup {
		d.dropped++
	}
	return dup
}

// Dropped reports how many records Duplicate rejected.
func (d *Deduper) Dropped() int { return d.dropped }

func (d *Deduper) exactDup(q, a string) bool {
	buf := d.buf[:0]
	for _, s := range [2]string{q, a} {
		at := len(buf)
		buf = append(buf, make([]byte, 8)...)
		buf = normalize(buf, s)
		binary.LittleEndian.PutUint64(buf[at:], uint64(len(buf)-at-8))
	}
	d.buf = buf
	sum := sha256.Sum256(buf)
	key := [16]byte(sum[:16])
	if _, ok := d.exact[key]; ok {
		return true
	}
	d.exact[key] = struct{}{}
	return false
}

// normalize appends s lowercased, with runs of white space collapsed to one
// space and trimmed (strings.Join(strings.Fields(strings.ToLower(s)), " ")
// without the allocations). Invalid UTF-8 bytes are kept as they are.
func normalize(dst []byte, s string) []byte {
	space := false
	start := len(dst)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			if space && len(dst) > start {
				dst = append(dst, ' ')
			}
			space = false
			dst = append(dst, s[i])
			i++
			continue
		}
		i += size
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && len(dst) > start {
			dst = append(dst, ' ')
		}
		space = false
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

// nearRec is what "near" keeps of a record.
type nearRec struct {
	sig  [sigBytes]byte   // low 4 bits of each minimum, two per byte
	keys [lshBands]uint32 // band keys (for probing and for rehashing)
}

// bandTable is an open-addressed (linear probing) set of record ids for one
// band; slots hold id+1, 0 is empty. Positions come from the band key with
// a multiply-shift range reduction, so any table size works.
type bandTable struct {
	slots []uint32
	used  int
}

type nearIndex struct {
	rows     int // rows per band
	minMatch int // agreeing 4-bit values needed to drop
	slabs    [][]nearRec
	n        uint32 // records kept
	tables   [lshBands]bandTable
	toks     []uint64 // scratch
	shingles []uint64 // scratch
}

// lshRows picks the rows per band for a threshold (see the parameters).
func lshRows(t float64) int {
	best := 1
	for r := 1; r*lshBands <= minhashK; r++ {
		if 1-math.Pow(1-math.Pow(t, float64(r)), lshBands) >= 0.95 {
			best = r
		}
	}
	return best
}

// estimateJaccard is the b-bit MinHash estimate from m agreeing 4-bit values
// out of minhashK.
func estimateJaccard(m int) float64 {
	return (float64(m)/minhashK - 1.0/16) / (15.0 / 16)
}

func newNearIndex(threshold float64) *nearIndex {
	ix := &nearIndex{rows: lshRows(threshold), minMatch: minhashK + 1}
	for m := 0; m <= minhashK; m++ {
		if estimateJaccard(m) >= threshold-1e-12 {
			ix.minMatch = m
			break
		}
	}
	return ix
}

func (ix *nearIndex) rec(id uint32) *nearRec {
	return &ix.slabs[id>>slabShift][id&(1<<slabShift-1)]
}

// signature computes the record's MinHash minimums. buf is scratch space
// for the normalised text and is returned for reuse.
func (ix *nearIndex) signature(buf []byte, q, a string, mins *[minhashK]uint32) []byte {
	toks := ix.toks[:0]
	for i, s := range [2]string{q, a} {
		if i == 1 {
			toks = append(toks, boundaryToken)
		}
		buf = normalize(buf[:0], s)
		h := uint64(fnvOffset)
		for j, c := range buf {
			if c != ' ' {
				h ^= uint64(c)
				h *= fnvPrime
			}
			if c == ' ' || j == len(buf)-1 {
				toks = append(toks, h)
				h = fnvOffset
			}
		}
	}
	ix.toks = toks
	ix.shingles = appendShingles(ix.shingles[:0], toks)
	var m [minhashK]uint32
	for i := range m {
		m[i] = math.MaxUint32
	}
	for _, x := range ix.shingles {
		for i := range m {
			if v := uint32((mhA[i]*x + mhB[i]) >> 32); v < m[i] {
				m[i] = v
			}
		}
	}
	*mins = m
	return buf
}

// appendShingles hashes each run of shingleW tokens (or all tokens, when
// there are fewer).
func appendShingles(dst, toks []uint64) []uint64 {
	w := min(shingleW, len(toks))
	for i := 0; i+w <= len(toks); i++ {
		h := uint64(w)
		for _, t := range toks[i : i+w] {
			h = splitmix64(h ^ t)
		}
		dst = append(dst, h)
	}
	return dst
}

// agreeing counts the positions where two 4-bit signatures agree.
func agreeing(a, b *[sigBytes]byte) int {
	n := 0
	for i := 0; i < sigBytes; i += 8 {
		x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
		x |= x >> 1
		x |= x >> 2
		n += 16 - bits.OnesCount64(x&0x1111111111111111)
	}
	return n
}

func (ix *nearIndex) duplicate(d *Deduper, q, a string) bool {
	var mins [minhashK]uint32
	d.buf = ix.signature(d.buf, q, a, &mins)
	var r nearRec
	for i := range r.sig {
		r.sig[i] = byte(mins[2*i]&15) | byte(mins[2*i+1]&15)<<4
	}
	for b := range lshBands {
		h := uint64(b) + 1
		for _, v := range mins[b*ix.rows : (b+1)*ix.rows] {
			h = splitmix64(h ^ uint64(v))
		}
		r.keys[b] = uint32(h >> 32)
	}
	var shared [lshBands]int
	for b := range lshBands {
		t := &ix.tables[b]
		if len(t.slots) == 0 {
			continue
		}
		for p := t.pos(r.keys[b]); t.slots[p] != 0; p = t.next(p) {
			c := ix.rec(t.slots[p] - 1)
			if c.keys[b] != r.keys[b] {
				continue
			}
			shared[b]++
			if agreeing(&r.sig, &c.sig) >= ix.minMatch {
				return true
			}
		}
	}
	// Keep it.
	if ix.n == math.MaxUint32-1 { // slots hold id+1
		panic("export: too many records for the near-duplicate index")
	}
	id := ix.n
	if last := len(ix.slabs) - 1; last < 0 || len(ix.slabs[last]) == 1<<slabShift {
		// The first slab grows by append so a small deduper stays small;
		// later ones are allocated whole.
		capacity := 1 << slabShift
		if last < 0 {
			capacity = 0
		}
		ix.slabs = append(ix.slabs, make([]nearRec, 0, capacity))
	}
	last := len(ix.slabs) - 1
	ix.slabs[last] = append(ix.slabs[last], r)
	ix.n++
	for b := range lshBands {
		if shared[b] < maxBucket {
			ix.insert(b, id)
		}
	}
	return false
}

func (t *bandTable) pos(key uint32) int {
	return int(uint64(key) * uint64(len(t.slots)) >> 32)
}

func (t *bandTable) next(p int) int {
	if p++; p == len(t.slots) {
		return 0
	}
	return p
}

func (t *bandTable) place(key, id uint32) {
	p := t.pos(key)
	for t.slots[p] != 0 {
		p = t.next(p)
	}
	t.slots[p] = id + 1
	t.used++
}

// insert adds id to band b's table, growing it by half when it would be
// more than 3/4 full.
func (ix *nearIndex) insert(b int, id uint32) {
	t := &ix.tables[b]
	if 4*(t.used+1) > 3*len(t.slots) {
		old := t.slots
		*t = bandTable{slots: make([]uint32, max(64, len(old)+len(old)/2))}
		for _, s := range old {
			if s != 0 {
				t.place(ix.rec(s - 1).keys[b], s-1)
			}
		}
	}
	t.place(ix.rec(id).keys[b], id)
}
