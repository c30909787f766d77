package quality

import (
	"strings"
	"unicode"
)

// identifiers returns the identifiers an answer's prose names: every
// identifier written alone in backticks, and code-like tokens elsewhere
// (CamelCase, snake_case, dotted, name()). Well-known words, standard
// packages and file names are left out: they are legitimate without being in
// the chunk.
func (c *Checker) identifiers(prose string) []string {
	var out []string
	seen := map[string]bool{}
	keep := func(id string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, m := range c.inline.FindAllStringSubmatch(prose, -1) {
		content := c.stripDecoration(m[1])
		if isIdentifierPath(content) {
			// Alone in backticks the author says "this is code", so even a
			// plain lowercase word is checked.
			if id, ok := candidate(content, true); ok {
				keep(id)
			}
			continue
		}
		for _, t := range c.token.FindAllString(content, -1) {
			if id, ok := candidate(t, false); ok {
				keep(id)
			}
		}
	}
	rest := c.inline.ReplaceAllString(prose, " ")
	for _, t := range c.token.FindAllString(rest, -1) {
		if id, ok := candidate(t, false); ok {
			keep(id)
		}
	}
	return out
}

// stripDecoration reduces backticked text such as `*Store.Get[K](ctx, k)` to
// the identifier it names (Store.Get).
func (c *Checker) stripDecoration(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimLeft(s, "*&")
	s = strings.TrimPrefix(s, "...")
	s = strings.TrimRight(s, ":;,")
	for range 3 { // Foo[T](x) needs both strips; bound the loop anyway
		before := s
		s = c.callArgs.ReplaceAllString(s, "")
		s = c.generic.ReplaceAllString(s, "")
		if s == before {
			break
		}
	}
	return s
}

// isIdentifierPath reports whether s is one identifier or a dotted path of
// them.
func isIdentifierPath(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if !isIdentifier(part) {
			return false
		}
	}
	return true
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r)) {
			continue
		}
		return false
	}
	return true
}

// candidate decides whether token t (possibly dotted, possibly ending in
// "()") should be looked up in the source, returning it without "()".
// explicit is true for a token written alone in backticks.
func candidate(t string, explicit bool) (string, bool) {
	id, call := strings.CutSuffix(t, "()")
	parts := strings.Split(id, ".")
	last := parts[len(parts)-1]
	if len(parts) > 1 {
		if allShort(parts) || isFileExtension(strings.ToLower(last)) || isStdPackage(parts[0]) {
			return "", false // e.g / i.e, main.go, example.com, fmt.Println
		}
	}
	lower := strings.ToLower(last)
	if len(last) < 2 {
		return "", false
	}
	// Store.Get is a method worth checking even though "get" alone is an
	// HTTP verb, so the word lists only apply to undotted tokens.
	if len(parts) == 1 && (isWellKnown(lower) || isStopWord(lower)) {
		return "", false
	}
	if explicit || call || len(parts) > 1 || isSnake(last) || isCamel(last) {
		return id, true
	}
	return "", false
}

func allShort(parts []string) bool {
	for _, p := range parts {
		if len(p) > 1 {
			return false
		}
	}
	return true
}

// isSnake reports an identifier joined by underscores (not just _private).
func isSnake(s string) bool {
	return strings.Contains(strings.Trim(s, "_"), "_")
}

// isCamel reports an identifier with a capital after its first letter and at
// least one lower-case letter, so acronyms like JSON are not code-like.
func isCamel(s string) bool {
	hasLower, innerUpper := false, false
	for i, r := range s {
		if unicode.IsLower(r) {
			hasLower = true
		} else if i > 0 && unicode.IsUpper(r) {
			innerUpper = true
		}
	}
	return hasLower && innerUpper
}

// splitIdentifier splits ParseHTTPToken / parse_http_token into its words.
func splitIdentifier(s string) []string {
	var parts []string
	for _, field := range strings.FieldsFunc(s, func(r rune) bool { return r == '_' }) {
		runes := []rune(field)
		start := 0
		for i := 1; i < len(runes); i++ {
			lowerToUpper := unicode.IsLower(runes[i-1]) && unicode.IsUpper(runes[i])
			acronymEnd := i+1 < len(runes) && unicode.IsUpper(runes[i-1]) && unicode.IsUpper(runes[i]) && unicode.IsLower(runes[i+1])
			if lowerToUpper || acronymEnd {
				parts = append(parts, string(runes[start:i]))
				start = i
			}
		}
		parts = append(parts, string(runes[start:]))
	}
	return parts
}

// vocabulary is the set of words of the text an answer may name.
type vocabulary struct {
	exact map[string]bool
	lower map[string]bool
}

func (c *Checker) vocabulary(text string) vocabulary {
	v := vocabulary{exact: map[string]bool{}, lower: map[string]bool{}}
	for _, w := range words(text) {
		v.exact[w] = true
		v.lower[strings.ToLower(w)] = true
	}
	return v
}

// has reports whether id, or the last part of a dotted id (obj.Method names
// Method even when the receiver is spelt differently), occurs as a whole
// word. CamelCase must match exactly since Go exports by case; other words
// may differ in case (SQL columns, env vars in prose).
func (v vocabulary) has(id string) bool {
	last := id[strings.LastIndexByte(id, '.')+1:]
	if isCamel(last) {
		return v.exact[last]
	}
	return v.lower[strings.ToLower(last)]
}

