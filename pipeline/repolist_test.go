package pipeline

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode"
)

// repoListFixture is a workspace and a home directory with a few local
// repositories, so local-path lines can be accepted for real.
type repoListFixture struct {
	work, home, sentinel string
	repo                 string // work/repo: a work tree (.git directory)
	bare                 string // work/bare.git: HEAD + objects/
	plain                string // work/plain: a directory that is not a repository
	file                 string // work/file.txt
	homeRepo             string // home/repos/x
	link                 string // work/link → repo; "" where symbolic links fail
}

func newRepoListFixture(t testing.TB, root string) repoListFixture {
	t.Helper()
	root, err := filepath.EvalSymlinks(root) // macOS: /var → /private/var
	if err != nil {
		t.Fatal(err)
	}
	fx := repoListFixture{
		work:     filepath.Join(root, "work"),
		home:     filepath.Join(root, "home"),
		sentinel: filepath.Join(root, "sentinel"),
	}
	fx.repo = filepath.Join(fx.work, "repo")
	fx.bare = filepath.Join(fx.work, "bare.git")
	fx.plain = filepath.Join(fx.work, "plain")
	fx.file = filepath.Join(fx.work, "file.txt")
	fx.homeRepo = filepath.Join(fx.home, "repos", "x")
	for _, d := range []string{
		filepath.Join(fx.repo, ".git"), filepath.Join(fx.bare, "objects"), fx.plain, filepath.Join(fx.homeRepo, ".git"),
	} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(fx.bare, "HEAD"), fx.file} {
		if err := os.WriteFile(f, []byte("ref: refs/heads/main\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(fx.repo, filepath.Join(fx.work, "link")); err == nil {
		fx.link = filepath.Join(fx.work, "link")
	}
	return fx
}

func (fx repoListFixture) opts() RepoListOptions {
	return RepoListOptions{
		Workdir:     fx.work,
		Home:        fx.home,
		GitHubHosts: []string{"github.com", "GHE.example.com"},
		GitLabHosts: []string{"gitlab.com"},
	}
}

// repoListRow is one line and its exact classification: want for an
// accepted line, reason (a distinctive substring) for a rejected one,
// neither for a blank or comment line.
type repoListRow struct {
	in       string
	want     *RepoEntry
	reason   string
	text     string // exact RejectedLine.Text, when set
	raw      string // exact RepoEntry.Raw, when set
	opts     func(*RepoListOptions)
	unixOnly bool
}

func wantRepo(url, host, owner, name, provider string) *RepoEntry {
	return &RepoEntry{Kind: EntryRepo, URL: url, Host: host, Owner: owner, Name: name, Provider: provider}
}

func wantOrg(url, host, owner, provider string) *RepoEntry {
	return &RepoEntry{Kind: EntryOrg, URL: url, Host: host, Owner: owner, Provider: provider}
}

func wantLocal(path string) *RepoEntry {
	return &RepoEntry{Kind: EntryLocal, Host: "local", Name: SafePathSegment(filepath.Base(path)),
		URL: "file://" + filepath.ToSlash(path), LocalPath: path}
}

func repoListRows(fx repoListFixture) []repoListRow {
	gh := func(o, r string) *RepoEntry {
		return wantRepo("https://github.com/"+o+"/"+r, "github.com", o, r, ProviderGitHub)
	}
	noHome := func(o *RepoListOptions) { o.Home = "" }
	allowHTTP := func(o *RepoListOptions) { o.AllowHTTP = true }
	long := strings.Repeat("a", 300)
	rows := []repoListRow{
		// Accepted https URLs and their normalisation.
		{in: "https://github.com/o/r", want: gh("o", "r")},
		{in: "https://github.com/o/r.git", want: gh("o", "r")},
		{in: "https://github.com/o/r/", want: gh("o", "r")},
		{in: "https://github.com/o/r.git/", want: gh("o", "r")},
		{in: "https://github.com/o/r.git.git", want: gh("o", "r")},
		{in: "HTTPS://GitHub.com/O/R.git/", want: wantRepo("https://github.com/O/R", "github.com", "O", "R", ProviderGitHub)},
		{in: "https://www.github.com/o/r", want: gh("o", "r")},
		{in: "https://github.com.:443/o/r", want: gh("o", "r")},
		{in: "https://github.com/o/r/tree/main/dir", want: gh("o", "r")},
		{in: "https://github.com/o/r/blob/main/README.md", want: gh("o", "r")},
		{in: "https://github.com/o/r/issues", want: gh("o", "r")},
		{in: "https://github.com/o/r#readme", want: gh("o", "r")},
		{in: "https://github.com/o/r?tab=readme-ov-file", want: gh("o", "r")},
		{in: "https://github.com/o/r?access_token=s3cr3t", want: gh("o", "r"), raw: "https://github.com/o/r?access_token=***"},
		{in: "https://github.com/o/r  # mine", want: gh("o", "r"), raw: "https://github.com/o/r  # mine"},
		{in: "https://github.com/o/r\t# mine", want: gh("o", "r")},
		{in: "  \thttps://github.com/o/r \t ", want: gh("o", "r")},
		{in: "https://github.com/o/.github", want: gh("o", ".github")},
		{in: "https://github.com/o/r%20x", reason: "contains a space"},
		{in: "https://GHE.example.com/team/tool", want: wantRepo("https://ghe.example.com/team/tool", "ghe.example.com", "team", "tool", ProviderGitHub)},
		{in: "https://ghe.example.com:8443/team/tool", want: wantRepo("https://ghe.example.com:8443/team/tool", "ghe.example.com:8443", "team", "tool", ProviderGitHub)},
		{in: "https://gitlab.com/g/sub/p", want: wantRepo("https://gitlab.com/g/sub/p", "gitlab.com", "g/sub", "p", ProviderGitLab)},
		{in: "https://gitlab.com/g/sub/p/-/tree/main", want: wantRepo("https://gitlab.com/g/sub/p", "gitlab.com", "g/sub", "p", ProviderGitLab)},
		{in: "https://gitlab.com/g/p/tree/main", want: wantRepo("https://gitlab.com/g/p", "gitlab.com", "g", "p", ProviderGitLab)},
		{in: "https://gitlab.com/g/p.git", want: wantRepo("https://gitlab.com/g/p", "gitlab.com", "g", "p", ProviderGitLab)},
		{in: "https://bitbucket.org/team/repo", want: wantRepo("https://bitbucket.org/team/repo", "bitbucket.org", "team", "repo", "")},
		{in: "https://www.example.org/team/repo", want: wantRepo("https://www.example.org/team/repo", "www.example.org", "team", "repo", "")},
		{in: "https://git.example.com:8443/o/r", want: wantRepo("https://git.example.com:8443/o/r", "git.example.com:8443", "o", "r", "")},
		{in: "https://git.example.com/o/r/-/blob/main/x", want: wantRepo("https://git.example.com/o/r", "git.example.com", "o", "r", "")},
		{in: "https://xn--gthub-n4a.com/o/r", want: wantRepo("https://xn--gthub-n4a.com/o/r", "xn--gthub-n4a.com", "o", "r", "")},
		{in: "https://h.example/" + long + "/" + long, want: wantRepo("https://h.example/"+long+"/"+long, "h.example", long, long, "")},
		{in: "https://h.example/o/caf%C3%A9", want: wantRepo("https://h.example/o/caf%C3%A9", "h.example", "o", "café", "")},

		// Organisations, users and groups.
		{in: "https://github.com/kubernetes", want: wantOrg("https://github.com/kubernetes", "github.com", "kubernetes", ProviderGitHub)},
		{in: "https://github.com/kubernetes/", want: wantOrg("https://github.com/kubernetes", "github.com", "kubernetes", ProviderGitHub)},
		{in: "https://github.com/orgs/kubernetes", want: wantOrg("https://github.com/kubernetes", "github.com", "kubernetes", ProviderGitHub)},
		{in: "https://ghe.example.com/team", want: wantOrg("https://ghe.example.com/team", "ghe.example.com", "team", ProviderGitHub)},
		{in: "https://gitlab.com/gitlab-org", want: wantOrg("https://gitlab.com/gitlab-org", "gitlab.com", "gitlab-org", ProviderGitLab)},
		{in: "https://gitlab.com/groups/gitlab-org", want: wantOrg("https://gitlab.com/gitlab-org", "gitlab.com", "gitlab-org", ProviderGitLab)},
		{in: "https://gitlab.com/groups/g/sub", want: wantOrg("https://gitlab.com/groups/g/sub", "gitlab.com", "g/sub", ProviderGitLab)},
		{in: "https://bitbucket.org/team", reason: "needs owner/name"},
		{in: "https://github.com", reason: "needs owner/name"},
		{in: "https://github.com/o/r/x/y", reason: "not a repository URL"},

		// ssh and scp-like URLs.
		{in: "git@github.com:o/r.git", want: wantRepo("ssh://git@github.com/o/r", "github.com", "o", "r", ProviderGitHub)},
		{in: "git@GitLab.com:g/sub/p.git", want: wantRepo("ssh://git@gitlab.com/g/sub/p", "gitlab.com", "g/sub", "p", ProviderGitLab)},
		{in: "github.com:o/r", want: wantRepo("ssh://github.com/o/r", "github.com", "o", "r", ProviderGitHub)},
		{in: "ssh://git@github.com/o/r.git", want: wantRepo("ssh://git@github.com/o/r", "github.com", "o", "r", ProviderGitHub)},
		{in: "ssh://git@github.com:22/o/r", want: wantRepo("ssh://git@github.com/o/r", "github.com", "o", "r", ProviderGitHub)},
		{in: "git+ssh://git@git.example.com:2222/o/r", want: wantRepo("ssh://git@git.example.com:2222/o/r", "git.example.com:2222", "o", "r", "")},
		{in: "git@github.com:o", reason: "needs owner/name"},
		{in: "ssh://git@github.com/o/r/tree/main", reason: "GitHub repositories are owner/repo"},
		{in: "ssh://user:pass@github.com/o/r", reason: "credentials", text: "ssh://***@github.com/o/r"},
		{in: "user:pass@github.com:o/r", reason: "credentials", text: "***@github.com:o/r"},
		{in: "ssh://-oProxyCommand=touch%20$SENTINEL/x", reason: "not a valid host name"},
		{in: "ssh://-oProxyCommand=x@github.com/o/r", reason: "user name starts with '-'"},
		{in: "git@-oProxyCommand=x:o/r", reason: "not a valid host name"},
		{in: "https:/github.com/o/r", reason: "malformed URL"},

		// Forbidden transports and schemes.
		{in: "ext::sh -c touch% $SENTINEL", reason: "remote helper transports"},
		{in: "fd::17", reason: "remote helper transports"},
		{in: "git://github.com/o/r", reason: "git:// is unencrypted"},
		{in: "http://169.254.169.254/latest", reason: "use https:// instead"},
		{in: "http://github.com/o/r", reason: "use https:// instead"},
		{in: "http://github.com/o/r", opts: allowHTTP, want: wantRepo("http://github.com/o/r", "github.com", "o", "r", ProviderGitHub)},
		{in: "http://git.example.com:80/o/r", opts: allowHTTP, want: wantRepo("http://git.example.com/o/r", "git.example.com", "o", "r", "")},
		{in: "ftp://h.example/o/r", reason: `unknown scheme "ftp"`},
		{in: "gopher://h.example/o/r", reason: `unknown scheme "gopher"`},

		// Options and credentials.
		{in: "--upload-pack=touch $SENTINEL", reason: "starts with '-'"},
		{in: "-u$SENTINEL", reason: "starts with '-'"},
		{in: "https://h.example/-oProxyCommand=x", reason: "starts with '-'"},
		{in: "https://h.example/o/-r", reason: "starts with '-'"},
		{in: "https://user:tok@github.com/o/r", reason: "scrape.github_token_env", text: "https://***@github.com/o/r"},
		{in: "https://ghp_tok@github.com/o/r", reason: "embeds credentials", text: "https://***@github.com/o/r"},
		{in: "http://user:pw@github.com/o/r # x", reason: "use https:// instead", text: "http://***@github.com/o/r # x"},

		// Traversal and hidden characters.
		{in: "https://h.example/a/%2e%2e/%2e%2e", reason: "'..'"},
		{in: "https://github.com/../../etc/passwd", reason: "'..'"},
		{in: "https://github.com/o/r/../../x", reason: "'..'"},
		{in: "https://github.com/o/r/tree/%2e%2e%2f%2e%2e", reason: "'..'"},
		{in: "https://h.example/a..b/r", reason: "contains '..'"},
		{in: "https://h.example/o/.", reason: "segment '.'"},
		{in: "https://h.example/o%2fx/r", reason: "encoded '/'"},
		{in: `https://h.example/o\x/r`, reason: `'\'`},
		{in: "https://h.example//o/r", reason: "empty segment"},
		{in: "https://h.example/o/r%0aid", reason: "control character (U+000A)"},
		{in: "https://h.example/o/r%0d", reason: "control character (U+000D)"},
		{in: "https://h.example/o/r%00", reason: "control character (U+0000)"},
		{in: "https://h.example/o/r%E2%80%AE", reason: "invisible formatting character (U+202E)"},
		{in: "https://h.example/o/r%ff", reason: "not valid UTF-8"},
		{in: "https://h.example/o/r%zz", reason: "invalid percent-encoding"},
		{in: "https://h.example/o/r\rid", reason: "control character (U+000D)", text: `https://h.example/o/r\rid`},
		{in: "https://h.example/o/r\x00", reason: "control character (U+0000)", text: `https://h.example/o/r\x00`},
		{in: "https://h.example/o/\x1b[2J", reason: "control character (U+001B)", text: `https://h.example/o/\x1b[2J`},
		{in: "https://h.example/o/r\u202e", reason: "invisible formatting character", text: `https://h.example/o/r\u202e`},
		{in: "https://github.com/o/\xff", reason: "not valid UTF-8", text: `https://github.com/o/\xff`},
		{in: "./repo\u202e", reason: "invisible formatting character (U+202E)", text: `./repo\u202e`},
		{in: "https://github.com/o/r # \ufeff", reason: "invisible formatting character (U+FEFF)"},
		{in: "https://github.com/o/r extra", reason: "contains whitespace"},
		{in: "https://github.com/o/r\textra", reason: "tab character"},

		// Hosts and sizes.
		{in: "https://gіthub.com/o/r", reason: "punycode"},
		{in: "https:///o/r", reason: "has no host"},
		{in: "https://git_hub.com/o/r", reason: "not a valid host name"},
		{in: "https://-h.example/o/r", reason: "not a valid host name"},
		{in: "https://[::1]/o/r", reason: "IPv6"},
		{in: "https://h.example:99999/o/r", reason: "port"},
		{in: "https://h.example:/o/r", want: wantRepo("https://h.example/o/r", "h.example", "o", "r", "")},
		{in: "https://github.com/o/" + strings.Repeat("a", 10*1024), reason: "the limit is 4096"},
		{in: "https://github.com/o/" + strings.Repeat("a", 3000), reason: "the limit is 2048"},
		{in: "https://h.example/o/" + strings.Repeat("é", 400), reason: "normalised URL is"},
		{in: "https://gitlab.com/g/p/tree.git", reason: "reserved"},

		// Blank and comment lines.
		{in: ""},
		{in: "   \t "},
		{in: "# a comment"},
		{in: "   # an indented comment with https://user:tok@x/y"},
		{in: "#\x1b[2J comments are never used"},

		// Local paths.
		{in: "./x", reason: "no such directory"},
		{in: "./repo", want: wantLocal(fx.repo)},
		{in: "repo", want: wantLocal(fx.repo)},
		{in: "./plain/../repo/", want: wantLocal(fx.repo)},
		{in: fx.repo, want: wantLocal(fx.repo)},
		{in: fx.repo + "  # absolute", want: wantLocal(fx.repo)},
		{in: "bare.git", want: wantLocal(fx.bare)},
		{in: "file://" + filepath.ToSlash(fx.repo), want: wantLocal(fx.repo), unixOnly: true},
		{in: "file://localhost" + filepath.ToSlash(fx.repo), want: wantLocal(fx.repo), unixOnly: true},
		{in: "file://evil.example/x", reason: "must point to this machine"},
		{in: "file:///etc", reason: "not a git repository", unixOnly: true},
		{in: "/etc", reason: "not a git repository", unixOnly: true},
		{in: "./plain", reason: "not a git repository"},
		{in: "file.txt", reason: "not a directory"},
		{in: "github.com/o/r", reason: "write https://github.com/o/r"},
		{in: "~/repos/x", want: wantLocal(fx.homeRepo)},
		{in: "~/repos/x", opts: noHome, reason: "home directory is unknown"},
		{in: "~", opts: noHome, reason: "home directory is unknown"},
		{in: "~", reason: "not a git repository"},
		{in: "~root/x", reason: "'~user' paths are not supported"},
	}
	if fx.link != "" {
		rows = append(rows, repoListRow{in: "./link", want: wantLocal(fx.repo)})
	}
	for i := range rows {
		rows[i].in = strings.ReplaceAll(rows[i].in, "$SENTINEL", fx.sentinel)
	}
	return rows
}

func TestRepoListTable(t *testing.T) {
	fx := newRepoListFixture(t, t.TempDir())
	rows := repoListRows(fx)
	if len(rows) < 60 {
		t.Fatalf("only %d rows", len(rows))
	}
	for _, row := range rows {
		if row.unixOnly && runtime.GOOS == "windows" {
			continue
		}
		opts := fx.opts()
		if row.opts != nil {
			row.opts(&opts)
		}
		entries, rejected, err := ParseRepoList(strings.NewReader(row.in), opts)
		if err != nil {
			t.Fatalf("%q: %v", row.in, err)
		}
		checkRepoListRow(t, row, entries, rejected)
	}
	if _, err := os.Lstat(fx.sentinel); err == nil {
		t.Fatal("the sentinel file exists: parsing executed something")
	}
}

func checkRepoListRow(t *testing.T, row repoListRow, entries []RepoEntry, rejected []RejectedLine) {
	t.Helper()
	in := shortenText(row.in, 80)
	switch {
	case row.want != nil:
		if len(entries) != 1 || len(rejected) != 0 {
			t.Errorf("%q: want accepted, got entries %+v rejected %+v", in, entries, rejected)
			return
		}
		got := entries[0]
		if got.Line != 1 || got.Raw == "" || row.raw != "" && got.Raw != row.raw {
			t.Errorf("%q: Line %d Raw %q", in, got.Line, got.Raw)
		}
		checkNoSecret(t, got.Raw)
		got.Line, got.Raw = 0, ""
		if got != *row.want {
			t.Errorf("%q:\n got %+v\nwant %+v", in, got, *row.want)
		}
	case row.reason != "":
		if len(entries) != 0 || len(rejected) != 1 {
			t.Errorf("%q: want rejected (%s), got entries %+v rejected %+v", in, row.reason, entries, rejected)
			return
		}
		r := rejected[0]
		if r.Line != 1 || !strings.Contains(r.Reason, row.reason) {
			t.Errorf("%q: line %d reason %q, want it to contain %q", in, r.Line, r.Reason, row.reason)
		}
		if row.text != "" && r.Text != row.text {
			t.Errorf("%q: Text %q, want %q", in, r.Text, row.text)
		}
		checkShownText(t, r.Text)
		checkNoSecret(t, r.Text)
	default:
		if len(entries) != 0 || len(rejected) != 0 {
			t.Errorf("%q: want ignored, got entries %+v rejected %+v", in, entries, rejected)
		}
	}
}

// checkShownText asserts RejectedLine.Text is safe for a terminal and a
// log: short, with no control or invisible characters.
func checkShownText(t *testing.T, s string) {
	t.Helper()
	if len(s) > maxShownLineBytes+16 {
		t.Errorf("Text is %d bytes long", len(s))
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Errorf("Text %q contains %U", s, r)
		}
	}
}

