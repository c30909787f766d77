package pipeline

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"cicdllm/pipeline/export"
	"cicdllm/store"
)

var (
	licensecheckDirOnce sync.Once
	licensecheckDir     string
	licensecheckDirErr  error
)

// licenseText returns a licence text from google/licensecheck's own test
// data (testdata/<name>.t1 in the module cache, without its header), so
// the fixtures hold the real, full texts.
func licenseText(t testing.TB, name string) string {
	t.Helper()
	licensecheckDirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/google/licensecheck").Output()
		licensecheckDir, licensecheckDirErr = strings.TrimSpace(string(out)), err
	})
	if licensecheckDirErr != nil || licensecheckDir == "" {
		t.Fatalf("cannot find the licensecheck module (go list -m): %v", licensecheckDirErr)
	}
	data, err := os.ReadFile(filepath.Join(licensecheckDir, "testdata", name+".t1"))
	if err != nil {
		t.Fatal(err)
	}
	// The test files start with the expected result, then a blank line.
	_, text, ok := strings.Cut(string(data), "\n\n")
	if !ok {
		t.Fatalf("%s.t1 has no header", name)
	}
	return text
}

const mitText = `MIT License

Copyright (c) 2024 Acme Corp

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`

const noticeText = `Apache Widgets
Copyright 2023 The Widget Authors

This product includes software developed at
The Widget Foundation (https://widgets.example.org/).
`

// licenseFixtures are the repositories of the licence tests: files and the
// licence DetectLicense must report.
func licenseFixtures(t testing.TB) []struct {
	name  string
	files map[string]string
	want  string
} {
	apache := licenseText(t, "Apache-2.0")
	bsd := strings.Replace(licenseText(t, "BSD-3-Clause"), "Copyright <YEAR> <HOLDER>", "Copyright (c) 2019, Blue Sky Ltd.", 1)
	if !strings.Contains(bsd, "Blue Sky") {
		t.Fatal("the BSD text has no copyright placeholder to fill")
	}
	return []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"mit", map[string]string{"LICENSE": mitText, "main.go": "package main\n"}, "MIT"},
		{"apache", map[string]string{"LICENSE.txt": apache, "NOTICE": noticeText, "src/app.py": "print(1)\n"}, "Apache-2.0"},
		{"gpl", map[string]string{"COPYING": licenseText(t, "GPL-3.0"), "main.c": "int main(void){return 0;}\n"}, "GPL-3.0"},
		{"bsd", map[string]string{"LICENSE.md": bsd, "lib.rs": "fn main() {}\n"}, "BSD-3-Clause"},
		{"readme-only", map[string]string{"README.md": "# Tool\n\nA tool.\n\n## License\n\nLicensed under the MIT License.\n",
			"tool.sh": "#!/bin/sh\n"}, store.NoAssertion},
		{"none", map[string]string{"main.go": "package main\n"}, store.NoAssertion},
		{"dual", map[string]string{"LICENSE-MIT": mitText, "LICENSE-APACHE": apache, "src/lib.rs": "pub fn f() {}\n"}, "Apache-2.0 AND MIT"},
	}
}

