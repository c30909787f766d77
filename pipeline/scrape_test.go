package pipeline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"cicdllm/store"
)

func TestMain(m *testing.M) {
	if os.Getenv("CICDLLM_FAKE_MLX_PIPELINE") != "" {
		fakeMLXServer() // the test binary standing in for python -m mlx_lm server
		return
	}
	InstallGitTransport()
	os.Exit(m.Run())
}

// gitCLI runs the real git with no user or system configuration, for
// building fixture repositories and serving them.
func gitCLI(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com",
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "HOME="+dir, "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
}

// workRepo makes a non-bare repository with files and one commit.
func workRepo(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gitCLI(t, dir, "init", "-q")
	commitFiles(t, dir, files, "initial")
	return gitCLI(t, dir, "rev-parse", "HEAD")
}

func commitFiles(t testing.TB, dir string, files map[string]string, msg string) string {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitCLI(t, dir, "add", "-A")
	gitCLI(t, dir, "commit", "-q", "-m", msg)
	return gitCLI(t, dir, "rev-parse", "HEAD")
}

// gitServer serves bare repositories under root with git http-backend,
// git's own smart HTTP server, through CGI.
func gitServer(t testing.TB, root string) *httptest.Server {
	t.Helper()
	gitPath, _ := exec.LookPath("git")
	srv := httptest.NewServer(&cgi.Handler{
		Path: gitPath, Args: []string{"http-backend"},
		Env:    []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
		Stderr: io.Discard,                 // "Not a git repository" for the missing-repo case
		Logger: log.New(io.Discard, "", 0), // "broken pipe" when a clone is stopped at its cap
	})
	t.Cleanup(srv.Close)
	return srv
}

