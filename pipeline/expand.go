package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ExpandEvent reports progress and waits to the caller (CLI/UI).
type ExpandEvent struct {
	Entry   RepoEntry     // the org entry being expanded
	Message string        // e.g. "GitHub rate limit exhausted; waiting 12m30s until 21:04 (set scrape.github_token_env for 5,000 requests/hour)"
	Wait    time.Duration // >0 when waiting for a rate limit
	Page    int           // page fetched, when reporting progress
	Found   int           // repositories kept so far
}

// Expander turns organisation, user and group entries of repos.txt into
// the repositories they own, through the GitHub and GitLab REST APIs.
// Expand does not modify the Expander, so one value may serve concurrent
// calls as long as OnEvent, Logger, Sleep and Now are safe for that.
type Expander struct {
	HTTP            *http.Client // nil = a client with a 30s timeout
	GitHubAPI       string       // e.g. "https://api.github.com" (GHE: "https://ghe.example.com/api/v3"); "" derives it from the entry's host
	GitLabAPI       string       // e.g. "https://gitlab.com/api/v4"; "" derives it from the entry's host
	GitHubToken     string       // "" = unauthenticated
	GitLabToken     string
	IncludeForks    bool
	IncludeArchived bool
	MaxRepos        int           // per org entry; <=0 means 1000
	MaxWait         time.Duration // longest rate-limit wait accepted; beyond it Expand returns an error saying when to retry; <=0 means 1h
	OnEvent         func(ExpandEvent)
	Logger          *slog.Logger // may be nil
	// Sleep waits d or until ctx ends; nil uses a timer. Tests replace it to avoid real waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now returns the current time; nil uses time.Now (tests set it to compute rate-limit resets).
	Now func() time.Time
}

const (
	defaultMaxOrgRepos  = 1000
	defaultMaxWait      = time.Hour
	expandHTTPTimeout   = 30 * time.Second
	maxTransientRetries = 3
	// A server that keeps answering "rate limited" after we waited as told
	// is misbehaving (or our clock is far off); give up instead of looping.
	maxRateLimitWaits = 5
	// Used when a limit response says neither when it resets nor how long
	// to back off: GitHub's docs ask for at least a minute.
	defaultRateLimitWait = time.Minute
	// Pages of 100 repositories are a few hundred KB; anything far bigger
	// is not the API we expect.
	maxAPIBody = 32 << 20
)

// Expand turns one EntryOrg into its repositories as EntryRepo entries
// (Provider, Host, Owner, Name, URL = "https://<host>/<owner>/<name>" using the
// html_url/web_url host, Line and Raw copied from the org entry), sorted by
// Key(). Forks and archived repositories are skipped unless included; also
// skip disabled (GitHub), empty_repo (GitLab) repositories. Errors are worded
// for the user: 404 → "<org URL>: no such GitHub organisation or user (check the spelling)";
// 401/403 (not rate limit) → mention the token env var; rate limit beyond MaxWait → say when it resets.
func (x *Expander) Expand(ctx context.Context, e RepoEntry) ([]RepoEntry, error) {
	if e.Kind != EntryOrg {
		return nil, fmt.Errorf("%s: not an organisation, user or group entry, nothing to expand", e.URL)
	}
	switch e.Provider {
	case ProviderGitHub:
		return x.newSession(e, x.githubAPI(e)).expandGitHub(ctx)
	case ProviderGitLab:
		return x.newSession(e, x.gitlabAPI(e)).expandGitLab(ctx)
	}
	return nil, fmt.Errorf("%s: only GitHub and GitLab organisations can be expanded; list %s/<name> lines instead", e.URL, e.URL)
}

// apiFlavor holds what differs between the two providers' HTTP dialects.
type apiFlavor struct {
	name     string // "GitHub", for messages
	base     string // API base URL without trailing "/"
	tokenKey string // config key naming the token variable, for messages
	token    string
	// Token-less hint appended to rate-limit messages.
	quotaHint string
	// Rate-limit header names (GitHub lower-case, GitLab capitalised; the
	// lookup is case-insensitive anyway).
	remainingHeader string
	resetHeader     string
	setHeaders      func(h http.Header, withToken bool)
	isRateLimited   func(r *apiResponse) bool
}

