package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/go-enry/go-enry/v2"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/licensecheck"

	"cicdllm/pipeline/export"
	"cicdllm/store"
)

// Licence detection (R-LIC-1). A repository's licence is read from the
// root of its tree at a commit, through the object store like OpenTree:
//
//  1. Root licence files (LICENSE*, LICENCE*, COPYING*, UNLICENSE,
//     MIT-LICENSE*) are scanned with google/licensecheck, which aims never to
//     give a false positive. A file counts when the licences it matches
//     cover at least licenseMinCoverage percent of its text; every licence
//     of every counted file is reported, sorted and joined with " AND "
//     (LICENSE-MIT + LICENSE-APACHE is "Apache-2.0 AND MIT").
//  2. Only when the root has no licence file at all, the license field of
//     package.json, Cargo.toml or pyproject.toml is taken, as the SPDX
//     expression written there.
//  3. Anything else is NOASSERTION: a licence file nothing recognises, a
//     licence mentioned in a README, a URL instead of a licence text.

// LicenseInfo is what DetectLicense found.
type LicenseInfo struct {
	// SPDX is the licence: an SPDX id ("MIT"), several ids joined with
	// " AND " in sorted order ("Apache-2.0 AND MIT"), the expression of a
	// package manifest ("MIT OR Apache-2.0"), or NOASSERTION.
	SPDX string
	// Files are the root files that decided it (sorted); none for
	// NOASSERTION.
	Files []string
	// Coverage is the percentage of the deciding licence files' text the
	// licences matched (the lowest of them); 100 for a manifest's
	// declaration. For NOASSERTION it is the best coverage of a licence
	// file that was not enough, 0 when there was none.
	Coverage float64
	// Detector says what decided: "licensecheck", "package.json",
	// "Cargo.toml" or "pyproject.toml"; "" for NOASSERTION.
	Detector string
	// Unrecognised are root licence files licensecheck did not recognise
	// well enough to count (sorted), for the log.
	Unrecognised []string
}

const (
	licenseMaxBlob     = 256 << 10 // bytes read of a licence, NOTICE or manifest file
	licenseMinCoverage = 75.0      // percent of a licence file's words that must match
)

// DetectLicense detects the licence of the repository at repoDir (a bare
// clone or a repository with a working tree, read through its object
// store only) at its HEAD commit.
func DetectLicense(repoDir string) (LicenseInfo, error) {
	return DetectLicenseAt(repoDir, "")
}

// DetectLicenseAt detects the licence at the given commit (full hex id);
// "" means HEAD.
func DetectLicenseAt(repoDir, commit string) (LicenseInfo, error) {
	repo, err := selOpenRepo(repoDir)
	if err != nil {
		return LicenseInfo{SPDX: store.NoAssertion}, err
	}
	files, err := licenseRootFiles(repo, commit)
	if err != nil {
		return LicenseInfo{SPDX: store.NoAssertion}, fmt.Errorf("%s: %w", repoDir, err)
	}
	info, err := detectLicense(repo, files)
	if err != nil {
		return LicenseInfo{SPDX: store.NoAssertion}, fmt.Errorf("%s: %w", repoDir, err)
	}
	return info, nil
}

// licenseFile is a regular file at the root of a tree.
type licenseFile struct {
	name string
	hash plumbing.Hash
}

