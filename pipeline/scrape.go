package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"cicdllm/store"
)

// ScrapeEventKind says what a ScrapeEvent reports.
type ScrapeEventKind int

// Scrape events, in the order a run emits them.
const (
	ScrapeRejected  ScrapeEventKind = iota // a repos.txt line was not accepted
	ScrapeExpanding                        // an organisation is being listed
	ScrapeWaiting                          // waiting for an API rate limit
	ScrapeExpanded                         // an organisation was listed
	ScrapeStarted                          // a repository's clone or update began
	ScrapeProgress                         // clone progress (phase, percent, bytes)
	ScrapeDone                             // a repository is ready
	ScrapeFailed                           // a repository (or organisation) failed
)

// ScrapeEvent is one thing that happened during a scrape, for the CLI and
// the UI.
type ScrapeEvent struct {
	Kind     ScrapeEventKind
	Name     string // repository name (host/owner/name) or organisation URL
	Line     int    // repos.txt line, when known
	Message  string
	Progress CloneProgress
	Result   SyncResult
	Err      error
	Index    int // 1-based position among the repositories of this run
	Total    int
}

// ScrapeOptions come from flags (and the [scrape] config).
type ScrapeOptions struct {
	Concurrency int
	Depth       int
	DryRun      bool
}

// PlannedRepo is what a dry run would do with one repository.
type PlannedRepo struct {
	Entry  RepoEntry
	Action string // "clone", "update" or "read in place"
	Dir    string
}

// RepoFailure is a repository or organisation that could not be scraped.
type RepoFailure struct {
	Name string
	Line int
	Err  error
}

// ScrapeReport sums a run up.
type ScrapeReport struct {
	Rejected []RejectedLine
	Planned  []PlannedRepo
	Results  []SyncResult
	Failed   []RepoFailure
}

// OK reports a run where every line was accepted and every repository is
// ready.
func (r ScrapeReport) OK() bool { return len(r.Rejected) == 0 && len(r.Failed) == 0 }

// Count returns how many results had the given action.
func (r ScrapeReport) Count(action string) int {
	n := 0
	for _, res := range r.Results {
		if res.Action == action {
			n++
		}
	}
	return n
}

// Scraper turns repos.txt into bare clones under repos/ and rows in Repos.
type Scraper struct {
	WS        Workspace
	Config    Config
	Store     *store.Store // nil for dry runs
	LookupEnv func(string) (string, bool)
	Home      string       // for ~ in repos.txt
	HTTP      *http.Client // API client for expansion; nil = default
	Logger    *slog.Logger
	OnEvent   func(ScrapeEvent) // called from several goroutines
}

// ErrNoReposFile reports a workspace without repos.txt.
var ErrNoReposFile = errors.New("no repos.txt")

// Run reads repos.txt, expands organisations, then clones or updates every
// repository, opts.Concurrency at a time. A failing repository is recorded
// (Repos.last_error) and reported; it never stops the others.
func (s *Scraper) Run(ctx context.Context, opts ScrapeOptions) (ScrapeReport, error) {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.OnEvent == nil {
		s.OnEvent = func(ScrapeEvent) {}
	}
	var rep ScrapeReport
	if _, err := os.Stat(s.WS.ReposFile); errors.Is(err, os.ErrNotExist) {
		return rep, fmt.Errorf("%w in %s: create it with one repository URL, organisation URL or local path per line", ErrNoReposFile, s.WS.Dir)
	}
	entries, rejected, err := ReadRepoList(s.WS, s.repoListOptions())
	if err != nil {
		return rep, err
	}
	rep.Rejected = rejected
	for _, r := range rejected {
		s.OnEvent(ScrapeEvent{Kind: ScrapeRejected, Line: r.Line, Name: r.Text, Message: r.Reason})
		s.Logger.Warn("repos.txt line rejected", "line", r.Line, "reason", r.Reason)
	}
	repos, failed := s.expand(ctx, entries)
	rep.Failed = append(rep.Failed, failed...)
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	if opts.DryRun {
		rep.Planned = s.plan(repos)
		return rep, nil
	}
	if s.Store == nil {
		if len(repos) == 0 {
			return rep, ctx.Err() // nothing to record: a list with no usable entry
		}
		return rep, errors.New("scrape needs the database unless it is a dry run")
	}
	results, failed := s.sync(ctx, repos, opts)
	rep.Results, rep.Failed = results, append(rep.Failed, failed...)
	return rep, ctx.Err()
}

// RepoList reads repos.txt as Run will. A caller can tell from it that
// there is nothing to scrape before it creates or locks the database.
func (s *Scraper) RepoList() ([]RepoEntry, []RejectedLine, error) {
	return ReadRepoList(s.WS, s.repoListOptions())
}

