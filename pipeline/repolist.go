package pipeline

// repos.txt parsing. Every line is untrusted text that ends up in a git
// URL, a directory name and the terminal, so the parser is deliberately
// strict: a line either becomes a normalised RepoEntry or is rejected with
// its line number and a reason the user can act on. Nothing here runs git
// or touches the network; local paths are only stat'ed.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	maxRepoLineBytes = 4096 // longer lines are rejected whole
	maxRepoURLBytes  = 2048 // for network URLs, before and after normalisation
	// A GitLab group nests at most 20 deep; more segments than this are
	// not a repository URL on any host we know.
	maxRepoPathSegments = 24
	// RejectedLine.Text is for people: a 10 KB line helps nobody.
	maxShownLineBytes   = 200
	maxSafeSegmentBytes = 64
	safeHashHexLen      = 8
)

// RepoListOptions tells the parser about the machine.
type RepoListOptions struct {
	Workdir     string   // the workspace; relative local paths resolve against it
	Home        string   // for "~" (os.UserHomeDir at the call site); "" disables ~ expansion with a clear rejection
	GitHubHosts []string // hosts treated as GitHub (always includes "github.com"; plus a GitHub Enterprise host derived from config)
	GitLabHosts []string // hosts treated as GitLab (always includes "gitlab.com")
	AllowHTTP   bool     // plain http:// URLs (default false: rejected with a message naming https)
}

// Reasons used in more than one place.
const (
	reasonCredentials = "the URL embeds credentials; remove them and put the token in the environment " +
		"variable named by scrape.github_token_env / scrape.gitlab_token_env"
	reasonSSHPassword = "the URL embeds credentials (a password after the user name); remove the password " +
		"and use an SSH key, or an https:// URL with the token in scrape.github_token_env / scrape.gitlab_token_env"
	reasonHelper = "remote helper transports (ext::, fd::) can run commands; not allowed: write an https:// URL"
	reasonDash   = "starts with '-': looks like an option, not a repository; write an https:// URL or a path"
	reasonHTTP   = "plain http:// is unencrypted and not allowed: use https:// instead (or set scrape.allow_http = true for a server on a trusted network)"
	reasonGit    = "git:// is unencrypted and unauthenticated: use https:// instead"
	forms        = "https://host/owner/repo, git@host:owner/repo, ssh://host/owner/repo or a local path"
)

// ParseRepoList reads repos.txt content. It never fails as a whole: every
// line is either accepted (entries, in file order, de-duplicated by Key(),
// first occurrence wins) or rejected with its line number and reason.
// Duplicates are reported as rejected lines too ("duplicate of line N").
func ParseRepoList(r io.Reader, opts RepoListOptions) (entries []RepoEntry, rejected []RejectedLine, err error) {
	p := newRepoListParser(opts)
	br := bufio.NewReader(r)
	seen := map[string]int{} // Key() → line of its first occurrence
	for lineNo := 1; ; lineNo++ {
		buf, n, rerr := readRepoLine(br, maxRepoLineBytes+2) // +2: room for "\r" and one byte too many
		if rerr != nil && rerr != io.EOF {
			return entries, rejected, fmt.Errorf("reading the repository list, line %d: %w", lineNo, rerr)
		}
		if n == 0 && rerr == io.EOF {
			break // after the final newline, or an empty input
		}
		if lineNo == 1 && bytes.HasPrefix(buf, utf8BOM) {
			buf, n = buf[len(utf8BOM):], n-len(utf8BOM)
		}
		e, reason, text := p.parseLine(buf, n)
		switch {
		case reason != "":
			rejected = append(rejected, RejectedLine{Line: lineNo, Text: text, Reason: reason})
		case e == nil: // blank or comment
		default:
			e.Line = lineNo
			if first, dup := seen[e.Key()]; dup {
				rejected = append(rejected, RejectedLine{Line: lineNo, Text: text,
					Reason: fmt.Sprintf("duplicate of line %d (the same repository after normalisation); remove one of them", first)})
				break
			}
			seen[e.Key()] = lineNo
			entries = append(entries, *e)
		}
		if rerr == io.EOF {
			break // last line without a final newline
		}
	}
	return entries, rejected, nil
}

// ReadRepoList reads ws.ReposFile; a missing file is not an error (no entries).
func ReadRepoList(ws Workspace, opts RepoListOptions) ([]RepoEntry, []RejectedLine, error) {
	f, err := os.Open(ws.ReposFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("opening the repository list: %w", err)
	}
	defer f.Close()
	if opts.Workdir == "" {
		opts.Workdir = ws.Dir
	}
	entries, rejected, err := ParseRepoList(f, opts)
	if err != nil {
		err = fmt.Errorf("%s: %w", ws.ReposFile, err)
	}
	return entries, rejected, err
}

