package hfhub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Problem texts, kept stable so callers and tests can recognise them. Each
// problem in CachedModel.Problems starts with one of these.
const (
	ProblemBrokenSymlink = "blob missing (broken symlink)"
	ProblemMissingCommit = "ref points at a missing snapshot"
	ProblemIncomplete    = "incomplete download"
	ProblemNoSnapshots   = "no snapshots folder"
	ProblemStrayFile     = "file in the snapshots folder"
	ProblemUnreadable    = "cannot read"
)

// mlxCommunityOrg publishes converted MLX models; its models count as MLX
// even when their config does not say so.
const mlxCommunityOrg = "mlx-community"

// Cache is a Hugging Face hub cache directory (Env.CacheDir).
type Cache struct{ Dir string }

// CachedModel describes one models--org--name folder.
type CachedModel struct {
	ID       string // "org/name"
	Dir      string // the models--org--name folder
	Revision string // commit of refs/main, else of the only or newest snapshot; "" without snapshots
	Files    int    // files in that snapshot
	Size     int64  // bytes the folder holds on disk: each blob once, copied snapshot files, partial downloads
	MLX      bool   // config.json has a quantization object, or the org is mlx-community
	Servable bool   // mlx_lm.server's /v1/models would list it
	Problems []string
	Modified time.Time // newest modification inside the folder
}

// List returns the cached models (models--* folders) sorted by id. Other
// entries of the cache root (datasets, spaces, .locks, CACHEDIR.TAG, stray
// files) are skipped. A missing cache dir is an empty cache. Problems inside
// one model are reported in its Problems, not as an error.
func (c Cache) List() ([]CachedModel, error) {
	if c.Dir == "" {
		return nil, errors.New("no Hugging Face cache directory is set (HF_HUB_CACHE or HF_HOME)")
	}
	entries, err := os.ReadDir(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the Hugging Face cache %s: %w (check HF_HUB_CACHE / HF_HOME)", c.Dir, err)
	}
	var models []CachedModel
	for _, entry := range entries {
		id, ok := idFromFolder(entry.Name())
		if !ok {
			continue
		}
		dir := filepath.Join(c.Dir, entry.Name())
		// Stat, not Lstat: huggingface_hub's scanner (is_dir) follows a
		// folder someone symlinked into the cache, so listing does too.
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			continue
		}
		models = append(models, scanModel(id, dir))
	}
	slices.SortFunc(models, func(a, b CachedModel) int {
		if c := strings.Compare(strings.ToLower(a.ID), strings.ToLower(b.ID)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return models, nil
}

// Lookup returns the cached model id; ok is false when it is not cached.
func (c Cache) Lookup(id string) (model CachedModel, ok bool, err error) {
	if err := ValidateModelID(id); err != nil {
		return CachedModel{}, false, err
	}
	if c.Dir == "" {
		return CachedModel{}, false, errors.New("no Hugging Face cache directory is set (HF_HUB_CACHE or HF_HOME)")
	}
	dir := filepath.Join(c.Dir, RepoFolderName(id))
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return CachedModel{}, false, nil
	}
	if err != nil {
		return CachedModel{}, false, fmt.Errorf("cannot read the cache folder of %s at %s: %w", id, dir, err)
	}
	if !info.IsDir() {
		return CachedModel{}, false, fmt.Errorf("the cache entry for %s at %s is not a folder: move it away", id, dir)
	}
	return scanModel(id, dir), true, nil
}

// idFromFolder turns "models--org--name" into "org/name" the way
// huggingface_hub's scanner does (every "--" after the type is a "/").
func idFromFolder(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "models--")
	if !ok || rest == "" {
		return "", false
	}
	return strings.ReplaceAll(rest, "--", "/"), true
}