func (s *Scraper) repoListOptions() RepoListOptions {
	o := RepoListOptions{Workdir: s.WS.Dir, Home: s.Home, AllowHTTP: s.Config.Scrape.AllowHTTP,
		GitHubHosts: []string{"github.com"}, GitLabHosts: []string{"gitlab.com"}}
	if h := webHost(s.Config.Scrape.GitHubAPIURL); h != "" && h != "github.com" {
		o.GitHubHosts = append(o.GitHubHosts, h)
	}
	if h := webHost(s.Config.Scrape.GitLabAPIURL); h != "" && h != "gitlab.com" {
		o.GitLabHosts = append(o.GitLabHosts, h)
	}
	return o
}

// webHost derives the web host of a hosting API: api.github.com serves
// github.com; GitHub Enterprise and GitLab serve their API on the web host.
func webHost(api string) string {
	u, err := url.Parse(api)
	if err != nil {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	if h == "api.github.com" {
		return "github.com"
	}
	return h
}

func (s *Scraper) token(provider string) string {
	name := s.Config.Scrape.GitHubTokenEnv
	if provider == ProviderGitLab {
		name = s.Config.Scrape.GitLabTokenEnv
	}
	if name == "" || s.LookupEnv == nil || provider == "" {
		return ""
	}
	v, _ := s.LookupEnv(name)
	return v
}

// expand replaces organisation entries by their repositories and removes
// duplicates, keeping the first occurrence (repos.txt order).
func (s *Scraper) expand(ctx context.Context, entries []RepoEntry) ([]RepoEntry, []RepoFailure) {
	x := &Expander{
		HTTP: s.HTTP, GitHubAPI: s.Config.Scrape.GitHubAPIURL, GitLabAPI: s.Config.Scrape.GitLabAPIURL,
		GitHubToken: s.token(ProviderGitHub), GitLabToken: s.token(ProviderGitLab),
		IncludeForks: s.Config.Scrape.IncludeForks, IncludeArchived: s.Config.Scrape.IncludeArchived,
		MaxRepos: s.Config.Scrape.MaxOrgRepos, Logger: s.Logger,
		OnEvent: func(ev ExpandEvent) {
			kind := ScrapeExpanding
			if ev.Wait > 0 {
				kind = ScrapeWaiting
			}
			s.OnEvent(ScrapeEvent{Kind: kind, Name: ev.Entry.URL, Line: ev.Entry.Line, Message: ev.Message})
		},
	}
	var out []RepoEntry
	var failed []RepoFailure
	seen := map[string]bool{}
	add := func(e RepoEntry) {
		if !seen[e.Key()] {
			seen[e.Key()] = true
			out = append(out, e)
		}
	}
	for _, e := range entries {
		if e.Kind != EntryOrg {
			add(e)
			continue
		}
		if ctx.Err() != nil {
			break
		}
		s.OnEvent(ScrapeEvent{Kind: ScrapeExpanding, Name: e.URL, Line: e.Line, Message: "listing repositories"})
		found, err := x.Expand(ctx, e)
		if err != nil {
			failed = append(failed, RepoFailure{Name: e.URL, Line: e.Line, Err: err})
			s.OnEvent(ScrapeEvent{Kind: ScrapeFailed, Name: e.URL, Line: e.Line, Err: err})
			s.Logger.Error("expansion failed", "org", e.URL, "err", err)
			continue
		}
		s.OnEvent(ScrapeEvent{Kind: ScrapeExpanded, Name: e.URL, Line: e.Line, Message: fmt.Sprintf("%d repositories", len(found))})
		for _, f := range found {
			add(f)
		}
	}
	return out, failed
}

func (s *Scraper) plan(repos []RepoEntry) []PlannedRepo {
	var out []PlannedRepo
	for _, e := range repos {
		p := PlannedRepo{Entry: e}
		switch dir, err := RepoDir(s.WS.ReposDir, e); {
		case e.Kind == EntryLocal:
			p.Action, p.Dir = "read in place", e.LocalPath
		case err != nil:
			p.Action = "refuse: " + err.Error()
		case isGitDir(dir):
			p.Action, p.Dir = "update", dir
		default:
			p.Action, p.Dir = "clone", dir
		}
		out = append(out, p)
	}
	return out
}

// sync clones or updates every repository with a pool of workers and
// records each outcome in the store as soon as it is known.
func (s *Scraper) sync(ctx context.Context, repos []RepoEntry, opts ScrapeOptions) ([]SyncResult, []RepoFailure) {
	type job struct {
		i int
		e RepoEntry
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var results []SyncResult
	var failed []RepoFailure
	var wg sync.WaitGroup
	for range max(opts.Concurrency, 1) {
		wg.Go(func() {
			for j := range jobs {
				res, err := s.syncOne(ctx, j.e, j.i, len(repos), opts)
				mu.Lock()
				if err != nil {
					failed = append(failed, RepoFailure{Name: j.e.DisplayName(), Line: j.e.Line, Err: err})
				} else {
					results = append(results, res)
				}
				mu.Unlock()
			}
		})
	}
	for i, e := range repos {
		select {
		case jobs <- job{i + 1, e}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	sort.Slice(results, func(a, b int) bool { return results[a].Entry.Key() < results[b].Entry.Key() })
	return results, failed
}

func (s *Scraper) syncOne(ctx context.Context, e RepoEntry, index, total int, opts ScrapeOptions) (SyncResult, error) {
	name := e.DisplayName()
	s.OnEvent(ScrapeEvent{Kind: ScrapeStarted, Name: name, Line: e.Line, Index: index, Total: total})
	start := time.Now()
	res, err := SyncRepo(ctx, e, CloneOptions{
		ReposDir: s.WS.ReposDir, Depth: opts.Depth, Timeout: s.Config.Scrape.Timeout.Std(),
		MaxBytes: int64(s.Config.Scrape.MaxRepoSize), Token: s.token(e.Provider),
	}, func(p CloneProgress) {
		s.OnEvent(ScrapeEvent{Kind: ScrapeProgress, Name: name, Progress: p, Index: index, Total: total})
	})
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		s.Logger.Error("scrape failed", "repo", name, "url", e.URL, "err", err)
		if rerr := s.recordFailure(e, err); rerr != nil {
			err = errors.Join(err, rerr)
		}
		s.OnEvent(ScrapeEvent{Kind: ScrapeFailed, Name: name, Line: e.Line, Err: err, Index: index, Total: total})
		return res, err
	}
	s.Logger.Info("scraped", "repo", name, "action", res.Action, "head", res.HeadCommit, "branch", res.DefaultBranch,
		"bytes", res.Bytes, "took", time.Since(start).Round(time.Millisecond))
	if err := s.recordSuccess(res); err != nil {
		s.OnEvent(ScrapeEvent{Kind: ScrapeFailed, Name: name, Line: e.Line, Err: err, Index: index, Total: total})
		return res, err
	}
	s.OnEvent(ScrapeEvent{Kind: ScrapeDone, Name: name, Line: e.Line, Result: res, Index: index, Total: total})
	return res, nil
}

// recordSuccess writes the repository's row, with the licence detected at
// its new HEAD (R-LIC-1). A detection that fails is logged and recorded as
// NOASSERTION: it never fails the scrape.
func (s *Scraper) recordSuccess(res SyncResult) error {
	ctx := context.Background() // record outcomes even while the run is being cancelled
	r := store.Repo{URL: res.Entry.URL, Name: res.Entry.DisplayName(), LocalPath: res.LocalPath,
		HeadCommit: res.HeadCommit, DefaultBranch: res.DefaultBranch, LastScraped: time.Now().UTC()}
	r.License = s.detectLicense(r.Name, res.LocalPath, res.HeadCommit)
	if old, err := s.Store.RepoByName(ctx, r.Name); err == nil {
		r.URL = old.URL
	}
	_, err := s.Store.UpsertRepo(ctx, r)
	return err
}

// detectLicense returns the SPDX licence of the repository at dir and
// commit, or NOASSERTION when it cannot be read.
func (s *Scraper) detectLicense(name, dir, commit string) string {
	info, err := DetectLicenseAt(dir, commit)
	if err != nil {
		s.Logger.Warn("licence detection failed", "repo", name, "err", err)
		return store.NoAssertion
	}
	s.Logger.Info("licence", "repo", name, "spdx", info.SPDX, "files", info.Files, "coverage", info.Coverage,
		"detector", info.Detector, "unrecognised", info.Unrecognised)
	return info.SPDX
}

// recordFailure keeps the reason in Repos.last_error, creating the row if
// the repository was never scraped.
func (s *Scraper) recordFailure(e RepoEntry, cause error) error {
	ctx := context.Background() // record outcomes even while the run is being cancelled
	if old, err := s.Store.RepoByName(ctx, e.DisplayName()); err == nil {
		return s.Store.SetRepoError(ctx, old.ID, cause.Error())
	}
	_, err := s.Store.UpsertRepo(ctx, store.Repo{URL: e.URL, Name: e.DisplayName(), LastError: cause.Error()})
	return err
}
