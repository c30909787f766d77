package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-enry/go-enry/v2"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// File selection: which entries of a repository's HEAD tree become training
// data. Everything is read through the object store (never a working tree,
// never a checkout), in two steps so unchanged files cost nothing:
//
//  1. OpenTree lists the HEAD tree: paths, modes and blob ids only. No blob
//     is inflated, and not even a blob's size is looked up.
//  2. The caller compares blob ids with what it has already done, asks
//     SkipByPath (path and mode only), and only then calls Read, which
//     checks the size in the object header before inflating the blob and
//     then applies the content rules.

// TreeFile is one entry of a repository's HEAD tree, listed without reading its content.
type TreeFile struct {
	Path    string            // repository-relative, '/'-separated
	BlobOID string            // git blob id (hex); a tree id when Skip names a directory
	Mode    filemode.FileMode // go-git filemode: Regular, Executable, Symlink, Submodule, Deprecated; Dir with Skip
	// Skip is set by OpenTree for an entry it would not go into: a
	// directory nested too deep (too_deep) or a path too long
	// (path_too_long). Listing it, rather than failing the whole
	// repository, records the reason and keeps the rest usable.
	Skip string
}

// RepoTree is a repository opened read-only at its HEAD commit.
type RepoTree struct {
	Repo   *git.Repository
	Commit string     // HEAD commit id
	Files  []TreeFile // every non-directory entry of the HEAD tree, sorted by Path (symlinks and submodules included, so skips can be reported)

	// mu serialises object-store access: go-git's filesystem storage
	// loads pack indexes lazily and is not safe for concurrent readers.
	// Content checks run outside it, so Read may be called from several
	// goroutines. A pointer, so a RepoTree can be copied.
	mu *sync.Mutex
}

// Skip reasons, stored in FileHashes.skip_reason and counted in stats.
const (
	SkipSymlink           = "symlink"
	SkipSubmodule         = "submodule"
	SkipLFSPointer        = "lfs_pointer"
	SkipBinary            = "binary"
	SkipVendored          = "vendored"
	SkipGenerated         = "generated"
	SkipDocumentation     = "documentation"
	SkipMinified          = "minified"
	SkipTooLarge          = "too_large"
	SkipEmpty             = "empty"
	SkipLockFile          = "lock_file"
	SkipExcludedExtension = "excluded_extension"
	SkipExcludedGlob      = "excluded_glob"
	SkipNonUTF8           = "non_utf8"
	SkipTooManyFiles      = "too_many_files" // counted by the engine (files.max_files_per_repo)
	SkipTooSmall          = "too_small"
	SkipNotebook          = "notebook"
	SkipTooDeep           = "too_deep"
	SkipPathTooLong       = "path_too_long"
	// SkipDuplicateContent: the same blob was already processed as another
	// file (counted by the engine); its samples carry that file's provenance.
	SkipDuplicateContent = "duplicate_content"
)

// selMaxTreeDepth bounds how deep OpenTree descends (R-GIT-5); git itself
// allows 4096, no real repository comes near 256. selMaxPathBytes is
// PATH_MAX: no checkout of a longer path could exist, so it can only come
// from a crafted repository.
// selMaxTreeEntries bounds how many entries the listing expands: a git
// bomb (a few trees that each name the next one many times) would
// otherwise list billions of paths from a repository of a few kilobytes.
// The largest real monorepos list a few hundred thousand files.
const (
	selMaxTreeDepth   = 256
	selMaxPathBytes   = 4096
	selMaxTreeEntries = 2_000_000
)

// OpenTree opens the repository at path (a bare clone or a repository with a
// working tree, opened through its object store only — never reading the
// working tree files) and lists its HEAD tree. An unborn HEAD (no commits) is
// an error saying so.
func OpenTree(dir string) (*RepoTree, error) {
	repo, err := selOpenRepo(dir)
	if err != nil {
		return nil, err
	}
	head, err := repo.Head()
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return nil, fmt.Errorf("%s: the repository has no commits (unborn HEAD)", dir)
		}
		return nil, fmt.Errorf("%s: read HEAD: %w", dir, err)
	}
	files, err := selListTree(repo, head.Hash(), selMaxTreeEntries)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &RepoTree{Repo: repo, Commit: head.Hash().String(), Files: files, mu: new(sync.Mutex)}, nil
}