func (x *Expander) githubAPI(e RepoEntry) apiFlavor {
	base := x.GitHubAPI
	if base == "" {
		// github.com serves its API from a separate host; GitHub
		// Enterprise Server from /api/v3 on its own host.
		base = "https://api.github.com"
		if e.Host != "github.com" {
			base = "https://" + e.Host + "/api/v3"
		}
	}
	return apiFlavor{
		name:            "GitHub",
		base:            strings.TrimRight(base, "/"),
		tokenKey:        "scrape.github_token_env",
		token:           x.GitHubToken,
		quotaHint:       "set scrape.github_token_env for 5,000 requests/hour",
		remainingHeader: "X-Ratelimit-Remaining",
		resetHeader:     "X-Ratelimit-Reset",
		setHeaders: func(h http.Header, withToken bool) {
			h.Set("Accept", "application/vnd.github+json")
			h.Set("X-GitHub-Api-Version", "2022-11-28")
			if withToken && x.GitHubToken != "" {
				h.Set("Authorization", "Bearer "+x.GitHubToken)
			}
		},
		isRateLimited: githubRateLimited,
	}
}

func (x *Expander) gitlabAPI(e RepoEntry) apiFlavor {
	base := x.GitLabAPI
	if base == "" {
		base = "https://" + e.Host + "/api/v4"
	}
	return apiFlavor{
		name:            "GitLab",
		base:            strings.TrimRight(base, "/"),
		tokenKey:        "scrape.gitlab_token_env",
		token:           x.GitLabToken,
		quotaHint:       "set scrape.gitlab_token_env for higher limits",
		remainingHeader: "RateLimit-Remaining",
		resetHeader:     "RateLimit-Reset",
		setHeaders: func(h http.Header, withToken bool) {
			h.Set("Accept", "application/json")
			if withToken && x.GitLabToken != "" {
				h.Set("PRIVATE-TOKEN", x.GitLabToken)
			}
		},
		// GitLab signals every limit with 429; its 403 means no access.
		isRateLimited: func(r *apiResponse) bool { return r.status == http.StatusTooManyRequests },
	}
}

// githubRateLimited tells GitHub's rate-limit 403/429 apart from a 403 that
// means "forbidden": the primary limit sets x-ratelimit-remaining to 0, the
// secondary one sends retry-after or says so in the message.
func githubRateLimited(r *apiResponse) bool {
	if r.status == http.StatusTooManyRequests {
		return true
	}
	if r.status != http.StatusForbidden {
		return false
	}
	if r.header.Get("X-Ratelimit-Remaining") == "0" || r.header.Get("Retry-After") != "" {
		return true
	}
	msg := strings.ToLower(r.apiMessage())
	return strings.Contains(msg, "rate limit")
}

// expandSession is the state of one Expand call; keeping it out of Expander
// makes concurrent Expand calls safe.
type expandSession struct {
	x      *Expander
	entry  RepoEntry
	api    apiFlavor
	client *http.Client
	log    *slog.Logger
	// notBefore is set when a successful response said the quota is used
	// up: the next request waits until then instead of earning a 403.
	notBefore time.Time
	kept      map[string]RepoEntry
	maxRepos  int
	capped    bool
}

func (x *Expander) newSession(e RepoEntry, api apiFlavor) *expandSession {
	client := x.HTTP
	if client == nil {
		client = &http.Client{Timeout: expandHTTPTimeout, CheckRedirect: dropTokenOnHostChange}
	}
	log := x.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxRepos := x.MaxRepos
	if maxRepos <= 0 {
		maxRepos = defaultMaxOrgRepos
	}
	return &expandSession{
		x: x, entry: e, api: api, client: client,
		log:      log.With("org", e.URL),
		kept:     map[string]RepoEntry{},
		maxRepos: maxRepos,
	}
}

