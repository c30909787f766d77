package export

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ----------------------------------------------------------------- splits

func TestParseSplitsGood(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []SplitSpec
	}{
		{"train=0.9,valid=0.05,test=0.05", []SplitSpec{{"train", 0.9}, {"valid", 0.05}, {"test", 0.05}}},
		{" test = 0.05 , train=0.9,valid=0.05 ", []SplitSpec{{"train", 0.9}, {"valid", 0.05}, {"test", 0.05}}},
		{"train=1", []SplitSpec{{"train", 1}}},
		{"train=0.8,test=0.2", []SplitSpec{{"train", 0.8}, {"test", 0.2}}},
		{"valid=0.5,train=0.5", []SplitSpec{{"train", 0.5}, {"valid", 0.5}}},
		{"train=0.9,valid=0.05,test=0.0509", []SplitSpec{{"train", 0.9}, {"valid", 0.05}, {"test", 0.0509}}}, // sum 1.0009
		{"train=.7,valid=.2,test=.1", []SplitSpec{{"train", 0.7}, {"valid", 0.2}, {"test", 0.1}}},
	} {
		got, err := ParseSplits(tc.in)
		if err != nil {
			t.Errorf("ParseSplits(%q): %v", tc.in, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ParseSplits(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseSplitsBad(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"", "it is empty"},
		{"   ", "it is empty"},
		{"garbage", `entry "garbage" is not name=fraction`},
		{"train:0.9,test:0.1", `entry "train:0.9" is not name=fraction`},
		{"train=0.9,dev=0.1", `unknown split name "dev" (the names are train, valid and test)`},
		{"Train=1", `unknown split name "Train"`},
		{"train=0.5,train=0.5", `split "train" is given more than once`},
		{"train=-0.1,valid=0.6,test=0.5", "fraction -0.1 of train must be greater than 0 and at most 1"},
		{"train=0,valid=0.5,test=0.5", "fraction 0 of train must be greater than 0 and at most 1"},
		{"train=1.5", "fraction 1.5 of train must be greater than 0 and at most 1"},
		{"train=0.9,valid=0.05", "the fractions sum to 0.95, not 1"},
		{"train=0.9,valid=0.1,test=0.1", "the fractions sum to 1.1, not 1"},
		{"train=0.9,valid=0.05,test=0.052", "the fractions sum to 1.002, not 1"},
		{"train=abc", `fraction "abc" of train is not a number`},
		{"train=", `fraction "" of train is not a number`},
		{"train=NaN", `fraction "NaN" of train is not a number`},
		{"train=inf", `fraction "inf" of train is not a number`},
		{"train=0.9,,test=0.1", "empty entry (a stray comma?)"},
		{"train=1,", "empty entry (a stray comma?)"},
	} {
		got, err := ParseSplits(tc.in)
		if err == nil {
			t.Errorf("ParseSplits(%q) = %v, want an error", tc.in, got)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.msg) {
			t.Errorf("ParseSplits(%q) error %q does not say %q", tc.in, msg, tc.msg)
		}
		if !strings.Contains(msg, `expected a form like "train=0.9,valid=0.05,test=0.05"`) {
			t.Errorf("ParseSplits(%q) error %q does not show the expected form", tc.in, msg)
		}
		if !strings.Contains(msg, fmt.Sprintf("%q", tc.in)) {
			t.Errorf("ParseSplits(%q) error %q does not quote the input", tc.in, msg)
		}
	}
}

func mustSplits(t *testing.T, s string) []SplitSpec {
	t.Helper()
	specs, err := ParseSplits(s)
	if err != nil {
		t.Fatal(err)
	}
	return specs
}

// splitTotals sums the samples per split and checks that every group has a
// known split.
func splitTotals(t *testing.T, counts map[string]int, plan map[string]string, specs []SplitSpec) map[string]int {
	t.Helper()
	if len(plan) != len(counts) {
		t.Fatalf("plan has %d groups, want %d", len(plan), len(counts))
	}
	totals := map[string]int{}
	for k, n := range counts {
		split, ok := plan[k]
		if !ok {
			t.Fatalf("group %q has no split", k)
		}
		if !slices.ContainsFunc(specs, func(s SplitSpec) bool { return s.Name == split }) {
			t.Fatalf("group %q is in unknown split %q", k, split)
		}
		totals[split] += n
	}
	return totals
}

func singleSampleGroups(n int) map[string]int {
	counts := map[string]int{}
	for i := range n {
		counts[fmt.Sprintf("%d/src/file%04d.go", i%7+1, i)] = 1
	}
	return counts
}

func TestSplitPlanSingleSampleGroups(t *testing.T) {
	specs := mustSplits(t, "train=0.9,valid=0.05,test=0.05")
	for seed := int64(0); seed < 20; seed++ {
		counts := singleSampleGroups(1000)
		totals := splitTotals(t, counts, PlanSplits(counts, specs, seed), specs)
		for name, want := range map[string]int{"train": 900, "valid": 50, "test": 50} {
			if d := totals[name] - want; d < -1 || d > 1 {
				t.Errorf("seed %d: %s has %d samples, want %d ± 1", seed, name, totals[name], want)
			}
		}
	}
	// Fractions that do not divide the total evenly.
	specs = mustSplits(t, "train=0.7,valid=0.2,test=0.1")
	for _, n := range []int{1, 2, 3, 7, 10, 11, 999, 1001} {
		counts := singleSampleGroups(n)
		totals := splitTotals(t, counts, PlanSplits(counts, specs, 1), specs)
		for _, sp := range specs {
			if d := float64(totals[sp.Name]) - math.Round(sp.Fraction*float64(n)); math.Abs(d) > 1 {
				t.Errorf("n=%d: %s has %d samples, want %.0f ± 1", n, sp.Name, totals[sp.Name], math.Round(sp.Fraction*float64(n)))
			}
		}
	}
}

// planFingerprint is an order-independent digest of a plan.
func planFingerprint(plan map[string]string) uint64 {
	keys := make([]string, 0, len(plan))
	for k := range plan {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := fnv.New64a()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, plan[k])
	}
	return h.Sum64()
}

func TestSplitPlanStable(t *testing.T) {
	specs := mustSplits(t, "train=0.9,valid=0.05,test=0.05")
	keys := make([]string, 0, 1000)
	for k := range singleSampleGroups(1000) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	build := func(order []string) map[string]int {
		m := map[string]int{}
		for i, k := range order {
			m[k] = 1 + i%3
		}
		return m
	}
	// The same groups and counts, inserted in three different orders.
	counts := build(keys)
	rev := slices.Clone(keys)
	slices.Reverse(rev)
	m2 := map[string]int{}
	for _, k := range rev {
		m2[k] = counts[k]
	}
	shuffled := slices.Clone(keys)
	rand.New(rand.NewPCG(7, 7)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	m3 := map[string]int{}
	for _, k := range shuffled {
		m3[k] = counts[k]
	}
	a := PlanSplits(counts, specs, 42)
	for i, m := range []map[string]int{counts, m2, m3, counts} {
		b := PlanSplits(m, specs, 42)
		for k, s := range a {
			if b[k] != s {
				t.Fatalf("call %d: group %q went to %s, first call put it in %s", i, k, b[k], s)
			}
		}
	}
	// Stable across runs and versions: a change here changes every user's
	// splits, so it must be deliberate.
	const golden = 0x124d54e4a71c34ce
	if got := planFingerprint(a); got != golden {
		t.Errorf("plan fingerprint = %#x, want %#x (the split assignment changed)", got, uint64(golden))
	}
}

func TestSplitPlanSeedChanges(t *testing.T) {
	specs := mustSplits(t, "train=0.9,valid=0.05,test=0.05")
	counts := singleSampleGroups(1000)
	a := PlanSplits(counts, specs, 1)
	for _, seed := range []int64{2, -1, 1 << 40} {
		b := PlanSplits(counts, specs, seed)
		moved := 0
		for k := range a {
			if a[k] != b[k] {
				moved++
			}
		}
		// Two independent draws of 100 non-train groups out of 1000 share
		// about 10; anything near 0 moved means the seed is ignored.
		if moved < 50 {
			t.Errorf("seed 1 vs %d: only %d groups changed split", seed, moved)
		}
	}
}

func TestSplitPlanGroupSizes(t *testing.T) {
	for _, form := range []string{"train=0.9,valid=0.05,test=0.05", "train=0.8,valid=0.1,test=0.1", "train=0.5,test=0.5", "valid=0.34,test=0.33,train=0.33"} {
		specs := mustSplits(t, form)
		for seed := int64(0); seed < 30; seed++ {
			rng := rand.New(rand.NewPCG(uint64(seed), 99))
			counts := map[string]int{}
			total, largest := 0, 0
			for i := range 50 + int(seed)*20 {
				n := 1 + rng.IntN(20)
				counts[fmt.Sprintf("%d/pkg/f%d.py", seed, i)] = n
				total += n
				largest = max(largest, n)
			}
			plan := PlanSplits(counts, specs, seed)
			totals := splitTotals(t, counts, plan, specs)
			for _, sp := range specs {
				target := math.Round(sp.Fraction * float64(total))
				if d := math.Abs(float64(totals[sp.Name]) - target); d > float64(largest) {
					t.Errorf("%s seed %d: %s has %d of %d samples, want %.0f ± %d", form, seed, sp.Name, totals[sp.Name], total, target, largest)
				}
			}
			// Samples never straddle splits: expand to samples and check
			// each file's samples share one split.
			bySplit := map[string]map[string]bool{}
			for k, n := range counts {
				for range n {
					if bySplit[k] == nil {
						bySplit[k] = map[string]bool{}
					}
					bySplit[k][plan[k]] = true
				}
			}
			for k, s := range bySplit {
				if len(s) != 1 {
					t.Errorf("file %q is in %d splits", k, len(s))
				}
			}
		}
	}
}

func TestSplitPlanOneSplit(t *testing.T) {
	specs := mustSplits(t, "train=1")
	counts := map[string]int{"1/a.go": 3, "1/b.go": 1, "2/c.go": 20, "2/empty.go": 0}
	plan := PlanSplits(counts, specs, 5)
	for k := range counts {
		if plan[k] != "train" {
			t.Errorf("%s went to %q, want train", k, plan[k])
		}
	}
	if got := PlanSplits(map[string]int{}, specs, 5); len(got) != 0 {
		t.Errorf("no groups gave %v", got)
	}
}

func TestSplitTargets(t *testing.T) {
	specs := mustSplits(t, "train=0.9,valid=0.05,test=0.05")
	for n := 0; n < 500; n++ {
		got := splitTargets(specs, n)
		sum := 0
		for i, g := range got {
			sum += g
			if exact := specs[i].Fraction * float64(n); math.Abs(float64(g)-exact) >= 1 {
				t.Fatalf("n=%d: %s target %d, exact %.3f", n, specs[i].Name, g, exact)
			}
		}
		if sum != n {
			t.Fatalf("n=%d: targets %v sum to %d", n, got, sum)
		}
	}
}

// ---------------------------------------------------------------- shuffle

func TestShuffleKey(t *testing.T) {
	perm := func(seed int64) []int64 {
		ids := make([]int64, 10000)
		for i := range ids {
			ids[i] = int64(i + 1)
		}
		slices.SortFunc(ids, func(a, b int64) int {
			ka, kb := ShuffleKey(seed, a), ShuffleKey(seed, b)
			if ka == kb {
				t.Fatalf("seed %d: ids %d and %d tie", seed, a, b)
			}
			if ka < kb {
				return -1
			}
			return 1
		})
		return ids
	}
	a, a2, b := perm(42), perm(42), perm(43)
	if !slices.Equal(a, a2) {
		t.Fatal("the same seed gave two permutations")
	}
	if sorted := slices.Sorted(slices.Values(a)); sorted[0] != 1 || sorted[len(sorted)-1] != 10000 || len(slices.Compact(sorted)) != 10000 {
		t.Fatal("not a permutation of the ids")
	}
	same, inPlace := 0, 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
		if a[i] == int64(i+1) {
			inPlace++
		}
	}
	if same > 10 {
		t.Errorf("seeds 42 and 43 agree on %d of 10000 positions", same)
	}
	if inPlace > 10 {
		t.Errorf("seed 42 leaves %d of 10000 ids in place", inPlace)
	}
	// Stable across runs and versions.
	if got := ShuffleKey(42, 1); got != 0x922799ce1bf6bc22 {
		t.Errorf("ShuffleKey(42, 1) = %#x (the shuffle order changed)", got)
	}
}

// ------------------------------------------------------------------ dedup

func TestDedupModes(t *testing.T) {
	for _, tc := range []struct {
		mode string
		th   float64
		err  string
	}{
		{"off", 0, ""},
		{"", 0, ""},
		{"exact", 0, ""},
		{"near", 0.8, ""},
		{"near", 1, ""},
		{"near", 0, "greater than 0 and at most 1"},
		{"near", -0.5, "greater than 0 and at most 1"},
		{"near", 1.01, "greater than 0 and at most 1"},
		{"near", math.NaN(), "greater than 0 and at most 1"},
		{"fuzzy", 0.8, `unknown dedup mode "fuzzy"; want off, exact or near`},
		{"Exact", 0.8, `unknown dedup mode "Exact"`},
	} {
		d, err := NewDeduper(tc.mode, tc.th)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("NewDeduper(%q, %v): %v", tc.mode, tc.th, err)
		case tc.err != "" && err == nil:
			t.Errorf("NewDeduper(%q, %v) gave no error", tc.mode, tc.th)
		case tc.err != "" && !strings.Contains(err.Error(), tc.err):
			t.Errorf("NewDeduper(%q, %v) error %q does not say %q", tc.mode, tc.th, err, tc.err)
		}
		if err == nil && (tc.mode == "off" || tc.mode == "") {
			for range 3 {
				if d.Duplicate("q", "a") {
					t.Errorf("mode %q dropped a record", tc.mode)
				}
			}
		}
	}
}