var utf8BOM = []byte("\xef\xbb\xbf")

// readRepoLine reads one line without its "\n", keeping at most keep bytes
// of it so a hostile multi-megabyte line costs no memory; n is the line's
// full length, so the caller can tell that it was cut.
func readRepoLine(br *bufio.Reader, keep int) (line []byte, n int, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		n += len(chunk)
		if room := keep - len(line); room > 0 {
			line = append(line, chunk[:min(room, len(chunk))]...)
		}
		if err != bufio.ErrBufferFull {
			return line, n, err
		}
	}
}

// repoListParser holds what does not change from one line to the next.
type repoListParser struct {
	opts   RepoListOptions
	github map[string]bool
	gitlab map[string]bool
}

func newRepoListParser(opts RepoListOptions) *repoListParser {
	return &repoListParser{
		opts:   opts,
		github: repoHostSet("github.com", opts.GitHubHosts),
		gitlab: repoHostSet("gitlab.com", opts.GitLabHosts),
	}
}

func repoHostSet(always string, extra []string) map[string]bool {
	set := map[string]bool{always: true}
	for _, h := range extra {
		if h = strings.TrimSuffix(lowerASCII(strings.TrimSpace(h)), "."); h != "" {
			set[h] = true
		}
	}
	return set
}

// providerOf matches the host with and without its port, so a GitHub
// Enterprise host configured as "ghe.example.com" also covers port 8443.
func (p *repoListParser) providerOf(host, hostPort string) string {
	switch {
	case p.github[hostPort] || p.github[host]:
		return ProviderGitHub
	case p.gitlab[hostPort] || p.gitlab[host]:
		return ProviderGitLab
	}
	return ""
}

func (p *repoListParser) knownHost(h string) bool { return p.github[h] || p.gitlab[h] }

// parseLine classifies one line (BOM already removed, "\n" not included).
// It returns the entry (nil for blank and comment lines), or a reason for
// rejecting it; text is the line made safe to show (redacted, escaped).
func (p *repoListParser) parseLine(buf []byte, n int) (e *RepoEntry, reason, text string) {
	if n == len(buf) { // the whole line is here: drop the "\r" of a CRLF file
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		n = len(buf)
	}
	s := strings.TrimSpace(string(buf))
	text = displayRepoLine(redactCredentials(s))
	if n > maxRepoLineBytes {
		return nil, fmt.Sprintf("the line is %d bytes long; the limit is %d: is this really a repository?", n, maxRepoLineBytes), text
	}
	if s == "" || s[0] == '#' {
		return nil, "", "" // comments may hold anything: they are never used
	}
	if !utf8.ValidString(s) {
		return nil, "the line is not valid UTF-8; save repos.txt as UTF-8", text
	}
	if r, ok := firstControl(s); ok {
		return nil, fmt.Sprintf("the line contains %s; remove it", runeName(r)), text
	}
	entry, reason := p.classify(cutRepoComment(s))
	if reason != "" {
		return nil, reason, text
	}
	entry.Raw = redactCredentials(s)
	return &entry, "", text
}

// firstControl finds C0/C1 control characters and DEL, which could move
// the terminal cursor or end a line in a log, and invisible formatting
// characters such as bidi overrides, which make text display as something
// it is not. A tab is whitespace: it may separate an entry from its comment.
func firstControl(s string) (rune, bool) {
	for _, r := range s {
		if r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return r, true
		}
	}
	return 0, false
}