// checkNoSecret asserts the table's credentials never reach a report.
func checkNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{"tok@", "pass@", "pw@", "s3cr3t"} {
		if strings.Contains(s, secret) {
			t.Errorf("%q shows a credential", s)
		}
	}
}

func TestRepoListFileLevel(t *testing.T) {
	fx := newRepoListFixture(t, t.TempDir())
	content := "\ufeffhttps://github.com/a/one\r\n" + // 1
		"\r\n" + // 2
		"# comment\r\n" + // 3
		"HTTPS://GitHub.com/A/One.git/\r\n" + // 4: duplicate of 1
		"  https://gitlab.com/g/p  # trailing\r\n" + // 5
		"ext::sh -c id\r\n" + // 6
		"git@github.com:a/one.git\r\n" + // 7: the same repository over ssh
		"https://github.com/kubernetes\r\n" + // 8
		"\t\r\n" + // 9
		"https://github.com/o/" + strings.Repeat("x", 70000) + "\r\n" + // 10: cut while reading
		"./repo\r\n" + // 11
		"https://user:hunter2@github.com/o/r\r\n" + // 12
		repoListLink(fx) + "\r\n" + // 13: the same local repository again
		"#" + strings.Repeat("c", maxRepoLineBytes-1) + "\r\n" + // 14: at the limit once "\r" is dropped
		"https://github.com/b/two" // 15: no final newline
	entries, rejected, err := ParseRepoList(strings.NewReader(content), fx.opts())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, strconv.Itoa(e.Line)+" "+e.Kind.String()+" "+e.URL)
	}
	want := []string{
		"1 repo https://github.com/a/one",
		"5 repo https://gitlab.com/g/p",
		"8 org https://github.com/kubernetes",
		"11 local file://" + filepath.ToSlash(fx.repo),
		"15 repo https://github.com/b/two",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if entries[0].Raw != "https://github.com/a/one" || entries[1].Raw != "https://gitlab.com/g/p  # trailing" {
		t.Errorf("Raw %q %q", entries[0].Raw, entries[1].Raw)
	}
	wantRejected := []struct {
		line   int
		reason string
	}{{4, "duplicate of line 1"}, {6, "remote helper"}, {7, "duplicate of line 1"},
		{10, "the limit is 4096"}, {12, "credentials"}, {13, "duplicate of line 11"}}
	if len(rejected) != len(wantRejected) {
		t.Fatalf("rejected %+v", rejected)
	}
	for i, w := range wantRejected {
		r := rejected[i]
		if r.Line != w.line || !strings.Contains(r.Reason, w.reason) {
			t.Errorf("rejected[%d] = line %d %q, want line %d %q", i, r.Line, r.Reason, w.line, w.reason)
		}
		checkShownText(t, r.Text)
		if strings.Contains(r.Text, "hunter2") {
			t.Errorf("Text %q shows the password", r.Text)
		}
	}
	if rejected[0].Text != "HTTPS://GitHub.com/A/One.git/" {
		t.Errorf("duplicate Text %q", rejected[0].Text)
	}
}