// dropTokenOnHostChange keeps GitLab's PRIVATE-TOKEN header from following
// a redirect to another host (net/http already drops Authorization).
func dropTokenOnHostChange(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		req.Header.Del("PRIVATE-TOKEN")
		req.Header.Del("Authorization")
	}
	return nil
}

// ---- GitHub ----

type githubAccount struct {
	Login string `json:"login"`
	Type  string `json:"type"`
}

type githubRepo struct {
	Name     string `json:"name"`
	FullName string `json:"full_name"`
	HTMLURL  string `json:"html_url"`
	Fork     bool   `json:"fork"`
	Archived bool   `json:"archived"`
	Disabled bool   `json:"disabled"`
	Owner    struct {
		Login string `json:"login"`
	} `json:"owner"`
}

func (s *expandSession) expandGitHub(ctx context.Context) ([]RepoEntry, error) {
	owner := url.PathEscape(s.entry.Owner)
	// Organisations and users list their repositories at different
	// endpoints, so ask which one this is first.
	r, err := s.get(ctx, s.api.base+"/users/"+owner)
	if err != nil {
		return nil, err
	}
	if err := s.checkStatus(r, "organisation or user"); err != nil {
		return nil, err
	}
	var acct githubAccount
	if err := s.decode(r, &acct); err != nil {
		return nil, err
	}
	list := s.api.base + "/users/" + owner + "/repos?per_page=100&type=owner&sort=full_name"
	if acct.Type == "Organization" {
		list = s.api.base + "/orgs/" + owner + "/repos?per_page=100&type=all&sort=full_name"
	}
	s.log.Debug("expanding GitHub account", "type", acct.Type)
	err = s.paginate(ctx, list, "organisation or user", func(r *apiResponse) error {
		var repos []githubRepo
		if err := s.decode(r, &repos); err != nil {
			return err
		}
		for _, g := range repos {
			s.addGitHub(g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.result(), nil
}

func (s *expandSession) addGitHub(g githubRepo) {
	owner, name := g.Owner.Login, g.Name
	if i := strings.LastIndex(g.FullName, "/"); i >= 0 {
		if owner == "" {
			owner = g.FullName[:i]
		}
		if name == "" {
			name = g.FullName[i+1:]
		}
	}
	switch {
	case g.Disabled:
		s.skip(owner, name, "disabled")
	case g.Fork && !s.x.IncludeForks:
		s.skip(owner, name, "fork")
	case g.Archived && !s.x.IncludeArchived:
		s.skip(owner, name, "archived")
	default:
		s.keep(g.HTMLURL, owner, name)
	}
}

// ---- GitLab ----

type gitlabProject struct {
	PathWithNamespace string          `json:"path_with_namespace"`
	Path              string          `json:"path"`
	WebURL            string          `json:"web_url"`
	HTTPURLToRepo     string          `json:"http_url_to_repo"`
	Archived          bool            `json:"archived"`
	EmptyRepo         bool            `json:"empty_repo"`
	ForkedFromProject json.RawMessage `json:"forked_from_project"`
}

func (s *expandSession) expandGitLab(ctx context.Context) ([]RepoEntry, error) {
	addPage := func(r *apiResponse) error {
		var projects []gitlabProject
		if err := s.decode(r, &projects); err != nil {
			return err
		}
		for _, p := range projects {
			s.addGitLab(p)
		}
		return nil
	}
	q := "?per_page=100&include_subgroups=true"
	if !s.x.IncludeArchived {
		q += "&archived=false"
	}
	q += "&order_by=path&sort=asc&simple=false"
	group := s.api.base + "/groups/" + url.PathEscape(s.entry.Owner) + "/projects" + q
	err := s.paginate(ctx, group, "group", addPage)
	if !isNotFound(err) {
		return s.finish(err)
	}
	// A GitLab URL with one path segment may name a user instead of a
	// group; nested paths can only be groups.
	if strings.Contains(s.entry.Owner, "/") {
		return nil, s.notFound("group")
	}
	s.log.Debug("no such GitLab group; trying a user")
	s.kept = map[string]RepoEntry{}
	user := s.api.base + "/users/" + url.PathEscape(s.entry.Owner) + "/projects?per_page=100"
	err = s.paginate(ctx, user, "user", addPage)
	if isNotFound(err) {
		return nil, s.notFound("group or user")
	}
	return s.finish(err)
}

func (s *expandSession) finish(err error) ([]RepoEntry, error) {
	if err != nil {
		return nil, err
	}
	return s.result(), nil
}

func (s *expandSession) addGitLab(p gitlabProject) {
	owner, name := p.PathWithNamespace, p.Path
	if i := strings.LastIndex(p.PathWithNamespace, "/"); i >= 0 {
		owner, name = p.PathWithNamespace[:i], p.PathWithNamespace[i+1:]
	}
	webURL := p.WebURL
	if webURL == "" {
		webURL = p.HTTPURLToRepo
	}
	// forked_from_project is absent for non-forks; treat an explicit null
	// the same way.
	fork := len(p.ForkedFromProject) > 0 && string(p.ForkedFromProject) != "null"
	switch {
	case p.EmptyRepo:
		s.skip(owner, name, "empty")
	case fork && !s.x.IncludeForks:
		s.skip(owner, name, "fork")
	case p.Archived && !s.x.IncludeArchived:
		s.skip(owner, name, "archived")
	default:
		s.keep(webURL, owner, name)
	}
}

// ---- collecting ----

func (s *expandSession) skip(owner, name, why string) {
	s.log.Debug("repository skipped", "repo", owner+"/"+name, "reason", why)
}

// keep records one repository. Its URL is rebuilt from the web URL's host
// (the API host differs, e.g. api.github.com) so that it matches what the
// repos.txt parser produces for a repository line.
func (s *expandSession) keep(webURL, owner, name string) {
	if owner == "" || name == "" {
		s.log.Warn("repository without owner or name ignored", "url", s.redact(webURL))
		return
	}
	if s.full() {
		return // the rest of a page that reached the cap
	}
	scheme, host := "https", s.entry.Host
	if u, err := url.Parse(webURL); err == nil && u.Host != "" {
		host = strings.ToLower(u.Host)
		if u.Scheme == "http" {
			scheme = "http" // a self-hosted server without TLS
		}
	}
	r := RepoEntry{
		Line:     s.entry.Line,
		Raw:      s.entry.Raw,
		Kind:     EntryRepo,
		Provider: s.entry.Provider,
		URL:      scheme + "://" + host + "/" + owner + "/" + name,
		Host:     host,
		Owner:    owner,
		Name:     name,
	}
	// Offset pagination can repeat a repository when the listing changes
	// between pages; the map drops the duplicate.
	s.kept[r.Key()] = r
}

func (s *expandSession) full() bool { return len(s.kept) >= s.maxRepos }

func (s *expandSession) result() []RepoEntry {
	out := make([]RepoEntry, 0, len(s.kept))
	for _, r := range s.kept {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	if len(out) == 0 {
		s.emit(ExpandEvent{Message: "no repositories to take (forks, archived and empty ones are skipped unless enabled)"})
	}
	return out
}

// ---- paging ----

// paginate fetches first and every page its Link header leads to, handing
// each successful page to add, until there is no next page or the
// repository cap is reached.
func (s *expandSession) paginate(ctx context.Context, first, what string, add func(*apiResponse) error) error {
	seen := map[string]bool{}
	next := first
	for page := 1; next != ""; page++ {
		// A server repeating a page URL would loop forever.
		if seen[next] {
			s.log.Warn("API repeated a page link; stopping", "url", s.redact(next))
			return nil
		}
		seen[next] = true
		r, err := s.get(ctx, next)
		if err != nil {
			return err
		}
		if err := s.checkStatus(r, what); err != nil {
			return err
		}
		if err := add(r); err != nil {
			return err
		}
		s.emit(ExpandEvent{Page: page, Found: len(s.kept),
			Message: fmt.Sprintf("page %d read, %d repositories kept", page, len(s.kept))})
		if s.full() {
			msg := fmt.Sprintf("stopped at %d repositories (scrape.max_org_repos); raise it to take more", s.maxRepos)
			s.log.Info(msg)
			s.emit(ExpandEvent{Page: page, Found: len(s.kept), Message: msg})
			return nil
		}
		next = nextPageURL(r)
	}
	return nil
}

// nextPageURL returns the rel="next" URL of the Link header, resolved against
// the request URL; without a Link header it falls back to GitLab's
// x-next-page header.
func nextPageURL(r *apiResponse) string {
	if link := linkNext(r.header.Values("Link")); link != "" {
		u, err := r.url.Parse(link)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return ""
		}
		return u.String()
	}
	n := strings.TrimSpace(r.header.Get("X-Next-Page"))
	if _, err := strconv.Atoi(n); err != nil || r.header.Get("Link") != "" {
		return ""
	}
	u := *r.url
	q := u.Query()
	q.Set("page", n)
	u.RawQuery = q.Encode()
	return u.String()
}

// linkNext finds the target of rel="next" in RFC 8288 Link header values,
// e.g. `<https://api.github.com/…?page=2>; rel="next", <…>; rel="last"`.
func linkNext(values []string) string {
	for _, v := range values {
		for rest := v; ; {
			open := strings.IndexByte(rest, '<')
			if open < 0 {
				break
			}
			end := strings.IndexByte(rest[open:], '>')
			if end < 0 {
				break
			}
			target := rest[open+1 : open+end]
			rest = rest[open+end+1:]
			params := rest
			if i := strings.IndexByte(rest, '<'); i >= 0 {
				params = rest[:i]
			}
			if hasRel(params, "next") {
				return target
			}
		}
	}
	return ""
}

// hasRel reports whether link parameters like `; rel="next"` (rel may list
// several space-separated values) include want.
func hasRel(params, want string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
			continue
		}
		// params runs up to the next "<", so the last one carries the
		// separating comma.
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ","))
		v = strings.Trim(v, `"`)
		for _, rel := range strings.Fields(v) {
			if strings.EqualFold(rel, want) {
				return true
			}
		}
	}
	return false
}