// cutRepoComment removes a trailing comment. Only a "#" preceded by a
// space or tab starts one: "https://h/o/r#readme" is a URL fragment, which
// normalisation strips later.
func cutRepoComment(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

// classify turns one entry (trimmed, comment removed) into a RepoEntry.
// The checks that protect git from option and command injection come
// first, before anything tries to interpret the text.
func (p *repoListParser) classify(s string) (RepoEntry, string) {
	if strings.HasPrefix(s, "-") {
		return RepoEntry{}, reasonDash
	}
	if isRemoteHelper(s) {
		return RepoEntry{}, reasonHelper
	}
	if strings.ContainsRune(s, '\t') {
		return RepoEntry{}, "contains a tab character; write one entry per line and start comments with ' #'"
	}
	if scheme, rest, ok := splitRepoScheme(s); ok {
		return p.parseSchemeURL(s, scheme, rest)
	}
	if isSCPLike(s) {
		if r := checkNetworkURLText(s); r != "" {
			return RepoEntry{}, r
		}
		return p.parseSCP(s)
	}
	return p.parseLocalPath(s, true)
}

// isRemoteHelper recognises git's "<transport>::<address>" syntax (ext::,
// fd::, and any helper installed on the machine), using git's own rule for
// the transport name: letters, digits, '+', '-' and '.'.
func isRemoteHelper(s string) bool {
	i := strings.Index(s, "::")
	if i <= 0 {
		return false
	}
	for _, c := range []byte(s[:i]) {
		if !isAlnumASCII(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnumASCII(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// splitRepoScheme splits "scheme://rest"; the scheme is lower-cased.
func splitRepoScheme(s string) (scheme, rest string, ok bool) {
	i := strings.Index(s, "://")
	if i <= 0 || !isSchemeName(s[:i]) {
		return "", "", false
	}
	return lowerASCII(s[:i]), s[i+3:], true
}

func isSchemeName(s string) bool {
	for i, c := range []byte(s) {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !isAlnumASCII(c) && c != '+' && c != '-' && c != '.') {
			return false
		}
	}
	return s != ""
}

// isSCPLike follows git: "[user@]host:path" when a ':' comes before any
// '/'. A Windows drive ("C:\x", "C:/x") is a path, not host "C".
func isSCPLike(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 || looksLikeDrive(s) {
		return false
	}
	slash := strings.IndexByte(s, '/')
	return slash < 0 || colon < slash
}

func looksLikeDrive(s string) bool {
	return len(s) >= 2 && s[1] == ':' && ('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') &&
		(len(s) == 2 || s[2] == '\\' || s[2] == '/')
}

// checkNetworkURLText applies the limits every network URL shares.
func checkNetworkURLText(s string) string {
	if len(s) > maxRepoURLBytes {
		return fmt.Sprintf("the URL is %d bytes long; the limit is %d", len(s), maxRepoURLBytes)
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "contains whitespace: a URL cannot contain spaces (start a trailing comment with ' #')"
	}
	return ""
}

func (p *repoListParser) parseSchemeURL(s, scheme, rest string) (RepoEntry, string) {
	switch scheme {
	case "https", "http", "ssh", "git+ssh", "ssh+git":
		if r := checkNetworkURLText(s); r != "" {
			return RepoEntry{}, r
		}
	}
	switch scheme {
	case "https":
		return p.parseWebURL("https", rest, "443")
	case "http":
		if !p.opts.AllowHTTP {
			return RepoEntry{}, reasonHTTP
		}
		return p.parseWebURL("http", rest, "80")
	case "ssh", "git+ssh", "ssh+git":
		auth, path := splitAuthority(rest)
		user, hostPort, hasUser := cutLast(auth, '@')
		if !hasUser {
			user, hostPort = "", auth
		} else if user == "" {
			return RepoEntry{}, "empty user name before '@'; write ssh://user@host/owner/repo or leave the user out"
		}
		return p.sshEntry(user, hostPort, path)
	case "git":
		return RepoEntry{}, reasonGit
	case "file":
		return p.parseFileURL(rest)
	}
	return RepoEntry{}, fmt.Sprintf("unknown scheme %q; write %s", shortenText(scheme, 32), forms)
}

// splitAuthority splits "host/path" at the first '/', '?' or '#'.
func splitAuthority(rest string) (auth, path string) {
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return rest[:i], rest[i:]
	}
	return rest, ""
}

// cutLast splits s around the last sep.
func cutLast(s string, sep byte) (before, after string, found bool) {
	if i := strings.LastIndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return "", s, false
}

// parseWebURL handles https:// (and, when allowed, http://) URLs as people
// copy them from a browser: web page suffixes such as /tree/main/dir are
// cut, and one path segment on GitHub or GitLab names an organisation.
func (p *repoListParser) parseWebURL(scheme, rest, defaultPort string) (RepoEntry, string) {
	auth, path := splitAuthority(rest)
	if strings.Contains(auth, "@") {
		return RepoEntry{}, reasonCredentials
	}
	host, hostPort, reason := p.normaliseHost(auth, defaultPort)
	if reason != "" {
		return RepoEntry{}, reason
	}
	provider := p.providerOf(host, hostPort)
	segs, reason := decodeRepoPath(path)
	if reason != "" {
		return RepoEntry{}, reason
	}
	keep, reason := webRepoSegments(provider, segs)
	if reason != "" {
		return RepoEntry{}, reason
	}
	ref, reason := repoRefFromSegments(provider, keep, true)
	if reason != "" {
		return RepoEntry{}, reason
	}
	return finishNetworkEntry(ref, scheme+"://"+hostPort, hostPort, provider)
}

// sshEntry builds the entry of ssh:// and scp-like URLs. A user name is
// fine (it is not a secret); a password is not. Unlike web URLs, ssh URLs
// never name organisations or web pages.
func (p *repoListParser) sshEntry(user, hostPort, path string) (RepoEntry, string) {
	if strings.Contains(user, ":") {
		return RepoEntry{}, reasonSSHPassword
	}
	if r := checkSSHUser(user); r != "" {
		return RepoEntry{}, r
	}
	host, hp, reason := p.normaliseHost(hostPort, "22")
	if reason != "" {
		return RepoEntry{}, reason
	}
	provider := p.providerOf(host, hp)
	segs, reason := decodeRepoPath(path)
	if reason != "" {
		return RepoEntry{}, reason
	}
	ref, reason := repoRefFromSegments(provider, segs, false)
	if reason != "" {
		return RepoEntry{}, reason
	}
	prefix := "ssh://" + hp
	if user != "" {
		prefix = "ssh://" + user + "@" + hp
	}
	return finishNetworkEntry(ref, prefix, hp, provider)
}

// checkSSHUser keeps the user name to characters ssh cannot mistake for
// an option or a shell word.
func checkSSHUser(user string) string {
	if user == "" {
		return ""
	}
	if user[0] == '-' {
		return "the ssh user name starts with '-': looks like an option; write git@host:owner/repo"
	}
	for _, c := range []byte(user) {
		if !isAlnumASCII(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Sprintf("the ssh user name %q may only contain letters, digits, '.', '_' and '-'", shortenText(user, 40))
		}
	}
	return ""
}

// parseSCP handles git's "[user@]host:owner/repo" form, normalised to the
// equivalent ssh:// URL so both spellings de-duplicate.
func (p *repoListParser) parseSCP(s string) (RepoEntry, string) {
	colon := strings.IndexByte(s, ':')
	hostPart, path := s[:colon], s[colon+1:]
	user, host, hasUser := cutLast(hostPart, '@')
	if !hasUser {
		// "user:pass@host:repo": the first ':' splits inside the credentials.
		if at := strings.IndexByte(path, '@'); at >= 0 && !strings.Contains(path[:at], "/") {
			return RepoEntry{}, reasonSSHPassword
		}
		user, host = "", hostPart
	} else if user == "" {
		return RepoEntry{}, "empty user name before '@'; write git@host:owner/repo"
	}
	switch lowerASCII(host) {
	case "https", "http", "ssh", "git", "file":
		return RepoEntry{}, fmt.Sprintf("malformed URL: write %s://host/owner/repo", lowerASCII(host))
	}
	return p.sshEntry(user, host, "/"+strings.TrimPrefix(path, "/"))
}

// normaliseHost validates and normalises "host[:port]": lower case, no
// trailing dot, no default port, "www." dropped for the known providers.
// hostPort is the host with a non-default port, as used in URL and Key.
func (p *repoListParser) normaliseHost(auth, defaultPort string) (host, hostPort, reason string) {
	if strings.HasPrefix(auth, "[") {
		return "", "", "IPv6 address hosts are not supported; use a host name"
	}
	host, port, hasPort := cutLast(auth, ':')
	if !hasPort {
		host, port = auth, ""
	}
	if r := checkHostName(host); r != "" {
		return "", "", r
	}
	host = strings.TrimSuffix(lowerASCII(host), ".")
	if strings.HasPrefix(host, "www.") && p.knownHost(host[len("www."):]) {
		host = host[len("www."):]
	}
	if port != "" && port != defaultPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return "", "", fmt.Sprintf("port %q is not a number from 1 to 65535", shortenText(port, 20))
		}
		return host, host + ":" + port, ""
	}
	return host, host, ""
}

// checkHostName accepts ASCII host names and IPv4 addresses only. A host
// starting with '-' would reach ssh as an option (-oProxyCommand=...);
// look-alike Unicode letters (Cyrillic "і" in "gіthub.com") are a
// phishing trick, so international names must be written in punycode.
func checkHostName(h string) string {
	shown := shortenText(h, 80)
	switch {
	case h == "":
		return "the URL has no host; write " + forms
	case strings.IndexFunc(h, func(r rune) bool { return r >= utf8.RuneSelf }) >= 0:
		return fmt.Sprintf("host %q contains non-ASCII characters (look-alike letters are a phishing trick); "+
			"write international domain names in punycode (xn--...)", shown)
	case len(h) > 253:
		return "the host name is longer than 253 bytes"
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("host %q is not a valid host name (labels of 1 to 63 letters, digits and hyphens, not starting or ending with '-')", shown)
		}
		for _, c := range []byte(label) {
			if !isAlnumASCII(c) && c != '-' {
				return fmt.Sprintf("host %q is not a valid host name (only letters, digits, dots and hyphens)", shown)
			}
		}
	}
	return ""
}

