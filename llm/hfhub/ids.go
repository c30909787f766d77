package hfhub

import (
	"fmt"
	"path"
	"strings"
)

// exampleID is shown in messages about malformed ids.
const exampleID = "mlx-community/Llama-3.2-3B-Instruct-4bit"

// maxNameLength is the Hub's limit on each part of a repo id.
const maxNameLength = 96

// RepoFolderName is the cache folder of a model: "org/name" becomes
// "models--org--name" (huggingface_hub's repo_folder_name, casing kept).
func RepoFolderName(id string) string {
	return "models--" + strings.ReplaceAll(id, "/", "--")
}

// ValidateModelID accepts "org/name" where both parts use letters, digits,
// '-', '_' and '.', start and end with a letter, digit or '_', and hold no
// ".." or "--" (the Hub's own rules). The id becomes a folder name in the
// cache and a URL path, so anything else is refused before it gets there.
func ValidateModelID(id string) error {
	if id == "" {
		return fmt.Errorf("the model id is empty: give it as org/name, for example %s", exampleID)
	}
	org, name, ok := strings.Cut(id, "/")
	if !ok || strings.Contains(name, "/") {
		return fmt.Errorf("model id %q is not of the form org/name (for example %s)", id, exampleID)
	}
	for _, part := range []string{org, name} {
		if part == "" {
			return fmt.Errorf("model id %q has an empty part: give it as org/name, for example %s", id, exampleID)
		}
		for _, r := range part {
			if !isIDRune(r) {
				return fmt.Errorf("model id %q contains %q: only letters, digits, '-', '_' and '.' are allowed (for example %s)", id, r, exampleID)
			}
		}
		if strings.Contains(part, "..") {
			return fmt.Errorf("model id %q contains \"..\", which is not allowed in a model id", id)
		}
		if strings.Contains(part, "--") {
			return fmt.Errorf("model id %q contains \"--\", which the Hub does not allow (the cache uses it as a separator)", id)
		}
		if !isWordByte(part[0]) || !isWordByte(part[len(part)-1]) {
			return fmt.Errorf("model id %q: each part must start and end with a letter, digit or '_'", id)
		}
		if len(part) > maxNameLength {
			return fmt.Errorf("model id %q: each part can be at most %d characters long", id, maxNameLength)
		}
	}
	if strings.HasSuffix(name, ".git") {
		return fmt.Errorf("model id %q ends with \".git\": give the model id, not a git URL (for example %s)", id, exampleID)
	}
	return nil
}

func isIDRune(r rune) bool {
	return r < 0x80 && (isWordByte(byte(r)) || r == '-' || r == '.')
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// isCommitHash reports a full git commit id (huggingface_hub's REGEX_COMMIT_HASH).
func isCommitHash(s string) bool {
	return len(s) == 40 && isLowerHex(s)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// validateRevision accepts a branch, tag, "refs/pr/N" or commit. A revision
// names the file refs/<revision> in the cache, so it must stay a clean
// relative path.
func validateRevision(revision string) error {
	if !isCleanRelativePath(revision) {
		return fmt.Errorf("revision %q is not a valid branch, tag or commit hash", revision)
	}
	return nil
}

// isCleanRelativePath reports a slash-separated relative path with no
// empty, "." or ".." segments, no backslashes and no control characters:
// safe to join under a cache folder.
func isCleanRelativePath(p string) bool {
	if p == "" || strings.ContainsAny(p, "\\\x00") || path.Clean(p) != p || strings.HasPrefix(p, "/") {
		return false
	}
	for _, segment := range strings.Split(p, "/") {
		if segment == "." || segment == ".." {
			return false
		}
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// allowPatternList is mlx-lm's DEFAULT_ALLOW_PATTERNS (mlx_lm/utils.py)
// followed by the other files we want: every *.safetensors (weights not
// named model*) and *.model (SentencePiece files with other names). A
// space-separated constant because the package keeps no variables.
const allowPatternList = "*.json model*.safetensors *.py tokenizer.model *.tiktoken tiktoken.model *.txt *.jsonl *.jinja *.safetensors *.model"

// wanted reports whether mlx-lm needs the repo file name. Like
// huggingface_hub's filter_repo_objects (fnmatch), '*' also matches '/', so
// "*.json" takes nested JSON files too.
func wanted(name string) bool {
	for _, pattern := range strings.Fields(allowPatternList) {
		if globMatch(pattern, name) {
			return true
		}
	}
	return false
}

// globMatch matches '*' (any run, '/' included) and '?' (one byte), the
// subset of fnmatch the allow patterns use.
func globMatch(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