// licenseRootFiles lists the regular files at the root of the commit's
// tree (HEAD when commit is ""), sorted by name. Symbolic links and
// submodules are left out: a link's blob is a path, not a licence.
func licenseRootFiles(repo *git.Repository, commit string) ([]licenseFile, error) {
	var h plumbing.Hash
	if commit == "" {
		head, err := repo.Head()
		if err != nil {
			if errors.Is(err, plumbing.ErrReferenceNotFound) {
				return nil, errors.New("the repository has no commits (unborn HEAD)")
			}
			return nil, fmt.Errorf("read HEAD: %w", err)
		}
		h = head.Hash()
	} else {
		if len(commit) != 40 || !plumbing.IsHash(commit) {
			return nil, fmt.Errorf("%q is not a commit id", commit)
		}
		h = plumbing.NewHash(commit)
	}
	c, err := repo.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	tree, err := object.GetTree(repo.Storer, c.TreeHash)
	if err != nil {
		return nil, fmt.Errorf("read the tree of %s: %w", h, err)
	}
	var out []licenseFile
	for _, e := range tree.Entries {
		if e.Name == "" || strings.ContainsAny(e.Name, "/\x00") {
			continue
		}
		switch {
		case e.Mode == filemode.Regular, e.Mode == filemode.Executable, e.Mode == filemode.Deprecated,
			e.Mode&0170000 == 0100000:
			out = append(out, licenseFile{name: e.Name, hash: e.Hash})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// readLicenseBlob reads up to licenseMaxBlob bytes of a blob, without a
// UTF-8 byte order mark.
func readLicenseBlob(repo *git.Repository, h plumbing.Hash) ([]byte, error) {
	obj, err := repo.Storer.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, licenseMaxBlob))
	if err != nil {
		return nil, err
	}
	return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), nil
}

// isLicenseFileName reports a root file name that holds a licence:
// LICENSE, LICENCE, COPYING, UNLICENSE and MIT-LICENSE, alone or followed
// by a separator and a suffix (LICENSE.md, LICENSE-MIT, COPYING.LESSER),
// but not a source file (license.go) nor another word (LICENSES, licensee).
func isLicenseFileName(name string) bool {
	return hasNameStem(name, "license", "licence", "copying", "unlicense", "mit-license")
}

// isNoticeFileName reports an Apache NOTICE file (NOTICE, NOTICE.txt, ...).
func isNoticeFileName(name string) bool { return hasNameStem(name, "notice") }

func hasNameStem(name string, stems ...string) bool {
	lower := strings.ToLower(name)
	for _, stem := range stems {
		rest, ok := strings.CutPrefix(lower, stem)
		if !ok {
			continue
		}
		if rest == "" {
			return true
		}
		if !strings.ContainsRune("-._", rune(rest[0])) {
			continue
		}
		switch path.Ext(lower) {
		case ".md", ".markdown", ".txt", ".text", ".rst", ".adoc", ".asciidoc", ".org", ".html", ".htm":
			return true
		}
		// Any language linguist may read the extension as: ".go" is Go,
		// but ".mit" or ".lesser" are none.
		for _, lang := range enry.GetLanguagesByExtension(lower, nil, nil) {
			if enry.GetLanguageType(lang) == enry.Programming {
				return false
			}
		}
		return true
	}
	return false
}

func detectLicense(repo *git.Repository, files []licenseFile) (LicenseInfo, error) {
	info := LicenseInfo{SPDX: store.NoAssertion}
	ids := map[string]bool{}
	minCov, best := 100.0, 0.0
	found := false
	for _, f := range files {
		if !isLicenseFileName(f.name) {
			continue
		}
		found = true
		data, err := readLicenseBlob(repo, f.hash)
		if err != nil {
			return info, fmt.Errorf("read %s: %w", f.name, err)
		}
		cov := licensecheck.Scan(data)
		var matched []string
		for _, m := range cov.Match {
			if !m.IsURL && m.ID != "" {
				matched = append(matched, m.ID)
			}
		}
		if cov.Percent < licenseMinCoverage || len(matched) == 0 {
			info.Unrecognised = append(info.Unrecognised, f.name)
			best = math.Max(best, cov.Percent)
			continue
		}
		for _, id := range matched {
			ids[id] = true
		}
		info.Files = append(info.Files, f.name)
		minCov = math.Min(minCov, cov.Percent)
	}
	switch {
	case len(ids) > 0:
		list := make([]string, 0, len(ids))
		for id := range ids {
			list = append(list, id)
		}
		sort.Strings(list)
		info.SPDX, info.Detector, info.Coverage = strings.Join(list, " AND "), "licensecheck", roundCoverage(minCov)
		return info, nil
	case found:
		info.Coverage = roundCoverage(best)
		return info, nil
	}
	return detectManifestLicense(repo, files)
}