// selOpenRepo opens dir without a worktree. A bare repository (cicdllm's
// own clones) goes through a bound filesystem, as the clones are made; a
// repository with a working tree is opened by go-git (which follows a .git
// file and commondir) and then reopened on its object store alone, so no
// code path can reach the working tree.
func selOpenRepo(dir string) (*git.Repository, error) {
	if _, err := os.Lstat(filepath.Join(dir, git.GitDirName)); err != nil {
		if st, herr := os.Stat(filepath.Join(dir, "HEAD")); herr == nil && st.Mode().IsRegular() {
			st := filesystem.NewStorage(osfs.New(dir, osfs.WithBoundOS()), cache.NewObjectLRUDefault())
			repo, err := git.Open(st, nil)
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", dir, err)
			}
			return repo, nil
		}
		if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
			return nil, fmt.Errorf("open %s: no such directory", dir)
		}
		return nil, fmt.Errorf("open %s: not a git repository", dir)
	}
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	bare, err := git.Open(repo.Storer, nil)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return bare, nil
}

// selListTree lists every non-directory entry under the commit's tree. It
// reads tree objects only; blobs are neither inflated nor sized. Modes are
// canonicalised as git does (canon_mode): any regular-file mode is Regular
// or Executable, 120000 is a symlink, anything else that is not a tree is a
// gitlink. Entries whose name could not be a path component ("", ".", "..",
// or containing '/') exist only in crafted objects and are left out.
//
// The walk uses its own stack, so no nesting can exhaust the goroutine's.
// A directory deeper than selMaxTreeDepth, or whose path is longer than
// selMaxPathBytes, is not entered: it is listed once with Skip set, as is
// a file whose path is too long.
func selListTree(repo *git.Repository, commitID plumbing.Hash, maxEntries int) ([]TreeFile, error) {
	commit, err := repo.CommitObject(commitID)
	if err != nil {
		return nil, fmt.Errorf("read HEAD commit %s: %w", commitID, err)
	}
	type pending struct {
		prefix string
		hash   plumbing.Hash
		depth  int
	}
	stack := []pending{{hash: commit.TreeHash}}
	var files []TreeFile
	listed := 0
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		tree, err := object.GetTree(repo.Storer, p.hash)
		if err != nil {
			return nil, fmt.Errorf("read tree %s (%q): %w", p.hash, p.prefix, err)
		}
		if listed += len(tree.Entries); listed > maxEntries {
			return nil, fmt.Errorf("the HEAD tree names more than %d files and directories (a git bomb?); the repository was not read: remove it from repos.txt", maxEntries)
		}
		for _, e := range tree.Entries {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\x00") {
				continue
			}
			name := e.Name
			if p.prefix != "" {
				name = p.prefix + "/" + e.Name
			}
			mode := e.Mode
			if mode == filemode.Dir {
				switch {
				case p.depth+1 > selMaxTreeDepth:
					files = append(files, TreeFile{Path: name, BlobOID: e.Hash.String(), Mode: mode, Skip: SkipTooDeep})
				case len(name) > selMaxPathBytes:
					files = append(files, TreeFile{Path: name, BlobOID: e.Hash.String(), Mode: mode, Skip: SkipPathTooLong})
				default:
					stack = append(stack, pending{prefix: name, hash: e.Hash, depth: p.depth + 1})
				}
				continue
			}
			skip := ""
			if len(name) > selMaxPathBytes {
				skip = SkipPathTooLong
			}
			switch {
			case mode == filemode.Regular, mode == filemode.Executable, mode == filemode.Deprecated,
				mode == filemode.Symlink, mode == filemode.Submodule:
			case mode&0170000 == 0100000:
				mode = filemode.Regular
				if e.Mode&0111 != 0 {
					mode = filemode.Executable
				}
			case mode&0170000 == 0120000:
				mode = filemode.Symlink
			default:
				mode = filemode.Submodule
			}
			files = append(files, TreeFile{Path: name, BlobOID: e.Hash.String(), Mode: mode, Skip: skip})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// Selector applies the [files] rules.
type Selector struct {
	cfg        FilesConfig
	include    []selGlob
	exclude    []selGlob
	extensions []string // lower-cased excluded endings
	decode     bool
}

// NewSelector compiles cfg's rules. A bad glob is an error naming it.
func NewSelector(cfg FilesConfig) (*Selector, error) {
	s := &Selector{cfg: cfg}
	if cfg.MaxFileSize <= 0 {
		return nil, fmt.Errorf("files.max_file_size must be positive, not %d", int64(cfg.MaxFileSize))
	}
	switch cfg.NonUTF8 {
	case "", "skip":
	case "decode":
		s.decode = true
	default:
		return nil, fmt.Errorf("files.non_utf8: %q is neither \"skip\" nor \"decode\"", cfg.NonUTF8)
	}
	var err error
	if s.include, err = selCompileGlobs("files.include", cfg.Include); err != nil {
		return nil, err
	}
	if s.exclude, err = selCompileGlobs("files.exclude", cfg.Exclude); err != nil {
		return nil, err
	}
	for _, e := range cfg.ExcludedExtensions {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			s.extensions = append(s.extensions, e)
		}
	}
	return s, nil
}

