package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// CloneOptions configure SyncRepo.
type CloneOptions struct {
	ReposDir string        // workspace repos/
	Depth    int           // commits fetched; 0 = all history
	Timeout  time.Duration // per repository; 0 = none
	MaxBytes int64         // download cap per clone or update; 0 = none
	Token    string        // HTTPS token for the repository's host; "" = anonymous
}

// CloneProgress is one progress report of a clone or update.
type CloneProgress struct {
	Phase   string // "connecting", the server's phase ("Counting objects", "Compressing objects"), "receiving"
	Percent int    // of the phase, -1 when unknown
	Bytes   int64  // downloaded so far
}

// Sync actions.
const (
	ActionCloned    = "cloned"
	ActionUpdated   = "updated"
	ActionUnchanged = "unchanged"
	ActionLocal     = "local"
)

// SyncResult is where a repository's code now is.
type SyncResult struct {
	Entry         RepoEntry
	Action        string
	LocalPath     string // the bare clone, or the local repository read in place
	HeadCommit    string
	DefaultBranch string
	Bytes         int64
}

// SyncRepo makes the repository available for reading: a remote one is
// cloned bare (no working tree is ever checked out, so no symlink, hook,
// filter or submodule in it is ever followed or run) or, when already
// there, updated to the remote's default branch; a local one is opened in
// place. A clone is written to a temporary directory and renamed into
// place, so an interrupted clone never looks complete.
func SyncRepo(ctx context.Context, e RepoEntry, o CloneOptions, progress func(CloneProgress)) (SyncResult, error) {
	if progress == nil {
		progress = func(CloneProgress) {}
	}
	switch e.Kind {
	case EntryLocal:
		return openLocal(e)
	case EntryRepo:
	default:
		return SyncResult{}, fmt.Errorf("%s is an organisation, not a repository; expand it first", e.URL)
	}
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "ssh") {
		return SyncResult{}, fmt.Errorf("refusing to clone %q: only https, http and ssh URLs are cloned", e.URL)
	}
	dir, err := RepoDir(o.ReposDir, e)
	if err != nil {
		return SyncResult{}, err
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	ctx, budget := withByteBudget(ctx, o.MaxBytes)
	pw := &progressWriter{report: func(phase string, pct int) {
		progress(CloneProgress{Phase: phase, Percent: pct, Bytes: budget.used.Load()})
	}}
	auth := authFor(e, o.Token)
	progress(CloneProgress{Phase: "connecting", Percent: -1})

	if isGitDir(dir) {
		res, err := updateClone(ctx, e, dir, o, auth, pw)
		if err == nil {
			res.Bytes = budget.used.Load()
			return res, nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrRepoTooLarge) || errors.Is(err, transport.ErrAuthenticationRequired) {
			return SyncResult{}, describeGitError(ctx, e, o, err)
		}
		// The pipeline only needs the current tree: rather than repair a
		// clone an update could not move forward, clone it again.
	}
	res, err := clone(ctx, e, dir, o, auth, pw)
	if err != nil {
		return SyncResult{}, describeGitError(ctx, e, o, err)
	}
	res.Bytes = budget.used.Load()
	return res, nil
}

// authFor sends the host's token as HTTP basic auth, the way GitHub and
// GitLab accept personal access tokens over git's smart HTTP protocol.
func authFor(e RepoEntry, token string) transport.AuthMethod {
	if token == "" || !strings.HasPrefix(e.URL, "https://") {
		return nil
	}
	user := "x-access-token"
	if e.Provider == ProviderGitLab {
		user = "oauth2"
	}
	return &githttp.BasicAuth{Username: user, Password: token}
}

