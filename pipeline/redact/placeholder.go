package redact

import (
	"math"
	"strings"
	"unicode/utf8"
)

const (
	lowerLetters = "abcdefghijklmnopqrstuvwxyz"
	upperLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// Marker syntax: every redacted span becomes markerPrefix + rule + markerSuffix.
const (
	markerPrefix = "<REDACTED:"
	markerSuffix = ">"
)

// IsPlaceholder reports whether s is exactly one redaction marker such as
// "<REDACTED:aws-access-token>".
func IsPlaceholder(s string) bool {
	if !strings.HasPrefix(s, markerPrefix) || !strings.HasSuffix(s, markerSuffix) {
		return false
	}
	id := s[len(markerPrefix) : len(s)-len(markerSuffix)]
	return id != "" && markerIDLen(id) == len(id)
}

// markerIDLen is the length of the rule id at the start of s: rule ids are
// made of lower-case letters, digits, '-', '_' and '.'.
func markerIDLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return i
		}
	}
	return len(s)
}

// shannonEntropy is gitleaks' formula: counts per rune,
// frequencies over the length in bytes.
func shannonEntropy(s string) float64 {
	if s == "" {
		return 0
	}
	var ascii [128]int
	var other map[rune]int
	for _, r := range s {
		if r < utf8.RuneSelf {
			ascii[r]++
			continue
		}
		if other == nil {
			other = map[rune]int{}
		}
		other[r]++
	}
	inv := 1 / float64(len(s))
	var e float64
	add := func(n int) {
		if n > 0 {
			f := float64(n) * inv
			e -= f * math.Log2(f)
		}
	}
	for _, n := range ascii {
		add(n)
	}
	for _, n := range other {
		add(n)
	}
	return e
}

// hasStopword reports whether s contains one of the automaton's words as
// a word. gitleaks counts any case-insensitive substring; here an
// occurrence counts only when its letters are all lower-case, all
// upper-case or capitalised, as in the identifiers stopwords exist for
// ("user_profile", "MyApplication"). In a random token a stopword turns up
// by chance ("md5", "vpn", "beam" in mixed case), and gitleaks would let
// about one generated secret in a hundred through for that alone.
func hasStopword(stop *automaton, s string) bool {
	found := false
	stop.scan(s, func(w, start int) {
		if !found && caseConsistent(s[start:start+len(stop.words[w])]) {
			found = true
		}
	})
	return found
}

// caseConsistent: the letters of s are all lower, all upper, or one upper
// followed by lower.
func caseConsistent(s string) bool {
	upper, lower, firstUpper := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
			lower++
		case 'A' <= c && c <= 'Z':
			if upper == 0 && lower == 0 {
				firstUpper = true
			}
			upper++
		}
	}
	return upper == 0 || lower == 0 || (upper == 1 && firstUpper)
}

// isPlaceholder reports values that only stand in for a secret: templates
// (${VAR}, {{ .Values.x }}, <your-key>, %(x)s), words people put where the
// real value goes (changeme, YOUR_API_KEY, example, dummy, fake...) and
// runs of one character (xxxxxxxx, ********). The word list is shorter
// for fixed-format tokens, whose shape already makes them likely real.
func isPlaceholder(c class, secret, line string) bool {
	if c == classBlock {
		return false
	}
	if isTemplate(secret) || sameCharRun(secret, 6) {
		return true
	}
	lower := strings.ToLower(secret)
	for _, w := range []string{"example", "placeholder", "redacted", "changeme", "change_me", "change-me",
		"replace_me", "replaceme", "replace-me", "your_", "your-", "yourkey", "yourtoken", "yourpassword",
		"dummy", "fake", "insert_", "insert-"} {
		if containsWord(secret, lower, w) {
			return true
		}
	}
	switch c {
	case classGeneric:
		// Letters and separators only: a name ("DB_PASSWORD",
		// "X-Api-Key"), as gitleaks' generic-api-key allowlist has it.
		if strings.Trim(secret, lowerLetters+upperLetters+"_.-") == "" {
			return true
		}
		for _, w := range []string{"test", "sample", "mock", "todo", "fixme", "secret_here", "key_here", "token_here"} {
			if containsWord(secret, lower, w) {
				return true
			}
		}
		return defaultPassword(lower) || isHashLike(lower, line)
	case classPassword:
		return defaultPassword(lower)
	}
	return false
}