func TestDedupExact(t *testing.T) {
	d, err := NewDeduper("exact", 0)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		q, a string
		dup  bool
	}{
		{"What does Parse do?", "It reads the config file.", false},
		{"What does Parse do?", "It reads the config file.", true},         // identical
		{"  what does  PARSE do?\n", "It  reads\tthe config file. ", true}, // case and white space
		{"What does Parse do?", "It reads the config file!", false},        // punctuation differs
		{"What does Parse do?", "It writes the config file.", false},       // one word differs
		{"What does Parse", "do? It reads the config file.", false},        // same words, other boundary
		{"ab", "c", false},
		{"a", "bc", false},     // the question/answer boundary counts
		{"ab\x00", "c", false}, // even with NUL bytes in the text
		{"ab", "\x00c", false},
		{"", "", false},   // empty is a record too
		{" ", "\n", true}, // and white space is empty
		{"Ünïcode ÄND CASE?", "ΣΊΣΥΦΟΣ", false},                                       //
		{"ünïcode änd case?", "σίσυφος", false},                                       // final sigma lowercases to σ, not ς
		{"ünïcode änd case?", "σίσυφοσ", true},                                        // ToLower per rune
		{"bad \xff utf8", "x", false},                                                 //
		{"bad \xfe utf8", "x", false},                                                 // invalid bytes are kept, not merged
		{"BAD \xff  UTF8", "X", true},                                                 //
		{"What does Parse do?", "It reads the config file.\u00a0\u2003", true},        // unicode spaces
		{"Another question entirely", "With another answer that is also long", false}, //
	}
	wantDropped := 0
	for i, s := range steps {
		if got := d.Duplicate(s.q, s.a); got != s.dup {
			t.Errorf("step %d Duplicate(%q, %q) = %v, want %v", i, s.q, s.a, got, s.dup)
		}
		if s.dup {
			wantDropped++
		}
	}
	if d.Dropped() != wantDropped {
		t.Errorf("Dropped() = %d, want %d", d.Dropped(), wantDropped)
	}
}

func TestDedupNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "",
		"   ":                 "",
		"A":                   "a",
		"  Hello,\t\n WORLD ": "hello, world",
		"a\u00a0b":            "a b",
		"x\xffY":              "x\xffy",
		" \xff ":              "\xff",
	} {
		if got := string(normalize(nil, in)); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
		if valid := strings.ToValidUTF8(in, "") == in; valid {
			if ref := strings.Join(strings.Fields(strings.ToLower(in)), " "); ref != want {
				t.Errorf("reference normalisation of %q = %q, want %q", in, ref, want)
			}
		}
	}
}

// words makes n pseudo-words from rng.
func words(rng *rand.Rand, n int) []string {
	w := make([]string, n)
	for i := range w {
		w[i] = fmt.Sprintf("w%d", rng.IntN(5000))
	}
	return w
}

// trueJaccard is the Jaccard similarity of the word 5-shingle sets, computed
// on the strings, independently of the hashing in shape.go.
func trueJaccard(q1, a1, q2, a2 string) float64 {
	set := func(q, a string) map[string]bool {
		toks := append(strings.Fields(strings.ToLower(q)), "\x00")
		toks = append(toks, strings.Fields(strings.ToLower(a))...)
		w := min(5, len(toks))
		s := map[string]bool{}
		for i := 0; i+w <= len(toks); i++ {
			s[strings.Join(toks[i:i+w], " ")] = true
		}
		return s
	}
	s1, s2 := set(q1, a1), set(q2, a2)
	inter := 0
	for k := range s1 {
		if s2[k] {
			inter++
		}
	}
	return float64(inter) / float64(len(s1)+len(s2)-inter)
}