// Included reports whether an include glob matches p: such a file is
// processed even where a path rule, the generated rule or the minified rule
// would skip it.
func (s *Selector) Included(p string) bool { return selMatchAny(s.include, p) }

// SkipByPath decides from the path and mode alone (no content, no size) and
// returns a skip reason, or "" when the file stays a candidate. The rules, in
// order (the first that applies names the reason):
//
//   - symlink, submodule: never readable, even when included;
//   - an include glob match: candidate, whatever the rules below say;
//   - excluded_glob: an exclude glob matches;
//   - excluded_extension: the base name ends with one of
//     files.excluded_extensions, case-insensitively (so ".DS_Store" and
//     "LOGO.PNG" are caught);
//   - lock_file: package manager lock files (package-lock.json, yarn.lock,
//     go.sum, *.lock ...);
//   - vendored (files.skip_vendored): linguist's vendor rules
//     (enry.IsVendor), except that CI/CD files linguist files under
//     "vendored" (.github/, .teamcity/, Jenkinsfile, Vagrantfile,
//     .gitpod.Dockerfile) are kept unless they sit in vendored code;
//   - generated (files.skip_generated): linguist's path rules for generated
//     files (enry.IsGenerated without content: .idea/, Pods/, .js.map ...);
//   - documentation (files.skip_documentation): enry.IsDocumentation;
//   - binary: images (enry.IsImage) and well-known binary formats, by
//     extension, case-insensitively.
//
// Dot files are kept: .gitlab-ci.yml and .github/workflows/*.yml are CI code.
//
// Before all of these, an entry OpenTree would not enter (too_deep,
// path_too_long) keeps its reason; after lock files, Jupyter notebooks
// (notebook) are skipped: their JSON carries base64 outputs, and stripping
// them would break the line numbers samples point at.
func (s *Selector) SkipByPath(f TreeFile) string {
	if f.Skip != "" {
		return f.Skip
	}
	switch f.Mode {
	case filemode.Symlink:
		return SkipSymlink
	case filemode.Submodule:
		return SkipSubmodule
	}
	if s.Included(f.Path) {
		return ""
	}
	if selMatchAny(s.exclude, f.Path) {
		return SkipExcludedGlob
	}
	base := path.Base(f.Path)
	lower := strings.ToLower(base)
	for _, e := range s.extensions {
		if strings.HasSuffix(lower, e) {
			return SkipExcludedExtension
		}
	}
	if selIsLockFile(lower) {
		return SkipLockFile
	}
	if path.Ext(lower) == ".ipynb" {
		return SkipNotebook
	}
	if s.cfg.SkipVendored && selIsVendored(f.Path) {
		return SkipVendored
	}
	if s.cfg.SkipGenerated && enry.IsGenerated(f.Path, nil) {
		return SkipGenerated
	}
	if s.cfg.SkipDocumentation && enry.IsDocumentation(f.Path) {
		return SkipDocumentation
	}
	if enry.IsImage(lower) || selBinaryExtensions[path.Ext(lower)] {
		return SkipBinary
	}
	return ""
}

