package export

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cicdllm/store"
)

func TestRenderAttributionGolden(t *testing.T) {
	sources := []Source{
		{Name: "acme/deploy", URL: "https://github.com/acme/deploy", Commit: "0123456789abcdef0123456789abcdef01234567",
			Commits: []string{"0123456789abcdef0123456789abcdef01234567", "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"},
			License: "Apache-2.0", Records: 60},
		{Name: "acme/infra|tools", URL: "https://gitlab.com/acme/infra-tools", Commit: "fedcba9876543210fedcba9876543210fedcba98",
			Commits: []string{"fedcba9876543210fedcba9876543210fedcba98"}, License: "MIT", Records: 30},
		{Name: "acme/gone", URL: "https://github.com/acme/gone", Commit: "abababababababababababababababababababab",
			Commits: []string{"abababababababababababababababababababab"}, License: "", Records: 10},
	}
	notices := map[string]Notices{
		"acme/deploy": {Copyright: []string{"Copyright 2024 Acme Corp", "Copyright 2025 Acme Corp and contributors"},
			Notice: "Acme Deploy\nCopyright 2024 Acme Corp\n\nIncludes ```fenced``` text."},
		"acme/infra|tools": {},
	}
	got := renderAttribution("devops-qa.jsonl", sources, notices)
	checkGoldenFile(t, filepath.Join("testdata", "golden", "attribution", "ATTRIBUTION.md.golden"), got)
	if !bytes.Equal(got, renderAttribution("devops-qa.jsonl", sources, notices)) {
		t.Error("the attribution is not deterministic")
	}
	s := string(got)
	for _, want := range []string{
		"<!-- cicdllm attribution \"devops-qa.jsonl\" -->\n# Attribution\n",
		"(100 records from 3 repositories)",
		"| acme/deploy | Apache-2.0 | 60 |\n| acme/infra\\|tools | MIT | 30 |\n| acme/gone | NOASSERTION | 10 |\n",
		"- Other commits of its records: `1111111111111111111111111111111111111111`, `2222222222222222222222222222222222222222`\n",
		"````text\nAcme Deploy\nCopyright 2024 Acme Corp\n\nIncludes ```fenced``` text.\n````\n",
		"## acme/gone\n\n- URL: https://github.com/acme/gone\n- Commit: `abababababababababababababababababababab`\n- Licence: NOASSERTION\n- Records: 10\n\nIts licence files could not be read",
		"## acme/infra|tools\n\n- URL: https://gitlab.com/acme/infra-tools\n- Commit: `fedcba9876543210fedcba9876543210fedcba98`\n- Licence: MIT\n- Records: 30\n\nNo copyright line was found in its licence files.\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("attribution lacks %q", want)
		}
	}
	if none := string(renderAttribution("x.csv", nil, nil)); !strings.Contains(none, "No record was exported") {
		t.Errorf("empty attribution:\n%s", none)
	}
	if unread := string(renderAttribution("x.csv", sources, nil)); !strings.Contains(unread, "were not collected") || strings.Contains(unread, "could not be read") {
		t.Errorf("attribution without a notice reader:\n%s", unread)
	}
}

