package hfhub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "hf_testtoken"

// tinyModel is a 3-file model as the Hub serves it (config.json and
// tokenizer_config.json as plain git files, model.safetensors through LFS
// and the CDN) plus files mlx-lm does not download.
func tinyModel() []hubFile {
	weights := make([]byte, 300_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range weights {
		weights[i] = byte(rng.UintN(256))
	}
	return []hubFile{
		{name: ".gitattributes", content: []byte("*.safetensors filter=lfs diff=lfs merge=lfs -text\n")},
		{name: "README.md", content: []byte("# tiny\n")},
		{name: "config.json", content: []byte(`{"architectures":["LlamaForCausalLM"],"model_type":"llama","max_position_embeddings":2048}`)},
		{name: "tokenizer_config.json", content: []byte(`{"chat_template":"{{ messages }}"}`)},
		{name: "model.safetensors", content: weights, lfs: true},
		{name: "model.gguf", content: []byte("GGUF not for mlx"), lfs: true},
	}
}

// wantedSize is the bytes of the files Download should fetch.
func wantedSize(files []hubFile) int64 {
	var n int64
	for _, f := range files {
		if wanted(f.name) {
			n += int64(len(f.content))
		}
	}
	return n
}

func newTestClient(h *fakeHub, token string) *Client {
	c := NewClient(Env{Endpoint: h.hub.URL + "/", Token: token})
	c.Endpoint = strings.TrimRight(c.Endpoint, "/")
	c.retryBase = time.Millisecond
	return c
}

// progressLog records progress reports (they come from several goroutines).
type progressLog struct {
	mu      sync.Mutex
	reports []Progress
}

func (p *progressLog) record(pr Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reports = append(p.reports, pr)
}

func (p *progressLog) last() Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reports) == 0 {
		return Progress{}
	}
	return p.reports[len(p.reports)-1]
}

// treeEntry is one path of a cache tree: type, and content or link target.
type treeEntry struct{ path, desc string }