// File is a selected file's content, ready to chunk.
type File struct {
	Path, BlobOID string
	Language      string // enry language name, e.g. "Go", "Python", "Dockerfile", "Makefile", "Shell", "YAML"; "" if unknown (unknown text files are still processed)
	Text          string // valid UTF-8 (decoded if the file was UTF-16 or Latin-1 and NonUTF8 == "decode")
	SHA256        string // hex sha256 of the raw blob bytes (FileHashes.content_hash, as the prototype)
	Size          int64
	Lines         int
	Decoded       string // "" for UTF-8 files; "utf-16le", "utf-16be", "latin-1" when decoded
}

// Decodings reported in File.Decoded.
const (
	DecodedUTF16LE = "utf-16le"
	DecodedUTF16BE = "utf-16be"
	DecodedLatin1  = "latin-1"
)

// Read applies the content rules to one tree entry and returns the selected
// file, or a skip reason, or an error (object store and I/O errors only). It
// does not repeat SkipByPath; the caller asks that first. In order:
//
//   - symlink, submodule (mode; never read);
//   - empty, too_large: from the size in the object header, before the blob
//     is inflated; the blob is then read through a reader limited to
//     files.max_file_size+1 bytes, so a lying header cannot make it bigger;
//   - lfs_pointer: a blob under 1 KiB starting with a Git LFS spec line
//     (R-GIT-6); LFS is never run;
//   - encoding: a UTF-32 BOM is non_utf8; a UTF-16 BOM (LE or BE) is
//     decoded when files.non_utf8 = "decode", else non_utf8 (unpaired
//     surrogates or an odd length are non_utf8 either way: nothing is
//     replaced with U+FFFD); otherwise a NUL byte anywhere is binary (git's
//     and enry.IsBinary's rule, applied to the whole blob); a UTF-8 BOM is
//     stripped; invalid UTF-8 is decoded as Latin-1 (byte for byte, so
//     nothing is lost) when "decode", else non_utf8;
//   - empty: nothing but white space;
//   - too_small: fewer bytes than files.min_file_size (checked this late
//     so that a small binary or blank file gets its more telling reason);
//   - minified: the average line (in characters, BigCode-style) is longer
//     than files.max_avg_line_length, or one line longer than 20 times that
//     holds most of the file; a long line in ordinary code does not count;
//   - generated (files.skip_generated): enry.IsGenerated on path and text
//     (e.g. "// Code generated ... DO NOT EDIT.").
//
// An include glob overrides too_small, minified and generated, nothing
// else: a file too large, empty, binary, an LFS pointer or undecodable
// cannot be used.
func (s *Selector) Read(t *RepoTree, f TreeFile) (File, string, error) {
	if f.Skip != "" {
		return File{}, f.Skip, nil
	}
	switch f.Mode {
	case filemode.Symlink:
		return File{}, SkipSymlink, nil
	case filemode.Submodule:
		return File{}, SkipSubmodule, nil
	}
	if !plumbing.IsHash(f.BlobOID) {
		return File{}, "", fmt.Errorf("%s: %q is not a blob id", f.Path, f.BlobOID)
	}
	raw, reason, err := s.readBlob(t, plumbing.NewHash(f.BlobOID))
	if err != nil {
		return File{}, "", fmt.Errorf("%s: read blob %s: %w", f.Path, f.BlobOID, err)
	}
	if reason != "" {
		return File{}, reason, nil
	}
	if len(raw) < 1024 && (bytes.HasPrefix(raw, []byte("version https://git-lfs.github.com/spec/v1")) ||
		bytes.HasPrefix(raw, []byte("version https://hawser.github.com/spec/v1"))) {
		return File{}, SkipLFSPointer, nil
	}
	text, decoded, reason := s.decodeText(raw)
	if reason != "" {
		return File{}, reason, nil
	}
	if strings.TrimSpace(text) == "" {
		return File{}, SkipEmpty, nil
	}
	included := s.Included(f.Path)
	if !included && int64(len(raw)) < int64(s.cfg.MinFileSize) {
		return File{}, SkipTooSmall, nil
	}
	lines, maxLine, chars := selLineStats(text)
	if !included && selMinified(s.cfg.MaxAvgLineLength, lines, maxLine, chars) {
		return File{}, SkipMinified, nil
	}
	content := []byte(text)
	if !included && s.cfg.SkipGenerated && enry.IsGenerated(f.Path, content) {
		return File{}, SkipGenerated, nil
	}
	sum := sha256.Sum256(raw)
	return File{
		Path:     f.Path,
		BlobOID:  f.BlobOID,
		Language: selLanguage(f.Path, content),
		Text:     text,
		SHA256:   hex.EncodeToString(sum[:]),
		Size:     int64(len(raw)),
		Lines:    lines,
		Decoded:  decoded,
	}, "", nil
}

