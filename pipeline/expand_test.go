package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ---- fake GitHub ----

// ghRepo builds one repository object as GitHub's list endpoints return it.
func ghRepo(owner, name string, fork, archived, disabled bool) map[string]any {
	return map[string]any{
		"id":             len(owner)*1000 + len(name),
		"name":           name,
		"full_name":      owner + "/" + name,
		"html_url":       "https://github.com/" + owner + "/" + name,
		"clone_url":      "https://github.com/" + owner + "/" + name + ".git",
		"private":        false,
		"fork":           fork,
		"archived":       archived,
		"disabled":       disabled,
		"default_branch": "main",
		"owner":          map[string]any{"login": owner, "type": "Organization"},
	}
}

// fakeGitHub serves /users/{name} and paged repository lists. Page links
// use GitHub's /organizations/{id}/repos form, so the client must follow
// the Link header rather than build its own URLs.
type fakeGitHub struct {
	t        *testing.T
	srv      *httptest.Server
	accounts map[string]string // login → "Organization" | "User"
	pages    map[string][][]map[string]any
	// hook may answer a request itself (rate limits, errors); it returns
	// true when it did.
	hook func(w http.ResponseWriter, r *http.Request, page int) bool
	// okHeaders are added to every successful answer.
	okHeaders map[string]string

	mu       sync.Mutex
	requests []*http.Request
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{t: t, accounts: map[string]string{}, pages: map[string][][]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(context.Background()))
	hook := f.hook
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page == 0 {
		page = 1
	}
	if hook != nil && hook(w, r, page) {
		return
	}
	for k, v := range f.okHeaders {
		w.Header().Set(k, v)
	}
	switch {
	case len(parts) == 2 && parts[0] == "users":
		typ, ok := f.accounts[parts[1]]
		if !ok {
			notFoundGitHub(w)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"login": parts[1], "id": 1, "type": typ})
	case len(parts) == 3 && parts[2] == "repos" && (parts[0] == "orgs" || parts[0] == "users"):
		f.servePage(w, r, parts[1], 1)
	case len(parts) == 3 && parts[0] == "organizations" && parts[2] == "repos":
		f.servePage(w, r, parts[1], page)
	default:
		notFoundGitHub(w)
	}
}