// estJaccard is the deduper's estimate for a pair.
func estJaccard(q1, a1, q2, a2 string) float64 {
	ix := newNearIndex(0.8)
	sig := func(q, a string) *[sigBytes]byte {
		var mins [minhashK]uint32
		ix.signature(nil, q, a, &mins)
		var s [sigBytes]byte
		for i := range s {
			s[i] = byte(mins[2*i]&15) | byte(mins[2*i+1]&15)<<4
		}
		return &s
	}
	return estimateJaccard(agreeing(sig(q1, a1), sig(q2, a2)))
}

type pair struct {
	name   string
	q, a   string
	q2, a2 string
	below  float64 // distinct pairs: the true Jaccard is under this
}

// nearPairs plants paraphrases (true Jaccard ≥ 0.9) and different texts
// (true Jaccard < 0.5, and one related pair < 0.7) around a 60-word answer.
func nearPairs(rng *rand.Rand) (dups, distinct []pair) {
	q := strings.Join(words(rng, 10), " ")
	aw := words(rng, 60)
	a := strings.Join(aw, " ")
	with := func(f func(w []string) []string) string { return strings.Join(f(slices.Clone(aw)), " ") }
	dups = []pair{
		{name: "identical", q: q, a: a, q2: q, a2: a},
		{name: "case and spacing", q: q, a: a, q2: strings.ToUpper(q), a2: "  " + strings.ReplaceAll(a, " ", "\n ")},
		{name: "last word changed", q: q, a: a, q2: q, a2: with(func(w []string) []string { w[59] = "changed"; return w })},
		{name: "word 57 changed", q: q, a: a, q2: q, a2: with(func(w []string) []string { w[57] = "changed"; return w })},
		{name: "last 2 words changed", q: q, a: a, q2: q, a2: with(func(w []string) []string { w[58], w[59] = "x1", "x2"; return w })},
		{name: "2 adjacent words changed near the end", q: q, a: a, q2: q, a2: with(func(w []string) []string { w[57], w[58] = "x1", "x2"; return w })},
		{name: "one word appended", q: q, a: a, q2: q, a2: a + " indeed"},
		{name: "last word dropped", q: q, a: a, q2: q, a2: with(func(w []string) []string { return w[:59] })},
	}
	long := strings.Join(words(rng, 120), " ")
	lw := strings.Fields(long)
	lw[60] = "changed"
	dups = append(dups, pair{name: "1 word changed mid 120-word answer", q: q, a: long, q2: q, a2: strings.Join(lw, " ")})
	distinct = []pair{
		{name: "unrelated", q: q, a: a, q2: strings.Join(words(rng, 10), " "), a2: strings.Join(words(rng, 60), " ")},
		{name: "same question, other answer", q: q, a: a, q2: q, a2: strings.Join(words(rng, 60), " ")},
		{name: "half the answer replaced", q: q, a: a, q2: q, a2: strings.Join(append(slices.Clone(aw[:30]), words(rng, 30)...), " ")},
		{name: "every 8th word changed", q: q, a: a, q2: q, a2: with(func(w []string) []string {
			for i := 3; i < len(w); i += 8 {
				w[i] = "changed"
			}
			return w
		})},
		{name: "other question, same answer reordered", q: q, a: a, q2: strings.Join(words(rng, 10), " "), a2: strings.Join(append(slices.Clone(aw[30:]), aw[:30]...), " "), below: 0.7},
	}
	for i := range distinct {
		if distinct[i].below == 0 {
			distinct[i].below = 0.5
		}
	}
	return dups, distinct
}