// ---- HTTP ----

// apiResponse is one fully read API response.
type apiResponse struct {
	url    *url.URL
	status int
	header http.Header
	body   []byte
}

// apiMessage extracts the error text GitHub ("message") and GitLab
// ("message" or "error") put in error bodies, or the start of a plain body.
func (r *apiResponse) apiMessage() string {
	var m struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
	}
	text := strings.TrimSpace(string(r.body))
	if json.Unmarshal(r.body, &m) == nil {
		var s string
		switch {
		case json.Unmarshal(m.Message, &s) == nil && s != "":
			text = s
		case len(m.Message) > 0:
			text = string(m.Message) // GitLab validation errors are objects
		case m.Error != "":
			text = m.Error
		}
	}
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return text
}

// get fetches one URL. It waits out rate limits and retries transient
// failures (connection errors, 5xx), so what it returns is either an
// answer for the caller to judge (2xx or a 4xx other than a rate limit)
// or an error already worded for the user.
func (s *expandSession) get(ctx context.Context, rawURL string) (*apiResponse, error) {
	transient, limited := 0, 0
	for {
		if err := s.waitForQuota(ctx); err != nil {
			return nil, err
		}
		r, err := s.do(ctx, rawURL)
		if err == nil && r.status < 500 && !s.api.isRateLimited(r) {
			s.noteQuota(r)
			return r, nil
		}
		if ctx.Err() != nil {
			return nil, s.cancelled(ctx)
		}
		if err == nil && s.api.isRateLimited(r) {
			limited++
			if limited > maxRateLimitWaits {
				return nil, fmt.Errorf("%s: %s still reports its rate limit after %d waits; try again later", s.entry.URL, s.api.name, maxRateLimitWaits)
			}
			if err := s.waitRateLimit(ctx, s.limitWait(r)); err != nil {
				return nil, err
			}
			continue
		}
		problem := ""
		if err != nil {
			problem = s.redact(err.Error())
		} else {
			problem = fmt.Sprintf("HTTP %d: %s", r.status, s.redact(r.apiMessage()))
		}
		if transient >= maxTransientRetries {
			return nil, fmt.Errorf("%s: %s API at %s failed %d times (%s); check scrape.%s_api_url and the network, then try again",
				s.entry.URL, s.api.name, s.api.base, transient+1, problem, strings.ToLower(s.api.name))
		}
		transient++
		backoff := time.Duration(1<<(transient-1)) * time.Second // 1s, 2s, 4s
		s.log.Warn("API request failed; retrying", "url", s.redact(rawURL), "problem", problem, "retry_in", backoff)
		if err := s.sleep(ctx, backoff); err != nil {
			return nil, s.cancelled(ctx)
		}
	}
}