func describeContent(b []byte) string {
	if len(b) <= 256 {
		return fmt.Sprintf("file %q", b)
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("file %d bytes sha256:%s", len(b), hex.EncodeToString(sum[:]))
}

// listTree lists every path under root with its type, symlink target or
// file content.
func listTree(t *testing.T, root string) []treeEntry {
	t.Helper()
	var entries []treeEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			entries = append(entries, treeEntry{rel, "symlink -> " + filepath.ToSlash(target)})
		case d.IsDir():
			entries = append(entries, treeEntry{rel, "dir"})
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entries = append(entries, treeEntry{rel, describeContent(data)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func sortEntries(entries []treeEntry) []treeEntry {
	slices.SortFunc(entries, func(a, b treeEntry) int { return strings.Compare(a.path, b.path) })
	return entries
}

func diffTrees(t *testing.T, got, want []treeEntry) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	format := func(entries []treeEntry) string {
		var b strings.Builder
		for _, e := range entries {
			fmt.Fprintf(&b, "  %s  %s\n", e.path, e.desc)
		}
		return b.String()
	}
	t.Errorf("cache tree differs\ngot:\n%swant:\n%s", format(got), format(want))
}

// referenceLayout is huggingface_hub's layout for the wanted files of
// model id at commit, with symlinks.
func referenceLayout(id, commit string, files []hubFile, ref string) []treeEntry {
	folder := RepoFolderName(id)
	entries := []treeEntry{
		{folder, "dir"},
		{folder + "/blobs", "dir"},
		{folder + "/snapshots", "dir"},
		{folder + "/snapshots/" + commit, "dir"},
	}
	if ref != "" {
		entries = append(entries, treeEntry{folder + "/refs", "dir"}, treeEntry{folder + "/refs/" + ref, fmt.Sprintf("file %q", commit)})
	}
	dirs := map[string]bool{}
	for _, f := range files {
		if !wanted(f.name) {
			continue
		}
		entries = append(entries, treeEntry{folder + "/blobs/" + f.etag(), describeContent(f.content)})
		up := "../../"
		for dir := filepath.ToSlash(filepath.Dir(f.name)); dir != "."; dir = filepath.ToSlash(filepath.Dir(dir)) {
			up += "../"
			if !dirs[dir] {
				dirs[dir] = true
				entries = append(entries, treeEntry{folder + "/snapshots/" + commit + "/" + dir, "dir"})
			}
		}
		entries = append(entries, treeEntry{folder + "/snapshots/" + commit + "/" + f.name, "symlink -> " + up + "blobs/" + f.etag()})
	}
	return sortEntries(entries)
}

func TestDownloadResumesAcrossRunsAndWritesReferenceLayout(t *testing.T) {
	files := tinyModel()
	h := newFakeHub(t, "org/tiny", files)
	h.cutFile, h.cutAfter = "model.safetensors", 100_000
	cache := Cache{Dir: filepath.Join(t.TempDir(), "hub")}
	client := newTestClient(h, testToken)
	client.attempts = 1 // no retry inside the run: the interruption ends it

	_, err := client.Download(context.Background(), cache, "org/tiny", "", nil)
	if err == nil {
		t.Fatal("first run: want an error from the cut connection")
	}
	if !strings.Contains(err.Error(), "model.safetensors") || !strings.Contains(err.Error(), "resume") {
		t.Errorf("first run error should name the file and say it resumes: %v", err)
	}
	modelDir := filepath.Join(cache.Dir, "models--org--tiny")
	weights, _ := h.file("model.safetensors")
	partial := filepath.Join(modelDir, "blobs", weights.etag()+".incomplete")
	if info, err := os.Stat(partial); err != nil || info.Size() != 100_000 {
		t.Fatalf("partial file after the cut: %v, %v; want 100000 bytes kept", info, err)
	}
	if _, err := os.Stat(filepath.Join(modelDir, "refs", "main")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refs/main must not exist before the snapshot is complete (err %v)", err)
	}

	// The small files may or may not have finished before the cut stopped
	// the run (they download in parallel); whatever was served then is on
	// disk and must not be fetched again.
	servedFirst := h.servedBytes()
	client.attempts = 0
	var progress progressLog
	result, err := client.Download(context.Background(), cache, "org/tiny", "", progress.record)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	total := wantedSize(files)
	if got := h.servedBytes(); got != total {
		t.Errorf("bytes served over both runs = %d, want %d (each byte once)", got, total)
	}
	wantResult := DownloadResult{
		ID: "org/tiny", Commit: h.commit, Path: filepath.Join(modelDir, "snapshots", h.commit),
		Files: 3, Bytes: total, Fetched: total - servedFirst,
	}
	if result != wantResult {
		t.Errorf("result = %+v\nwant     %+v", result, wantResult)
	}
	if last := progress.last(); last.Done != total || last.Total != total || last.FilesDone != 3 || last.FilesTotal != 3 || last.Fetched != wantResult.Fetched {
		t.Errorf("last progress = %+v", last)
	}

	diffTrees(t, sortEntries(listTree(t, cache.Dir)), referenceLayout("org/tiny", h.commit, files, "main"))
	ref, _ := os.ReadFile(filepath.Join(modelDir, "refs", "main"))
	if string(ref) != h.commit {
		t.Errorf("refs/main = %q, want exactly the commit without newline", ref)
	}

	// Files mlx-lm does not use are never requested.
	for _, r := range h.seen() {
		if strings.HasSuffix(r.path, "README.md") || strings.HasSuffix(r.path, ".gguf") || strings.HasSuffix(r.path, ".gitattributes") {
			t.Errorf("requested a file mlx-lm does not need: %+v", r)
		}
	}

	// A third run finds everything in the snapshot and transfers nothing.
	before := len(h.seen())
	again, err := client.Download(context.Background(), cache, "org/tiny", "", nil)
	if err != nil || again.Fetched != 0 || again.Bytes != total {
		t.Errorf("third run = %+v, %v; want nothing fetched", again, err)
	}
	if n := len(h.seen()) - before; n != 1 {
		t.Errorf("third run made %d requests, want only the model info", n)
	}
}

func TestDownloadResumesWithinOneRun(t *testing.T) {
	files := tinyModel()
	h := newFakeHub(t, "org/tiny", files)
	h.cutFile, h.cutAfter = "model.safetensors", 123_457
	cache := Cache{Dir: t.TempDir()}
	result, err := newTestClient(h, "").Download(context.Background(), cache, "org/tiny", "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	total := wantedSize(files)
	if h.servedBytes() != total || result.Fetched != total {
		t.Errorf("served %d, fetched %d; want %d each", h.servedBytes(), result.Fetched, total)
	}
	var ranges []string
	for _, r := range h.seen() {
		if r.rangeHeader != "" {
			ranges = append(ranges, r.server+" "+r.rangeHeader)
		}
	}
	if want := []string{"cdn bytes=123457-"}; !slices.Equal(ranges, want) {
		t.Errorf("range requests = %q, want %q", ranges, want)
	}
	diffTrees(t, sortEntries(listTree(t, cache.Dir)), referenceLayout("org/tiny", h.commit, files, "main"))
}

func TestDownloadRestartsWhenServerIgnoresRange(t *testing.T) {
	files := tinyModel()
	h := newFakeHub(t, "org/tiny", files)
	weights, _ := h.file("model.safetensors")
	cache := Cache{Dir: t.TempDir()}
	// A stale partial file from an earlier run, which the CDN will not resume.
	blobs := filepath.Join(cache.Dir, "models--org--tiny", "blobs")
	os.MkdirAll(blobs, 0o755)
	os.WriteFile(filepath.Join(blobs, weights.etag()+".incomplete"), weights.content[:5000], 0o644)
	h.intercept = func(server string, w http.ResponseWriter, r *http.Request) bool {
		if server == "cdn" {
			r.Header.Del("Range")
			h.serveContent(w, r, weights)
			return true
		}
		return false
	}
	if _, err := newTestClient(h, "").Download(context.Background(), cache, "org/tiny", "", nil); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, sortEntries(listTree(t, cache.Dir)), referenceLayout("org/tiny", h.commit, files, "main"))
}

func TestDownloadSendsTokenOnlyToTheEndpoint(t *testing.T) {
	h := newFakeHub(t, "org/tiny", tinyModel())
	if _, err := newTestClient(h, testToken).Download(context.Background(), Cache{Dir: t.TempDir()}, "org/tiny", "", nil); err != nil {
		t.Fatal(err)
	}
	var hubHeads, cdnGets int
	for _, r := range h.seen() {
		switch r.server {
		case "hub":
			if r.auth != "Bearer "+testToken {
				t.Errorf("hub request %s %s without the token (Authorization %q)", r.method, r.path, r.auth)
			}
			if r.method == http.MethodHead {
				hubHeads++
			}
		case "cdn":
			cdnGets++
			if r.auth != "" {
				t.Errorf("CDN request %s %s carried Authorization %q", r.method, r.path, r.auth)
			}
		}
	}
	if hubHeads != 3 || cdnGets != 1 {
		t.Errorf("saw %d HEADs on the hub and %d CDN requests, want 3 and 1", hubHeads, cdnGets)
	}
}

func TestDownloadFollowsRelativeRedirectWithTokenAndNestsLinks(t *testing.T) {
	files := append(tinyModel(), hubFile{name: "sub/dir/extra.json", content: []byte(`{"nested":true}`)})
	h := newFakeHub(t, "org/tiny", files)
	h.renamed = "oldorg/tiny"
	cache := Cache{Dir: t.TempDir()}
	if _, err := newTestClient(h, testToken).Download(context.Background(), cache, "oldorg/tiny", "", nil); err != nil {
		t.Fatal(err)
	}
	// huggingface_hub names the folder after the id asked for.
	diffTrees(t, sortEntries(listTree(t, cache.Dir)), referenceLayout("oldorg/tiny", h.commit, files, "main"))
	for _, r := range h.seen() {
		if r.server == "hub" && r.auth != "Bearer "+testToken {
			t.Errorf("relative redirect lost the token: %+v", r)
		}
	}
}

func TestDownloadRevisions(t *testing.T) {
	files := tinyModel()
	h := newFakeHub(t, "org/tiny", files)
	h.tags = []string{"v1.0"}
	cache := Cache{Dir: t.TempDir()}
	client := newTestClient(h, "")

	if _, err := client.Download(context.Background(), cache, "org/tiny", h.commit, nil); err != nil {
		t.Fatal(err)
	}
	// A commit hash writes no ref.
	diffTrees(t, sortEntries(listTree(t, cache.Dir)), referenceLayout("org/tiny", h.commit, files, ""))

	if _, err := client.Download(context.Background(), cache, "org/tiny", "v1.0", nil); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, sortEntries(listTree(t, cache.Dir)), referenceLayout("org/tiny", h.commit, files, "v1.0"))
	var infoPaths []string
	for _, r := range h.seen() {
		if strings.HasPrefix(r.path, "/api/") {
			infoPaths = append(infoPaths, r.path)
		}
	}
	want := []string{"/api/models/org/tiny/revision/" + h.commit, "/api/models/org/tiny/revision/v1.0"}
	if !slices.Equal(infoPaths, want) {
		t.Errorf("model info requests = %q, want %q", infoPaths, want)
	}
}

func TestDownloadRejectsWrongETag(t *testing.T) {
	for _, name := range []string{"model.safetensors", "config.json"} {
		t.Run(name, func(t *testing.T) {
			files := tinyModel()
			h := newFakeHub(t, "org/tiny", files)
			h.wrongETag = name
			cache := Cache{Dir: t.TempDir()}
			_, err := newTestClient(h, "").Download(context.Background(), cache, "org/tiny", "", nil)
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "does not match its checksum") {
				t.Fatalf("want a checksum error naming %s, got %v", name, err)
			}
			modelDir := filepath.Join(cache.Dir, "models--org--tiny")
			blobs, _ := os.ReadDir(filepath.Join(modelDir, "blobs"))
			for _, b := range blobs {
				if strings.HasSuffix(b.Name(), ".incomplete") {
					t.Errorf("partial file left: %s", b.Name())
				}
			}
			f, _ := h.file(name)
			if _, err := os.Lstat(filepath.Join(modelDir, "blobs", f.etag())); err == nil {
				t.Errorf("the real content's blob exists although it was announced wrongly")
			}
			if _, err := os.Lstat(filepath.Join(modelDir, "snapshots", h.commit, name)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("snapshot entry for %s exists (err %v)", name, err)
			}
			if _, err := os.Lstat(filepath.Join(modelDir, "refs")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("refs written for a failed download (err %v)", err)
			}
			if problems := mustLookup(t, cache, "org/tiny").Problems; slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, ProblemBrokenSymlink) }) {
				t.Errorf("broken symlink left: %q", problems)
			}
		})
	}
}