// decodeRepoPath splits a URL path into percent-decoded segments, dropping
// the query, fragment and trailing slashes. ".." is rejected anywhere,
// also in parts that are cut later: such a URL is never an honest one.
func decodeRepoPath(path string) ([]string, string) {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	path = strings.TrimPrefix(strings.TrimRight(path, "/"), "/")
	if path == "" {
		return nil, ""
	}
	raw := strings.Split(path, "/")
	segs := make([]string, len(raw))
	for i, seg := range raw {
		if seg == "" {
			return nil, "the path has an empty segment ('//'); remove the extra '/'"
		}
		d, err := url.PathUnescape(seg)
		if err != nil {
			return nil, fmt.Sprintf("invalid percent-encoding in %q", shortenText(seg, 80))
		}
		for _, part := range strings.FieldsFunc(d, func(r rune) bool { return r == '/' || r == '\\' }) {
			if part == ".." {
				return nil, "the path contains '..' (after percent-decoding); write the repository's own URL"
			}
		}
		segs[i] = d
	}
	return segs, ""
}

// githubPageSuffix lists the GitHub web pages below a repository that
// people paste; what follows them is ignored.
var githubPageSuffix = map[string]bool{
	"tree": true, "blob": true, "raw": true, "blame": true, "commit": true, "commits": true,
	"issues": true, "pull": true, "pulls": true, "releases": true, "tags": true, "branches": true,
	"wiki": true, "actions": true, "compare": true, "discussions": true, "projects": true,
	"security": true, "pulse": true, "graphs": true, "network": true, "labels": true,
	"milestones": true, "activity": true, "stargazers": true, "forks": true, "settings": true,
}