func TestDedupNear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		dups, distinct := nearPairs(rng)
		for _, p := range dups {
			tj, ej := trueJaccard(p.q, p.a, p.q2, p.a2), estJaccard(p.q, p.a, p.q2, p.a2)
			if round == 0 {
				t.Logf("planted duplicate %-50q true J %.3f, estimated %.3f", p.name, tj, ej)
			}
			if tj < 0.9 {
				t.Fatalf("round %d %s: true Jaccard %.3f; the planted duplicate is too far", round, p.name, tj)
			}
			d, _ := NewDeduper("near", 0.8)
			if d.Duplicate(p.q, p.a) {
				t.Fatalf("round %d %s: the first record was dropped", round, p.name)
			}
			if !d.Duplicate(p.q2, p.a2) {
				t.Errorf("round %d %s (true J %.3f, est %.3f): the near duplicate was kept", round, p.name, tj, ej)
			}
		}
		for _, p := range distinct {
			tj, ej := trueJaccard(p.q, p.a, p.q2, p.a2), estJaccard(p.q, p.a, p.q2, p.a2)
			if round == 0 {
				t.Logf("distinct pair     %-50q true J %.3f, estimated %.3f", p.name, tj, ej)
			}
			if tj >= p.below {
				t.Fatalf("round %d %s: true Jaccard %.3f; the distinct pair is too close", round, p.name, tj)
			}
			d, _ := NewDeduper("near", 0.8)
			if d.Duplicate(p.q, p.a) || d.Duplicate(p.q2, p.a2) {
				t.Errorf("round %d %s (true J %.3f, est %.3f): a distinct record was dropped", round, p.name, tj, ej)
			}
		}
	}
}