func mustLookup(t *testing.T, cache Cache, id string) CachedModel {
	t.Helper()
	m, ok, err := cache.Lookup(id)
	if err != nil || !ok {
		t.Fatalf("Lookup(%s) = %v, %v", id, ok, err)
	}
	return m
}

func TestDownloadErrorMessages(t *testing.T) {
	status := func(code int, errorCode string, onlyFile string) func(string, http.ResponseWriter, *http.Request) bool {
		return func(server string, w http.ResponseWriter, r *http.Request) bool {
			if onlyFile != "" && !strings.HasSuffix(r.URL.Path, "/"+onlyFile) {
				return false
			}
			if errorCode != "" {
				w.Header().Set("X-Error-Code", errorCode)
			}
			w.WriteHeader(code)
			return true
		}
	}
	tests := []struct {
		name      string
		id, rev   string
		token     string
		intercept func(string, http.ResponseWriter, *http.Request) bool
		want      []string
	}{
		{name: "401 without token", id: "org/tiny", intercept: status(401, "GatedRepo", ""),
			want: []string{"org/tiny is gated or private: set HF_TOKEN", "https://huggingface.co/settings/tokens", "401 Unauthorized"}},
		{name: "403 with token", id: "org/tiny", token: testToken, intercept: status(403, "", ""),
			want: []string{"org/tiny is gated or private and the token in use cannot read it", "check HF_TOKEN"}},
		{name: "401 repo not found", id: "org/tiny", intercept: status(401, "RepoNotFound", ""),
			want: []string{"org/tiny does not exist, or it is gated or private: set HF_TOKEN"}},
		{name: "404 repo", id: "org/nothing",
			want: []string{"model org/nothing does not exist on http://127.0.0.1", "check the id", `"Repository not found"`}},
		{name: "404 revision", id: "org/tiny", rev: "nope",
			want: []string{`org/tiny has no revision "nope": check the branch, tag or commit hash`}},
		{name: "404 entry", id: "org/tiny", intercept: status(404, "EntryNotFound", "tokenizer_config.json"),
			want: []string{`org/tiny has no file "tokenizer_config.json" at revision "0123456789abcdef0123456789abcdef01234567"`}},
		{name: "bad id", id: "org/../etc",
			want: []string{`model id "org/../etc" is not of the form org/name`}},
		{name: "dotdot id", id: "org/a..b",
			want: []string{`contains ".."`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHub(t, "org/tiny", tinyModel())
			h.intercept = tt.intercept
			cache := Cache{Dir: t.TempDir()}
			_, err := newTestClient(h, tt.token).Download(context.Background(), cache, tt.id, tt.rev, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			t.Log(err)
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
			if tt.name != "404 entry" {
				if entries, _ := os.ReadDir(cache.Dir); len(entries) != 0 {
					t.Errorf("a failed download left %v in the cache root", entries)
				}
			}
		})
	}
}

func TestDownloadRetriesRateLimitAndServerErrors(t *testing.T) {
	files := tinyModel()
	h := newFakeHub(t, "org/tiny", files)
	var mu sync.Mutex
	apiCalls, cdnCalls := 0, 0
	h.intercept = func(server string, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case server == "hub" && strings.HasPrefix(r.URL.Path, "/api/"):
			apiCalls++
			if apiCalls == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
		case server == "cdn":
			cdnCalls++
			if cdnCalls <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
		}
		return false
	}
	start := time.Now()
	_, err := newTestClient(h, "").Download(context.Background(), Cache{Dir: t.TempDir()}, "org/tiny", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("finished after %s: Retry-After: 1 was not honoured", elapsed)
	}
	if apiCalls != 2 || cdnCalls != 3 {
		t.Errorf("api calls %d (want 2), cdn calls %d (want 3)", apiCalls, cdnCalls)
	}
}