func roundCoverage(p float64) float64 { return math.Round(p*10) / 10 }

// detectManifestLicense takes the license fields of the root package
// manifests. Several manifests with different expressions give all of
// them joined with AND.
func detectManifestLicense(repo *git.Repository, files []licenseFile) (LicenseInfo, error) {
	info := LicenseInfo{SPDX: store.NoAssertion}
	var exprs []string
	for _, f := range files {
		var parse func([]byte) string
		switch f.name {
		case "package.json":
			parse = packageJSONLicense
		case "Cargo.toml":
			parse = cargoLicense
		case "pyproject.toml":
			parse = pyprojectLicense
		default:
			continue
		}
		data, err := readLicenseBlob(repo, f.hash)
		if err != nil {
			return info, fmt.Errorf("read %s: %w", f.name, err)
		}
		expr, ok := normalizeSPDX(parse(data))
		if !ok {
			continue
		}
		if !containsFold(exprs, expr) {
			exprs = append(exprs, expr)
		}
		info.Files = append(info.Files, f.name)
		if info.Detector == "" {
			info.Detector = f.name
		}
	}
	switch len(exprs) {
	case 0:
		return LicenseInfo{SPDX: store.NoAssertion}, nil
	case 1:
		info.SPDX = exprs[0]
	default:
		sort.Strings(exprs)
		for i, e := range exprs {
			if strings.Contains(e, " OR ") || strings.Contains(e, " AND ") {
				exprs[i] = "(" + e + ")"
			}
		}
		info.SPDX = strings.Join(exprs, " AND ")
	}
	info.Coverage = 100
	return info, nil
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// packageJSONLicense reads npm's "license" ("MIT", or the old {"type":
// "MIT"}) or the older "licenses" list (alternatives, so joined with OR).
func packageJSONLicense(data []byte) string {
	var pkg struct {
		License  json.RawMessage `json:"license"`
		Licenses []struct {
			Type string `json:"type"`
		} `json:"licenses"`
	}
	if json.Unmarshal(data, &pkg) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(pkg.License, &s) == nil {
		return s
	}
	var obj struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(pkg.License, &obj) == nil && obj.Type != "" {
		return obj.Type
	}
	var alts []string
	for _, l := range pkg.Licenses {
		if l.Type == "" {
			return ""
		}
		alts = append(alts, l.Type)
	}
	return strings.Join(alts, " OR ")
}

// cargoLicense reads [package] license, or [workspace.package] license
// when the package inherits it (license.workspace = true).
func cargoLicense(data []byte) string {
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		return ""
	}
	lic := tomlPath(m, "package", "license")
	if s, ok := lic.(string); ok {
		return s
	}
	if t, ok := lic.(map[string]any); ok && t["workspace"] == true {
		s, _ := tomlPath(m, "workspace", "package", "license").(string)
		return s
	}
	s, _ := tomlPath(m, "workspace", "package", "license").(string)
	return s
}

// pyprojectLicense reads [project] license (a PEP 639 expression, or the
// older {text = "..."} table), else Poetry's [tool.poetry] license.
func pyprojectLicense(data []byte) string {
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		return ""
	}
	switch lic := tomlPath(m, "project", "license").(type) {
	case string:
		return lic
	case map[string]any:
		if s, ok := lic["text"].(string); ok {
			return s
		}
	}
	s, _ := tomlPath(m, "tool", "poetry", "license").(string)
	return s
}

func tomlPath(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		t, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = t[k]
	}
	return v
}