// TestDedupNearEstimate checks the MinHash estimate against the true
// Jaccard over pairs spread from 0 to 1.
func TestDedupNearEstimate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var sumErr, maxErr float64
	n := 0
	for changed := 0; changed <= 40; changed += 2 {
		for range 5 {
			aw := words(rng, 80)
			bw := slices.Clone(aw)
			for _, i := range rng.Perm(80)[:changed] {
				bw[i] = fmt.Sprintf("x%d", rng.IntN(1000))
			}
			a, b := strings.Join(aw, " "), strings.Join(bw, " ")
			tj, ej := trueJaccard("q", a, "q", b), estJaccard("q", a, "q", b)
			e := math.Abs(tj - ej)
			sumErr += e
			maxErr = max(maxErr, e)
			n++
			if e > 0.16 { // four standard errors
				t.Errorf("%d of 80 words changed: true J %.3f, estimated %.3f", changed, tj, ej)
			}
		}
	}
	t.Logf("%d pairs: mean |estimated - true| Jaccard %.3f, max %.3f", n, sumErr/float64(n), maxErr)
	if sumErr/float64(n) > 0.05 {
		t.Errorf("mean error %.3f, want ≤ 0.05", sumErr/float64(n))
	}
}

// TestDedupNearStream runs a stream with planted duplicates through one
// deduper, twice, and checks the decisions and their determinism.
func TestDedupNearStream(t *testing.T) {
	type rec struct {
		q, a string
		dup  bool
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var stream []rec
	var originals []rec
	for i := range 400 {
		r := rec{q: strings.Join(words(rng, 8), " "), a: strings.Join(words(rng, 50), " ")}
		stream = append(stream, r)
		originals = append(originals, r)
		if i%4 == 0 && i > 0 {
			o := originals[rng.IntN(len(originals))]
			w := strings.Fields(o.a)
			w[len(w)-1] = "changed"
			stream = append(stream, rec{q: o.q, a: strings.Join(w, " "), dup: true})
		}
		if i%9 == 0 && i > 0 {
			o := originals[rng.IntN(len(originals))]
			stream = append(stream, rec{q: strings.ToUpper(o.q), a: o.a + " ok", dup: true})
		}
	}
	run := func() []bool {
		d, err := NewDeduper("near", 0.8)
		if err != nil {
			t.Fatal(err)
		}
		var got []bool
		want := 0
		for i, r := range stream {
			dup := d.Duplicate(r.q, r.a)
			got = append(got, dup)
			if dup != r.dup {
				t.Errorf("record %d: Duplicate = %v, want %v", i, dup, r.dup)
			}
			if r.dup {
				want++
			}
		}
		if d.Dropped() != want {
			t.Errorf("Dropped() = %d, want %d", d.Dropped(), want)
		}
		return got
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Error("two runs over the same stream decided differently")
	}
}

func TestDedupNearShortTexts(t *testing.T) {
	d, _ := NewDeduper("near", 0.8)
	for i, s := range []struct {
		q, a string
		dup  bool
	}{
		{"", "yes", false},
		{"", "YES", true},
		{"", "no", false},
		{"why", "yes", false},
		{"why not", "yes", false},
		{"", "", false},
		{" ", "", true},
	} {
		if got := d.Duplicate(s.q, s.a); got != s.dup {
			t.Errorf("step %d Duplicate(%q, %q) = %v, want %v", i, s.q, s.a, got, s.dup)
		}
	}
}

func TestLSHRows(t *testing.T) {
	for _, tc := range []struct {
		t    float64
		rows int
	}{{0.8, 5}, {0.9, 11}, {0.5, 1}, {1, 16}} {
		if got := lshRows(tc.t); got != tc.rows {
			t.Errorf("lshRows(%v) = %d, want %d", tc.t, got, tc.rows)
		}
	}
}

// TestDedupMemory measures what each mode keeps per record. The records are
// ~900 bytes so that keeping texts would break the bounds.
func TestDedupMemory(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 50_000
	}
	for _, tc := range []struct {
		mode  string
		bound float64
	}{{"exact", 100}, {"near", 700}} {
		t.Run(tc.mode, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(8, 9))
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			d, err := NewDeduper(tc.mode, 0.8)
			if err != nil {
				t.Fatal(err)
			}
			var qb, ab []byte
			for i := range n {
				qb = strconv.AppendInt(append(qb[:0], "question "...), int64(i), 10)
				qb = append(qb, " about a rather long identifier name that repeats"...)
				ab = ab[:0]
				for range 40 {
					ab = strconv.AppendUint(append(ab, "word_"...), rng.Uint64(), 16)
					ab = append(ab, ' ')
				}
				if d.Duplicate(string(qb), string(ab)) {
					t.Fatalf("record %d was dropped", i)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			per := float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(n)
			t.Logf("%s: %d records kept, %.1f bytes per record (heap after GC)", tc.mode, n, per)
			if per > tc.bound {
				t.Errorf("%s keeps %.1f bytes per record, want < %.0f", tc.mode, per, tc.bound)
			}
			runtime.KeepAlive(d)
		})
	}
}