func notFoundGitHub(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`)
}

// servePage answers page n of an account's list; key is the login (first
// page) or the numeric id GitHub puts in its links, here "id-<login>".
func (f *fakeGitHub) servePage(w http.ResponseWriter, r *http.Request, key string, n int) {
	login := strings.TrimPrefix(key, "id-")
	pages, ok := f.pages[login]
	if !ok || n > len(pages) {
		notFoundGitHub(w)
		return
	}
	link := func(p int) string {
		q := url.Values{}
		// GitHub copies the query, per_page included, into its links.
		for k, v := range r.URL.Query() {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(p))
		return fmt.Sprintf("<%s/organizations/id-%s/repos?%s>", f.srv.URL, login, q.Encode())
	}
	var links []string
	if n > 1 {
		links = append(links, link(n-1)+`; rel="prev"`)
	}
	if n < len(pages) {
		links = append(links, link(n+1)+`; rel="next"`, link(len(pages))+`; rel="last"`)
	}
	if n > 1 {
		links = append(links, link(1)+`; rel="first"`)
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	json.NewEncoder(w).Encode(pages[n-1])
}

// pageRequests counts requests for the repository lists of login.
func (f *fakeGitHub) pageRequests(login string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.requests {
		if strings.HasSuffix(r.URL.Path, "/"+login+"/repos") || strings.HasSuffix(r.URL.Path, "/id-"+login+"/repos") {
			out = append(out, r.URL.RequestURI())
		}
	}
	return out
}

func (f *fakeGitHub) allRequests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.requests...)
}

// kubernetesPages is a three-page organisation mixing forks, archived and
// disabled repositories. Default switches keep api, docs and Tools.
func kubernetesPages() [][]map[string]any {
	return [][]map[string]any{
		{
			ghRepo("kubernetes", "api", false, false, false),
			ghRepo("kubernetes", "client-fork", true, false, false),
			ghRepo("kubernetes", "old-dashboard", false, true, false),
		},
		{
			ghRepo("kubernetes", "banned", false, false, true),
			ghRepo("kubernetes", "docs", false, false, false),
			ghRepo("kubernetes", "ancient-fork", true, true, false),
		},
		{
			ghRepo("kubernetes", "Tools", false, false, false),
			ghRepo("kubernetes", "retired", false, true, false),
			ghRepo("kubernetes", "disabled-fork", true, false, true),
		},
	}
}

func testOrgEntry(provider, host, owner string) RepoEntry {
	return RepoEntry{
		Line: 7, Raw: "https://" + host + "/" + owner + "  # team", Kind: EntryOrg,
		Provider: provider, URL: "https://" + host + "/" + owner, Host: host, Owner: owner,
	}
}

// expandClock is Now and Sleep for an Expander: sleeping records the wait
// and moves the clock, so no test really waits.
type expandClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newExpandClock() *expandClock {
	return &expandClock{now: time.Date(2025, 3, 1, 21, 0, 0, 0, time.UTC)}
}

func (c *expandClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *expandClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *expandClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// expandEvents collects ExpandEvents.
type expandEvents struct {
	mu     sync.Mutex
	events []ExpandEvent
}

func (l *expandEvents) add(ev ExpandEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

func (l *expandEvents) all() []ExpandEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ExpandEvent(nil), l.events...)
}

func newGitHubExpander(f *fakeGitHub, clock *expandClock, events *expandEvents) *Expander {
	return &Expander{
		GitHubAPI: f.srv.URL + "/",
		Sleep:     clock.Sleep,
		Now:       clock.Now,
		OnEvent:   events.add,
	}
}

func expandedNames(repos []RepoEntry) []string {
	out := []string{}
	for _, r := range repos {
		out = append(out, r.Owner+"/"+r.Name)
	}
	return out
}

func assertNames(t *testing.T, got []RepoEntry, want ...string) {
	t.Helper()
	if g := expandedNames(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("repositories = %q, want %q", g, want)
	}
}

// ---- tests ----

func TestExpandGitHubOrgPagesAndFilters(t *testing.T) {
	f := newFakeGitHub(t)
	f.accounts["kubernetes"] = "Organization"
	f.pages["kubernetes"] = kubernetesPages()
	org := testOrgEntry(ProviderGitHub, "github.com", "kubernetes")

	cases := []struct {
		name            string
		forks, archived bool
		want            []string
	}{
		{"defaults", false, false, []string{"kubernetes/api", "kubernetes/docs", "kubernetes/Tools"}},
		{"forks", true, false, []string{"kubernetes/api", "kubernetes/client-fork", "kubernetes/docs", "kubernetes/Tools"}},
		{"archived", false, true, []string{"kubernetes/api", "kubernetes/docs", "kubernetes/old-dashboard", "kubernetes/retired", "kubernetes/Tools"}},
		{"both", true, true, []string{"kubernetes/ancient-fork", "kubernetes/api", "kubernetes/client-fork", "kubernetes/docs", "kubernetes/old-dashboard", "kubernetes/retired", "kubernetes/Tools"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events := &expandEvents{}
			x := newGitHubExpander(f, newExpandClock(), events)
			x.IncludeForks, x.IncludeArchived = c.forks, c.archived
			got, err := x.Expand(context.Background(), org)
			if err != nil {
				t.Fatal(err)
			}
			assertNames(t, got, c.want...)
			if ev := events.all(); len(ev) != 3 || ev[2].Page != 3 || ev[2].Found != len(c.want) {
				t.Errorf("progress events = %+v, want 3 pages ending with Found=%d", ev, len(c.want))
			}
		})
	}

	// A fresh server so that only this expansion's requests are counted.
	f = newFakeGitHub(t)
	f.accounts["kubernetes"] = "Organization"
	f.pages["kubernetes"] = kubernetesPages()
	x := newGitHubExpander(f, newExpandClock(), &expandEvents{})
	got, err := x.Expand(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	want := RepoEntry{Line: 7, Raw: org.Raw, Kind: EntryRepo, Provider: ProviderGitHub,
		URL: "https://github.com/kubernetes/Tools", Host: "github.com", Owner: "kubernetes", Name: "Tools"}
	if got[2] != want {
		t.Errorf("entry = %+v\nwant    %+v", got[2], want)
	}
	reqs := f.pageRequests("kubernetes")
	wantFirst := "/orgs/kubernetes/repos?per_page=100&type=all&sort=full_name"
	if len(reqs) != 3 || reqs[0] != wantFirst || !strings.Contains(reqs[1], "/organizations/id-kubernetes/repos?") ||
		!strings.Contains(reqs[2], "page=3") || !strings.Contains(reqs[2], "per_page=100") {
		t.Errorf("list requests = %q, want %s then the two Link URLs", reqs, wantFirst)
	}
}

func TestExpandGitHubHeadersAndToken(t *testing.T) {
	for _, token := range []string{"", "ghp_secret123"} {
		f := newFakeGitHub(t)
		f.accounts["kubernetes"] = "Organization"
		f.pages["kubernetes"] = kubernetesPages()
		x := newGitHubExpander(f, newExpandClock(), &expandEvents{})
		x.GitHubToken = token
		if _, err := x.Expand(context.Background(), testOrgEntry(ProviderGitHub, "github.com", "kubernetes")); err != nil {
			t.Fatal(err)
		}
		reqs := f.allRequests()
		if len(reqs) != 4 {
			t.Fatalf("token %q: %d requests, want 4 (account + 3 pages)", token, len(reqs))
		}
		for _, r := range reqs {
			auth := r.Header.Get("Authorization")
			if token == "" && auth != "" || token != "" && auth != "Bearer "+token {
				t.Errorf("token %q: Authorization = %q on %s", token, auth, r.URL)
			}
			if r.Header.Get("Accept") != "application/vnd.github+json" ||
				r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" ||
				r.Header.Get("User-Agent") != "cicdllm" {
				t.Errorf("headers on %s = %v", r.URL, r.Header)
			}
		}
	}
}

// rateLimitOnce makes the first request for page 2 fail with GitHub's
// primary rate-limit answer, resetting at reset.
func rateLimitOnce(reset time.Time) func(w http.ResponseWriter, r *http.Request, page int) bool {
	var done atomic.Bool
	return func(w http.ResponseWriter, r *http.Request, page int) bool {
		if page != 2 || done.Swap(true) {
			return false
		}
		h := w.Header()
		h.Set("X-Ratelimit-Limit", "60")
		h.Set("X-Ratelimit-Remaining", "0")
		h.Set("X-Ratelimit-Used", "60")
		h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		h.Set("X-Ratelimit-Resource", "core")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"API rate limit exceeded for 203.0.113.9. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`)
		return true
	}
}