// publish makes a bare copy of a work repository at root/owner/name for
// the server, and returns its URL.
func publish(t testing.TB, srvURL, root, work, owner, name string) string {
	t.Helper()
	dst := filepath.Join(root, owner, name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	gitCLI(t, root, "clone", "-q", "--bare", work, dst)
	gitCLI(t, dst, "config", "http.uploadpack", "true")
	return srvURL + "/" + owner + "/" + name
}

type scrapeFixture struct {
	ws     Workspace
	st     *store.Store
	events []ScrapeEvent
	mu     sync.Mutex
}

func newScrapeFixture(t testing.TB, repos string) *scrapeFixture {
	t.Helper()
	dir := t.TempDir()
	ws, err := NewWorkspace(dir, "data")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ws.ReposFile, []byte(repos), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), ws.DBPath, store.Options{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &scrapeFixture{ws: ws, st: st}
}

func (f *scrapeFixture) scraper(mut ...func(*Config)) *Scraper {
	cfg := DefaultConfig()
	cfg.Scrape.AllowHTTP = true // the test server is plain http on loopback
	cfg.Scrape.Timeout = Duration(time.Minute)
	for _, m := range mut {
		m(&cfg)
	}
	return &Scraper{WS: f.ws, Config: cfg, Store: f.st, LookupEnv: func(string) (string, bool) { return "", false },
		OnEvent: func(ev ScrapeEvent) { f.mu.Lock(); f.events = append(f.events, ev); f.mu.Unlock() }}
}

func (f *scrapeFixture) run(t testing.TB, opts ScrapeOptions, mut ...func(*Config)) ScrapeReport {
	t.Helper()
	rep, err := f.scraper(mut...).Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// refsOf lists a bare repository's references.
func refsOf(t testing.TB, dir string) []string {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	it, _ := repo.References()
	var out []string
	_ = it.ForEach(func(r *plumbing.Reference) error { out = append(out, r.Name().String()); return nil })
	sort.Strings(out)
	return out
}

func TestScrapeCloneUpdateAndLocal(t *testing.T) {
	needGit(t)
	root, src, local := t.TempDir(), t.TempDir(), t.TempDir()
	first := workRepo(t, src, map[string]string{"main.go": "package main\n", "docs/README.md": "# r\n"})
	localHead := workRepo(t, local, map[string]string{"deploy.sh": "#!/bin/sh\necho ok\n"})
	srv := gitServer(t, root)
	url := publish(t, srv.URL, root, src, "acme", "tool")

	f := newScrapeFixture(t, "# mine\n"+url+".git\n"+local+"  # a local one\n")
	rep := f.run(t, ScrapeOptions{Concurrency: 2, Depth: 1})
	if !rep.OK() || rep.Count(ActionCloned) != 1 || rep.Count(ActionLocal) != 1 {
		t.Fatalf("report %+v", rep)
	}
	var remote SyncResult
	for _, r := range rep.Results {
		if r.Action == ActionCloned {
			remote = r
		}
	}
	if remote.HeadCommit != first || remote.DefaultBranch != "main" {
		t.Errorf("clone %+v, want head %s on main", remote, first)
	}
	if rel, err := filepath.Rel(f.ws.ReposDir, remote.LocalPath); err != nil || !filepath.IsLocal(rel) || !strings.HasSuffix(remote.LocalPath, filepath.Join("acme", "tool.git")) {
		t.Errorf("clone at %s, want repos/<host>/acme/tool.git", remote.LocalPath)
	}
	// Bare: git's files, never a working tree.
	if _, err := os.Stat(filepath.Join(remote.LocalPath, "main.go")); err == nil {
		t.Error("a working tree was checked out")
	}
	if _, err := os.Stat(filepath.Join(remote.LocalPath, "HEAD")); err != nil {
		t.Error("not a bare repository")
	}
	// The local repository is read in place, not copied.
	repos, err := f.st.Repos(context.Background())
	if err != nil || len(repos) != 2 {
		t.Fatalf("repos %+v %v", repos, err)
	}
	for _, r := range repos {
		switch {
		case r.LocalPath == local:
			if r.HeadCommit != localHead || r.DefaultBranch != "main" || !strings.HasPrefix(r.Name, "local/") {
				t.Errorf("local row %+v", r)
			}
		case r.LocalPath == remote.LocalPath:
			if r.HeadCommit != first || r.URL != url || r.LastScraped.IsZero() || r.LastError != "" {
				t.Errorf("remote row %+v", r)
			}
		default:
			t.Errorf("unexpected row %+v", r)
		}
	}
	before := listDir(t, f.ws.ReposDir)
	refsBefore := refsOf(t, remote.LocalPath)
	if strings.Contains(strings.Join(refsBefore, ","), "refs/tags/") {
		t.Errorf("tags were fetched: %v", refsBefore)
	}

	// A new commit upstream: the update moves HEAD and nothing else.
	second := commitFiles(t, src, map[string]string{"main.go": "package main\n\nfunc main() {}\n"}, "second")
	gitCLI(t, src, "push", "-q", filepath.Join(root, "acme", "tool"), "main")
	rep = f.run(t, ScrapeOptions{Concurrency: 1, Depth: 1})
	if rep.Count(ActionUpdated) != 1 {
		t.Fatalf("second run %+v", rep)
	}
	repo, _ := git.PlainOpen(remote.LocalPath)
	head, _ := repo.Head()
	if head.Hash().String() != second || head.Name().Short() != "main" {
		t.Errorf("HEAD %v after update, want %s", head, second)
	}
	if got := refsOf(t, remote.LocalPath); strings.Join(got, ",") != strings.Join(refsBefore, ",") {
		t.Errorf("refs after update %v, before %v: the update must move HEAD and nothing else", got, refsBefore)
	}
	if after := listDir(t, f.ws.ReposDir); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("update changed the layout:\nbefore %v\nafter  %v", before, after)
	}
	if r, _ := f.st.RepoByName(context.Background(), remote.Entry.DisplayName()); r.HeadCommit != second {
		t.Errorf("Repos.head_commit %s, want %s", r.HeadCommit, second)
	}
	if rep := f.run(t, ScrapeOptions{Concurrency: 1, Depth: 1}); rep.Count(ActionUnchanged) != 1 {
		t.Errorf("third run %+v", rep)
	}
}

func listDir(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != root {
			rel, _ := filepath.Rel(root, p)
			if strings.Count(rel, string(filepath.Separator)) < 3 {
				out = append(out, rel)
			}
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// TestScrapeHostileRepository clones a repository built to attack a naive
// cloner: a symlink to /etc/passwd, one out of the tree, a submodule with
// an ext:: URL, a hook, and a 50 MB blob.
func TestScrapeHostileRepository(t *testing.T) {
	needGit(t)
	top := t.TempDir()
	root, src := filepath.Join(top, "served"), filepath.Join(top, "src")
	sentinel := filepath.Join(top, "SENTINEL")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	workRepo(t, src, map[string]string{
		"hooks/post-checkout": "#!/bin/sh\ntouch " + sentinel + "\n",
		".gitmodules":         "[submodule \"sub\"]\n\tpath = sub\n\turl = ext::sh -c touch% " + sentinel + "\n",
	})
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "passwd")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	if err := os.Symlink("../../outside", filepath.Join(src, "escape")); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 50<<20)
	_, _ = rand.Read(big) // incompressible, so the pack really is 50 MB
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	head := gitCLI(t, src, "rev-parse", "HEAD")
	gitCLI(t, src, "update-index", "--add", "--cacheinfo", "160000,"+head+",sub")
	gitCLI(t, src, "add", "-A")
	gitCLI(t, src, "commit", "-q", "-m", "hostile")
	srv := gitServer(t, root)
	url := publish(t, srv.URL, root, src, "evil", "repo")

	f := newScrapeFixture(t, url+"\n")
	outsideBefore := snapshot(t, top, f.ws.Dir)

	// Over the size cap: the clone stops, and nothing is left behind.
	rep := f.run(t, ScrapeOptions{Concurrency: 1, Depth: 1}, func(c *Config) { c.Scrape.MaxRepoSize = 20 * MiB })
	if len(rep.Failed) != 1 || !errors.Is(rep.Failed[0].Err, ErrRepoTooLarge) {
		t.Fatalf("over the cap: %+v", rep)
	}
	if left := listTree(t, f.ws.ReposDir); len(left) > 0 && strings.Contains(strings.Join(left, ","), ".git") {
		t.Errorf("a partial clone was left: %v", left)
	}
	r, err := f.st.RepoByName(context.Background(), "127.0.0.1/evil/repo")
	if err == nil && !strings.Contains(r.LastError, "max_repo_size") {
		t.Errorf("last_error %q", r.LastError)
	}

	// Within the cap the clone succeeds, and nothing in it is followed or run.
	rep = f.run(t, ScrapeOptions{Concurrency: 1, Depth: 1})
	if !rep.OK() {
		t.Fatalf("clone: %+v", rep)
	}
	for _, p := range listTree(t, f.ws.ReposDir) {
		st, err := os.Lstat(filepath.Join(f.ws.ReposDir, p))
		if err == nil && st.Mode()&os.ModeSymlink != 0 {
			t.Errorf("symlink on disk: %s", p)
		}
		if base := filepath.Base(p); base == "passwd" || base == "escape" || base == "sub" || base == "post-checkout" || base == "big.bin" {
			t.Errorf("a file from the tree was checked out: %s", p)
		}
	}
	if _, err := os.Stat(sentinel); err == nil {
		t.Error("the sentinel exists: something in the repository was executed")
	}
	if after := snapshot(t, top, f.ws.Dir); strings.Join(after, ",") != strings.Join(outsideBefore, ",") {
		t.Errorf("files outside the workspace changed:\nbefore %v\nafter  %v", outsideBefore, after)
	}
}

// snapshot lists every path under top except the workspace and the served
// repositories (which the server itself may touch).
func snapshot(t testing.TB, top, workspace string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p == workspace || p == filepath.Join(top, "served") || p == filepath.Join(top, "src") {
			return filepath.SkipDir
		}
		out = append(out, p)
		return nil
	})
	sort.Strings(out)
	return out
}