func clone(ctx context.Context, e RepoEntry, dir string, o CloneOptions, auth transport.AuthMethod, pw *progressWriter) (SyncResult, error) {
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return SyncResult{}, fmt.Errorf("create %s: %w", parent, err)
	}
	// Leftovers of clones a crash interrupted.
	if stale, _ := filepath.Glob(filepath.Join(parent, "."+base+".tmp-*")); len(stale) > 0 {
		for _, s := range stale {
			_ = os.RemoveAll(s)
		}
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return SyncResult{}, fmt.Errorf("create a temporary clone directory: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()
	// A bound filesystem keeps every write under tmp even if a crafted pack
	// or ref name tries to escape it.
	st := filesystem.NewStorage(osfs.New(tmp, osfs.WithBoundOS()), cache.NewObjectLRUDefault())
	repo, err := git.CloneContext(ctx, st, nil, &git.CloneOptions{
		URL: e.URL, Auth: auth, Depth: o.Depth, SingleBranch: true,
		Tags: git.NoTags, RecurseSubmodules: git.NoRecurseSubmodules, Progress: pw,
	})
	if err != nil {
		return SyncResult{}, err
	}
	res, err := headOf(repo)
	if err != nil {
		return SyncResult{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return SyncResult{}, fmt.Errorf("replace %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return SyncResult{}, fmt.Errorf("move the clone into place: %w", err)
	}
	done = true
	res.Entry, res.Action, res.LocalPath = e, ActionCloned, dir
	return res, nil
}

// updateClone fetches the remote's default branch (which may have changed) and
// points HEAD at it.
func updateClone(ctx context.Context, e RepoEntry, dir string, o CloneOptions, auth transport.AuthMethod, pw *progressWriter) (SyncResult, error) {
	st := filesystem.NewStorage(osfs.New(dir, osfs.WithBoundOS()), cache.NewObjectLRUDefault())
	repo, err := git.Open(st, nil)
	if err != nil {
		return SyncResult{}, err
	}
	before, _ := repo.Head()
	remote, err := repo.Remote(git.DefaultRemoteName)
	if err != nil {
		return SyncResult{}, err
	}
	if urls := remote.Config().URLs; len(urls) != 1 || urls[0] != e.URL {
		return SyncResult{}, fmt.Errorf("the clone's origin %v is not %s", urls, e.URL)
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return SyncResult{}, err
	}
	branch, err := defaultBranch(refs)
	if err != nil {
		return SyncResult{}, err
	}
	// Fetch straight into the local branch, as the bare clone keeps it, so
	// an update changes that branch and HEAD and nothing else.
	local := plumbing.NewBranchReferenceName(branch)
	err = remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec(fmt.Sprintf("+%s:%s", local, local))},
		Depth:    o.Depth, Auth: auth, Tags: git.NoTags, Force: true, Progress: pw,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return SyncResult{}, err
	}
	ref, err := repo.Reference(local, true)
	if err != nil {
		return SyncResult{}, err
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, local)); err != nil {
		return SyncResult{}, err
	}
	res, err := headOf(repo)
	if err != nil {
		return SyncResult{}, err
	}
	res.Entry, res.Action, res.LocalPath = e, ActionUpdated, dir
	if before != nil && before.Hash() == ref.Hash() && before.Name() == local {
		res.Action = ActionUnchanged
	}
	return res, nil
}

// defaultBranch reads the branch the remote's HEAD points at.
func defaultBranch(refs []*plumbing.Reference) (string, error) {
	var head *plumbing.Reference
	for _, r := range refs {
		if r.Name() == plumbing.HEAD {
			head = r
		}
	}
	switch {
	case head == nil:
		return "", errors.New("the remote has no HEAD (an empty repository?)")
	case head.Type() == plumbing.SymbolicReference:
		return head.Target().Short(), nil
	}
	for _, r := range refs {
		if r.Name().IsBranch() && r.Hash() == head.Hash() {
			return r.Name().Short(), nil
		}
	}
	return "", errors.New("cannot tell which branch the remote's HEAD is")
}

func headOf(repo *git.Repository) (SyncResult, error) {
	head, err := repo.Head()
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return SyncResult{}, unbornHeadError(repo)
		}
		return SyncResult{}, fmt.Errorf("read HEAD: %w", err)
	}
	return SyncResult{HeadCommit: head.Hash().String(), DefaultBranch: head.Name().Short()}, nil
}