func TestDownloadGivesUpOnPersistentErrors(t *testing.T) {
	h := newFakeHub(t, "org/tiny", tinyModel())
	h.intercept = func(server string, w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusBadGateway)
		return true
	}
	_, err := newTestClient(h, "").Download(context.Background(), Cache{Dir: t.TempDir()}, "org/tiny", "", nil)
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") || !strings.Contains(err.Error(), "gave up after 5 attempts") {
		t.Errorf("got %v", err)
	}
}

func TestDownloadWithoutSymlinksCopiesIntoSnapshot(t *testing.T) {
	files := tinyModel()
	h := newFakeHub(t, "org/tiny", files)
	cache := Cache{Dir: t.TempDir()}
	client := newTestClient(h, "")
	client.DisableSymlinks = true
	if _, err := client.Download(context.Background(), cache, "org/tiny", "", nil); err != nil {
		t.Fatal(err)
	}
	folder := "models--org--tiny"
	want := []treeEntry{
		{folder, "dir"},
		{folder + "/blobs", "dir"},
		{folder + "/refs", "dir"},
		{folder + "/refs/main", fmt.Sprintf("file %q", h.commit)},
		{folder + "/snapshots", "dir"},
		{folder + "/snapshots/" + h.commit, "dir"},
	}
	for _, f := range files {
		if wanted(f.name) {
			want = append(want, treeEntry{folder + "/snapshots/" + h.commit + "/" + f.name, describeContent(f.content)})
		}
	}
	diffTrees(t, sortEntries(listTree(t, cache.Dir)), sortEntries(want))

	m := mustLookup(t, cache, "org/tiny")
	if m.Files != 3 || m.Size != wantedSize(files)+40 || len(m.Problems) != 0 {
		t.Errorf("copied snapshot listed as %+v", m)
	}
}