// do performs one request and reads the whole body.
func (s *expandSession) do(ctx context.Context, rawURL string) (*apiResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("bad API URL: %w", err)
	}
	req.Header.Set("User-Agent", "cicdllm")
	// Link URLs are followed verbatim; the token goes only to the
	// configured API host so a stray link cannot leak it.
	s.api.setHeaders(req.Header, sameHost(req.URL, s.api.base))
	s.log.Debug("API request", "url", s.redact(rawURL))
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	s.log.Debug("API response", "url", s.redact(rawURL), "status", resp.StatusCode,
		"ratelimit_remaining", resp.Header.Get(s.api.remainingHeader))
	return &apiResponse{url: req.URL, status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func sameHost(u *url.URL, base string) bool {
	b, err := url.Parse(base)
	return err == nil && strings.EqualFold(u.Host, b.Host)
}

// checkStatus turns a non-2xx answer into an error the user can act on.
func (s *expandSession) checkStatus(r *apiResponse, what string) error {
	switch {
	case r.status >= 200 && r.status < 300:
		return nil
	case r.status == http.StatusNotFound:
		return s.notFound(what)
	case r.status == http.StatusUnauthorized:
		return fmt.Errorf("%s: %s rejected the token (HTTP 401: %s); check the variable named by %s",
			s.entry.URL, s.api.name, s.redact(r.apiMessage()), s.api.tokenKey)
	case r.status == http.StatusForbidden:
		hint := "set " + s.api.tokenKey + " to a token that can read it"
		if s.api.token != "" {
			hint = "check that the token in " + s.api.tokenKey + " may read it"
		}
		return fmt.Errorf("%s: %s refused access (HTTP 403: %s); %s",
			s.entry.URL, s.api.name, s.redact(r.apiMessage()), hint)
	}
	return fmt.Errorf("%s: %s API answered HTTP %d (%s)", s.entry.URL, s.api.name, r.status, s.redact(r.apiMessage()))
}

// notFoundError marks 404s so GitLab can fall back from group to user.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

func isNotFound(err error) bool {
	var nf *notFoundError
	return errors.As(err, &nf)
}

func (s *expandSession) notFound(what string) error {
	hint := "check the spelling"
	if s.entry.Provider == ProviderGitHub {
		what = "organisation or user" // /users/{name} answers for both, private or not
	} else if s.api.token == "" {
		// GitLab hides private groups from anonymous callers behind a 404.
		hint += "; private ones need " + s.api.tokenKey
	}
	return &notFoundError{fmt.Sprintf("%s: no such %s %s (%s)", s.entry.URL, s.api.name, what, hint)}
}

func (s *expandSession) decode(r *apiResponse, v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("%s: unexpected answer from %s (%v); is scrape.%s_api_url the REST API address?",
			s.entry.URL, s.redact(r.url.String()), err, strings.ToLower(s.api.name))
	}
	return nil
}