// readBlob reads a blob whose size is within the limit, or says why not.
func (s *Selector) readBlob(t *RepoTree, h plumbing.Hash) ([]byte, string, error) {
	if t.mu != nil {
		t.mu.Lock()
		defer t.mu.Unlock()
	}
	limit := int64(s.cfg.MaxFileSize)
	size, err := t.Repo.Storer.EncodedObjectSize(h)
	if err != nil {
		return nil, "", err
	}
	switch {
	case size == 0:
		return nil, SkipEmpty, nil
	case size > limit:
		return nil, SkipTooLarge, nil
	}
	obj, err := t.Repo.Storer.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, "", err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, "", err
	}
	switch {
	case int64(len(raw)) > limit:
		return nil, SkipTooLarge, nil
	case len(raw) == 0:
		return nil, SkipEmpty, nil
	}
	return raw, "", nil
}

// decodeText turns raw bytes into valid UTF-8 or says why it cannot.
func (s *Selector) decodeText(raw []byte) (text, decoded, reason string) {
	switch {
	case bytes.HasPrefix(raw, []byte{0xFF, 0xFE, 0, 0}), bytes.HasPrefix(raw, []byte{0, 0, 0xFE, 0xFF}):
		return "", "", SkipNonUTF8 // UTF-32
	case bytes.HasPrefix(raw, []byte{0xFF, 0xFE}), bytes.HasPrefix(raw, []byte{0xFE, 0xFF}):
		if !s.decode {
			return "", "", SkipNonUTF8
		}
		le := raw[0] == 0xFF
		t, ok := selDecodeUTF16(raw[2:], le)
		if !ok {
			return "", "", SkipNonUTF8
		}
		if strings.IndexByte(t, 0) >= 0 {
			return "", "", SkipBinary
		}
		if le {
			return t, DecodedUTF16LE, ""
		}
		return t, DecodedUTF16BE, ""
	}
	if enry.IsBinary(raw) || bytes.IndexByte(raw, 0) >= 0 {
		return "", "", SkipBinary
	}
	b := bytes.TrimPrefix(raw, []byte{0xEF, 0xBB, 0xBF})
	if utf8.Valid(b) {
		return string(b), "", ""
	}
	if !s.decode {
		return "", "", SkipNonUTF8
	}
	// Latin-1 maps every byte to the code point of the same value: a total,
	// reversible decoding, so no byte is dropped or replaced.
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String(), DecodedLatin1, ""
}