func TestDownloadOfflineRefuses(t *testing.T) {
	h := newFakeHub(t, "org/tiny", tinyModel())
	client := newTestClient(h, "")
	client.Offline = true
	_, err := client.Download(context.Background(), Cache{Dir: t.TempDir()}, "org/tiny", "", nil)
	if err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("got %v, want an error naming HF_HUB_OFFLINE", err)
	}
	if n := len(h.seen()); n != 0 {
		t.Errorf("offline mode made %d requests", n)
	}
}

func TestDownloadCancelKeepsPartial(t *testing.T) {
	files := tinyModel()
	h := newFakeHub(t, "org/tiny", files)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.intercept = func(server string, w http.ResponseWriter, r *http.Request) bool {
		if server == "cdn" {
			cancel()
		}
		return false
	}
	cache := Cache{Dir: t.TempDir()}
	_, err := newTestClient(h, "").Download(ctx, cache, "org/tiny", "", nil)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "run it again to resume") {
		t.Errorf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache.Dir, "models--org--tiny", "refs", "main")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refs/main written for a cancelled download")
	}
}

func TestDownloadRefusesModelWithoutSafetensors(t *testing.T) {
	h := newFakeHub(t, "org/gguf", []hubFile{
		{name: "config.json", content: []byte(`{}`)},
		{name: "model-Q4_K_M.gguf", content: []byte("GGUF"), lfs: true},
	})
	_, err := newTestClient(h, "").Download(context.Background(), Cache{Dir: t.TempDir()}, "org/gguf", "", nil)
	if err == nil || !strings.Contains(err.Error(), "has no .safetensors weights") || !strings.Contains(err.Error(), "model-Q4_K_M.gguf") {
		t.Errorf("got %v", err)
	}
}

