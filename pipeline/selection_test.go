package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
)

// selEntry is one file of the selection fixture.
type selEntry struct {
	path    string
	content []byte
	kind    string // "" regular, "exec", "symlink" (content is the target), "submodule"
}

// Expected outcomes. stage says which call decides: "path" (SkipByPath,
// without reading), "read" (Read) or "" for a selected file.
type selWant struct {
	stage, reason string
	lang          string // selected files
	decoded       string
	text          string // expected Text when it differs from the raw bytes
}

func selPicked(lang string) selWant   { return selWant{lang: lang} }
func selByPath(reason string) selWant { return selWant{stage: "path", reason: reason} }
func selByRead(reason string) selWant { return selWant{stage: "read", reason: reason} }

const selGitlink = "1234567890abcdef1234567890abcdef12345678"

func selUTF16(s string, le bool) []byte {
	out := []byte{0xFE, 0xFF}
	if le {
		out = []byte{0xFF, 0xFE}
	}
	for _, r := range s { // ASCII and BMP only in the fixture
		if le {
			out = append(out, byte(r), byte(r>>8))
		} else {
			out = append(out, byte(r>>8), byte(r))
		}
	}
	return out
}

// selFixture is ~50 files covering every selection rule and a dozen
// languages.
func selFixture() []selEntry {
	var long strings.Builder // ordinary Go code with one long (data) line
	long.WriteString("package data\n\n")
	for i := range 300 {
		long.WriteString("var value" + strings.Repeat("x", i%7) + " = compute(1, 2, 3) // ok\n")
	}
	long.WriteString("var blob = \"" + strings.Repeat("abcdefgh", 625) + "\"\n")

	var minified bytes.Buffer
	for minified.Len() < 50_000 {
		minified.WriteString("var a=function(b){return b*2};")
	}
	var seed bytes.Buffer
	for seed.Len() < 100*1024 {
		seed.WriteString("INSERT INTO users (id, name) VALUES (1, 'alice');\n")
	}
	lateNUL := append(bytes.Repeat([]byte("plain text line\n"), 600), 0, '\n')

	return []selEntry{
		// Selected, by language.
		{path: "main.go", content: []byte("package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n")},
		{path: "internal/server/server.go", content: []byte("package server\n\n// Serve serves.\nfunc Serve() error { return nil }\n")},
		{path: "internal/data/table.go", content: []byte(long.String())},
		{path: "app/cli.py", content: []byte("import sys\n\n\ndef main():\n    print(sys.argv)\n")},
		{path: "tools/bom.py", content: []byte("\xEF\xBB\xBFprint('bom')\n")},
		{path: "web/src/index.ts", content: []byte("export const answer: number = 42;\n")},
		{path: "web/src/util.js", content: []byte("export function add(a, b) {\n  return a + b;\n}\n")},
		{path: "scripts/deploy.sh", content: []byte("#!/bin/sh\nset -eu\necho deploying\n"), kind: "exec"},
		{path: "deploy/k8s/deployment.yaml", content: []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n")},
		{path: "infra/main.tf", content: []byte("resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"my-bucket\"\n}\n")},
		{path: "Dockerfile", content: []byte("FROM golang:1.26\nRUN go build ./...\n")},
		{path: "Containerfile", content: []byte("FROM alpine:3\nCMD [\"sh\"]\n")},
		{path: "deploy/Dockerfile.prod", content: []byte("FROM scratch\nCOPY app /app\n")},
		{path: "Makefile", content: []byte("all:\n\tgo build ./...\n")},
		{path: "Jenkinsfile", content: []byte("pipeline {\n  agent any\n  stages { stage('b') { steps { sh 'make' } } }\n}\n")},
		{path: "Vagrantfile", content: []byte("Vagrant.configure(\"2\") do |config|\n  config.vm.box = \"ubuntu\"\nend\n")},
		{path: ".github/workflows/ci.yml", content: []byte("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n")},
		{path: ".gitlab-ci.yml", content: []byte("stages: [test]\ntest:\n  script: make test\n")},
		{path: "go.mod", content: []byte("module example.com/x\n\ngo 1.26\n")},
		{path: "notes/todo.unknownext", content: []byte("remember the milk\n")},
		{path: "docs/guide.md", content: []byte("# Guide\n\nRun `make`.\n")},
		{path: "README.md", content: []byte("# Fixture\n")},
		{path: "LICENSE", content: []byte("MIT License\n\nPermission is hereby granted, free of charge.\n")},
		{path: "third_party/patched/fix.go", content: []byte("package patched\n\nfunc Fix() {}\n")},
		// Encodings.
		{path: "win/readme-le.txt", content: selUTF16("Hello, w\u00f6rld\r\nline two\r\n", true)},
		{path: "win/readme-be.txt", content: selUTF16("Big endian \u20ac\n", false)},
		{path: "legacy/latin1.c", content: []byte("/* caf\xe9 */\nint main(void) { return 0; }\n")},
		// Skipped by path.
		{path: "link-to-main", content: []byte("main.go"), kind: "symlink"},
		{path: "sub", kind: "submodule"},
		{path: "tools/old_migrate.py", content: []byte("print('old')\n")},
		{path: "assets/logo.png", content: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")},
		{path: "assets/LOGO.PNG", content: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02")},
		{path: ".DS_Store", content: []byte("\x00\x00\x00\x01Bud1\x00\x00\x10\x00")},
		{path: "assets/favicon.ico", content: []byte("\x00\x00\x01\x00\x01\x00\x10\x10")},
		{path: "package-lock.json", content: []byte("{\n  \"lockfileVersion\": 3\n}\n")},
		{path: "go.sum", content: []byte("example.com/y v1.0.0 h1:abc=\n")},
		{path: "web/yarn.lock", content: []byte("# yarn lockfile v1\n")},
		{path: "vendor/github.com/pkg/errors/errors.go", content: []byte("package errors\n")},
		{path: "node_modules/left-pad/index.js", content: []byte("module.exports = leftPad;\n")},
		{path: "third_party/other/lib.go", content: []byte("package other\n")},
		{path: ".idea/workspace.xml", content: []byte("<project/>\n")},
		// Skipped on reading.
		{path: "api/types_gen.go", content: []byte("// Code generated by protoc-gen-go. DO NOT EDIT.\n\npackage api\n\ntype T struct{}\n")},
		{path: "data/blob.dat", content: []byte("abc\x00def\n")},
		{path: "data/late-nul.txt", content: lateNUL},
		{path: "assets/dataset.csv", content: []byte("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")},
		{path: "web/static/app.bundle.js", content: minified.Bytes()},
		{path: "db/seed.sql", content: seed.Bytes()},
		{path: "empty.txt", content: []byte{}},
		{path: "app/__init__.py", content: []byte{}},
		{path: "blank.txt", content: []byte("\n  \n\t\n")},
	}
}

// selFixtureConfig is the base configuration of the table test.
func selFixtureConfig() FilesConfig {
	c := DefaultConfig().Files
	c.MaxFileSize = 64 * KiB
	c.MinFileSize = 0 // the fixture's files are tiny; TestSelectTooSmallNotebookAndDeepTrees covers the rule
	c.Include = []string{"third_party/patched/*.go"}
	c.Exclude = []string{"tools/old_*.py"}
	return c
}

// selWants is the expected outcome of every fixture file under
// selFixtureConfig with non_utf8 = "skip" and skip_documentation = false.
func selWants() map[string]selWant {
	return map[string]selWant{
		"main.go":                    selPicked("Go"),
		"internal/server/server.go":  selPicked("Go"),
		"internal/data/table.go":     selPicked("Go"),
		"app/cli.py":                 selPicked("Python"),
		"tools/bom.py":               {lang: "Python", text: "print('bom')\n"},
		"web/src/index.ts":           selPicked("TypeScript"),
		"web/src/util.js":            selPicked("JavaScript"),
		"scripts/deploy.sh":          selPicked("Shell"),
		"deploy/k8s/deployment.yaml": selPicked("YAML"),
		"infra/main.tf":              selPicked("HCL"),
		"Dockerfile":                 selPicked("Dockerfile"),
		"Containerfile":              selPicked("Dockerfile"),
		"deploy/Dockerfile.prod":     selPicked("Dockerfile"),
		"Makefile":                   selPicked("Makefile"),
		"Jenkinsfile":                selPicked("Groovy"),
		"Vagrantfile":                selPicked("Ruby"),
		".github/workflows/ci.yml":   selPicked("YAML"),
		".gitlab-ci.yml":             selPicked("YAML"),
		"go.mod":                     selPicked("Go Module"),
		"notes/todo.unknownext":      selPicked(""),
		"docs/guide.md":              selPicked("Markdown"),
		"README.md":                  selPicked("Markdown"),
		"LICENSE":                    selPicked("Text"),
		"third_party/patched/fix.go": selPicked("Go"),

		"win/readme-le.txt": selByRead(SkipNonUTF8),
		"win/readme-be.txt": selByRead(SkipNonUTF8),
		"legacy/latin1.c":   selByRead(SkipNonUTF8),

		"link-to-main":                           selByPath(SkipSymlink),
		"sub":                                    selByPath(SkipSubmodule),
		"tools/old_migrate.py":                   selByPath(SkipExcludedGlob),
		"assets/logo.png":                        selByPath(SkipExcludedExtension),
		"assets/LOGO.PNG":                        selByPath(SkipExcludedExtension),
		".DS_Store":                              selByPath(SkipExcludedExtension),
		"assets/favicon.ico":                     selByPath(SkipBinary),
		"package-lock.json":                      selByPath(SkipLockFile),
		"go.sum":                                 selByPath(SkipLockFile),
		"web/yarn.lock":                          selByPath(SkipLockFile),
		"vendor/github.com/pkg/errors/errors.go": selByPath(SkipVendored),
		"node_modules/left-pad/index.js":         selByPath(SkipVendored),
		"third_party/other/lib.go":               selByPath(SkipVendored),
		".idea/workspace.xml":                    selByPath(SkipGenerated),

		"api/types_gen.go":         selByRead(SkipGenerated),
		"data/blob.dat":            selByRead(SkipBinary),
		"data/late-nul.txt":        selByRead(SkipBinary),
		"assets/dataset.csv":       selByRead(SkipLFSPointer),
		"web/static/app.bundle.js": selByRead(SkipMinified),
		"db/seed.sql":              selByRead(SkipTooLarge),
		"empty.txt":                selByRead(SkipEmpty),
		"app/__init__.py":          selByRead(SkipEmpty),
		"blank.txt":                selByRead(SkipEmpty),
	}
}

// selMakeRepo commits the fixture to a new repository with a working tree,
// adds the submodule entry by hand (go-git's worktree cannot), then changes
// the working tree so that reading it instead of the objects would show.
func selMakeRepo(t *testing.T, entries []selEntry) (dir string, head plumbing.Hash) {
	t.Helper()
	dir = t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	var gitlinks []string
	for _, e := range entries {
		full := filepath.Join(dir, filepath.FromSlash(e.path))
		if e.kind == "submodule" {
			gitlinks = append(gitlinks, e.path)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		switch e.kind {
		case "symlink":
			if err := os.Symlink(string(e.content), full); err != nil {
				t.Skipf("no symlinks here: %v", err)
			}
		case "exec":
			err = os.WriteFile(full, e.content, 0o755)
		default:
			err = os.WriteFile(full, e.content, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(e.path); err != nil {
			t.Fatalf("add %s: %v", e.path, err)
		}
	}
	sig := &object.Signature{Name: "Test", Email: "test@example.com", When: time.Unix(1_700_000_000, 0)}
	first, err := wt.Commit("fixture", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	head = first
	if len(gitlinks) > 0 {
		head = selAddGitlinks(t, repo, first, gitlinks, sig)
	}
	// The working tree now disagrees with HEAD: one file changed, one gone.
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main // CHANGED IN THE WORKING TREE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "app", "cli.py")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return dir, head
}

// selAddGitlinks commits a copy of the root tree of parent with gitlink
// entries added at the top level.
func selAddGitlinks(t *testing.T, repo *git.Repository, parent plumbing.Hash, names []string, sig *object.Signature) plumbing.Hash {
	t.Helper()
	c, err := repo.CommitObject(parent)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	entries := append([]object.TreeEntry(nil), tree.Entries...)
	for _, n := range names {
		entries = append(entries, object.TreeEntry{Name: n, Mode: filemode.Submodule, Hash: plumbing.NewHash(selGitlink)})
	}
	key := func(e object.TreeEntry) string { // git's tree order
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	store := func(o interface {
		Encode(plumbing.EncodedObject) error
	}) plumbing.Hash {
		obj := repo.Storer.NewEncodedObject()
		if err := o.Encode(obj); err != nil {
			t.Fatal(err)
		}
		h, err := repo.Storer.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	treeHash := store(&object.Tree{Entries: entries})
	commit := store(&object.Commit{Author: *sig, Committer: *sig, Message: "add submodule", TreeHash: treeHash, ParentHashes: []plumbing.Hash{parent}})
	ref, err := repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(ref.Name(), commit)); err != nil {
		t.Fatal(err)
	}
	return commit
}

// selBareCopy makes a bare repository holding src's objects in a single
// packfile (deltified) and its HEAD branch: a bare clone without a
// transport (the tests install cicdllm's transports, which remove file://).
func selBareCopy(t *testing.T, src string) string {
	t.Helper()
	from, err := git.PlainOpen(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "fixture.git")
	if _, err := git.PlainInit(dst, true); err != nil {
		t.Fatal(err)
	}
	iter, err := from.Storer.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []plumbing.Hash
	if err := iter.ForEach(func(o plumbing.EncodedObject) error {
		hashes = append(hashes, o.Hash())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st := filesystem.NewStorage(osfs.New(dst), cache.NewObjectLRUDefault())
	w, err := st.PackfileWriter()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := packfile.NewEncoder(w, from.Storer, false).Encode(hashes, 10); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	head, err := from.Head()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetReference(plumbing.NewHashReference(head.Name(), head.Hash())); err != nil {
		t.Fatal(err)
	}
	if err := st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, head.Name())); err != nil {
		t.Fatal(err)
	}
	return dst
}

func selSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestSelectFixtureTable is the acceptance test: for every file of the
// fixture, in a repository with a (changed) working tree and in a packed
// bare copy, under "skip" and "decode" settings, exactly the expected files
// are selected, with their language, or skipped with the expected reason by
// the expected step.
func TestSelectFixtureTable(t *testing.T) {
	entries := selFixture()
	work, head := selMakeRepo(t, entries)
	bare := selBareCopy(t, work)
	raw := map[string][]byte{}
	for _, e := range entries {
		raw[e.path] = e.content
	}

	skipCfg := selFixtureConfig()
	decodeCfg := selFixtureConfig()
	decodeCfg.NonUTF8 = "decode"
	decodeCfg.SkipDocumentation = true
	decodeWants := selWants()
	decodeWants["win/readme-le.txt"] = selWant{lang: "Text", decoded: DecodedUTF16LE, text: "Hello, w\u00f6rld\r\nline two\r\n"}
	decodeWants["win/readme-be.txt"] = selWant{lang: "Text", decoded: DecodedUTF16BE, text: "Big endian \u20ac\n"}
	decodeWants["legacy/latin1.c"] = selWant{lang: "C", decoded: DecodedLatin1, text: "/* caf\u00e9 */\nint main(void) { return 0; }\n"}
	for _, p := range []string{"docs/guide.md", "README.md", "LICENSE"} {
		decodeWants[p] = selByPath(SkipDocumentation)
	}

	configs := []struct {
		name  string
		cfg   FilesConfig
		wants map[string]selWant
	}{
		{"skip", skipCfg, selWants()},
		{"decode", decodeCfg, decodeWants},
	}
	for _, repoCase := range []struct{ name, dir string }{{"worktree", work}, {"bare", bare}} {
		for _, cc := range configs {
			t.Run(repoCase.name+"/"+cc.name, func(t *testing.T) {
				if len(cc.wants) != len(entries) {
					t.Fatalf("%d expectations for %d fixture files", len(cc.wants), len(entries))
				}
				tree, err := OpenTree(repoCase.dir)
				if err != nil {
					t.Fatal(err)
				}
				if tree.Commit != head.String() {
					t.Errorf("Commit = %s, want %s", tree.Commit, head)
				}
				var listed []string
				for _, f := range tree.Files {
					listed = append(listed, f.Path)
				}
				if !sort.StringsAreSorted(listed) {
					t.Errorf("Files not sorted by path: %v", listed)
				}
				want := make([]string, 0, len(cc.wants))
				for p := range cc.wants {
					want = append(want, p)
				}
				sort.Strings(want)
				if strings.Join(listed, "\n") != strings.Join(want, "\n") {
					t.Fatalf("listed files:\n%s\nwant:\n%s", strings.Join(listed, "\n"), strings.Join(want, "\n"))
				}

				sel, err := NewSelector(cc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				var gotSelected, wantSelected []string
				for _, f := range tree.Files {
					w := cc.wants[f.Path]
					if w.stage == "" {
						wantSelected = append(wantSelected, f.Path)
					}
					stage, reason := "path", sel.SkipByPath(f)
					var file File
					if reason == "" {
						stage = "read"
						file, reason, err = sel.Read(tree, f)
						if err != nil {
							t.Errorf("%s: Read: %v", f.Path, err)
							continue
						}
					}
					if reason != "" {
						if stage != w.stage || reason != w.reason {
							t.Errorf("%s: skipped by %s as %q, want %s", f.Path, stage, reason, selDescribe(w))
						}
						if reason != "" && file != (File{}) {
							t.Errorf("%s: skipped but File is not empty", f.Path)
						}
						continue
					}
					gotSelected = append(gotSelected, f.Path)
					if w.stage != "" {
						t.Errorf("%s: selected (%s), want %s", f.Path, file.Language, selDescribe(w))
						continue
					}
					content := raw[f.Path]
					wantText := string(content)
					if w.text != "" {
						wantText = w.text
					}
					switch {
					case file.Language != w.lang:
						t.Errorf("%s: Language = %q, want %q", f.Path, file.Language, w.lang)
					case file.Text != wantText:
						t.Errorf("%s: Text = %.80q, want %.80q", f.Path, file.Text, wantText)
					case file.Decoded != w.decoded:
						t.Errorf("%s: Decoded = %q, want %q", f.Path, file.Decoded, w.decoded)
					case file.Path != f.Path || file.BlobOID != f.BlobOID:
						t.Errorf("%s: Path/BlobOID = %s/%s, want %s/%s", f.Path, file.Path, file.BlobOID, f.Path, f.BlobOID)
					case file.SHA256 != selSHA(content) || file.Size != int64(len(content)):
						t.Errorf("%s: SHA256/Size = %s/%d, want those of the committed bytes", f.Path, file.SHA256, file.Size)
					case file.Lines != strings.Count(strings.TrimSuffix(wantText, "\n"), "\n")+1:
						t.Errorf("%s: Lines = %d", f.Path, file.Lines)
					}
				}
				sort.Strings(gotSelected)
				if strings.Join(gotSelected, ",") != strings.Join(wantSelected, ",") {
					t.Errorf("processed files:\n%v\nwant:\n%v", gotSelected, wantSelected)
				}
				for _, f := range tree.Files {
					var wantMode filemode.FileMode
					switch f.Path {
					case "link-to-main":
						wantMode = filemode.Symlink
					case "sub":
						wantMode = filemode.Submodule
					case "scripts/deploy.sh":
						wantMode = filemode.Executable
					default:
						wantMode = filemode.Regular
					}
					if f.Mode != wantMode {
						t.Errorf("%s: Mode = %v, want %v", f.Path, f.Mode, wantMode)
					}
				}
			})
		}
	}
}

func selDescribe(w selWant) string {
	if w.stage == "" {
		return "selected as " + w.lang
	}
	return w.stage + " skip " + w.reason
}

// TestSelectIncludeOverrides: an include glob beats every path rule and the
// generated and minified content rules, never symlink, submodule, size,
// binary or encoding.
func TestSelectIncludeOverrides(t *testing.T) {
	dir, _ := selMakeRepo(t, selFixture())
	tree, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := selFixtureConfig()
	cfg.SkipDocumentation = true
	cfg.Include = []string{"vendor/**", "api/*_gen.go", "web/static/*.js", "*.PNG", "/go.sum", "link-to-main", "sub",
		"db/*.sql", "data", "win/*", "tools/old_migrate.py", "docs", "node_modules/left-pad/"}
	sel, err := NewSelector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"vendor/github.com/pkg/errors/errors.go": "",
		"node_modules/left-pad/index.js":         "",
		"api/types_gen.go":                       "",
		"web/static/app.bundle.js":               "",
		"go.sum":                                 "",
		"tools/old_migrate.py":                   "", // include beats exclude
		"docs/guide.md":                          "",
		"README.md":                              SkipDocumentation,
		"link-to-main":                           SkipSymlink,
		"sub":                                    SkipSubmodule,
		"db/seed.sql":                            SkipTooLarge,
		"data/blob.dat":                          SkipBinary,
		"win/readme-le.txt":                      SkipNonUTF8,
		"assets/LOGO.PNG":                        SkipBinary, // included past excluded_extension, then not text
		"assets/logo.png":                        SkipExcludedExtension,
	}
	for _, f := range tree.Files {
		w, ok := want[f.Path]
		if !ok {
			continue
		}
		delete(want, f.Path)
		reason := sel.SkipByPath(f)
		if reason == "" {
			_, reason, err = sel.Read(tree, f)
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
		}
		if reason != w {
			t.Errorf("%s: reason %q, want %q", f.Path, reason, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("not in the tree: %v", want)
	}
}

// selGuardStorer counts blob reads and size look-ups.
type selGuardStorer struct {
	*filesystem.Storage
	mu                  sync.Mutex
	blobReads, sizeAsks int
}

func (g *selGuardStorer) EncodedObject(typ plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := g.Storage.EncodedObject(typ, h)
	if err == nil && obj.Type() == plumbing.BlobObject {
		g.mu.Lock()
		g.blobReads++
		g.mu.Unlock()
	}
	return obj, err
}

func (g *selGuardStorer) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	g.mu.Lock()
	g.sizeAsks++
	g.mu.Unlock()
	return g.Storage.EncodedObjectSize(h)
}

func (g *selGuardStorer) counts() (int, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blobReads, g.sizeAsks
}

// TestSelectTreeListingAndSizeCheckReadNoBlobs: listing the tree touches no
// blob at all (so an unchanged blob id costs nothing), and a blob over the
// size limit is rejected from its object header without being inflated.
func TestSelectTreeListingAndSizeCheckReadNoBlobs(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 1<<16) // 1.1 MiB
	for _, packed := range []bool{false, true} {
		dir, head := selMakeRepo(t, []selEntry{
			{path: "main.go", content: []byte("package main\n")},
			{path: "app/big.txt", content: big},
		})
		gitDir := filepath.Join(dir, ".git")
		if packed {
			gitDir = selBareCopy(t, dir)
		}
		g := &selGuardStorer{Storage: filesystem.NewStorage(osfs.New(gitDir), cache.NewObjectLRUDefault())}
		repo, err := git.Open(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		files, err := selListTree(repo, head, selMaxTreeEntries)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 2 || files[0].Path != "app/big.txt" || files[1].Path != "main.go" {
			t.Fatalf("files = %+v", files)
		}
		if reads, sizes := g.counts(); reads != 0 || sizes != 0 {
			t.Fatalf("packed=%v: listing read %d blobs and %d sizes", packed, reads, sizes)
		}
		cfg := DefaultConfig().Files
		cfg.MaxFileSize = 64 * KiB
		cfg.MinFileSize = 0
		sel, err := NewSelector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tree := &RepoTree{Repo: repo, Commit: head.String(), Files: files}
		if _, reason, err := sel.Read(tree, files[0]); err != nil || reason != SkipTooLarge {
			t.Fatalf("big file: reason %q, err %v", reason, err)
		}
		if reads, sizes := g.counts(); reads != 0 || sizes != 1 {
			t.Fatalf("packed=%v: the too-large check read %d blobs and %d sizes", packed, reads, sizes)
		}
		// The limit applies, whatever its value: 2 MiB lets the file through.
		cfg.MaxFileSize = 2 * MiB
		sel2, _ := NewSelector(cfg)
		if f, reason, err := sel2.Read(tree, files[0]); err != nil || reason != "" || f.Size != int64(len(big)) {
			t.Fatalf("2 MiB limit: size %d reason %q err %v", f.Size, reason, err)
		}
		if f, reason, err := sel.Read(tree, files[1]); err != nil || reason != "" || f.Text != "package main\n" {
			t.Fatalf("main.go: %+v %q %v", f, reason, err)
		}
		if reads, _ := g.counts(); reads != 2 {
			t.Fatalf("packed=%v: %d blob reads, want 2", packed, reads)
		}
	}
}

// TestSelectConcurrentReads: Read may be called from several goroutines on
// one RepoTree (run with -race).
func TestSelectConcurrentReads(t *testing.T) {
	dir, _ := selMakeRepo(t, selFixture())
	tree, err := OpenTree(selBareCopy(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	sel, err := NewSelector(selFixtureConfig())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(tree.Files)*4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range tree.Files {
				if _, _, err := sel.Read(tree, f); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestOpenTreeErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := git.PlainInit(empty, false); err != nil {
		t.Fatal(err)
	}
	emptyBare := filepath.Join(t.TempDir(), "e.git")
	if _, err := git.PlainInit(emptyBare, true); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{empty, emptyBare} {
		if _, err := OpenTree(dir); err == nil || !strings.Contains(err.Error(), "no commits") {
			t.Errorf("%s: err = %v, want one saying there are no commits", dir, err)
		}
	}
	if _, err := OpenTree(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("plain directory: err = %v", err)
	}
	if _, err := OpenTree(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestSelectorGlobs(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"*.go", "main.go", true},
		{"*.go", "a/b/c.go", true},
		{"*.go", "a/b/c.py", false},
		{"Makefile", "build/Makefile", true},
		{"/Makefile", "build/Makefile", false},
		{"/Makefile", "Makefile", true},
		{"docs/*.md", "docs/a.md", true},
		{"docs/*.md", "x/docs/a.md", false},
		{"vendor/*", "vendor/a/b/c.go", true},
		{"vendor/**", "vendor/a/b/c.go", true},
		{"vendor/", "vendor/a.go", true},
		{"vendor", "x/vendor/a.go", true},
		{"vendor/**", "vendorx/a.go", false},
		{"**/ci/*.yml", "a/b/ci/x.yml", true},
		{"**/ci/*.yml", "ci/x.yml", true},
		{"a/**/z.txt", "a/z.txt", true},
		{"a/**/z.txt", "a/b/c/z.txt", true},
		{"a/**/z.txt", "b/a/z.txt", false},
		{"tools/old_*.py", "tools/old_x.py", true},
		{"tools/old_*.py", "tools/new.py", false},
		{"*.PNG", "a/LOGO.PNG", true},
		{"*.PNG", "a/logo.png", false}, // globs are case-sensitive; excluded_extensions are not
		{"[Dd]ockerfile*", "svc/Dockerfile.prod", true},
	}
	for _, c := range cases {
		g, err := selCompileGlob(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		if got := g.match(c.path); got != c.want {
			t.Errorf("%q on %q = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}

func TestNewSelectorRejects(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*FilesConfig)
		want   string
	}{
		{"bad include", func(c *FilesConfig) { c.Include = []string{"ok/*", "src/[a-"} }, `"src/[a-"`},
		{"bad exclude", func(c *FilesConfig) { c.Exclude = []string{"x\\"} }, `files.exclude: "x\\"`},
		{"empty glob", func(c *FilesConfig) { c.Exclude = []string{"/"} }, `files.exclude: "/"`},
		{"non_utf8", func(c *FilesConfig) { c.NonUTF8 = "replace" }, `"replace"`},
		{"size", func(c *FilesConfig) { c.MaxFileSize = 0 }, "max_file_size"},
	} {
		cfg := DefaultConfig().Files
		c.mutate(&cfg)
		if _, err := NewSelector(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %s", c.name, err, c.want)
		}
	}
	if _, err := NewSelector(DefaultConfig().Files); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestSelectDecodeNeverReplaces: bytes that cannot be decoded exactly are
// skipped, never turned into U+FFFD.
func TestSelectDecodeNeverReplaces(t *testing.T) {
	cfg := DefaultConfig().Files
	cfg.NonUTF8 = "decode"
	sel, err := NewSelector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	skip, err := NewSelector(DefaultConfig().Files)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		raw           []byte
		text, decoded string
		reason        string
		skipReason    string
	}{
		{"utf-8", []byte("h\u00e9llo\n"), "h\u00e9llo\n", "", "", ""},
		{"utf-8 bom", []byte("\xEF\xBB\xBFx\n"), "x\n", "", "", ""},
		{"latin-1 every byte", []byte("\xe9\xff\x80\x7f\n"), "\u00e9\u00ff\u0080\u007f\n", DecodedLatin1, "", SkipNonUTF8},
		{"utf-16le surrogate pair", []byte{0xFF, 0xFE, 0x3D, 0xD8, 0x00, 0xDE}, "\U0001F600", DecodedUTF16LE, "", SkipNonUTF8},
		{"utf-16le lone surrogate", []byte{0xFF, 0xFE, 'a', 0, 0x3D, 0xD8}, "", "", SkipNonUTF8, SkipNonUTF8},
		{"utf-16be low surrogate first", []byte{0xFE, 0xFF, 0xDE, 0x00, 0, 'a'}, "", "", SkipNonUTF8, SkipNonUTF8},
		{"utf-16 odd length", []byte{0xFF, 0xFE, 'a', 0, 'b'}, "", "", SkipNonUTF8, SkipNonUTF8},
		{"utf-16 with NUL char", []byte{0xFF, 0xFE, 'a', 0, 0, 0}, "", "", SkipBinary, SkipNonUTF8},
		{"utf-32le", []byte{0xFF, 0xFE, 0, 0, 'a', 0, 0, 0}, "", "", SkipNonUTF8, SkipNonUTF8},
		{"no bom utf-16 is binary", []byte{'a', 0, 'b', 0}, "", "", SkipBinary, SkipBinary},
	}
	for _, c := range cases {
		text, decoded, reason := sel.decodeText(c.raw)
		if text != c.text || decoded != c.decoded || reason != c.reason {
			t.Errorf("%s (decode): %q %q %q, want %q %q %q", c.name, text, decoded, reason, c.text, c.decoded, c.reason)
		}
		if strings.ContainsRune(text, '\uFFFD') {
			t.Errorf("%s: replacement character in %q", c.name, text)
		}
		_, _, reason = skip.decodeText(c.raw)
		if reason != c.skipReason {
			t.Errorf("%s (skip): reason %q, want %q", c.name, reason, c.skipReason)
		}
	}
}

func TestSelectMinifiedRule(t *testing.T) {
	code := strings.Repeat("    x := compute(a, b, c)\n", 400)
	cases := []struct {
		name string
		text string
		want bool
	}{
		{"ordinary code", code, false},
		{"one 3000-char line in code", code + strings.Repeat("a", 3000) + "\n", false},
		{"one 50 KB line", strings.Repeat("var a=1;", 6400), true},
		{"license header over a bundle", strings.Repeat("// license text line\n", 30) + strings.Repeat("a", 5000) + "\n", true},
		{"short lines of 201 chars", strings.Repeat(strings.Repeat("b", 201)+"\n", 10), true},
		{"lines of 200 chars", strings.Repeat(strings.Repeat("b", 200)+"\n", 10), false},
		{"multibyte counts characters", strings.Repeat(strings.Repeat("\u00e9", 150)+"\n", 10), false},
	}
	for _, c := range cases {
		lines, maxLine, chars := selLineStats(c.text)
		if got := selMinified(200, lines, maxLine, chars); got != c.want {
			t.Errorf("%s: minified = %v, want %v (lines %d, max %d, chars %d)", c.name, got, c.want, lines, maxLine, chars)
		}
	}
	if selMinified(0, 1, 1<<20, 1<<20) {
		t.Error("max_avg_line_length 0 should turn the rule off")
	}
}

func TestSelectLanguageNames(t *testing.T) {
	for name, want := range map[string]string{
		"Dockerfile":             "Dockerfile",
		"svc/Dockerfile.prod":    "Dockerfile",
		"dockerfile":             "Dockerfile",
		"Containerfile":          "Dockerfile",
		"Makefile":               "Makefile",
		"Jenkinsfile":            "Groovy",
		"ci/Jenkinsfile.nightly": "Groovy",
		"Vagrantfile":            "Ruby",
		"x.unknownext":           "",
		".hidden":                "",
	} {
		if got := selLanguage(name, []byte("x\n")); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// TestSelectTooSmallNotebookAndDeepTrees: files under files.min_file_size,
// notebooks, directories nested past the depth cap and paths past
// PATH_MAX are skipped with their own reasons, and the rest of the tree is
// still listed. The deep chain is 5,000 tree objects: no file system holds
// such a path, and the walk must not recurse.
func TestSelectTooSmallNotebookAndDeepTrees(t *testing.T) {
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	st := repo.Storer
	put, blob := selObjects(t, st)
	code := blob("package main\n\nfunc main() { println(\"hello\") }\n")
	deep := put(&object.Tree{Entries: []object.TreeEntry{{Name: "leaf.go", Mode: filemode.Regular, Hash: code}}})
	for range 5000 {
		deep = put(&object.Tree{Entries: []object.TreeEntry{{Name: "d", Mode: filemode.Dir, Hash: deep}}})
	}
	long := strings.Repeat("n", 250)
	wide := put(&object.Tree{Entries: []object.TreeEntry{{Name: long + ".go", Mode: filemode.Regular, Hash: code}}})
	for range 15 {
		wide = put(&object.Tree{Entries: []object.TreeEntry{{Name: long, Mode: filemode.Dir, Hash: wide}}})
	}
	root := put(&object.Tree{Entries: []object.TreeEntry{
		{Name: ".nvmrc", Mode: filemode.Regular, Hash: blob("20\n")},
		{Name: "a.ipynb", Mode: filemode.Regular, Hash: blob(`{"cells": [], "nbformat": 4}` + "\n")},
		{Name: "d", Mode: filemode.Dir, Hash: deep},
		{Name: "main.go", Mode: filemode.Regular, Hash: code},
		{Name: long, Mode: filemode.Dir, Hash: wide},
	}})
	sig := object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1_700_000_000, 0)}
	commit := put(&object.Commit{Author: sig, Committer: sig, Message: "x\n", TreeHash: root})
	if err := st.SetReference(plumbing.NewHashReference("refs/heads/main", commit)); err != nil {
		t.Fatal(err)
	}
	if err := st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, "refs/heads/main")); err != nil {
		t.Fatal(err)
	}

	tree, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := NewSelector(DefaultConfig().Files)
	if err != nil {
		t.Fatal(err)
	}
	tooDeep := strings.TrimSuffix(strings.Repeat("d/", selMaxTreeDepth+1), "/")
	want := map[string]string{
		".nvmrc":  SkipTooSmall,
		"a.ipynb": SkipNotebook,
		tooDeep:   SkipTooDeep,
		"main.go": "",
		strings.Repeat(long+"/", 16) + long + ".go": SkipPathTooLong,
	}
	got := map[string]string{}
	for _, f := range tree.Files {
		reason := sel.SkipByPath(f)
		if reason == "" {
			if _, reason, err = sel.Read(tree, f); err != nil {
				t.Fatalf("%.60s: %v", f.Path, err)
			}
		}
		got[f.Path] = reason
	}
	if len(got) != len(want) {
		t.Errorf("listed %d entries, want %d", len(got), len(want))
	}
	for p, w := range want {
		if r, ok := got[p]; !ok || r != w {
			t.Errorf("%.60s…: %q (listed %v), want %q", p, r, ok, w)
		}
	}
	cfg := DefaultConfig().Files
	cfg.MinFileSize = 0
	keep, _ := NewSelector(cfg)
	for _, f := range tree.Files {
		if f.Path == ".nvmrc" {
			if _, reason, err := keep.Read(tree, f); err != nil || reason != "" {
				t.Errorf("min_file_size 0 still skips .nvmrc: %q %v", reason, err)
			}
		}
	}
}

// TestSelectRefusesAGitBomb: a few trees that each name the next one ten
// times (git-bomb style: 8 small objects, 10^5 paths) are refused once
// the listing passes its bound, instead of expanding without end; under
// the bound the same shape lists every path.
func TestSelectRefusesAGitBomb(t *testing.T) {
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		t.Fatal(err)
	}
	put, blob := selObjects(t, repo.Storer)
	level := blob("package bomb\n")
	mode := filemode.Regular
	for range 5 {
		var entries []object.TreeEntry
		for i := range 10 {
			entries = append(entries, object.TreeEntry{Name: fmt.Sprintf("e%d", i), Mode: mode, Hash: level})
		}
		level, mode = put(&object.Tree{Entries: entries}), filemode.Dir
	}
	sig := object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1_700_000_000, 0)}
	commit := put(&object.Commit{Author: sig, Committer: sig, Message: "bomb\n", TreeHash: level})

	if _, err := selListTree(repo, commit, 50_000); err == nil || !strings.Contains(err.Error(), "git bomb") {
		t.Fatalf("listing 10^5 paths with a bound of 50,000: %v, want the git-bomb refusal", err)
	}
	files, err := selListTree(repo, commit, 200_000)
	if err != nil || len(files) != 100_000 {
		t.Fatalf("under the bound: %d files, %v; want 100,000", len(files), err)
	}
}

// selObjects writes git objects straight into st: put encodes a tree or a
// commit, blob stores content. Crafted shapes (very deep or bomb-like
// trees) cannot be made through a worktree.
func selObjects(t *testing.T, st storer.EncodedObjectStorer) (put func(interface {
	Encode(plumbing.EncodedObject) error
}) plumbing.Hash, blob func(string) plumbing.Hash) {
	put = func(o interface {
		Encode(plumbing.EncodedObject) error
	}) plumbing.Hash {
		obj := st.NewEncodedObject()
		if err := o.Encode(obj); err != nil {
			t.Fatal(err)
		}
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	blob = func(s string) plumbing.Hash {
		obj := st.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, _ := obj.Writer()
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	return put, blob
}