// ---- rate limits ----

// limitWait reads how long a rate-limited response asks us to wait:
// Retry-After (secondary limits, GitLab) wins, then the reset time of an
// exhausted quota, then a default minute.
func (s *expandSession) limitWait(r *apiResponse) time.Duration {
	now := s.now()
	if d, ok := parseRetryAfter(r.header.Get("Retry-After"), now); ok {
		return d
	}
	if reset, ok := epochHeader(r.header.Get(s.api.resetHeader)); ok {
		return untilReset(reset, now)
	}
	return defaultRateLimitWait
}

// noteQuota remembers an exhausted quota reported by a successful
// response, so the next request waits instead of being refused.
func (s *expandSession) noteQuota(r *apiResponse) {
	if strings.TrimSpace(r.header.Get(s.api.remainingHeader)) != "0" {
		return
	}
	if reset, ok := epochHeader(r.header.Get(s.api.resetHeader)); ok {
		s.notBefore = reset.Add(time.Second)
	}
}

func (s *expandSession) waitForQuota(ctx context.Context) error {
	if s.notBefore.IsZero() {
		return nil
	}
	d := s.notBefore.Sub(s.now())
	s.notBefore = time.Time{}
	if d <= 0 {
		return nil
	}
	return s.waitRateLimit(ctx, d)
}