// goGitRepo makes a repository with a working tree with go-git (no git
// binary needed) and commits files; it returns the commit id.
func goGitRepo(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		if repo, err = git.PlainInit(dir, false); err != nil {
			t.Fatal(err)
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if body == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	h, err := wt.Commit("commit", &git.CommitOptions{Author: &object.Signature{Name: "T", Email: "t@example.com",
		When: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func TestDetectLicense(t *testing.T) {
	for _, fx := range licenseFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			dir := t.TempDir()
			goGitRepo(t, dir, fx.files)
			info, err := DetectLicense(dir)
			if err != nil {
				t.Fatal(err)
			}
			if info.SPDX != fx.want {
				t.Errorf("licence %q (%+v), want %q", info.SPDX, info, fx.want)
			}
			if fx.want == store.NoAssertion {
				if len(info.Files) != 0 || info.Detector != "" {
					t.Errorf("NOASSERTION decided by %v %q", info.Files, info.Detector)
				}
				return
			}
			if len(info.Files) == 0 || info.Coverage < licenseMinCoverage || info.Detector != "licensecheck" {
				t.Errorf("info %+v", info)
			}
		})
	}
}

func TestDetectLicenseDetails(t *testing.T) {
	apache := licenseText(t, "Apache-2.0")
	for _, tc := range []struct {
		name     string
		files    map[string]string
		want     string
		detector string
	}{
		{"one file with two licences", map[string]string{"LICENSE": mitText + "\n---\n\n" + apache}, "Apache-2.0 AND MIT", "licensecheck"},
		{"package.json", map[string]string{"package.json": `{"name": "x", "license": "MIT"}`}, "MIT", "package.json"},
		{"package.json old object", map[string]string{"package.json": `{"license": {"type": "ISC"}}`}, "ISC", "package.json"},
		{"package.json UNLICENSED", map[string]string{"package.json": `{"license": "UNLICENSED"}`}, store.NoAssertion, ""},
		{"package.json see file", map[string]string{"package.json": `{"license": "SEE LICENSE IN terms.txt"}`}, store.NoAssertion, ""},
		{"Cargo.toml expression", map[string]string{"Cargo.toml": "[package]\nname = \"x\"\nlicense = \"MIT or Apache-2.0\"\n"}, "MIT OR Apache-2.0", "Cargo.toml"},
		{"Cargo.toml workspace", map[string]string{"Cargo.toml": "[package]\nlicense.workspace = true\n[workspace.package]\nlicense = \"(MIT OR Apache-2.0) AND Unicode-DFS-2016\"\n"},
			"(MIT OR Apache-2.0) AND Unicode-DFS-2016", "Cargo.toml"},
		{"pyproject PEP 639", map[string]string{"pyproject.toml": "[project]\nname = \"x\"\nlicense = \"BSD-3-Clause\"\n"}, "BSD-3-Clause", "pyproject.toml"},
		{"pyproject table", map[string]string{"pyproject.toml": "[project]\nlicense = {text = \"Apache-2.0\"}\n"}, "Apache-2.0", "pyproject.toml"},
		{"poetry", map[string]string{"pyproject.toml": "[tool.poetry]\nlicense = \"MIT\"\n"}, "MIT", "pyproject.toml"},
		{"pyproject prose", map[string]string{"pyproject.toml": "[project]\nlicense = {text = \"Apache 2.0 license\"}\n"}, store.NoAssertion, ""},
		{"two manifests", map[string]string{"package.json": `{"license":"MIT"}`, "Cargo.toml": "[package]\nlicense = \"Apache-2.0 OR MIT\"\n"},
			"(Apache-2.0 OR MIT) AND MIT", "Cargo.toml"},
		{"a licence file beats the manifest", map[string]string{"LICENSE": "All rights reserved. Ask us.\n", "package.json": `{"license":"MIT"}`}, store.NoAssertion, ""},
		{"a URL is not a licence", map[string]string{"LICENSE": "https://opensource.org/licenses/MIT\n"}, store.NoAssertion, ""},
		{"a licence in a subfolder", map[string]string{"docs/LICENSE": mitText}, store.NoAssertion, ""},
		{"license.go is code", map[string]string{"license.go": "package x\n\n// " + strings.ReplaceAll(mitText, "\n", "\n// ") + "\n"}, store.NoAssertion, ""},
		{"LICENSES is not LICENSE", map[string]string{"LICENSES": mitText}, store.NoAssertion, ""},
		{"UNLICENSE", map[string]string{"UNLICENSE": licenseText(t, "Unlicense")}, "Unlicense", "licensecheck"},
		{"MIT-LICENSE.txt", map[string]string{"MIT-LICENSE.txt": mitText}, "MIT", "licensecheck"},
		{"MIT with a third-party section", map[string]string{"LICENSE": mitText + "\nThird-party code in vendor/ keeps its own licence; see each directory.\n"},
			"MIT", "licensecheck"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			goGitRepo(t, dir, tc.files)
			info, err := DetectLicense(dir)
			if err != nil {
				t.Fatal(err)
			}
			if info.SPDX != tc.want || info.Detector != tc.detector {
				t.Errorf("got %+v, want %q by %q", info, tc.want, tc.detector)
			}
		})
	}
}

// TestDetectLicenseAtCommitAndBare reads a bare clone (as scrape makes
// them) at HEAD and at an older commit.
func TestDetectLicenseAtCommitAndBare(t *testing.T) {
	work := t.TempDir()
	first := goGitRepo(t, work, map[string]string{"LICENSE": mitText})
	second := goGitRepo(t, work, map[string]string{"LICENSE": licenseText(t, "GPL-3.0")})
	// A bare repository, as scrape's clones are: the .git directory alone.
	bare := filepath.Join(t.TempDir(), "x.git")
	if err := os.CopyFS(bare, os.DirFS(filepath.Join(work, ".git"))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ commit, want string }{{"", "GPL-3.0"}, {second, "GPL-3.0"}, {first, "MIT"}} {
		info, err := DetectLicenseAt(bare, tc.commit)
		if err != nil || info.SPDX != tc.want || !slices.Equal(info.Files, []string{"LICENSE"}) {
			t.Errorf("at %q: %+v, %v; want %s", tc.commit, info, err, tc.want)
		}
	}
	if _, err := DetectLicenseAt(bare, "not-a-commit"); err == nil {
		t.Error("a bad commit id was accepted")
	}
	if _, err := DetectLicenseAt(bare, strings.Repeat("ab", 20)); err == nil {
		t.Error("a missing commit was accepted")
	}
	empty := t.TempDir()
	if _, err := git.PlainInit(empty, false); err != nil {
		t.Fatal(err)
	}
	if info, err := DetectLicense(empty); err == nil || info.SPDX != store.NoAssertion {
		t.Errorf("unborn HEAD: %+v, %v", info, err)
	}
	if info, err := DetectLicense(filepath.Join(empty, "missing")); err == nil || info.SPDX != store.NoAssertion {
		t.Errorf("no repository: %+v, %v", info, err)
	}
}

func TestLicenseAllowed(t *testing.T) {
	permissive := []string{"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "0BSD", "Zlib", "Unlicense", "CC0-1.0"}
	for _, tc := range []struct {
		allowed []string
		skip    bool
		spdx    string
		ok      bool
		why     string
	}{
		{nil, false, "GPL-3.0", true, ""},
		{nil, false, "NOASSERTION", true, ""},
		{nil, false, "", true, ""},
		{nil, true, "NOASSERTION", false, "no licence detected and safety.skip_unlicensed is on"},
		{nil, true, "", false, "no licence detected and safety.skip_unlicensed is on"},
		{nil, true, "MIT", true, ""},
		{permissive, false, "MIT", true, ""},
		{permissive, false, "mit", true, ""},
		{[]string{"apache-2.0"}, false, "Apache-2.0", true, ""},
		{permissive, false, "GPL-3.0", false, "licence GPL-3.0 is not in safety.allowed_licenses"},
		{permissive, false, "Apache-2.0 AND MIT", true, ""},
		{permissive, false, "GPL-3.0 AND MIT", false, "licence GPL-3.0 (of GPL-3.0 AND MIT) is not in safety.allowed_licenses"},
		{permissive, false, "MIT OR GPL-3.0", false, "licence GPL-3.0 (of MIT OR GPL-3.0) is not in safety.allowed_licenses"},
		{permissive, false, "(MIT OR Apache-2.0) AND ISC", true, ""},
		{permissive, false, "NOASSERTION", false, "no licence detected (NOASSERTION) and safety.allowed_licenses does not list NOASSERTION"},
		{permissive, true, "NOASSERTION", false, "no licence detected and safety.skip_unlicensed is on"},
		{[]string{"MIT", "NOASSERTION"}, false, "", true, ""},
		{[]string{"GPL-2.0 WITH Classpath-exception-2.0"}, false, "GPL-2.0 with Classpath-exception-2.0", true, ""},
		{[]string{"GPL-2.0"}, false, "GPL-2.0 WITH Classpath-exception-2.0", false,
			"licence GPL-2.0 WITH Classpath-exception-2.0 is not in safety.allowed_licenses"},
	} {
		ok, why := LicenseAllowed(SafetyConfig{AllowedLicenses: tc.allowed, SkipUnlicensed: tc.skip}, tc.spdx)
		if ok != tc.ok || why != tc.why {
			t.Errorf("LicenseAllowed(%v, skip %v, %q) = %v, %q; want %v, %q", tc.allowed, tc.skip, tc.spdx, ok, why, tc.ok, tc.why)
		}
	}
}

func TestNormalizeSPDX(t *testing.T) {
	for in, want := range map[string]string{
		"MIT":                                  "MIT",
		" mit  or  Apache-2.0 ":                "mit OR Apache-2.0",
		"(MIT OR Apache-2.0)AND Zlib":          "(MIT OR Apache-2.0) AND Zlib",
		"GPL-2.0 with Classpath-exception-2.0": "GPL-2.0 WITH Classpath-exception-2.0",
		"LicenseRef-Acme":                      "LicenseRef-Acme",
		"":                                     "",
		"MIT AND":                              "",
		"(MIT":                                 "",
		"MIT)":                                 "",
		"Apache 2.0":                           "",
		"UNLICENSED":                           "",
		"MIT License":                          "",
		"WITH MIT":                             "",
	} {
		got, ok := normalizeSPDX(in)
		if got != want || ok != (want != "") {
			t.Errorf("normalizeSPDX(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestCopyrightLines(t *testing.T) {
	text := mitText + "\n" + licenseText(t, "Apache-2.0") + "\n" + licenseText(t, "GPL-3.0") + `
Copyright 2009 The Go Authors.
Copyright The Kubernetes Authors.
Copyright© 2022 Ann Poe
© 2021 Jane Doe
(c) 2020 John Roe
  * Copyright (C) 1998-2003 Daniel Veillard.  All Rights Reserved.
Copyright (c) 2024 Acme Corp
copyright notice that is included in or attached to the work
Copyright law applies.
`
	want := []string{"Copyright (c) 2024 Acme Corp", "Copyright 2009 The Go Authors.", "Copyright The Kubernetes Authors.",
		"Copyright© 2022 Ann Poe", "© 2021 Jane Doe", "(c) 2020 John Roe", "Copyright (C) 1998-2003 Daniel Veillard. All Rights Reserved.", "Copyright (c) 2024 Acme Corp"}
	if got := copyrightLines(text); !slices.Equal(got, want) {
		t.Errorf("copyright lines:\n%q\nwant\n%q", got, want)
	}
}

func TestReadNotices(t *testing.T) {
	work := t.TempDir()
	first := goGitRepo(t, work, map[string]string{"LICENSE": licenseText(t, "Apache-2.0"), "NOTICE": noticeText})
	second := goGitRepo(t, work, map[string]string{"LICENSE-MIT": strings.Replace(mitText, "2024 Acme Corp", "2025 Acme Corp", 1)})
	n, err := ReadNotices(work, []string{second, first})
	if err != nil {
		t.Fatal(err)
	}
	// The Apache text's own "Copyright [yyyy] [name of copyright owner]" is a template, not a notice.
	if !slices.Equal(n.Copyright, []string{"Copyright (c) 2025 Acme Corp"}) || n.Notice != strings.TrimSpace(noticeText) {
		t.Errorf("notices %+v", n)
	}
	if _, err := ReadNotices(work, []string{strings.Repeat("cd", 20)}); err == nil {
		t.Error("a missing commit read without error")
	}
	if n, err := ReadNotices(work, []string{strings.Repeat("cd", 20), first}); err != nil || n.Notice == "" {
		t.Errorf("one readable commit of two: %+v, %v", n, err)
	}
}

// TestScrapeRecordsLicense runs the real scraper over local repositories:
// each row gets its licence, a new HEAD re-detects it, and status counts
// them.
func TestScrapeRecordsLicense(t *testing.T) {
	fixtures := licenseFixtures(t)
	root := t.TempDir()
	var lines []string
	dirs := map[string]string{}
	for _, fx := range fixtures {
		dir := filepath.Join(root, fx.name)
		goGitRepo(t, dir, fx.files)
		dirs[fx.name] = dir
		lines = append(lines, dir)
	}
	f := newScrapeFixture(t, strings.Join(lines, "\n")+"\n")
	ctx := context.Background()
	check := func(want map[string]string) {
		t.Helper()
		repos, err := f.st.Repos(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range repos {
			got[filepath.Base(r.LocalPath)] = r.License
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("licences %v\nwant     %v", got, want)
		}
	}
	if rep := f.run(t, ScrapeOptions{Concurrency: 3}); !rep.OK() || len(rep.Results) != len(fixtures) {
		t.Fatalf("report %+v", rep)
	}
	want := map[string]string{}
	for _, fx := range fixtures {
		want[fx.name] = fx.want
	}
	check(want)

	st, err := ReadStatus(ctx, f.ws, f.st, "")
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]int{"MIT": 1, "Apache-2.0": 1, "GPL-3.0": 1, "BSD-3-Clause": 1, "NOASSERTION": 2, "Apache-2.0 AND MIT": 1}
	if fmt.Sprint(st.Licenses) != fmt.Sprint(wantCounts) {
		t.Errorf("status licences %v, want %v", st.Licenses, wantCounts)
	}
	if got := st.LicenseSummary(); got != "NOASSERTION 2, Apache-2.0 1, Apache-2.0 AND MIT 1, BSD-3-Clause 1, GPL-3.0 1, MIT 1" {
		t.Errorf("summary %q", got)
	}

	// The GPL project relicenses under MIT; the unlicensed one adds a licence.
	goGitRepo(t, dirs["gpl"], map[string]string{"COPYING": "", "LICENSE": mitText})
	goGitRepo(t, dirs["none"], map[string]string{"LICENSE": licenseText(t, "Apache-2.0")})
	if rep := f.run(t, ScrapeOptions{Concurrency: 2}); !rep.OK() {
		t.Fatalf("report %+v", rep)
	}
	want["gpl"], want["none"] = "MIT", "Apache-2.0"
	check(want)
	if st, _ := ReadStatus(ctx, f.ws, f.st, ""); st.LicenseSummary() != "Apache-2.0 2, MIT 2, Apache-2.0 AND MIT 1, BSD-3-Clause 1, NOASSERTION 1" {
		t.Errorf("summary after relicensing %q", st.LicenseSummary())
	}

	// A detection that fails records NOASSERTION and does not fail.
	s := f.scraper()
	s.Logger = slogDiscard()
	if got := s.detectLicense("x", filepath.Join(root, "missing"), ""); got != store.NoAssertion {
		t.Errorf("failed detection gave %q", got)
	}
}

// licenseExportStore fills a store with repositories under different
// licences, each a real repository on disk, and n answered samples per
// repository at its commit.
func licenseExportStore(t *testing.T, n int) (*store.Store, map[string]store.Repo) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "data", "pipeline.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	repos := map[string]store.Repo{}
	root := t.TempDir()
	for _, fx := range licenseFixtures(t) {
		dir := filepath.Join(root, fx.name)
		commit := goGitRepo(t, dir, fx.files)
		name := "github.com/acme/" + fx.name
		r := store.Repo{URL: "https://" + name, Name: name, LocalPath: dir, HeadCommit: commit, License: fx.want}
		if r.ID, err = st.UpsertRepo(ctx, r); err != nil {
			t.Fatal(err)
		}
		repos[fx.name] = r
		var qs []store.NewQuestion
		for i := range n {
			qs = append(qs, store.NewQuestion{RepoID: r.ID, FilePath: fmt.Sprintf("f%d.go", i), CommitSHA: commit, BlobOID: "b",
				Question: fmt.Sprintf("What does %s/f%d do?", fx.name, i)})
		}
		ids, err := st.InsertPendingQuestions(ctx, qs)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			if err := st.StoreAnswer(ctx, store.Answer{SampleID: id, Content: fmt.Sprintf("It does %s thing %d.", fx.name, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return st, repos
}

func TestExportLicenseFilterAndAttribution(t *testing.T) {
	st, repos := licenseExportStore(t, 3)
	ctx := t.Context()
	dir := t.TempDir()
	out := filepath.Join(dir, "permissive.jsonl")
	j, err := NewExportJob(DefaultConfig(), st, ExportSpec{Output: out, Licenses: []string{"MIT,apache-2.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(j.Query.Licenses, []string{"MIT", "apache-2.0"}) {
		t.Errorf("query licences %v", j.Query.Licenses)
	}
	res, err := export.Run(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	// mit, apache and dual: 3 samples each.
	n, err := CountExport(ctx, st, j.Query)
	if err != nil || res.Total() != 9 || n != 9 {
		t.Fatalf("wrote %d, counted %d (%v); want 9", res.Total(), n, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mit", "apache", "dual"} {
		if c := strings.Count(string(data), "What does "+name+"/"); c != 3 {
			t.Errorf("%d records of %s, want 3", c, name)
		}
	}
	for _, name := range []string{"gpl", "bsd", "none", "readme-only"} {
		if strings.Contains(string(data), "What does "+name+"/") {
			t.Errorf("records of %s exported", name)
		}
	}
	if !slices.Contains(res.Files, export.AttributionFile) {
		t.Errorf("files %v", res.Files)
	}
	attr, err := os.ReadFile(filepath.Join(dir, export.AttributionFile))
	if err != nil {
		t.Fatal(err)
	}
	a, ap, mit := string(attr), repos["apache"], repos["mit"]
	want := `<!-- cicdllm attribution "permissive.jsonl" -->
# Attribution

Source repositories of the export ` + "`permissive.jsonl`" + ` (9 records from 3 repositories), written by cicdllm.`
	if !strings.HasPrefix(a, want) {
		t.Errorf("attribution starts\n%s\nwant\n%s", a[:min(len(a), len(want)+40)], want)
	}
	for _, part := range []string{
		"| Repository | Licence | Records |\n|---|---|---:|\n| github.com/acme/apache | Apache-2.0 | 3 |\n" +
			"| github.com/acme/dual | Apache-2.0 AND MIT | 3 |\n| github.com/acme/mit | MIT | 3 |\n",
		"## github.com/acme/apache\n\n- URL: https://github.com/acme/apache\n- Commit: `" + ap.HeadCommit + "`\n- Licence: Apache-2.0\n- Records: 3\n\n" +
			"No copyright line was found in its licence files.\n\nIts NOTICE file:\n\n```text\n" + strings.TrimSpace(noticeText) + "\n```\n",
		"## github.com/acme/mit\n\n- URL: https://github.com/acme/mit\n- Commit: `" + mit.HeadCommit + "`\n- Licence: MIT\n- Records: 3\n\n" +
			"Copyright lines of its licence files:\n\n```text\nCopyright (c) 2024 Acme Corp\n```\n",
		"## github.com/acme/dual\n\n- URL: https://github.com/acme/dual\n- Commit: `" + repos["dual"].HeadCommit + "`\n- Licence: Apache-2.0 AND MIT\n- Records: 3\n\n" +
			"Copyright lines of its licence files:\n\n```text\nCopyright (c) 2024 Acme Corp\n```\n",
	} {
		if !strings.Contains(a, part) {
			t.Errorf("attribution lacks\n%s\n---- attribution:\n%s", part, a)
		}
	}
	// BSD is not allowed here, but its copyright line is read as well.
	j2, err := NewExportJob(DefaultConfig(), st, ExportSpec{Output: filepath.Join(t.TempDir(), "bsd.csv"), Template: "csv", Licenses: []string{"BSD-3-Clause"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Run(ctx, j2); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(filepath.Dir(j2.Output), export.AttributionFile)); !strings.Contains(string(b),
		"- Licence: BSD-3-Clause\n- Records: 3\n\nCopyright lines of its licence files:\n\n```text\nCopyright (c) 2019, Blue Sky Ltd.\n```\n") {
		t.Errorf("BSD attribution:\n%s", b)
	}
	if strings.Contains(a, "acme/gpl") || strings.Contains(a, "acme/none") {
		t.Error("the attribution lists repositories without exported records")
	}

	// Again: byte-identical data and attribution.
	j.Force = true
	if _, err := export.Run(ctx, j); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(out)
	attrAgain, _ := os.ReadFile(filepath.Join(dir, export.AttributionFile))
	if string(again) != string(data) || string(attrAgain) != a {
		t.Error("a second export differs")
	}

	// Only GPL, case-insensitively; nothing from the others.
	j, err = NewExportJob(DefaultConfig(), st, ExportSpec{Output: filepath.Join(dir, "gpl.jsonl"), Licenses: []string{"gpl-3.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := CountExport(ctx, st, j.Query); err != nil || n != 3 {
		t.Errorf("GPL count %d, %v", n, err)
	}
	if _, err := NewExportJob(DefaultConfig(), st, ExportSpec{Output: "x", Licenses: []string{"()"}}); err == nil {
		t.Error("a licence filter of nothing was accepted")
	}
}

// TestExportHFCardListsSources: the hf dataset card lists every source
// repository with its URL, commit and licence, and declares `other` for
// mixed licences.
func TestExportHFCardListsSources(t *testing.T) {
	st, repos := licenseExportStore(t, 2)
	ctx := t.Context()
	out := filepath.Join(t.TempDir(), "hf-set")
	j, err := NewExportJob(DefaultConfig(), st, ExportSpec{Output: out, Template: "hf"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Run(ctx, j); err != nil {
		t.Fatal(err)
	}
	card, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	c := string(card)
	if !strings.Contains(c, "\nlicense: other\n") || !strings.Contains(c, "## Source repositories\n\n| Repository | URL | Commit | Licence |\n") {
		t.Errorf("card:\n%s", c)
	}
	for name, r := range repos {
		row := fmt.Sprintf("| %s | %s | `%s` | %s |\n", r.Name, r.URL, r.HeadCommit, r.License)
		if !strings.Contains(c, row) {
			t.Errorf("card lacks the row of %s: %q", name, row)
		}
	}
	if !strings.Contains(c, "(`Apache-2.0`, `Apache-2.0 AND MIT`, `BSD-3-Clause`, `GPL-3.0`, `MIT`, `NOASSERTION`)") {
		t.Errorf("card does not list the licences:\n%s", c)
	}
	attr, err := os.ReadFile(filepath.Join(out, export.AttributionFile))
	if err != nil || !strings.Contains(string(attr), "(14 records from 7 repositories)") {
		t.Errorf("attribution in the directory: %v\n%s", err, attr)
	}

	// One licence: the card declares it.
	out2 := filepath.Join(t.TempDir(), "mit-set")
	j, err = NewExportJob(DefaultConfig(), st, ExportSpec{Output: out2, Template: "hf", Licenses: []string{"MIT"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Run(ctx, j); err != nil {
		t.Fatal(err)
	}
	if card, _ := os.ReadFile(filepath.Join(out2, "README.md")); !strings.Contains(string(card), "\nlicense: mit\n") {
		t.Errorf("MIT-only card:\n%s", card)
	}
}

func TestRepoLicense(t *testing.T) {
	dir := t.TempDir()
	commit := goGitRepo(t, dir, map[string]string{"LICENSE": mitText})
	for _, tc := range []struct {
		r    store.Repo
		want string
	}{
		{store.Repo{License: "GPL-3.0", LocalPath: dir}, "GPL-3.0"},
		{store.Repo{LocalPath: dir, HeadCommit: commit}, "MIT"},
		{store.Repo{LocalPath: dir}, "MIT"},
		{store.Repo{}, store.NoAssertion},
		{store.Repo{LocalPath: filepath.Join(dir, "missing")}, store.NoAssertion},
	} {
		if got := RepoLicense(tc.r); got != tc.want {
			t.Errorf("RepoLicense(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}