// containsWord: lower contains w at an offset where secret's letters are
// case-consistent (see hasStopword).
func containsWord(secret, lower, w string) bool {
	for off := 0; ; {
		i := strings.Index(lower[off:], w)
		if i < 0 {
			return false
		}
		i += off
		if caseConsistent(secret[i : i+len(w)]) {
			return true
		}
		off = i + 1
	}
}

// isTemplate: the value is (or contains) a template expression instead of
// a literal.
func isTemplate(s string) bool {
	if strings.Contains(s, "${") || strings.Contains(s, "{{") || strings.Contains(s, "$(") ||
		strings.Contains(s, "%(") || strings.Contains(s, "#{") {
		return true
	}
	if len(s) >= 2 {
		switch {
		case s[0] == '<' && s[len(s)-1] == '>',
			s[0] == '{' && s[len(s)-1] == '}',
			s[0] == '[' && s[len(s)-1] == ']',
			s[0] == '%' && s[len(s)-1] == '%':
			return true
		}
	}
	return false
}

// sameCharRun: s has a run of at least n identical bytes, or is made of a
// single repeated byte.
func sameCharRun(s string, n int) bool {
	run := 1
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			run++
			if run >= n {
				return true
			}
		} else {
			run = 1
		}
	}
	return len(s) > 1 && run == len(s)
}

// isHashLike: a hex digest (32, 40, 56, 64, 96 or 128 digits) on a line that
// talks about hashes, or a value tagged with its digest algorithm. The
// heuristic is BigCode's (The Stack's secret filter): checksums, commit
// ids and lock-file integrity values sit next to "key"-like names but are
// not secrets.
func isHashLike(lower, line string) bool {
	for _, p := range []string{"sha1-", "sha1:", "sha256-", "sha256:", "sha384-", "sha512-", "sha512:", "md5-", "md5:", "h1:"} {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	switch len(lower) {
	case 32, 40, 56, 64, 96, 128:
	default:
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	l := strings.ToLower(line)
	for _, w := range []string{"sha", "md5", "hash", "digest", "checksum", "commit", "revision", "etag", "integrity", "fingerprint"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// defaultPassword: passwords that documentation, tests and local setups
// use ("postgres://user:password@localhost", "amqp://guest:guest@...",
// {"user", "password", "user:password"}). In URLs, user == password is
// handled by the caller, which knows the user.
func defaultPassword(lower string) bool {
	switch lower {
	case "pass", "passwd", "pwd", "secret", "foo", "bar", "baz", "test", "admin", "root", "guest", "user",
		"mysecretpassword", "s3cr3t", "p4ssw0rd", "hunter2":
		return true
	}
	return strings.Contains(lower, "password")
}

// emailExempt: addresses that identify nobody: no-reply senders, the
// reserved example domains and TLDs (RFC 2606), ssh remotes (git@host) and
// asset names (logo@2x.png).
func emailExempt(addr string) bool {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return true
	}
	local, domain := strings.ToLower(addr[:at]), strings.ToLower(addr[at+1:])
	if strings.Contains(local, "noreply") || strings.Contains(local, "no-reply") || strings.Contains(local, "no_reply") ||
		strings.Contains(local, "donotreply") || strings.Contains(local, "do-not-reply") ||
		strings.Contains(domain, "noreply") || local == "git" {
		return true
	}
	for _, d := range []string{"example.com", "example.org", "example.net", "localhost"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	labels := strings.Split(domain, ".")
	switch labels[len(labels)-1] {
	case "example", "test", "invalid", "localhost", "local",
		"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "js", "mjs", "cjs", "ts", "tsx", "jsx",
		"css", "scss", "map", "json", "md", "txt", "html", "xml", "yaml", "yml", "go", "py", "rb", "java":
		return true
	}
	// "icon@2x.png"-style scale suffixes and "pkg@1.2.3"-style versions.
	first := labels[0]
	if len(first) >= 2 && first[len(first)-1] == 'x' && '0' <= first[0] && first[0] <= '9' {
		return true
	}
	return '0' <= first[0] && first[0] <= '9' && strings.Trim(first, "0123456789") == ""
}
