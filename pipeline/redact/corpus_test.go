package redact

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"cicdllm/pipeline/redact/redacttest"
)

// corpusResult measures redaction over one generated corpus.
type corpusResult struct {
	plants, removed         int
	fixed, fixedRemoved     int
	generic, genericRemoved int
	looks, looksAltered     int
	placeholderAltered      []string
	missed, altered         []string
}

// leaks reports whether out still holds value, or a 16-byte piece of it
// that occurs only once in the original file (shared pieces such as a JWT
// header or a key's BEGIN line prove nothing).
func leaks(orig, out, value string) bool {
	if strings.Contains(out, value) {
		return true
	}
	const w = 16
	for i := 0; i+w <= len(value); i++ {
		piece := value[i : i+w]
		if strings.Count(orig, piece) == 1 && strings.Contains(out, piece) {
			return true
		}
	}
	return false
}

func measureCorpus(t testing.TB, s *Scanner, seed int64) corpusResult {
	t.Helper()
	files, plants, looks := redacttest.Corpus(seed)
	sent := map[string]string{} // what a pipeline would send: redacted non-credential files
	for _, p := range redacttest.Files(files) {
		if s.CredentialFile(p, []byte(files[p])) != "" {
			continue
		}
		sent[p], _ = s.Redact(files[p])
	}
	var r corpusResult
	for _, pl := range plants {
		r.plants++
		out, read := sent[pl.File]
		gone := !read || !leaks(files[pl.File], out, pl.Value)
		if gone {
			r.removed++
		} else {
			r.missed = append(r.missed, fmt.Sprintf("%s in %s", pl.Kind, pl.File))
		}
		if pl.FixedFormat {
			r.fixed++
			if gone {
				r.fixedRemoved++
			}
		} else {
			r.generic++
			if gone {
				r.genericRemoved++
			}
		}
	}
	// A look-alike is altered when it occurs fewer times in what is sent
	// than in the files sent.
	var before, after strings.Builder
	for p, out := range sent {
		before.WriteString(files[p] + "\x00")
		after.WriteString(out + "\x00")
	}
	placeholder := map[string]bool{}
	for _, p := range redacttest.Placeholders() {
		placeholder[p] = true
	}
	for _, l := range looks {
		n := strings.Count(before.String(), l)
		if n == 0 {
			t.Errorf("look-alike %q is in no file that is read", l)
			continue
		}
		r.looks++
		if strings.Count(after.String(), l) != n {
			r.looksAltered++
			r.altered = append(r.altered, l)
			if placeholder[l] {
				r.placeholderAltered = append(r.placeholderAltered, l)
			}
		}
	}
	return r
}

// TestCorpus is the planted-secret acceptance test (reliability.md §2.4):
// every fixed-format secret and at least 95% of all secrets are removed,
// at most 5% of look-alikes and no placeholder are touched.
func TestCorpus(t *testing.T) {
	s := newScanner(t, Options{})
	r := measureCorpus(t, s, 1)
	t.Logf("redaction: plants %d/%d (fixed %d/%d, generic %d/%d), look-alikes redacted %d/%d (%.1f%%)",
		r.removed, r.plants, r.fixedRemoved, r.fixed, r.genericRemoved, r.generic,
		r.looksAltered, r.looks, 100*float64(r.looksAltered)/float64(r.looks))
	t.Logf("generic recall %.1f%%, false-positive rate %.1f%%",
		100*float64(r.genericRemoved)/float64(r.generic), 100*float64(r.looksAltered)/float64(r.looks))
	for _, m := range r.missed {
		t.Logf("missed: %s", m)
	}
	for _, a := range r.altered {
		t.Logf("look-alike redacted: %q", a)
	}
	if r.plants < 200 || r.looks < 100 {
		t.Errorf("corpus too small: %d plants, %d look-alikes", r.plants, r.looks)
	}
	kinds := map[string]bool{}
	_, plants, _ := redacttest.Corpus(1)
	for _, p := range plants {
		kinds[p.Kind] = true
	}
	if len(kinds) < 25 {
		t.Errorf("only %d kinds of plants", len(kinds))
	}
	if r.fixedRemoved != r.fixed {
		t.Errorf("fixed-format plants removed %d/%d", r.fixedRemoved, r.fixed)
	}
	if 100*r.removed < 95*r.plants {
		t.Errorf("plants removed %d/%d, want at least 95%%", r.removed, r.plants)
	}
	if 100*r.looksAltered > 5*r.looks {
		t.Errorf("look-alikes redacted %d/%d, want at most 5%%", r.looksAltered, r.looks)
	}
	if len(r.placeholderAltered) > 0 {
		t.Errorf("placeholders redacted: %q", r.placeholderAltered)
	}
}