// waitRateLimit reports the wait and sleeps, or refuses a wait longer
// than MaxWait with an error saying when to come back.
func (s *expandSession) waitRateLimit(ctx context.Context, d time.Duration) error {
	now := s.now()
	until := now.Add(d).Format("15:04")
	maxWait := s.x.MaxWait
	if maxWait <= 0 {
		maxWait = defaultMaxWait
	}
	if d > maxWait {
		advice := "try again later"
		if s.api.token == "" {
			advice = "set " + s.api.tokenKey + " or try again later"
		}
		return fmt.Errorf("%s: %s rate limit exhausted until %s; %s", s.entry.URL, s.api.name, until, advice)
	}
	msg := fmt.Sprintf("%s rate limit exhausted; waiting %s until %s", s.api.name, d.Round(time.Second), until)
	if s.api.token == "" {
		msg += " (" + s.api.quotaHint + ")"
	}
	s.log.Info(msg)
	s.emit(ExpandEvent{Message: msg, Wait: d, Found: len(s.kept)})
	if err := s.sleep(ctx, d); err != nil {
		return s.cancelled(ctx)
	}
	return nil
}

// untilReset is the wait until an epoch reset time, plus a second because
// the reset is rounded down to whole seconds. A reset already past (clock
// skew) still waits a second rather than hammering the server.
func untilReset(reset, now time.Time) time.Duration {
	d := reset.Add(time.Second).Sub(now)
	if d < time.Second {
		d = time.Second
	}
	return d
}

func epochHeader(v string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// parseRetryAfter parses Retry-After as seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return max(time.Duration(n)*time.Second, time.Second), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), time.Second), true
	}
	return 0, false
}

// ---- plumbing ----

func (s *expandSession) now() time.Time {
	if s.x.Now != nil {
		return s.x.Now()
	}
	return time.Now()
}

func (s *expandSession) sleep(ctx context.Context, d time.Duration) error {
	if s.x.Sleep != nil {
		return s.x.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *expandSession) emit(ev ExpandEvent) {
	if s.x.OnEvent == nil {
		return
	}
	ev.Entry = s.entry
	ev.Message = s.redact(ev.Message)
	s.x.OnEvent(ev)
}

func (s *expandSession) cancelled(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		err = context.Canceled
	}
	return fmt.Errorf("%s: expansion stopped: %w", s.entry.URL, err)
}

// redact hides the tokens in text that may echo a URL or server message
// (GitLab, for one, copies query parameters into its Link headers).
func (s *expandSession) redact(text string) string {
	for _, tok := range []string{s.x.GitHubToken, s.x.GitLabToken} {
		if tok != "" {
			text = strings.ReplaceAll(text, tok, "***")
		}
	}
	return text
}