func TestExpandGitHubRateLimitWaitsAndRetries(t *testing.T) {
	clock := newExpandClock()
	reset := clock.Now().Add(90 * time.Second)
	f := newFakeGitHub(t)
	f.accounts["kubernetes"] = "Organization"
	f.pages["kubernetes"] = kubernetesPages()
	f.hook = rateLimitOnce(reset)
	events := &expandEvents{}
	x := newGitHubExpander(f, clock, events)

	got, err := x.Expand(context.Background(), testOrgEntry(ProviderGitHub, "github.com", "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, got, "kubernetes/api", "kubernetes/docs", "kubernetes/Tools")
	sleeps := clock.Sleeps()
	if len(sleeps) != 1 || sleeps[0] < 90*time.Second || sleeps[0] > 2*time.Minute {
		t.Fatalf("sleeps = %v, want one of about 91s", sleeps)
	}
	var wait *ExpandEvent
	for _, ev := range events.all() {
		if ev.Wait > 0 {
			wait = &ev
		}
	}
	if wait == nil {
		t.Fatalf("no wait event in %+v", events.all())
	}
	resetText := reset.Format("15:04")
	if !strings.Contains(wait.Message, resetText) || !strings.Contains(wait.Message, "scrape.github_token_env") ||
		wait.Entry.URL != "https://github.com/kubernetes" {
		t.Errorf("wait event = %+v, want the reset time %s and the token hint", wait, resetText)
	}
	reqs := f.pageRequests("kubernetes")
	if len(reqs) != 4 || reqs[1] != reqs[2] {
		t.Errorf("list requests = %q, want page 2 asked twice", reqs)
	}
}

func TestExpandGitHubRateLimitBeyondMaxWait(t *testing.T) {
	clock := newExpandClock()
	reset := clock.Now().Add(2 * time.Hour)
	f := newFakeGitHub(t)
	f.accounts["kubernetes"] = "Organization"
	f.pages["kubernetes"] = kubernetesPages()
	f.hook = rateLimitOnce(reset)
	x := newGitHubExpander(f, clock, &expandEvents{})

	_, err := x.Expand(context.Background(), testOrgEntry(ProviderGitHub, "github.com", "kubernetes"))
	if err == nil {
		t.Fatal("expected an error")
	}
	want := "https://github.com/kubernetes: GitHub rate limit exhausted until " + reset.Format("15:04") +
		"; set scrape.github_token_env or try again later"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	if s := clock.Sleeps(); len(s) != 0 {
		t.Errorf("slept %v although the wait exceeds MaxWait", s)
	}
}

func TestExpandGitHubSecondaryAndProactiveLimits(t *testing.T) {
	clock := newExpandClock()
	f := newFakeGitHub(t)
	f.accounts["kubernetes"] = "Organization"
	f.pages["kubernetes"] = kubernetesPages()
	var once atomic.Bool
	reset := clock.Now().Add(10 * time.Minute)
	f.hook = func(w http.ResponseWriter, r *http.Request, page int) bool {
		switch {
		case page == 3 && !once.Swap(true):
			// Secondary limit: retry-after, quota not exhausted.
			w.Header().Set("Retry-After", "30")
			w.Header().Set("X-Ratelimit-Remaining", "4000")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`)
			return true
		case page == 1 && strings.HasPrefix(r.URL.Path, "/orgs/"):
			// Successful, but the quota is now used up.
			w.Header().Set("X-Ratelimit-Remaining", "0")
			w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		}
		return false
	}
	x := newGitHubExpander(f, clock, &expandEvents{})
	x.GitHubToken = "ghp_abc"
	got, err := x.Expand(context.Background(), testOrgEntry(ProviderGitHub, "github.com", "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, got, "kubernetes/api", "kubernetes/docs", "kubernetes/Tools")
	sleeps := clock.Sleeps()
	if len(sleeps) != 2 || sleeps[0] != 10*time.Minute+time.Second || sleeps[1] != 30*time.Second {
		t.Errorf("sleeps = %v, want [10m1s (quota used up) 30s (retry-after)]", sleeps)
	}
	if n := len(f.pageRequests("kubernetes")); n != 4 {
		t.Errorf("%d list requests, want 4 (page 3 twice)", n)
	}
}

func TestExpandGitHubNotFoundAndUser(t *testing.T) {
	f := newFakeGitHub(t)
	f.accounts["alice"] = "User"
	f.pages["alice"] = [][]map[string]any{{ghRepo("alice", "dotfiles", false, false, false), ghRepo("alice", "zz-fork", true, false, false)}}
	x := newGitHubExpander(f, newExpandClock(), &expandEvents{})

	_, err := x.Expand(context.Background(), testOrgEntry(ProviderGitHub, "github.com", "no-such-org"))
	want := "https://github.com/no-such-org: no such GitHub organisation or user (check the spelling)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}

	got, err := x.Expand(context.Background(), testOrgEntry(ProviderGitHub, "github.com", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, got, "alice/dotfiles")
	if reqs := f.pageRequests("alice"); len(reqs) != 1 || reqs[0] != "/users/alice/repos?per_page=100&type=owner&sort=full_name" {
		t.Errorf("user list requests = %q", reqs)
	}
}

func TestExpandGitHubForbiddenMentionsToken(t *testing.T) {
	f := newFakeGitHub(t)
	f.accounts["acme"] = "Organization"
	f.hook = func(w http.ResponseWriter, r *http.Request, page int) bool {
		if !strings.HasPrefix(r.URL.Path, "/orgs/") {
			return false
		}
		w.Header().Set("X-Ratelimit-Remaining", "4999")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"Resource protected by organization SAML enforcement."}`)
		return true
	}
	clock := newExpandClock()
	x := newGitHubExpander(f, clock, &expandEvents{})
	x.GitHubToken = "ghp_xyz"
	_, err := x.Expand(context.Background(), testOrgEntry(ProviderGitHub, "github.com", "acme"))
	if err == nil || !strings.Contains(err.Error(), "scrape.github_token_env") || !strings.Contains(err.Error(), "SAML") {
		t.Errorf("error = %v, want the API message and the token setting", err)
	}
	if len(clock.Sleeps()) != 0 {
		t.Error("a plain 403 was treated as a rate limit")
	}
}

func TestExpandMaxReposStopsPaging(t *testing.T) {
	f := newFakeGitHub(t)
	f.accounts["kubernetes"] = "Organization"
	f.pages["kubernetes"] = kubernetesPages()
	events := &expandEvents{}
	x := newGitHubExpander(f, newExpandClock(), events)
	x.MaxRepos = 2

	got, err := x.Expand(context.Background(), testOrgEntry(ProviderGitHub, "github.com", "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, got, "kubernetes/api", "kubernetes/docs")
	if n := len(f.pageRequests("kubernetes")); n != 2 {
		t.Errorf("%d page requests, want 2 (the cap is reached on page 2 of 3)", n)
	}
	ev := events.all()
	if last := ev[len(ev)-1]; !strings.Contains(last.Message, "stopped at 2 repositories") {
		t.Errorf("last event = %+v, want the cap reported", last)
	}
}

func TestExpandRetriesServerErrorsAndHidesTokens(t *testing.T) {
	const token = "ghp_TOPSECRET42"
	f := newFakeGitHub(t)
	f.accounts["kubernetes"] = "Organization"
	f.pages["kubernetes"] = kubernetesPages()[:1]
	var failures atomic.Int32
	f.hook = func(w http.ResponseWriter, r *http.Request, page int) bool {
		if !strings.HasPrefix(r.URL.Path, "/orgs/") || failures.Add(1) > 2 {
			return false
		}
		// A misbehaving proxy echoing the credentials back.
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, `{"message":"upstream rejected Authorization: %s"}`, r.Header.Get("Authorization"))
		return true
	}
	var logs bytes.Buffer
	clock := newExpandClock()
	events := &expandEvents{}
	x := newGitHubExpander(f, clock, events)
	x.GitHubToken = token
	x.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	got, err := x.Expand(context.Background(), testOrgEntry(ProviderGitHub, "github.com", "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, got, "kubernetes/api")
	if s := clock.Sleeps(); len(s) != 2 {
		t.Errorf("sleeps = %v, want two backoffs", s)
	}
	if !strings.Contains(logs.String(), "502") || !strings.Contains(logs.String(), "upstream rejected") {
		t.Errorf("log does not report the retries:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("token leaked into the log:\n%s", logs.String())
	}

	// Persistent failure: a user-worded error, still without the token.
	failures.Store(-100)
	_, err = x.Expand(context.Background(), testOrgEntry(ProviderGitHub, "github.com", "kubernetes"))
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "failed 4 times") {
		t.Errorf("error = %v, want 4 attempts reported without the token", err)
	}
	for _, ev := range events.all() {
		if strings.Contains(ev.Message, token) {
			t.Errorf("token leaked into event %q", ev.Message)
		}
	}
}

func TestExpandHundredOrgs(t *testing.T) {
	f := newFakeGitHub(t)
	f.okHeaders = map[string]string{"X-Ratelimit-Remaining": "4000", "X-Ratelimit-Reset": "1740866400"}
	var entries []RepoEntry
	for i := range 100 {
		login := fmt.Sprintf("org%03d", i)
		f.accounts[login] = "Organization"
		f.pages[login] = [][]map[string]any{{ghRepo(login, "b", false, false, false), ghRepo(login, "a", false, false, false), ghRepo(login, "f", true, false, false)}}
		entries = append(entries, testOrgEntry(ProviderGitHub, "github.com", login))
	}
	clock := newExpandClock()
	x := newGitHubExpander(f, clock, &expandEvents{})
	x.GitHubToken = "ghp_many"

	results := make([][]RepoEntry, len(entries))
	errs := make([]error, len(entries))
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				results[i], errs[i] = x.Expand(context.Background(), entries[i])
			}
		})
	}
	for i := range entries {
		work <- i
	}
	close(work)
	wg.Wait()

	for i, e := range entries {
		if errs[i] != nil {
			t.Fatalf("%s: %v", e.URL, errs[i])
		}
		assertNames(t, results[i], e.Owner+"/a", e.Owner+"/b")
	}
	if s := clock.Sleeps(); len(s) != 0 {
		t.Errorf("slept %v with quota to spare", s)
	}
	if n := len(f.allRequests()); n != 200 {
		t.Errorf("%d requests, want 200 (account + one page per org)", n)
	}
}

// ---- GitLab ----

func glProject(ns, path string, fork, archived, empty bool) map[string]any {
	p := map[string]any{
		"id":                  len(ns)*100 + len(path),
		"path":                path,
		"path_with_namespace": ns + "/" + path,
		"web_url":             "https://gitlab.example.com/" + ns + "/" + path,
		"http_url_to_repo":    "https://gitlab.example.com/" + ns + "/" + path + ".git",
		"default_branch":      "main",
		"archived":            archived,
		"empty_repo":          empty,
		"visibility":          "public",
	}
	if fork {
		p["forked_from_project"] = map[string]any{"id": 1, "path_with_namespace": "upstream/" + path}
	}
	return p
}

// fakeGitLab serves group and user project lists. Group paths arrive
// URL-encoded (%2F), as GitLab requires.
type fakeGitLab struct {
	srv    *httptest.Server
	groups map[string][][]map[string]any // full path → pages
	users  map[string][][]map[string]any
	// useNextPageHeader pages with x-next-page instead of Link.
	useNextPageHeader bool
	hook              func(w http.ResponseWriter, r *http.Request) bool

	mu       sync.Mutex
	requests []*http.Request
}

func newFakeGitLab(t *testing.T) *fakeGitLab {
	f := &fakeGitLab{groups: map[string][][]map[string]any{}, users: map[string][][]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitLab) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(context.Background()))
	f.mu.Unlock()
	if f.hook != nil && f.hook(w, r) {
		return
	}
	// EscapedPath keeps %2F, so a group path has exactly 5 segments.
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if len(parts) != 5 || parts[0] != "api" || parts[1] != "v4" || parts[4] != "projects" {
		f.notFound(w, "404 Not Found")
		return
	}
	id, _ := url.PathUnescape(parts[3])
	var pages [][]map[string]any
	var ok bool
	switch parts[2] {
	case "groups":
		pages, ok = f.groups[id]
		if !ok {
			f.notFound(w, "404 Group Not Found")
			return
		}
	case "users":
		pages, ok = f.users[id]
		if !ok {
			f.notFound(w, "404 User Not Found")
			return
		}
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page == 0 {
		page = 1
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Page", strconv.Itoa(page))
	w.Header().Set("X-Total-Pages", strconv.Itoa(len(pages)))
	if page < len(pages) {
		w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
		if !f.useNextPageHeader {
			q := r.URL.Query()
			q.Set("page", strconv.Itoa(page+1))
			next := f.srv.URL + r.URL.EscapedPath() + "?" + q.Encode()
			q.Set("page", "1")
			first := f.srv.URL + r.URL.EscapedPath() + "?" + q.Encode()
			w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="first"`, next, first))
		}
	} else {
		w.Header().Set("X-Next-Page", "")
	}
	json.NewEncoder(w).Encode(pages[page-1])
}

func (f *fakeGitLab) notFound(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, `{"message":%q}`, msg)
}

func (f *fakeGitLab) allRequests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.requests...)
}

func platformPages() [][]map[string]any {
	return [][]map[string]any{
		{
			glProject("acme/platform", "api", false, false, false),
			glProject("acme/platform", "api-fork", true, false, false),
			glProject("acme/platform/tools", "cli", false, false, false),
		},
		{
			glProject("acme/platform/tools", "legacy", false, true, false),
			glProject("acme/platform", "placeholder", false, false, true),
			glProject("acme/platform/web", "Portal", false, false, false),
		},
	}
}

func TestExpandGitLabGroupWithSubgroups(t *testing.T) {
	for _, nextHeader := range []bool{false, true} {
		for _, token := range []string{"", "glpat-secret"} {
			f := newFakeGitLab(t)
			f.groups["acme/platform"] = platformPages()
			f.useNextPageHeader = nextHeader
			x := &Expander{GitLabAPI: f.srv.URL + "/api/v4", GitLabToken: token, Sleep: newExpandClock().Sleep}
			org := testOrgEntry(ProviderGitLab, "gitlab.example.com", "acme/platform")
			got, err := x.Expand(context.Background(), org)
			if err != nil {
				t.Fatal(err)
			}
			assertNames(t, got, "acme/platform/api", "acme/platform/tools/cli", "acme/platform/web/Portal")
			want := RepoEntry{Line: 7, Raw: org.Raw, Kind: EntryRepo, Provider: ProviderGitLab,
				URL: "https://gitlab.example.com/acme/platform/tools/cli", Host: "gitlab.example.com",
				Owner: "acme/platform/tools", Name: "cli"}
			if got[1] != want {
				t.Errorf("entry = %+v\nwant    %+v", got[1], want)
			}
			reqs := f.allRequests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2 pages", len(reqs))
			}
			first := reqs[0].URL
			if first.EscapedPath() != "/api/v4/groups/acme%2Fplatform/projects" ||
				first.RawQuery != "per_page=100&include_subgroups=true&archived=false&order_by=path&sort=asc&simple=false" {
				t.Errorf("first request = %s", first.RequestURI())
			}
			for _, r := range reqs {
				if got := r.Header.Get("PRIVATE-TOKEN"); got != token {
					t.Errorf("PRIVATE-TOKEN = %q, want %q", got, token)
				}
			}
		}
	}
}

func TestExpandGitLabIncludeSwitchesAndUserFallback(t *testing.T) {
	f := newFakeGitLab(t)
	f.groups["acme/platform"] = platformPages()
	f.users["bob"] = [][]map[string]any{{glProject("bob", "notes", false, false, false), glProject("bob", "old", false, true, false)}}
	x := &Expander{GitLabAPI: f.srv.URL + "/api/v4", IncludeForks: true, IncludeArchived: true}

	got, err := x.Expand(context.Background(), testOrgEntry(ProviderGitLab, "gitlab.example.com", "acme/platform"))
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, got, "acme/platform/api", "acme/platform/api-fork", "acme/platform/tools/cli", "acme/platform/tools/legacy", "acme/platform/web/Portal")
	if q := f.allRequests()[0].URL.Query(); q.Has("archived") {
		t.Errorf("archived filter sent although archived projects are wanted: %v", q)
	}

	x.IncludeArchived = false
	got, err = x.Expand(context.Background(), testOrgEntry(ProviderGitLab, "gitlab.example.com", "bob"))
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, got, "bob/notes")
	reqs := f.allRequests()
	last := reqs[len(reqs)-1].URL
	if prev := reqs[len(reqs)-2].URL.EscapedPath(); prev != "/api/v4/groups/bob/projects" || last.RequestURI() != "/api/v4/users/bob/projects?per_page=100" {
		t.Errorf("requests = %s then %s, want the group then the user", prev, last.RequestURI())
	}

	_, err = x.Expand(context.Background(), testOrgEntry(ProviderGitLab, "gitlab.example.com", "nobody"))
	want := "https://gitlab.example.com/nobody: no such GitLab group or user (check the spelling; private ones need scrape.gitlab_token_env)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestExpandGitLabRateLimit(t *testing.T) {
	clock := newExpandClock()
	f := newFakeGitLab(t)
	f.groups["acme/platform"] = platformPages()
	var calls atomic.Int32
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("RateLimit-Reset", strconv.FormatInt(clock.Now().Add(40*time.Second).Unix(), 10))
		case 2:
			w.Header().Set("Retry-After", "20")
		default:
			return false
		}
		w.Header().Set("RateLimit-Remaining", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, "Retry later\n")
		return true
	}
	events := &expandEvents{}
	x := &Expander{GitLabAPI: f.srv.URL + "/api/v4", Sleep: clock.Sleep, Now: clock.Now, OnEvent: events.add}
	got, err := x.Expand(context.Background(), testOrgEntry(ProviderGitLab, "gitlab.example.com", "acme/platform"))
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, got, "acme/platform/api", "acme/platform/tools/cli", "acme/platform/web/Portal")
	if s := clock.Sleeps(); !reflect.DeepEqual(s, []time.Duration{41 * time.Second, 20 * time.Second}) {
		t.Errorf("sleeps = %v, want [41s 20s]", s)
	}
	waits := 0
	for _, ev := range events.all() {
		if ev.Wait > 0 && strings.Contains(ev.Message, "scrape.gitlab_token_env") {
			waits++
		}
	}
	if waits != 2 {
		t.Errorf("events = %+v, want two waits with the token hint", events.all())
	}
}

// ---- other ----

func TestExpandRejectsOtherProviders(t *testing.T) {
	e := RepoEntry{Kind: EntryOrg, URL: "https://git.example.org/team", Host: "git.example.org", Owner: "team"}
	_, err := (&Expander{}).Expand(context.Background(), e)
	want := "https://git.example.org/team: only GitHub and GitLab organisations can be expanded; list https://git.example.org/team/<name> lines instead"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestExpandCancelledDuringRateLimitWait(t *testing.T) {
	f := newFakeGitHub(t)
	f.accounts["kubernetes"] = "Organization"
	f.pages["kubernetes"] = kubernetesPages()
	f.hook = rateLimitOnce(time.Now().Add(30 * time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	// The real timer-based Sleep must give up when ctx ends.
	x := &Expander{GitHubAPI: f.srv.URL, OnEvent: func(ev ExpandEvent) {
		if ev.Wait > 0 {
			cancel()
		}
	}}
	done := make(chan error, 1)
	go func() {
		_, err := x.Expand(ctx, testOrgEntry(ProviderGitHub, "github.com", "kubernetes"))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Expand kept waiting after cancellation")
	}
}

func TestLinkNext(t *testing.T) {
	cases := map[string]string{
		`<https://api.github.com/organizations/1/repos?per_page=100&page=2>; rel="next", <https://api.github.com/organizations/1/repos?per_page=100&page=5>; rel="last"`: "https://api.github.com/organizations/1/repos?per_page=100&page=2",
		`<https://x/?page=1>; rel="prev", <https://x/?page=3>; rel="next"`:                                                                                               "https://x/?page=3",
		`<https://x/?page=1>; rel="first", <https://x/?page=9>; rel="last"`:                                                                                              "",
		`<https://x/?a=1,2&page=2>; rel="prev next"`:                                                                                                                     "https://x/?a=1,2&page=2",
		``: "",
	}
	for in, want := range cases {
		if got := linkNext([]string{in}); got != want {
			t.Errorf("linkNext(%q) = %q, want %q", in, got, want)
		}
	}
}