func isFileExtension(ext string) bool {
	switch ext {
	case "go", "mod", "sum", "py", "js", "ts", "tsx", "jsx", "json", "yaml", "yml", "toml", "md", "txt",
		"sh", "rs", "c", "h", "cc", "cpp", "hpp", "java", "kt", "rb", "php", "html", "css", "sql", "xml",
		"csv", "log", "lock", "cfg", "ini", "env", "proto", "zip", "gz", "tar", "exe", "so", "dll",
		"com", "org", "net", "io", "dev":
		return true
	}
	return false
}

// isStdPackage reports well-known standard-library package names: a
// reference to fmt.Errorf is correct without the chunk calling it.
func isStdPackage(pkg string) bool {
	switch pkg {
	case "fmt", "os", "io", "ioutil", "bufio", "bytes", "strings", "strconv", "errors", "context", "time",
		"sync", "atomic", "http", "json", "xml", "filepath", "path", "sort", "slices", "maps", "log", "slog",
		"math", "rand", "regexp", "unicode", "utf8", "exec", "signal", "net", "url", "sql", "hex", "base64",
		"sha256", "sha1", "md5", "tls", "template", "flag", "reflect", "runtime", "testing", "embed", "fs",
		"heap", "list", "iter", "cmp", "syscall", "unsafe", "httptest", "csv", "gzip", "zip", "tar",
		"sys", "re", "itertools", "collections", "typing", "subprocess", "asyncio", "logging", "pathlib",
		"console", "Math", "JSON", "Object", "Array", "Promise", "process", "std":
		return true
	}
	return false
}

// isWellKnown reports lower-cased words that are code-like but never a
// hallucination: keywords, builtins, acronyms, HTTP verbs, product names.
func isWellKnown(w string) bool {
	switch w {
	// Go keywords and predeclared identifiers.
	case "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for",
		"func", "go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select",
		"struct", "switch", "type", "var",
		"bool", "byte", "complex64", "complex128", "error", "float32", "float64", "int", "int8", "int16",
		"int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32", "uint64", "uintptr", "any",
		"comparable", "iota", "true", "false", "nil", "append", "cap", "clear", "close", "complex", "copy",
		"delete", "imag", "len", "make", "max", "min", "new", "panic", "print", "println", "real", "recover",
		// Other languages' common keywords and literals.
		"null", "none", "undefined", "self", "this", "def", "class", "let", "fn", "async", "await", "yield",
		"lambda", "try", "catch", "except", "finally", "throw", "raise", "void", "public", "private",
		"static", "final", "nan", "main", "init", "todo", "fixme",
		// Acronyms and formats.
		"json", "yaml", "yml", "toml", "xml", "csv", "html", "css", "http", "https", "api", "url", "uri",
		"id", "ids", "uuid", "sql", "cli", "ui", "io", "os", "cpu", "gpu", "ram", "tcp", "udp", "dns", "tls",
		"ssl", "ssh", "utf", "utf8", "ascii", "regex", "stdin", "stdout", "stderr", "env", "llm", "ai",
		// HTTP verbs.
		"get", "post", "put", "patch", "head", "options", "trace", "connect",
		// Product and language names written in CamelCase.
		"github", "gitlab", "javascript", "typescript", "postgresql", "mysql", "sqlite", "mongodb",
		"oauth", "graphql", "macos", "ios", "iphone", "youtube", "linkedin", "openai", "chatgpt",
		"golang", "python", "rust", "java", "docker", "kubernetes", "redis", "nodejs", "devops",
		"powershell", "vscode", "goroutine", "goroutines", "mutex", "stdlib", "localhost", "foo", "bar", "baz":
		return true
	}
	return false
}

// isStopWord reports lower-cased English function words.
func isStopWord(w string) bool {
	switch w {
	case "a", "an", "the", "and", "or", "but", "if", "then", "else", "of", "to", "in", "on", "at", "by",
		"for", "with", "from", "into", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its",
		"this", "that", "these", "those", "what", "which", "who", "whom", "whose", "when", "where", "why",
		"how", "do", "does", "did", "done", "can", "could", "should", "would", "will", "shall", "may",
		"might", "must", "not", "no", "yes", "so", "than", "too", "very", "there", "here", "their", "they",
		"them", "he", "she", "we", "you", "your", "our", "my", "me", "i", "us", "has", "have", "had",
		"about", "after", "before", "over", "under", "between", "each", "every", "all", "any", "some",
		"such", "only", "also", "just", "other", "out", "up", "down", "via", "per", "while", "because",
		"happens", "happen", "used", "use", "uses", "using":
		return true
	}
	return false
}

// isCommonWord reports generic programming words that say nothing about
// which code a question is about.
func isCommonWord(w string) bool {
	switch w {
	case "function", "functions", "method", "methods", "code", "file", "files", "class", "type", "types",
		"variable", "variables", "value", "values", "return", "returns", "returned", "purpose", "work",
		"works", "role", "handle", "handles", "handled", "implement", "implemented", "implementation",
		"behavior", "behaviour", "called", "call", "calls", "snippet", "chunk", "module", "package",
		"program", "logic", "example", "explain", "describe", "mean", "means", "need", "needed", "why",
		"instead", "case", "cases", "input", "output", "result", "results", "parameter", "parameters",
		"argument", "arguments", "field", "fields", "struct", "object", "data", "main", "point":
		return true
	}
	return false
}