// TestDedupNearPrecision measures how often "near" at 0.8 drops a pair, by
// the pair's true Jaccard, and checks the curve is steep around 0.8.
func TestDedupNearPrecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	type bin struct{ n, dropped int }
	var bins [20]bin // by true Jaccard, 0.05 wide
	for changed := 1; changed <= 14; changed++ {
		for range 150 {
			aw := words(rng, 60)
			bw := slices.Clone(aw)
			// Changes anywhere, or (for higher similarity) near the end,
			// where fewer shingles cover a word.
			span := 60
			if rng.IntN(2) == 0 {
				span = min(60, changed+3)
			}
			for _, i := range rng.Perm(span)[:changed] {
				bw[59-i] = "x" + aw[59-i]
			}
			q := strings.Join(words(rng, 10), " ")
			a, b := strings.Join(aw, " "), strings.Join(bw, " ")
			k := min(int(trueJaccard(q, a, q, b)*20), 19)
			d, _ := NewDeduper("near", 0.8)
			d.Duplicate(q, a)
			bins[k].n++
			if d.Duplicate(q, b) {
				bins[k].dropped++
			}
		}
	}
	for k, b := range bins {
		if b.n == 0 {
			continue
		}
		lo := float64(k) / 20
		rate := float64(b.dropped) / float64(b.n)
		t.Logf("true Jaccard [%.2f, %.2f): %4d pairs, %5.1f%% dropped", lo, lo+0.05, b.n, 100*rate)
		switch {
		case lo >= 0.9 && rate < 1, lo >= 0.85 && rate < 0.9,
			lo < 0.65 && rate > 0, lo < 0.75 && rate > 0.15:
			t.Errorf("true Jaccard [%.2f, %.2f): %.1f%% dropped", lo, lo+0.05, 100*rate)
		}
	}
}