// webRepoSegments keeps the path segments that name the repository and
// cuts web page suffixes. GitLab (and self-hosted GitLab on unknown hosts)
// separates them with a "-" segment; on GitLab "tree"/"blob" are reserved
// project names, so they also end the repository part.
func webRepoSegments(provider string, segs []string) ([]string, string) {
	if i := indexOf(segs, "-"); i >= 0 {
		segs = segs[:i]
	}
	switch provider {
	case ProviderGitHub:
		if len(segs) > 2 && segs[0] != "orgs" && !githubPageSuffix[lowerASCII(segs[2])] {
			return nil, "not a repository URL: write https://github.com/owner/repo " +
				"(a /tree/..., /blob/... or similar page suffix is fine)"
		}
		if len(segs) > 2 {
			return segs[:2], ""
		}
	case ProviderGitLab:
		for i := 2; i < len(segs); i++ {
			if segs[i] == "tree" || segs[i] == "blob" {
				return segs[:i], ""
			}
		}
	}
	return segs, ""
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// repoRef is a parsed repository or organisation path.
type repoRef struct {
	kind        EntryKind
	owner       []string // GitLab subgroups: several segments
	name        string
	gitlabGroup bool // the org URL needs GitLab's /groups/ prefix to stay a group
}

// repoRefFromSegments decides between organisation and repository. With
// web false (ssh URLs) organisations are not possible: nothing lists them.
func repoRefFromSegments(provider string, segs []string, web bool) (repoRef, string) {
	for _, s := range segs {
		if r := checkRepoSegment(s); r != "" {
			return repoRef{}, r
		}
	}
	if len(segs) > maxRepoPathSegments {
		return repoRef{}, fmt.Sprintf("the path has more than %d segments; write the repository's own URL", maxRepoPathSegments)
	}
	if web {
		switch {
		case provider == ProviderGitHub && len(segs) == 2 && segs[0] == "orgs":
			return repoRef{kind: EntryOrg, owner: segs[1:]}, ""
		case provider == ProviderGitLab && len(segs) >= 2 && segs[0] == "groups":
			return repoRef{kind: EntryOrg, owner: segs[1:], gitlabGroup: len(segs) > 2}, ""
		case provider != "" && len(segs) == 1:
			return repoRef{kind: EntryOrg, owner: segs}, ""
		}
	}
	switch {
	case len(segs) < 2:
		return repoRef{}, "needs owner/name: write " + forms +
			" (only GitHub and GitLab organisation URLs can be expanded)"
	case provider == ProviderGitHub && len(segs) > 2:
		return repoRef{}, "not a repository URL: GitHub repositories are owner/repo"
	}
	name := segs[len(segs)-1]
	for strings.HasSuffix(lowerASCII(name), ".git") { // "r.git.git" too, so normalising twice changes nothing
		name = name[:len(name)-len(".git")]
	}
	if name == "" {
		return repoRef{}, "the repository name is empty; write " + forms
	}
	// webRepoSegments cuts GitLab paths at "tree"/"blob"; GitLab reserves
	// these project names, and accepting them would change the entry when
	// its own URL is parsed again.
	if web && provider == ProviderGitLab && len(segs) > 2 && (name == "tree" || name == "blob") {
		return repoRef{}, fmt.Sprintf("%q is a reserved GitLab name, not a project; write the project's own URL", name)
	}
	return repoRef{kind: EntryRepo, owner: segs[:len(segs)-1], name: name}, ""
}

// checkRepoSegment rejects owner and name segments that could escape a
// directory, look like an option, or hide in a terminal.
func checkRepoSegment(s string) string {
	shown := shortenText(s, 80)
	switch {
	case s == ".":
		return "the path segment '.' is not allowed; write the repository's own URL"
	case strings.Contains(s, ".."):
		return fmt.Sprintf("path segment %q contains '..'; not allowed in a repository path", shown)
	case strings.HasPrefix(s, "-"):
		return fmt.Sprintf("path segment %q starts with '-': looks like an option, not a repository", shown)
	case strings.ContainsAny(s, "/\\"):
		return fmt.Sprintf("path segment %q contains an encoded '/' (%%2f) or a '\\'; not allowed", shown)
	case !utf8.ValidString(s):
		return fmt.Sprintf("path segment %q is not valid UTF-8 after percent-decoding", shown)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Sprintf("path segment %q contains %s (after percent-decoding); remove it", shown, runeName(r))
		}
	}
	return ""
}