var (
	spdxToken = regexp.MustCompile(`\(|\)|[^\s()]+`)
	spdxID    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+:-]*$`)
)

// normalizeSPDX checks that expr is an SPDX licence expression (ids, AND,
// OR, WITH and parentheses) and writes it canonically: operators in upper
// case, single spaces. "UNLICENSED", "SEE LICENSE IN ...", "Apache 2.0"
// and other non-expressions are refused.
func normalizeSPDX(expr string) (string, bool) {
	toks := spdxToken.FindAllString(strings.TrimSpace(expr), -1)
	if len(toks) == 0 || len(toks) > 64 {
		return "", false
	}
	var out []string
	depth, wantOperand, afterWith := 0, true, false
	for _, tok := range toks {
		up := strings.ToUpper(tok)
		switch {
		case tok == "(":
			if !wantOperand || afterWith {
				return "", false
			}
			depth++
			out = append(out, "(")
		case tok == ")":
			if wantOperand || depth == 0 {
				return "", false
			}
			depth--
			out = append(out, ")")
		case up == "AND" || up == "OR" || up == "WITH":
			if wantOperand {
				return "", false
			}
			wantOperand, afterWith = true, up == "WITH"
			out = append(out, up)
		default:
			if !wantOperand || !spdxID.MatchString(tok) {
				return "", false
			}
			switch up {
			case "UNLICENSED", "NONE", "NOASSERTION", "PROPRIETARY", "UNKNOWN":
				return "", false
			}
			wantOperand, afterWith = false, false
			out = append(out, tok)
		}
	}
	if wantOperand || depth != 0 {
		return "", false
	}
	s := strings.Join(out, " ")
	s = strings.ReplaceAll(strings.ReplaceAll(s, "( ", "("), " )", ")")
	return s, true
}

// RepoLicense is the licence to judge a repository by: Repos.license, or,
// for a repository scraped before licences were detected (""), a
// detection at its recorded HEAD (NOASSERTION when that fails).
func RepoLicense(r store.Repo) string {
	if strings.TrimSpace(r.License) != "" {
		return r.License
	}
	if r.LocalPath == "" {
		return store.NoAssertion
	}
	info, err := DetectLicenseAt(r.LocalPath, r.HeadCommit)
	if err != nil {
		return store.NoAssertion
	}
	return info.SPDX
}

// LicenseAllowed reports whether prepare may process a repository under
// the licence spdx (Repos.license), and why not. An empty
// safety.allowed_licenses allows every licence, and a repository without
// one (NOASSERTION or "") unless safety.skip_unlicensed is on. A non-empty
// list allows a licence when every id in it is listed (compared
// case-insensitively; "MIT AND Apache-2.0" needs both, and so does
// "MIT OR Apache-2.0"); a repository without a licence only when
// NOASSERTION is listed.
func LicenseAllowed(cfg SafetyConfig, spdx string) (bool, string) {
	ids := store.LicenseIDs(spdx)
	unlicensed := len(ids) == 0
	for _, id := range ids {
		if unknownLicenseID(id) {
			unlicensed = true
		}
	}
	if unlicensed && cfg.SkipUnlicensed {
		return false, "no licence detected and safety.skip_unlicensed is on"
	}
	allowed := map[string]bool{}
	for _, l := range cfg.AllowedLicenses {
		for _, id := range store.LicenseIDs(l) {
			allowed[strings.ToUpper(id)] = true
		}
	}
	if len(allowed) == 0 {
		return true, ""
	}
	if unlicensed {
		if allowed[store.NoAssertion] {
			return true, ""
		}
		return false, "no licence detected (NOASSERTION) and safety.allowed_licenses does not list NOASSERTION"
	}
	for _, id := range ids {
		if !allowed[strings.ToUpper(id)] {
			if len(ids) == 1 {
				return false, fmt.Sprintf("licence %s is not in safety.allowed_licenses", id)
			}
			return false, fmt.Sprintf("licence %s (of %s) is not in safety.allowed_licenses", id, spdx)
		}
	}
	return true, ""
}

func unknownLicenseID(id string) bool {
	switch strings.ToUpper(strings.TrimSpace(id)) {
	case "", store.NoAssertion, "NONE", "UNKNOWN":
		return true
	}
	return false
}

// ReadNotices reads what a source repository asks exports to reproduce:
// the copyright lines of its root licence files and its root NOTICE file,
// at each of the given commits (lines and notices are merged without
// repeats, in the order of commits). It is the export.Job's NoticeReader.
func ReadNotices(repoDir string, commits []string) (export.Notices, error) {
	var n export.Notices
	repo, err := selOpenRepo(repoDir)
	if err != nil {
		return n, err
	}
	seenLine, seenNotice := map[string]bool{}, map[string]bool{}
	var errs []error
	for _, c := range commits {
		files, err := licenseRootFiles(repo, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			lic, notice := isLicenseFileName(f.name), isNoticeFileName(f.name)
			if !lic && !notice {
				continue
			}
			data, err := readLicenseBlob(repo, f.hash)
			if err != nil {
				errs = append(errs, fmt.Errorf("read %s at %s: %w", f.name, c, err))
				continue
			}
			text := strings.ToValidUTF8(strings.ReplaceAll(string(data), "\r\n", "\n"), "\uFFFD")
			if lic {
				for _, line := range copyrightLines(text) {
					if !seenLine[line] {
						seenLine[line] = true
						n.Copyright = append(n.Copyright, line)
					}
				}
			}
			if notice {
				text = strings.TrimSpace(text)
				if text != "" && !seenNotice[text] {
					seenNotice[text] = true
					if n.Notice != "" {
						n.Notice += "\n\n"
					}
					n.Notice += text
				}
			}
		}
	}
	if len(errs) == len(commits) && len(errs) > 0 {
		return n, errors.Join(errs...)
	}
	return n, nil
}

var (
	copyrightYear  = regexp.MustCompile(`\b(19|20)\d\d\b`)
	copyrightOwner = regexp.MustCompile(`(?i)\b(authors?|contributors|developers|inc\.?|ltd\.?|llc|gmbh|corp\.?|corporation|foundation|project)\b`)
	// Placeholders of licence templates ("Copyright [yyyy] [name of copyright owner]").
	copyrightPlaceholder = regexp.MustCompile(`(?i)[\[<{]\s*(yyyy|year|name|holder|fullname|owner|copyright holder)`)
)

// copyrightLines picks the copyright statements of a licence text: lines
// starting with "Copyright", "(c)" or "©" that name a year or an owner,
// leaving out the templates' placeholders, the prose of licence texts
// ("copyright notice ...", "(c) You must retain ...") and the FSF's
// copyright on the GPL texts themselves.
func copyrightLines(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "#*/;-> \t"))
		lower := strings.ToLower(t)
		var ok bool
		switch {
		case strings.HasPrefix(t, "©"):
			ok = true
		case strings.HasPrefix(lower, "(c)"):
			ok = copyrightYear.MatchString(t)
		case strings.HasPrefix(t, "Copyright") || strings.HasPrefix(t, "COPYRIGHT"):
			rest := t[len("Copyright"):]
			ok = rest == "" || strings.ContainsRune(" :\t(", rune(rest[0])) || strings.HasPrefix(rest, "©")
			ok = ok && (copyrightYear.MatchString(rest) || strings.Contains(rest, "©") ||
				strings.Contains(strings.ToLower(rest), "(c)") || copyrightOwner.MatchString(rest))
		}
		if !ok || copyrightPlaceholder.MatchString(t) || strings.Contains(t, "Free Software Foundation") {
			continue
		}
		out = append(out, strings.Join(strings.Fields(t), " "))
	}
	return out
}