// repoListLink spells the fixture repository differently (through the
// symbolic link, or with a detour) to check de-duplication of local paths.
func repoListLink(fx repoListFixture) string {
	if fx.link != "" {
		return "./link/"
	}
	return "./plain/../repo"
}

func TestRepoListReadErrorsAndMissingFile(t *testing.T) {
	_, _, err := ParseRepoList(iotest.TimeoutReader(strings.NewReader(strings.Repeat("https://github.com/o/r\n", 1000))), RepoListOptions{})
	if err == nil {
		t.Error("a read error was not reported")
	}

	dir := t.TempDir()
	ws, err := NewWorkspace(dir, "data")
	if err != nil {
		t.Fatal(err)
	}
	entries, rejected, err := ReadRepoList(ws, RepoListOptions{})
	if err != nil || entries != nil || rejected != nil {
		t.Errorf("missing repos.txt: %v %v %v", entries, rejected, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "repo", ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ws.ReposFile, []byte("repo\nhttps://github.com/o/r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	entries, rejected, err = ReadRepoList(ws, RepoListOptions{}) // Workdir defaults to the workspace
	if err != nil || len(entries) != 2 || len(rejected) != 0 || entries[0].Kind != EntryLocal {
		t.Errorf("ReadRepoList: %+v %+v %v", entries, rejected, err)
	}
	ws.ReposFile = dir // a directory cannot be read
	if _, _, err := ReadRepoList(ws, RepoListOptions{}); err == nil {
		t.Error("reading a directory as repos.txt did not fail")
	}
}

var safeSegmentRe = regexp.MustCompile(`^[a-z0-9_][a-z0-9._-]*$`)

func TestSafePathSegmentExamples(t *testing.T) {
	hash := func(s string) string { return SafePathSegment(s)[len(SafePathSegment(s))-9:] }
	for in, want := range map[string]string{
		"kubernetes":   "kubernetes",
		"a.b_c-d":      "a.b_c-d",
		"Kubernetes":   "kubernetes" + hash("Kubernetes"),
		"":             "_" + hash(""),
		".":            "_" + hash("."),
		"..":           "_" + hash(".."),
		"../../etc":    "_.._etc" + hash("../../etc"),
		"-rf":          "rf" + hash("-rf"),
		"a b\x00c":     "a_b_c" + hash("a b\x00c"),
		"nul":          "nul" + hash("nul"),
		"COM1.git":     "com1.git" + hash("COM1.git"),
		"x.":           "x." + hash("x."),
		"a-12345678":   "a-12345678" + hash("a-12345678"),
		"\x1b[2J":      "_2j" + hash("\x1b[2J"),
		"gіthub":       "g_thub" + hash("gіthub"),
		"nullable.git": "nullable.git",
	} {
		if got := SafePathSegment(in); got != want {
			t.Errorf("SafePathSegment(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SafePathSegment(strings.Repeat("a", 300)); len(got) != maxSafeSegmentBytes || !strings.HasPrefix(got, strings.Repeat("a", 55)+"-") {
		t.Errorf("300 bytes → %q", got)
	}
	if got := SafePathSegment(strings.Repeat("a", 64)); got != strings.Repeat("a", 64) {
		t.Errorf("64 bytes → %q", got)
	}
}

func TestRepoDirExamples(t *testing.T) {
	reposDir := filepath.Join(t.TempDir(), "repos")
	e := RepoEntry{Kind: EntryRepo, Host: "gitlab.com", Owner: "G/Sub", Name: "Proj"}
	got, err := RepoDir(reposDir, e)
	if want := filepath.Join(reposDir, "gitlab.com", "g", "sub", "proj.git"); err != nil || got != want {
		t.Errorf("RepoDir = %q, %v; want %q", got, err, want)
	}
	long := strings.Repeat("a", 300)
	fx := newRepoListFixture(t, t.TempDir())
	entries, _, _ := ParseRepoList(strings.NewReader("https://h.example/"+long+"/"+long), fx.opts())
	if len(entries) != 1 {
		t.Fatal("300-byte segments were not accepted")
	}
	if got, err := RepoDir(reposDir, entries[0]); err != nil || len(filepath.Base(got)) != maxSafeSegmentBytes+len(".git") {
		t.Errorf("RepoDir of 300-byte names = %q, %v", got, err)
	}
	nested, _ := RepoDir(reposDir, RepoEntry{Kind: EntryRepo, Host: "h", Owner: "a/x.git", Name: "y"})
	outer, _ := RepoDir(reposDir, RepoEntry{Kind: EntryRepo, Host: "h", Owner: "a", Name: "x"})
	if strings.HasPrefix(nested, outer+string(filepath.Separator)) {
		t.Errorf("%s is inside the clone %s", nested, outer)
	}
	for _, bad := range []RepoEntry{
		{Kind: EntryOrg, Host: "github.com", Owner: "kubernetes"},
		{Kind: EntryLocal, Host: "local", Name: "x", LocalPath: "/x"},
		{Kind: EntryRepo, Host: "github.com", Owner: "", Name: "r"},
		{Kind: EntryRepo, Host: "", Owner: "o", Name: "r"},
	} {
		if _, err := RepoDir(reposDir, bad); err == nil {
			t.Errorf("RepoDir(%+v) did not fail", bad)
		}
	}
}

// hostileString mixes traversal, separators, control and look-alike
// characters, random bytes and occasionally a very long run.
func hostileString(r *rand.Rand) string {
	pieces := []string{"/", "\\", "..", ".", "\x00", "-", "A", "a", "z", "0", "é", "і", "\u202e", "%2e", "%2f",
		"con", "NUL", ".git", " ", "\n", "\x1b[2J", "_", "~", "-1234abcd", "x.git", ":", "*", "\xff"}
	n := r.IntN(10)
	if r.IntN(40) == 0 {
		n = 60 + r.IntN(300)
	}
	var b strings.Builder
	for range n {
		if r.IntN(4) == 0 {
			b.WriteByte(byte(r.IntN(256)))
		} else {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
	}
	return b.String()
}

func TestSafePathSegmentAndRepoDirProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	reposDir := filepath.Join(t.TempDir(), "repos")
	segOf := map[string]string{} // SafePathSegment output → input
	dirOf := map[string]string{} // RepoDir output → Key()
	for range 10000 {
		s := hostileString(r)
		out := SafePathSegment(s)
		checkSafeSegment(t, out, maxSafeSegmentBytes)
		if prev, ok := segOf[out]; ok && prev != s {
			t.Errorf("SafePathSegment(%q) = SafePathSegment(%q) = %q", s, prev, out)
		}
		segOf[out] = s

		e := RepoEntry{Kind: EntryRepo, Host: hostileString(r), Owner: hostileString(r), Name: hostileString(r)}
		if r.IntN(3) == 0 {
			e.Owner += "/" + hostileString(r)
		}
		dir, err := RepoDir(reposDir, e)
		if e.Host == "" || e.Owner == "" || e.Name == "" {
			if err == nil {
				t.Errorf("RepoDir(%+v) accepted an empty part", e)
			}
			continue
		}
		if err != nil {
			t.Fatalf("RepoDir(%+v): %v", e, err)
		}
		rel, err := filepath.Rel(reposDir, dir)
		if err != nil || !filepath.IsLocal(rel) || !strings.HasPrefix(dir, reposDir+string(filepath.Separator)) {
			t.Fatalf("RepoDir(%+v) = %q is outside %q", e, dir, reposDir)
		}
		for _, seg := range strings.Split(rel, string(filepath.Separator)) {
			checkSafeSegment(t, seg, maxSafeSegmentBytes+len(".git"))
		}
		if prev, ok := dirOf[dir]; ok && prev != e.Key() {
			t.Errorf("RepoDir collision: %q and %q → %s", prev, e.Key(), dir)
		}
		dirOf[dir] = e.Key()
	}
	if len(segOf) < 5000 {
		t.Errorf("only %d distinct segments: the generator is too narrow", len(segOf))
	}
}

func checkSafeSegment(t *testing.T, seg string, max int) {
	t.Helper()
	if !safeSegmentRe.MatchString(seg) || seg == "." || seg == ".." || len(seg) > max {
		t.Errorf("unsafe directory segment %q", seg)
	}
}

// FuzzParseRepoList checks that no input panics, every rejected line is
// safe to show, and every accepted entry's URL parses back to the same
// entry (normalisation is idempotent).
func FuzzParseRepoList(f *testing.F) {
	fx := newRepoListFixture(f, f.TempDir())
	for _, row := range repoListRows(fx) {
		f.Add(row.in)
	}
	f.Add("\ufeffhttps://github.com/o/r\r\n# c\r\nhttps://github.com/O/R.git\r\nfd::1")
	opts := fx.opts()
	opts.AllowHTTP = true
	f.Fuzz(func(t *testing.T, in string) {
		entries, rejected, err := ParseRepoList(strings.NewReader(in), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rejected {
			checkShownText(t, r.Text)
		}
		keys := map[string]bool{}
		for _, e := range entries {
			if keys[e.Key()] {
				t.Fatalf("duplicate key %q", e.Key())
			}
			keys[e.Key()] = true
			again, rej, _ := ParseRepoList(strings.NewReader(e.URL), opts)
			if len(again) != 1 || len(rej) != 0 {
				t.Fatalf("%q → URL %q does not parse back: %+v %+v", in, e.URL, again, rej)
			}
			a := again[0]
			a.Line, a.Raw, e.Line, e.Raw = 0, "", 0, ""
			if a != e {
				t.Fatalf("%q: URL %q parses back to\n%+v, not\n%+v", in, e.URL, a, e)
			}
			if e.Kind == EntryRepo {
				if _, err := RepoDir(filepath.Join(fx.work, "repos"), e); err != nil {
					t.Fatalf("RepoDir(%+v): %v", e, err)
				}
			}
		}
	})
}