// TestAttributionBesideFileExports: ATTRIBUTION.md is written beside a
// file export, replaced by the same export, and never overwrites a file
// cicdllm did not write nor another export's attribution.
func TestAttributionBesideFileExports(t *testing.T) {
	st, _ := fillStore(t, 12, 3)
	ctx := context.Background()
	dir := t.TempDir()
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	notices := func(dir string, commits []string) (Notices, error) {
		return Notices{Copyright: []string{"Copyright 2024 " + filepath.Base(dir)}}, nil
	}

	a := job(t, st, "chatml-jsonl", filepath.Join(dir, "a.jsonl"))
	a.Notices = notices
	res, err := Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Files, []string{AttributionFile, "a.jsonl"}) {
		t.Errorf("files %v", res.Files)
	}
	first := read(AttributionFile)
	if !strings.HasPrefix(first, attributionMarker("a.jsonl")+"\n") || !strings.Contains(first, "(12 records from 2 repositories)") ||
		!strings.Contains(first, "| github.com/acme/api | MIT | 6 |") || !strings.Contains(first, "- Commit: `c0ffee`") {
		t.Errorf("attribution of a.jsonl:\n%s", first)
	}
	// Repositories without a local path are not read.
	if !strings.Contains(first, "Its licence files could not be read") {
		t.Errorf("attribution of repositories without clones:\n%s", first)
	}

	// Another export in the same directory keeps a's attribution.
	b := job(t, st, "alpaca-jsonl", filepath.Join(dir, "b.jsonl"))
	b.Limit = 5
	res, err = Run(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Files, []string{"b.jsonl", "b.jsonl." + AttributionFile}) || read(AttributionFile) != first {
		t.Errorf("files %v; ATTRIBUTION.md changed: %v", res.Files, read(AttributionFile) != first)
	}
	if got := read("b.jsonl." + AttributionFile); !strings.HasPrefix(got, attributionMarker("b.jsonl")+"\n") || !strings.Contains(got, "(5 records from") {
		t.Errorf("attribution of b.jsonl:\n%s", got)
	}

	// a again replaces its own attribution, with the same bytes.
	a.Force = true
	if _, err := Run(ctx, a); err != nil {
		t.Fatal(err)
	}
	if read(AttributionFile) != first {
		t.Error("re-exporting a changed its attribution")
	}

	// Someone else's ATTRIBUTION.md is left alone.
	other := t.TempDir()
	mine := "# Attribution\n\nWritten by hand.\n"
	if err := os.WriteFile(filepath.Join(other, AttributionFile), []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	c := job(t, st, "csv", filepath.Join(other, "c.csv"))
	if res, err = Run(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(other, AttributionFile)); string(got) != mine {
		t.Errorf("a hand-written ATTRIBUTION.md was replaced:\n%s", got)
	}
	if !slices.Contains(res.Files, "c.csv."+AttributionFile) {
		t.Errorf("files %v", res.Files)
	}
	// When both names hold someone else's files, the export refuses before writing.
	if err := os.WriteFile(filepath.Join(other, "d.csv."+AttributionFile), []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, job(t, st, "csv", filepath.Join(other, "d.csv"))); err == nil || !strings.Contains(err.Error(), "not this export's attribution") {
		t.Errorf("both attribution names taken: %v", err)
	}
	if entries, _ := os.ReadDir(other); len(entries) != 4 { // ATTRIBUTION.md, c.csv and the two others'
		t.Errorf("the refused export left %v", entries)
	}

	// A directory format carries its attribution inside.
	hf := filepath.Join(t.TempDir(), "ds")
	h := job(t, st, "hf", hf)
	h.Notices = notices
	if res, err = Run(ctx, h); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Files, AttributionFile) {
		t.Errorf("hf files %v", res.Files)
	}
	if got, err := os.ReadFile(filepath.Join(hf, AttributionFile)); err != nil || !strings.HasPrefix(string(got), attributionMarker("ds")+"\n") {
		t.Errorf("hf attribution: %v\n%s", err, got)
	}
	if entries, _ := os.ReadDir(filepath.Dir(hf)); len(entries) != 1 {
		t.Errorf("beside the hf directory: %v", entries)
	}
}

// TestSourceCommits: a source's commit is its newest record's, whatever
// the order records arrive in (shuffled exports), and every commit is listed.
func TestSourceCommits(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	samples := []store.ExportSample{
		{Sample: store.Sample{ID: 1, CommitSHA: "bbb", CreatedAt: t0}},
		{Sample: store.Sample{ID: 2, CommitSHA: "ccc", CreatedAt: t0.Add(time.Hour)}},
		{Sample: store.Sample{ID: 3, CommitSHA: "aaa", CreatedAt: t0.Add(time.Hour)}},
		{Sample: store.Sample{ID: 4, CommitSHA: "", CreatedAt: t0.Add(2 * time.Hour)}},
		{Sample: store.Sample{ID: 5, CommitSHA: "bbb", CreatedAt: t0}},
	}
	for _, order := range [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}} {
		acc := &sourceAcc{commits: map[string]bool{}}
		for _, i := range order {
			acc.add(samples[i])
		}
		src := acc.source()
		// Samples 2 and 3 are newest; the higher id wins the tie.
		if src.Commit != "aaa" || !slices.Equal(src.Commits, []string{"aaa", "bbb", "ccc"}) || src.Records != 5 {
			t.Errorf("order %v: %+v", order, src)
		}
	}
}

func TestHFCardSourceCommitsAndLicences(t *testing.T) {
	s := cardSummary()
	s.Licenses = map[string]int{"MIT": 60, "Apache-2.0 AND MIT": 30, "": 10}
	s.Sources[1].Commits = []string{s.Sources[1].Commit, "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"}
	card := hfCard(s, Options{})
	for _, want := range []string{"\nlicense: other\n", "| `0123456789abcdef0123456789abcdef01234567` and 2 more |",
		"(`Apache-2.0 AND MIT`, `MIT`, `NOASSERTION`), so this card declares `license: other`", "`ATTRIBUTION.md` lists every source repository"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
}