// unbornHeadError explains a HEAD that names a branch without commits: an
// empty repository, or one whose default branch was never pushed while
// other branches were. The user decides which branch is meant.
func unbornHeadError(repo *git.Repository) error {
	branch := "its default branch"
	if ref, err := repo.Storer.Reference(plumbing.HEAD); err == nil && ref.Type() == plumbing.SymbolicReference {
		branch = fmt.Sprintf("%q", ref.Target().Short())
	}
	var others []string
	if iter, err := repo.Branches(); err == nil {
		_ = iter.ForEach(func(r *plumbing.Reference) error {
			if len(others) < 5 {
				others = append(others, r.Name().Short())
			}
			return nil
		})
	}
	if len(others) == 0 {
		return fmt.Errorf("the repository is empty: %s has no commits, nor has any other branch; commit to it or remove it from repos.txt", branch)
	}
	return fmt.Errorf("HEAD names %s, which has no commits; branches with commits: %s. Point HEAD at one (git symbolic-ref HEAD refs/heads/%s) or remove the repository from repos.txt",
		branch, strings.Join(others, ", "), others[0])
}

// openLocal reads a local repository's HEAD where it is; nothing is copied.
func openLocal(e RepoEntry) (SyncResult, error) {
	repo, err := git.PlainOpenWithOptions(e.LocalPath, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return SyncResult{}, fmt.Errorf("open %s: %w", e.LocalPath, err)
	}
	res, err := headOf(repo)
	if err != nil {
		return SyncResult{}, fmt.Errorf("%s: %w", e.LocalPath, err)
	}
	res.Entry, res.Action, res.LocalPath = e, ActionLocal, e.LocalPath
	return res, nil
}

// isGitDir reports whether dir holds a bare repository.
func isGitDir(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "HEAD"))
	return err == nil && st.Mode().IsRegular()
}

// describeGitError words a clone failure for the user.
func describeGitError(ctx context.Context, e RepoEntry, o CloneOptions, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded) && o.Timeout > 0:
		return fmt.Errorf("gave up after %s (scrape.timeout); raise it for large repositories", Duration(o.Timeout))
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return &gitError{msg: fmt.Sprintf("the server requires authentication (a private or missing repository?); set the token variable named by scrape.%s_token_env", providerOr(e)), err: err}
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return &gitError{msg: "no such repository; check the URL in repos.txt", err: err}
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return errors.New("the repository is empty (no commits)")
	}
	return err
}

// gitError is a clone failure worded for the user. go-git's own text
// adds the server's error page (often with a trailing newline) and says
// nothing more, so only the wording is shown; the cause stays reachable
// for errors.Is.
type gitError struct {
	msg string
	err error
}

func (e *gitError) Error() string { return e.msg }
func (e *gitError) Unwrap() error { return e.err }

func providerOr(e RepoEntry) string {
	if e.Provider == ProviderGitLab {
		return "gitlab"
	}
	return "github"
}

// progressWriter turns the server's sideband messages ("Counting objects:
// 45% (9/20)\r") into progress reports. go-git splits them at arbitrary
// points, so text is buffered up to each \r or \n.
type progressWriter struct {
	report func(phase string, pct int)
	buf    []byte
}

var progressRe = regexp.MustCompile(`^(?:remote:\s*)?([A-Za-z][A-Za-z ]+?):\s+(\d+)%`)

func (p *progressWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexAny(p.buf, "\r\n")
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(p.buf[:i]))
		p.buf = p.buf[i+1:]
		if m := progressRe.FindStringSubmatch(line); m != nil {
			pct, _ := strconv.Atoi(m[2])
			p.report(m[1], pct)
		}
	}
	if len(p.buf) > 4096 {
		p.buf = p.buf[:0]
	}
	return len(b), nil
}