// TestCorpusSeeds runs the acceptance measurement over more corpora, to
// show the numbers do not hinge on one draw.
func TestCorpusSeeds(t *testing.T) {
	seeds := int64(20)
	if testing.Short() {
		seeds = 3
	}
	s := newScanner(t, Options{Emails: true})
	var total corpusResult
	for seed := int64(1); seed <= seeds; seed++ {
		r := measureCorpus(t, s, seed)
		total.plants += r.plants
		total.removed += r.removed
		total.fixed += r.fixed
		total.fixedRemoved += r.fixedRemoved
		total.generic += r.generic
		total.genericRemoved += r.genericRemoved
		total.looks += r.looks
		total.looksAltered += r.looksAltered
		for _, m := range r.missed {
			t.Logf("seed %d missed: %s", seed, m)
		}
	}
	t.Logf("redaction over %d seeds (e-mails on): plants %d/%d (fixed %d/%d, generic %d/%d), look-alikes redacted %d/%d (%.2f%%)",
		seeds, total.removed, total.plants, total.fixedRemoved, total.fixed, total.genericRemoved, total.generic,
		total.looksAltered, total.looks, 100*float64(total.looksAltered)/float64(total.looks))
	if total.fixedRemoved != total.fixed || 100*total.removed < 95*total.plants || 100*total.looksAltered > 5*total.looks {
		t.Error("targets missed")
	}
}

// TestSourceHasNoFalsePositives: the benchmark's ordinary code (which
// talks about keys, tokens and passwords without holding any) yields
// exactly its few planted secrets.
func TestSourceHasNoFalsePositives(t *testing.T) {
	s := newScanner(t, Options{Emails: true})
	size := 3 << 20
	if testing.Short() {
		size = 1 << 20
	}
	files, secrets := redacttest.Source(1, size)
	n := 0
	for _, p := range redacttest.Files(files) {
		for _, f := range s.Find(files[p]) {
			n++
			if n > secrets {
				t.Errorf("%s: unexpected %s finding %q", p, f.Rule, files[p][f.Start:f.End])
			}
		}
	}
	if n != secrets {
		t.Errorf("%d findings for %d planted secrets", n, secrets)
	}
}

// reference is the straightforward scan the fast path must agree with:
// every rule whose keywords occur runs its original regex over the whole
// text, as gitleaks does.
func reference(s *Scanner, text string, compiled map[string]*regexp.Regexp) []Finding {
	lower := strings.ToLower(text)
	var hits []hit
	for ri := range s.rules {
		r := &s.rules[ri]
		present := false
		for _, k := range r.keywords {
			present = present || strings.Contains(lower, k)
		}
		for _, w := range r.also {
			present = present && strings.Contains(lower, w)
		}
		if !present {
			continue
		}
		re := compiled[r.id]
		if re == nil {
			re = regexp.MustCompile(r.src)
			compiled[r.id] = re
		}
		for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
			if h, ok := s.check(int32(ri), text, m); ok {
				hits = append(hits, h)
			}
		}
	}
	if len(hits) == 0 {
		return nil
	}
	return s.resolve(hits, nil)
}

// TestFastPathFindsWhatAFullScanFinds: keyword windows, the stripped
// lazy opening and anchored matching lose nothing against whole-text
// matching with the rules as written. (The fast path may find more: a
// rejected match does not hide the ones inside it.)
func TestFastPathFindsWhatAFullScanFinds(t *testing.T) {
	s := newScanner(t, Options{Emails: true})
	compiled := map[string]*regexp.Regexp{}
	texts := map[string]string{}
	for seed := int64(1); seed <= 3; seed++ {
		files, _, _ := redacttest.Corpus(seed)
		for p, c := range files {
			texts[fmt.Sprintf("corpus%d/%s", seed, p)] = c
		}
	}
	size := 1 << 20
	if testing.Short() {
		size = 256 << 10
	}
	src, _ := redacttest.Source(2, size)
	for p, c := range src {
		texts[p] = c
	}
	extra := 0
	for name, text := range texts {
		fast := s.Find(text)
		for _, f := range reference(s, text, compiled) {
			covered := false
			for _, g := range fast {
				covered = covered || (g.Start <= f.Start && f.End <= g.End)
			}
			if !covered {
				t.Errorf("%s: full scan finds %s at %d-%d %q, the fast path does not", name, f.Rule, f.Start, f.End, text[f.Start:f.End])
			}
		}
		extra += len(fast)
	}
	t.Logf("%d texts, %d findings", len(texts), extra)
}

// TestCorpusShape: plant values are unique, each in its file once; files
// are ordinary text (valid UTF-8, lines of ordinary length, so a
// pipeline's minified-file filter reads them all).
func TestCorpusShape(t *testing.T) {
	files, plants, _ := redacttest.Corpus(1)
	var all strings.Builder
	for _, p := range redacttest.Files(files) {
		c := files[p]
		all.WriteString(c + "\x00")
		if !utf8.ValidString(c) {
			t.Errorf("%s: invalid UTF-8", p)
		}
		if lines := strings.Count(c, "\n") + 1; len(c)/lines > 150 && !slices.Contains(redacttest.CredentialFiles(), p) {
			t.Errorf("%s: average line %d bytes", p, len(c)/lines)
		}
	}
	for _, pl := range plants {
		if n := strings.Count(all.String(), pl.Value); n != 1 || !strings.Contains(files[pl.File], pl.Value) {
			t.Errorf("%s %q: %d occurrences, in %s: %v", pl.Kind, pl.Value, n, pl.File, strings.Contains(files[pl.File], pl.Value))
		}
		if strings.ContainsAny(pl.Value, "\"\\<>&\n\r\t") {
			t.Errorf("%s %q: not JSON-safe", pl.Kind, pl.Value)
		}
	}
}