// scanModel reads one model folder. It never fails: what it cannot read or
// what would make huggingface_hub's scan_cache_dir reject the repo becomes a
// problem.
func scanModel(id, dir string) CachedModel {
	m := CachedModel{ID: id, Dir: dir}
	// corrupt marks what makes scan_cache_dir drop the repo, and with it
	// mlx_lm.server's listing.
	corrupt := false
	problem := func(blocking bool, format string, args ...any) {
		m.Problems = append(m.Problems, fmt.Sprintf(format, args...))
		corrupt = corrupt || blocking
	}

	var walkErr error
	m.Size, m.Modified, walkErr = folderSize(dir)
	if walkErr != nil {
		problem(false, "%s part of the folder: %v", ProblemUnreadable, walkErr)
	}

	snapshots, newest, err := readSnapshots(filepath.Join(dir, "snapshots"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		problem(true, "%s (nothing was downloaded into it)", ProblemNoSnapshots)
	case err != nil:
		problem(true, "%s the snapshots folder: %v", ProblemUnreadable, err)
	}
	for _, name := range snapshots.files {
		problem(true, "%s: snapshots/%s", ProblemStrayFile, name)
	}

	refs, err := readRefs(filepath.Join(dir, "refs"))
	if err != nil {
		problem(true, "%s the refs folder: %v", ProblemUnreadable, err)
	}
	for _, ref := range refs {
		if ref.commit != ref.raw {
			// scan_cache_dir compares the raw text with folder names.
			problem(true, "refs/%s has surrounding whitespace or a newline, which huggingface_hub rejects", ref.name)
		}
		if !slices.Contains(snapshots.dirs, ref.commit) {
			problem(true, "%s: refs/%s = %s", ProblemMissingCommit, ref.name, shorten(ref.commit))
		}
	}

	mainCommit := ""
	if i := slices.IndexFunc(refs, func(r ref) bool { return r.name == "main" }); i >= 0 {
		mainCommit = refs[i].commit
	}
	switch {
	case mainCommit != "" && slices.Contains(snapshots.dirs, mainCommit):
		m.Revision = mainCommit
	case len(snapshots.dirs) > 0:
		m.Revision = newest
	}

	// Every snapshot is checked for broken links: one anywhere makes
	// huggingface_hub reject the whole repo.
	var revisionFiles []string
	for _, commit := range snapshots.dirs {
		files, broken, err := snapshotFiles(filepath.Join(dir, "snapshots", commit))
		if err != nil {
			problem(false, "%s snapshots/%s: %v", ProblemUnreadable, commit, err)
		}
		for _, name := range broken {
			problem(true, "%s: snapshots/%s/%s", ProblemBrokenSymlink, commit, name)
		}
		if commit == m.Revision {
			revisionFiles = files
		}
	}
	m.Files = len(revisionFiles)

	if n := countIncomplete(filepath.Join(dir, "blobs")); n > 0 {
		problem(false, "%s: %d partial file(s) in blobs/ (run the download again to finish)", ProblemIncomplete, n)
	}

	if m.Revision != "" {
		m.MLX = looksMLX(filepath.Join(dir, "snapshots", m.Revision, "config.json"))
	}
	if org, _, _ := strings.Cut(id, "/"); strings.EqualFold(org, mlxCommunityOrg) {
		m.MLX = true
	}
	m.Servable = !corrupt && mainCommit != "" && m.Revision == mainCommit && servableFiles(revisionFiles)
	return m
}

// folderSize sums the regular files under dir without following symlinks:
// each blob once, plus files copied into snapshots, plus partial downloads.
// That is what removing the folder frees.
func folderSize(dir string) (size int64, modified time.Time, err error) {
	var firstErr error
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			if d != nil && d.IsDir() && p != dir {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // vanished while walking
		}
		if info.ModTime().After(modified) {
			modified = info.ModTime()
		}
		if info.Mode().IsRegular() {
			size += info.Size()
		}
		return nil
	})
	if firstErr == nil {
		firstErr = walkErr
	}
	return size, modified, firstErr
}

// ignoredEntry reports the OS droppings huggingface_hub's scanner skips.
func ignoredEntry(name string) bool {
	switch name {
	case ".DS_Store", "Thumbs.db", "desktop.ini", "CACHEDIR.TAG", ".locks":
		return true
	}
	return false
}

type snapshotList struct {
	dirs  []string // commit folders
	files []string // stray files, which huggingface_hub treats as corruption
}

// readSnapshots lists snapshots/ and finds the most recently modified one.
func readSnapshots(dir string) (list snapshotList, newest string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return list, "", err
	}
	var newestTime time.Time
	for _, entry := range entries {
		if ignoredEntry(entry.Name()) {
			continue
		}
		info, err := os.Stat(filepath.Join(dir, entry.Name()))
		if err != nil || !info.IsDir() {
			list.files = append(list.files, entry.Name())
			continue
		}
		list.dirs = append(list.dirs, entry.Name())
		if newest == "" || info.ModTime().After(newestTime) {
			newest, newestTime = entry.Name(), info.ModTime()
		}
	}
	return list, newest, nil
}

type ref struct {
	name   string // "main", "refs/pr/1"
	raw    string // file content as is
	commit string // trimmed
}

// readRefs reads every file under refs/ (branches, tags, refs/pr/N).
func readRefs(dir string) ([]ref, error) {
	var refs []ref
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return fs.SkipAll
		}
		if err != nil {
			return err
		}
		if d.IsDir() || ignoredEntry(d.Name()) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		refs = append(refs, ref{name: filepath.ToSlash(rel), raw: string(data), commit: strings.TrimSpace(string(data))})
		return nil
	})
	return refs, err
}

// snapshotFiles lists a snapshot's files (slash paths, sorted) and those
// whose symlink leads nowhere.
func snapshotFiles(dir string) (files, broken []string, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		files = append(files, rel)
		if d.Type()&fs.ModeSymlink != 0 {
			if _, err := os.Stat(p); err != nil {
				broken = append(broken, rel)
			}
		}
		return nil
	})
	slices.Sort(files)
	return files, broken, err
}

// countIncomplete counts partial downloads: ours (<etag>.incomplete) and
// huggingface_hub's (<etag>.<8hex>.incomplete).
func countIncomplete(blobs string) int {
	entries, _ := os.ReadDir(blobs)
	n := 0
	for _, entry := range entries {
		if strings.HasSuffix(entry.Name(), ".incomplete") {
			n++
		}
	}
	return n
}

// servableFiles is mlx_lm.server's probably_mlx_lm: the snapshot's file
// names (any depth) include all three.
func servableFiles(files []string) bool {
	names := map[string]bool{}
	for _, f := range files {
		names[path.Base(f)] = true
	}
	return names["config.json"] && names["model.safetensors.index.json"] && names["tokenizer_config.json"]
}

// looksMLX reports a config.json with a "quantization" or
// "quantization_config" object, which mlx-lm writes when it converts.
func looksMLX(configPath string) bool {
	var config map[string]json.RawMessage
	data, err := os.ReadFile(configPath)
	if err != nil || json.Unmarshal(data, &config) != nil {
		return false
	}
	for _, key := range []string{"quantization", "quantization_config"} {
		if raw := strings.TrimSpace(string(config[key])); strings.HasPrefix(raw, "{") {
			return true
		}
	}
	return false
}

// shorten keeps problem texts readable; 12 hex digits identify a commit.
func shorten(commit string) string {
	if isCommitHash(commit) {
		return commit[:12]
	}
	return commit
}