// selDecodeUTF16 decodes UTF-16 without a BOM; ok is false for an odd
// length or an unpaired surrogate (which utf16.Decode would silently turn
// into U+FFFD).
func selDecodeUTF16(b []byte, le bool) (string, bool) {
	if len(b)%2 != 0 {
		return "", false
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if le {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		} else {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
	}
	for i := 0; i < len(u); i++ {
		switch c := u[i]; {
		case c >= 0xD800 && c < 0xDC00:
			if i+1 >= len(u) || u[i+1] < 0xDC00 || u[i+1] >= 0xE000 {
				return "", false
			}
			i++
		case c >= 0xDC00 && c < 0xE000:
			return "", false
		}
	}
	return string(utf16.Decode(u)), true
}

// selLineStats counts lines (a final line without '\n' counts), the longest
// line and all characters other than line feeds, in runes.
func selLineStats(text string) (lines, maxLine, chars int) {
	for len(text) > 0 {
		i := strings.IndexByte(text, '\n')
		line := text
		if i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		n := utf8.RuneCountInString(line)
		lines++
		chars += n
		maxLine = max(maxLine, n)
	}
	return lines, maxLine, chars
}

// selMinified is the minified-file rule: a mean line longer than maxAvg
// (BigCode's "mean line length" filter), or a single line longer than
// 20*maxAvg that is more than half the file (a minified bundle under a
// license header). One long line in a file of ordinary code passes.
func selMinified(maxAvg, lines, maxLine, chars int) bool {
	if maxAvg <= 0 || lines == 0 {
		return false
	}
	if chars/lines > maxAvg {
		return true
	}
	return maxLine > 20*maxAvg && maxLine*2 > chars
}

// selLanguage names the language as linguist would. Names linguist only
// knows in one spelling are retried without a suffix and capitalised, so
// "Dockerfile.prod", "dockerfile" and "Jenkinsfile.release" get one too.
func selLanguage(p string, content []byte) string {
	if lang := enry.GetLanguage(p, content); lang != "" {
		return lang
	}
	base := path.Base(p)
	stem, _, _ := strings.Cut(base, ".")
	if stem == "" {
		return ""
	}
	for _, name := range []string{stem, strings.ToUpper(stem[:1]) + strings.ToLower(stem[1:])} {
		if name == base {
			continue
		}
		if lang, _ := enry.GetLanguageByFilename(name); lang != "" {
			return lang
		}
	}
	return ""
}

// selLockFiles are lock files by exact (lower-cased) base name; any name
// ending in ".lock" (yarn.lock, Cargo.lock, poetry.lock, Gemfile.lock,
// composer.lock, flake.lock, ...) is one too.
var selLockFiles = map[string]bool{
	"package-lock.json":   true,
	"npm-shrinkwrap.json": true,
	"pnpm-lock.yaml":      true,
	"go.sum":              true,
	"go.work.sum":         true,
	"pipfile.lock":        true,
	"packages.lock.json":  true,
	"bun.lockb":           true,
	"gradle.lockfile":     true,
	".terraform.lock.hcl": true,
}

func selIsLockFile(lowerBase string) bool {
	return selLockFiles[lowerBase] || strings.HasSuffix(lowerBase, ".lock")
}

// selIsVendored is enry.IsVendor with CI/CD files kept. Linguist counts
// .github/, .teamcity/, Jenkinsfile, Vagrantfile and .gitpod.Dockerfile as
// "vendored" to keep them out of language statistics; for cicdllm they are
// the point. They are still vendored inside vendored code.
func selIsVendored(p string) bool {
	if !enry.IsVendor(p) {
		return false
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		ci := false
		if i < len(segs)-1 {
			ci = seg == ".github" || seg == ".teamcity"
		} else {
			ci = seg == "Jenkinsfile" || seg == "Vagrantfile" || seg == ".gitpod.Dockerfile"
		}
		if ci {
			return i > 0 && enry.IsVendor(strings.Join(segs[:i], "/")+"/")
		}
	}
	return true
}

// selBinaryExtensions are formats that are binary by nature, beyond the
// images enry.IsImage knows; anything else binary is caught by its NUL
// bytes when read.
var selBinaryExtensions = map[string]bool{
	".ico": true, ".bmp": true, ".webp": true, ".tif": true, ".tiff": true, ".psd": true, ".icns": true,
	".woff": true, ".woff2": true, ".ttf": true, ".otf": true, ".eot": true,
	".mp3": true, ".mp4": true, ".wav": true, ".ogg": true, ".flac": true, ".avi": true, ".mov": true, ".mkv": true, ".webm": true,
	".7z": true, ".rar": true, ".xz": true, ".bz2": true, ".zst": true, ".tgz": true,
	".jar": true, ".war": true, ".ear": true, ".whl": true, ".apk": true, ".deb": true, ".rpm": true, ".dmg": true, ".iso": true,
	".exe": true, ".dll": true, ".so": true, ".dylib": true, ".a": true, ".o": true, ".obj": true, ".lib": true,
	".class": true, ".pyc": true, ".pyo": true, ".wasm": true,
	".sqlite": true, ".sqlite3": true, ".db": true, ".parquet": true, ".npy": true, ".npz": true, ".pkl": true,
	".pt": true, ".onnx": true, ".h5": true,
	".doc": true, ".docx": true, ".xls": true, ".xlsx": true, ".ppt": true, ".odt": true,
}

// selGlob is one compiled [files] include/exclude pattern. Patterns use
// path.Match syntax per path segment, gitignore-style:
//
//   - a pattern without '/' matches a base name at any depth ("*.go",
//     "Makefile", "testdata");
//   - a pattern with '/' matches from the repository root ("docs/*.md");
//     a leading '/' only anchors ("/Makefile" is the top-level one);
//   - a "**" segment matches any number of directories ("**/ci/*.yml");
//   - a pattern that matches a directory matches everything under it, so
//     "vendor", "vendor/", "vendor/*" and "vendor/**" all mean "under
//     vendor".
type selGlob struct {
	raw  string
	segs []string
}

func selCompileGlobs(key string, patterns []string) ([]selGlob, error) {
	var out []selGlob
	for _, raw := range patterns {
		g, err := selCompileGlob(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a valid glob pattern (path.Match syntax: *, ?, [a-z], ** for any directories): %w", key, raw, err)
		}
		out = append(out, g)
	}
	return out, nil
}

func selCompileGlob(raw string) (selGlob, error) {
	if _, err := path.Match(raw, ""); err != nil {
		return selGlob{}, err
	}
	p := strings.TrimSpace(raw)
	anchored := strings.HasPrefix(p, "/")
	p = strings.Trim(p, "/")
	if p == "" {
		return selGlob{}, errors.New("empty pattern")
	}
	segs := strings.Split(p, "/")
	for _, seg := range segs {
		if seg == "" {
			return selGlob{}, errors.New("empty path segment")
		}
		if _, err := path.Match(seg, ""); err != nil {
			return selGlob{}, err
		}
	}
	if !anchored && len(segs) == 1 {
		segs = []string{"**", segs[0]}
	}
	return selGlob{raw: raw, segs: segs}, nil
}

// match reports whether the pattern matches p or one of its directories.
func (g selGlob) match(p string) bool {
	parts := strings.Split(p, "/")
	for k := 1; k <= len(parts); k++ {
		if selMatchSegs(g.segs, parts[:k]) {
			return true
		}
	}
	return false
}

func selMatchSegs(pat, parts []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(parts); i++ {
				if selMatchSegs(pat[1:], parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], parts[0]); !ok {
			return false
		}
		pat, parts = pat[1:], parts[1:]
	}
	return len(parts) == 0
}

func selMatchAny(globs []selGlob, p string) bool {
	for _, g := range globs {
		if g.match(p) {
			return true
		}
	}
	return false
}