func listTree(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestScrapeOneFailureDoesNotStopOthers(t *testing.T) {
	needGit(t)
	root, src := t.TempDir(), t.TempDir()
	workRepo(t, src, map[string]string{"a.go": "package a\n"})
	srv := gitServer(t, root)
	good := publish(t, srv.URL, root, src, "o", "good")
	f := newScrapeFixture(t, srv.URL+"/o/missing\n"+good+"\nhttps://user:secret@example.com/o/r\next::sh -c true\n")
	rep := f.run(t, ScrapeOptions{Concurrency: 2, Depth: 1})
	if len(rep.Results) != 1 || len(rep.Failed) != 1 || len(rep.Rejected) != 2 || rep.OK() {
		t.Fatalf("report %+v", rep)
	}
	if rep.Failed[0].Line != 1 || !strings.Contains(rep.Failed[0].Err.Error(), "repos.txt") && !strings.Contains(rep.Failed[0].Err.Error(), "repository") {
		t.Errorf("failure %+v", rep.Failed[0])
	}
	for _, r := range rep.Rejected {
		if strings.Contains(r.Text, "secret") {
			t.Errorf("a credential reached the report: %q", r.Text)
		}
	}
	repos, _ := f.st.Repos(context.Background())
	var withError int
	for _, r := range repos {
		if r.LastError != "" {
			withError++
		}
	}
	if len(repos) != 2 || withError != 1 {
		t.Errorf("Repos rows %+v", repos)
	}
}

func TestScrapeDryRunTouchesNothing(t *testing.T) {
	needGit(t)
	local := t.TempDir()
	workRepo(t, local, map[string]string{"x.py": "print(1)\n"})
	f := newScrapeFixture(t, local+"\nhttps://github.com/acme/widget\n")
	s := f.scraper()
	s.Store = nil
	rep, err := s.Run(context.Background(), ScrapeOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Planned {
		got = append(got, p.Action+" "+p.Entry.DisplayName())
	}
	if strings.Join(got, "|") != "read in place local/"+SafePathSegment(filepath.Base(local))+"|clone github.com/acme/widget" {
		t.Errorf("plan %v", got)
	}
	if _, err := os.Stat(f.ws.ReposDir); !errors.Is(err, os.ErrNotExist) {
		t.Error("a dry run created repos/")
	}
}

// BenchmarkScrape clones 20 repositories from a local git server with 1, 2
// and 4 clones at once.
func BenchmarkScrape(b *testing.B) {
	needGit(b)
	root, src := b.TempDir(), b.TempDir()
	files := map[string]string{}
	for i := range 40 {
		files[fmt.Sprintf("pkg/f%02d.go", i)] = strings.Repeat(fmt.Sprintf("// line of file %d\n", i), 200)
	}
	workRepo(b, src, files)
	srv := gitServer(b, root)
	var list strings.Builder
	for i := range 20 {
		list.WriteString(publish(b, srv.URL, root, src, "bench", fmt.Sprintf("r%02d", i)) + "\n")
	}
	for _, conc := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			var repos int
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				f := newScrapeFixture(b, list.String())
				b.StartTimer()
				start := time.Now()
				rep := f.run(b, ScrapeOptions{Concurrency: conc, Depth: 1})
				elapsed += time.Since(start)
				if !rep.OK() || rep.Count(ActionCloned) != 20 {
					b.Fatalf("report %+v", rep)
				}
				repos += 20
			}
			b.ReportMetric(float64(repos)/elapsed.Seconds(), "repos/s")
		})
	}
}