// finishNetworkEntry builds the normalised URL from the decoded segments.
// Re-escaping makes the URL canonical: parsing it again yields the same
// entry.
func finishNetworkEntry(ref repoRef, prefix, hostPort, provider string) (RepoEntry, string) {
	esc := make([]string, len(ref.owner))
	for i, s := range ref.owner {
		esc[i] = url.PathEscape(s)
	}
	u := prefix + "/" + strings.Join(esc, "/")
	switch {
	case ref.kind == EntryRepo:
		u += "/" + url.PathEscape(ref.name)
	case ref.gitlabGroup:
		u = prefix + "/groups/" + strings.Join(esc, "/")
	}
	if len(u) > maxRepoURLBytes {
		return RepoEntry{}, fmt.Sprintf("the normalised URL is %d bytes long; the limit is %d", len(u), maxRepoURLBytes)
	}
	return RepoEntry{Kind: ref.kind, Provider: provider, URL: u, Host: hostPort,
		Owner: strings.Join(ref.owner, "/"), Name: ref.name}, ""
}

// parseFileURL treats file:///path exactly like the path written as a
// line: it must be an existing git repository on this machine.
func (p *repoListParser) parseFileURL(rest string) (RepoEntry, string) {
	host, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	if host != "" && !strings.EqualFold(host, "localhost") {
		return RepoEntry{}, "file:// URLs must point to this machine: write file:///absolute/path or just the path"
	}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	dec, err := url.PathUnescape(path)
	if err != nil || dec == "" {
		return RepoEntry{}, "the file:// URL has no valid path; write file:///absolute/path or just the path"
	}
	if !utf8.ValidString(dec) {
		return RepoEntry{}, "the file:// path is not valid UTF-8 after percent-decoding"
	}
	if i := strings.IndexFunc(dec, unicode.IsControl); i >= 0 { // %09 and %0a included
		r, _ := utf8.DecodeRuneInString(dec[i:])
		return RepoEntry{}, fmt.Sprintf("the file:// path contains %s; remove it", runeName(r))
	}
	if runtime.GOOS == "windows" && len(dec) > 1 && dec[0] == '/' && looksLikeDrive(dec[1:]) {
		dec = dec[1:] // file:///C:/x
	}
	if !filepath.IsAbs(dec) {
		return RepoEntry{}, "the file:// URL must hold an absolute path"
	}
	return p.parseLocalPath(dec, false)
}