func TestDownloadCopiesWhenSymlinksFail(t *testing.T) {
	files := tinyModel()
	h := newFakeHub(t, "org/tiny", files)
	cache := Cache{Dir: t.TempDir()}
	client := newTestClient(h, "")
	var mu sync.Mutex
	calls := 0
	client.symlink = func(string, string) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return &os.LinkError{Op: "symlink", Err: errors.New("operation not permitted")}
	}
	if _, err := client.Download(context.Background(), cache, "org/tiny", "", nil); err != nil {
		t.Fatal(err)
	}
	snapshot := filepath.Join(cache.Dir, "models--org--tiny", "snapshots", h.commit)
	for _, f := range files {
		if !wanted(f.name) {
			continue
		}
		info, err := os.Lstat(filepath.Join(snapshot, f.name))
		if err != nil || !info.Mode().IsRegular() {
			t.Errorf("%s: %v, %v; want a regular file", f.name, info, err)
			continue
		}
		if data, _ := os.ReadFile(filepath.Join(snapshot, f.name)); string(data) != string(f.content) {
			t.Errorf("%s has the wrong content", f.name)
		}
	}
	if calls == 0 || calls > 3 {
		t.Errorf("symlink tried %d times; want it given up after the first failures", calls)
	}
	if problems := mustLookup(t, cache, "org/tiny").Problems; len(problems) != 0 {
		t.Errorf("problems after a copied download: %q", problems)
	}
}

func TestDownloadRebuildsSnapshotFromCachedBlobs(t *testing.T) {
	files := tinyModel()
	h := newFakeHub(t, "org/tiny", files)
	cache := Cache{Dir: t.TempDir()}
	client := newTestClient(h, "")
	if _, err := client.Download(context.Background(), cache, "org/tiny", "", nil); err != nil {
		t.Fatal(err)
	}
	// The snapshot goes, the blobs stay; a copying run rebuilds it from them.
	os.RemoveAll(filepath.Join(cache.Dir, "models--org--tiny", "snapshots"))
	client.DisableSymlinks = true
	before := h.servedBytes()
	result, err := client.Download(context.Background(), cache, "org/tiny", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if result.Fetched != 0 || h.servedBytes() != before {
		t.Errorf("rebuilding from blobs fetched %d bytes (served %d more)", result.Fetched, h.servedBytes()-before)
	}
	folder := "models--org--tiny"
	want := []treeEntry{
		{folder, "dir"}, {folder + "/blobs", "dir"}, {folder + "/refs", "dir"},
		{folder + "/refs/main", fmt.Sprintf("file %q", h.commit)},
		{folder + "/snapshots", "dir"}, {folder + "/snapshots/" + h.commit, "dir"},
	}
	for _, f := range files {
		if wanted(f.name) {
			want = append(want,
				treeEntry{folder + "/blobs/" + f.etag(), describeContent(f.content)},
				treeEntry{folder + "/snapshots/" + h.commit + "/" + f.name, describeContent(f.content)})
		}
	}
	diffTrees(t, sortEntries(listTree(t, cache.Dir)), sortEntries(want))
}

func TestDownloadExpiredCDNLink(t *testing.T) {
	h := newFakeHub(t, "org/tiny", tinyModel())
	h.intercept = func(server string, w http.ResponseWriter, r *http.Request) bool {
		if server == "cdn" {
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	}
	_, err := newTestClient(h, testToken).Download(context.Background(), Cache{Dir: t.TempDir()}, "org/tiny", "", nil)
	if err == nil || !strings.Contains(err.Error(), "refused the download link for model.safetensors") || strings.Contains(err.Error(), "gated") {
		t.Errorf("got %v", err)
	}
}
