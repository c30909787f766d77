package pipeline

// EntryKind says what a repos.txt entry points at.
type EntryKind int

// Entry kinds.
const (
	EntryRepo  EntryKind = iota // one remote repository to clone
	EntryOrg                    // a GitHub organisation/user or GitLab group/user: expand it into repositories
	EntryLocal                  // a repository on this machine, read in place
)

func (k EntryKind) String() string {
	switch k {
	case EntryOrg:
		return "org"
	case EntryLocal:
		return "local"
	}
	return "repo"
}

// Git hosting providers the expansion knows.
const (
	ProviderGitHub = "github"
	ProviderGitLab = "gitlab"
)

// RepoEntry is one accepted, normalised entry of repos.txt (or one
// repository an org entry expanded into).
type RepoEntry struct {
	Line     int    // line in repos.txt; 0 for repositories found by expansion
	Raw      string // the line as written (credentials never reach here: such lines are rejected)
	Kind     EntryKind
	Provider string // ProviderGitHub, ProviderGitLab, or "" for other hosts and local paths
	// URL is the normalised clone URL: scheme and host lower-case, no
	// trailing "/" or ".git", no /tree/... suffix, e.g.
	// "https://github.com/kubernetes/kubernetes", "ssh://git@host/o/r".
	// For EntryOrg it is the org URL ("https://github.com/kubernetes");
	// for EntryLocal it is "file://" + LocalPath.
	URL   string
	Host  string // lower-case host ("github.com"); "local" for local paths
	Owner string // "kubernetes"; GitLab subgroups keep their slashes ("group/sub")
	Name  string // "kubernetes"; empty for EntryOrg
	// LocalPath is the absolute path of a local repository (EntryLocal).
	LocalPath string
}

// Key identifies an entry for de-duplication: hosting providers treat
// owner and name case-insensitively, so Key does too.
func (e RepoEntry) Key() string {
	if e.Kind == EntryLocal {
		return "local:" + e.LocalPath
	}
	return e.Host + "/" + lowerASCII(e.Owner) + "/" + lowerASCII(e.Name)
}

// DisplayName is the Repos.name of the entry: host/owner/name, lower-case
// like Key, so one repository never gets two rows whatever case repos.txt
// used.
func (e RepoEntry) DisplayName() string {
	if e.Kind == EntryLocal {
		return "local/" + e.Name
	}
	return e.Host + "/" + lowerASCII(e.Owner) + "/" + lowerASCII(e.Name)
}

// RejectedLine is a repos.txt line that was not accepted, with the reason
// in words a user can act on.
type RejectedLine struct {
	Line   int
	Text   string // the line, with any embedded credentials replaced by "***"
	Reason string
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