// parseLocalPath accepts an existing git repository on this machine. The
// path is resolved (symbolic links included) so that two spellings of one
// repository de-duplicate and so the entry never starts with '-'.
func (p *repoListParser) parseLocalPath(s string, written bool) (RepoEntry, string) {
	path, reason := p.expandLocalPath(s)
	if reason != "" {
		return RepoEntry{}, reason
	}
	resolved, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return RepoEntry{}, notFoundReason(s, path, written)
	}
	if err != nil {
		return RepoEntry{}, fmt.Sprintf("cannot read %q: %v", path, err)
	}
	if st, err := os.Stat(resolved); err != nil || !st.IsDir() {
		return RepoEntry{}, fmt.Sprintf("%q is not a directory; list the repository's directory", resolved)
	}
	if !isGitRepository(resolved) {
		return RepoEntry{}, fmt.Sprintf("%q is not a git repository (it has no .git and is not a bare repository); "+
			"list the repository's top directory", resolved)
	}
	return RepoEntry{Kind: EntryLocal, Host: "local", Name: SafePathSegment(filepath.Base(resolved)),
		URL: localFileURL(resolved), LocalPath: resolved}, ""
}

// expandLocalPath makes a written path absolute: "~" against Home, a
// relative path against the workspace.
func (p *repoListParser) expandLocalPath(s string) (string, string) {
	var path string
	switch {
	case s == "~" || strings.HasPrefix(s, "~/") || runtime.GOOS == "windows" && strings.HasPrefix(s, `~\`):
		if p.opts.Home == "" {
			return "", "cannot expand '~': the home directory is unknown; write the full path instead"
		}
		path = filepath.Join(p.opts.Home, s[1:])
	case strings.HasPrefix(s, "~"):
		return "", "'~user' paths are not supported; write the full path instead"
	case filepath.IsAbs(s):
		path = s
	default:
		path = filepath.Join(p.opts.Workdir, s)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Sprintf("cannot make %q absolute: %v", path, err)
	}
	return abs, ""
}

// notFoundReason explains a missing path; "github.com/o/r" was most likely
// meant as a URL.
func notFoundReason(s, path string, written bool) string {
	reason := fmt.Sprintf("no such directory: %q", path)
	first, _, hasSlash := strings.Cut(s, "/")
	if written && hasSlash && strings.Contains(first, ".") && !strings.HasPrefix(first, ".") && checkHostName(first) == "" {
		reason += "; if you meant a repository URL, write https://" + s
	}
	return reason
}

// isGitRepository accepts a work tree (".git" directory, or a file as in
// worktrees and submodules) or a bare repository (HEAD and objects/).
func isGitRepository(dir string) bool {
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		return true
	}
	head, err := os.Stat(filepath.Join(dir, "HEAD"))
	if err != nil || !head.Mode().IsRegular() {
		return false
	}
	objects, err := os.Stat(filepath.Join(dir, "objects"))
	return err == nil && objects.IsDir()
}

// localFileURL escapes the path ('#', '%', spaces) so the URL parses back
// to the same path.
func localFileURL(path string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/x → /C:/x
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// credentialQuery matches query parameters that commonly carry secrets.
var credentialQuery = regexp.MustCompile(`(?i)([?&][^=&#\s]*(?:token|key|secret|passw|auth|sig)[^=&#\s]*=)[^&#\s]*`)

// redactCredentials replaces the user-info of URLs in s with "***",
// except a plain ssh user name, and the values of secret-looking query
// parameters. It works on any text, so a line rejected for another reason
// never shows its secret either.
func redactCredentials(s string) string {
	var out strings.Builder
	pos := 0
	for {
		i := strings.Index(s[pos:], "://")
		if i < 0 {
			break
		}
		scheme := schemeEndingAt(s, pos+i)
		start := pos + i + len("://")
		auth, _ := splitAuthority(s[start:])
		if end := strings.IndexFunc(auth, unicode.IsSpace); end >= 0 {
			auth = auth[:end]
		}
		out.WriteString(s[pos:start])
		pos = start
		if user, _, ok := cutLast(auth, '@'); ok && !isPlainSSHUser(scheme, user) {
			out.WriteString("***")
			pos += len(user)
		}
	}
	out.WriteString(s[pos:])
	return credentialQuery.ReplaceAllString(redactSCPPassword(out.String()), "${1}***")
}

// schemeEndingAt returns the lower-cased scheme written just before s[end:].
func schemeEndingAt(s string, end int) string {
	j := end
	for j > 0 && (isAlnumASCII(s[j-1]) || s[j-1] == '+' || s[j-1] == '-' || s[j-1] == '.') {
		j--
	}
	return lowerASCII(s[j:end])
}

func isPlainSSHUser(scheme, user string) bool {
	switch scheme {
	case "ssh", "git+ssh", "ssh+git":
		return !strings.Contains(user, ":")
	}
	return false
}

// redactSCPPassword handles "user:pass@host:path", which has no "://".
func redactSCPPassword(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	head, _, _ := strings.Cut(s, "/")
	if user, _, ok := cutLast(head, '@'); ok && strings.Contains(user, ":") {
		return "***" + s[len(user):]
	}
	return s
}

// displayRepoLine makes a line safe to print: control and invisible
// formatting characters and invalid UTF-8 become Go escapes (no ESC byte
// reaches a terminal), and long lines are cut.
func displayRepoLine(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if b.Len() >= maxShownLineBytes {
			b.WriteString("…")
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// runeName names a character for a message: U+001B (and "a space").
func runeName(r rune) string {
	switch {
	case r == ' ':
		return "a space"
	case unicode.IsControl(r):
		return fmt.Sprintf("a control character (%U)", r)
	}
	if unicode.IsSpace(r) {
		return fmt.Sprintf("whitespace (%U)", r)
	}
	if unicode.Is(unicode.Cf, r) {
		return fmt.Sprintf("an invisible formatting character (%U)", r)
	}
	return fmt.Sprintf("a control character (%U)", r)
}

// shortenText cuts user text quoted in a reason to max bytes.
func shortenText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max] + "…"
}

// SafePathSegment turns any owner/name/host segment into a safe single
// directory name: ASCII lower-case letters, digits, '.', '_' and '-', not
// starting with '.' or '-', at most 64 bytes. Whenever the input had to be
// changed, "-" and 8 hex digits of its sha256 are appended, so different
// inputs never share a directory (unchanged names never end that way:
// such names are hashed too).
func SafePathSegment(s string) string { return safeSegment(s, false) }

func safeSegment(s string, force bool) string {
	var b strings.Builder
	inRun := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-':
			b.WriteByte(c)
			inRun = false
		case !inRun: // one '_' per run of other bytes
			b.WriteByte('_')
			inRun = true
		}
	}
	out := strings.TrimLeft(b.String(), ".-")
	if out == "" {
		out = "_" // also for "." and ".."
	}
	changed := force || out != s || hasHashSuffix(out) || isWindowsDeviceName(out) ||
		strings.HasSuffix(out, ".") // Windows drops a trailing dot
	if !changed && len(out) <= maxSafeSegmentBytes {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "-" + hex.EncodeToString(sum[:])[:safeHashHexLen]
	if limit := maxSafeSegmentBytes - len(suffix); len(out) > limit {
		out = out[:limit]
	}
	return out + suffix
}

func hasHashSuffix(s string) bool {
	n := len(s) - safeHashHexLen
	if n < 1 || s[n-1] != '-' {
		return false
	}
	for _, c := range []byte(s[n:]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isWindowsDeviceName reports names Windows maps to devices ("nul",
// "com1.git"), whatever the extension.
func isWindowsDeviceName(s string) bool {
	stem, _, _ := strings.Cut(s, ".")
	switch stem {
	case "con", "prn", "aux", "nul":
		return true
	}
	return len(stem) == 4 && (strings.HasPrefix(stem, "com") || strings.HasPrefix(stem, "lpt")) &&
		'0' <= stem[3] && stem[3] <= '9'
}

// RepoDir returns where the bare clone of e lives:
// <reposDir>/<host>/<owner segments…>/<name>.git, every segment made safe.
// Owner and name are lower-cased first, as Key() does, so one repository
// spelled in two cases uses one directory.
func RepoDir(reposDir string, e RepoEntry) (string, error) {
	if e.Kind != EntryRepo {
		return "", fmt.Errorf("%q is a %s entry, not a repository to clone", displayRepoLine(e.DisplayName()), e.Kind)
	}
	if e.Host == "" || e.Owner == "" || e.Name == "" {
		return "", fmt.Errorf("repository %q lacks a host, owner or name", displayRepoLine(e.DisplayName()))
	}
	parts := []string{SafePathSegment(e.Host)}
	for _, seg := range strings.Split(lowerASCII(e.Owner), "/") {
		parts = append(parts, ownerDirSegment(seg))
	}
	parts = append(parts, SafePathSegment(lowerASCII(e.Name))+".git")
	rel := filepath.Join(parts...)
	if !filepath.IsLocal(rel) { // cannot happen with safe segments; checked because a mistake here writes anywhere
		return "", fmt.Errorf("repository %q would be stored outside %s", displayRepoLine(e.DisplayName()), reposDir)
	}
	return filepath.Join(reposDir, rel), nil
}

// ownerDirSegment is SafePathSegment, except that an owner directory
// never ends in ".git": otherwise owner "a/x.git" + name "y" would nest a
// clone inside the clone of owner "a" + name "x".
func ownerDirSegment(s string) string {
	safe := SafePathSegment(s)
	if strings.HasSuffix(safe, ".git") {
		return safeSegment(s, true)
	}
	return safe
}
