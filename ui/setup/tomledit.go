package setup

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// setLLMKeys returns src (a TOML document) with llm.backend, llm.base_url
// and llm.model set to the given values. Everything else stays byte for
// byte: comments, other keys and tables, blank lines, line endings. A key
// that exists keeps its spelling, spacing and trailing comment and only
// its value changes; a missing key goes right after the [llm] header; a
// document without an [llm] table gets one appended. Root-level dotted
// keys (llm.model = "...") are edited in place too, since a second [llm]
// table would then be invalid.
//
// It edits lines rather than re-encoding the document because an encoder
// would drop the comments that explain every key in a generated config.
// Inline tables (llm = { ... }) are not handled; LoadConfig rejects the
// duplicate that results, and the caller restores the previous file.
func setLLMKeys(src []byte, backend, baseURL, model string) []byte {
	return setTableKeys(src, "llm", []keyValue{{"backend", backend}, {"base_url", baseURL}, {"model", model}})
}

// keyValue is one key to set and its (string) value.
type keyValue struct{ key, value string }

// setTableKeys is setLLMKeys for any top-level table and string keys.
func setTableKeys(src []byte, table string, want []keyValue) []byte {
	text := string(src)
	nl := "\n"
	if strings.Contains(text, "\r\n") {
		nl = "\r\n"
	}

	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var (
		current  []string // the current table's key path; nil at the root
		header   = -1     // the [table] header line
		lastRoot = -1     // the last root line holding a table.* key
		found    = map[string]bool{}
		st       scanState
		out      = make([]string, 0, len(lines)+4)
	)
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		body := strings.TrimRight(line, "\r\n")
		if st.open() {
			st = st.scan(body, 0)
			out = append(out, line)
			continue
		}
		if path, ok := parseHeader(body); ok {
			current = path
			if len(path) == 1 && path[0] == table && !strings.HasPrefix(strings.TrimSpace(body), "[[") && header < 0 {
				header = len(out)
			}
			out = append(out, line)
			continue
		}
		key, valueAt, ok := parseKey(body)
		if !ok {
			out = append(out, line)
			continue
		}
		full := append(append([]string{}, current...), key...)
		name := ""
		if len(full) == 2 && full[0] == table {
			name = full[1]
		}
		if len(current) == 0 && len(key) > 1 && key[0] == table {
			lastRoot = len(out)
		}
		idx := -1
		for j, w := range want {
			if w.key == name && !found[name] {
				idx = j
			}
		}
		if idx < 0 {
			st = st.scan(body, valueAt)
			out = append(out, line)
			continue
		}
		found[name] = true
		// Replace the value, keeping what precedes it and what follows it
		// on its last line (spacing, a comment, the line ending).
		v := valueAt
		for v < len(body) && (body[v] == ' ' || body[v] == '\t') {
			v++
		}
		end, last := valueEnd(lines, i, v)
		lastBody := strings.TrimRight(lines[last], "\r\n")
		out = append(out, body[:v]+tomlString(want[idx].value)+lastBody[end:]+lines[last][len(lastBody):])
		i = last
	}

	var missing []string
	for _, w := range want {
		if !found[w.key] {
			missing = append(missing, w.key+" = "+tomlString(w.value)+nl)
		}
	}
	switch {
	case len(missing) == 0:
	case header >= 0:
		out = insertAfter(out, header, nl, missing)
	case lastRoot >= 0:
		for i := range missing {
			missing[i] = table + "." + missing[i]
		}
		out = insertAfter(out, lastRoot, nl, missing)
	default:
		if n := len(out); n > 0 {
			if !strings.HasSuffix(out[n-1], "\n") {
				out[n-1] += nl
			}
			if strings.TrimSpace(out[n-1]) != "" {
				out = append(out, nl)
			}
		}
		out = append(out, "["+table+"]"+nl)
		out = append(out, missing...)
	}
	return []byte(strings.Join(out, ""))
}

// insertAfter inserts add after out[at], first ending out[at] with a line
// break if it is the unterminated last line.
func insertAfter(out []string, at int, nl string, add []string) []string {
	if !strings.HasSuffix(out[at], "\n") {
		out[at] += nl
	}
	res := append([]string{}, out[:at+1]...)
	res = append(res, add...)
	return append(res, out[at+1:]...)
}

// valueEnd finds where the value starting at lines[i][v:] ends: the
// offset in its last line and that line's index (multi-line strings span
// lines).
func valueEnd(lines []string, i, v int) (end, last int) {
	body := strings.TrimRight(lines[i], "\r\n")
	rest := body[v:]
	for _, delim := range []string{`"""`, `'''`} {
		if !strings.HasPrefix(rest, delim) {
			continue
		}
		from := v + 3
		for j := i; j < len(lines); j++ {
			b := strings.TrimRight(lines[j], "\r\n")
			if k := closeMultiline(b, from, delim); k >= 0 {
				return k, j
			}
			from = 0
		}
		return len(strings.TrimRight(lines[len(lines)-1], "\r\n")), len(lines) - 1
	}
	switch {
	case strings.HasPrefix(rest, `"`):
		return v + 1 + skipBasic(rest[1:]), i
	case strings.HasPrefix(rest, `'`):
		if k := strings.IndexByte(rest[1:], '\''); k >= 0 {
			return v + k + 2, i
		}
		return len(body), i
	}
	end = len(body)
	if k := strings.IndexByte(rest, '#'); k >= 0 {
		end = v + k
	}
	return len(strings.TrimRight(body[:end], " \t")), i
}

// closeMultiline returns the offset just past the delimiter closing a
// multi-line string in s (searching from from), or -1.
func closeMultiline(s string, from int, delim string) int {
	for k := from; k+3 <= len(s); k++ {
		if delim == `"""` && s[k] == '\\' {
			k++
			continue
		}
		if s[k:k+3] == delim {
			// A closing delimiter may be followed by up to two more quotes
			// that belong to the content.
			end := k + 3
			for end < len(s) && end-k < 5 && s[end] == delim[0] {
				end++
			}
			return end
		}
	}
	return -1
}

// skipBasic returns the length of a basic string's rest after its opening
// quote, closing quote included (or all of s when it is unterminated).
func skipBasic(s string) int {
	for k := 0; k < len(s); k++ {
		switch s[k] {
		case '\\':
			k++
		case '"':
			return k + 1
		}
	}
	return len(s)
}

// scanState is what a value leaves open at the end of a line: a
// multi-line string, or arrays and inline tables. While something is open
// the next lines are not headers or keys.
type scanState struct {
	delim string // `"""` or `'''` inside a multi-line string
	depth int    // open [ and {
}

func (s scanState) open() bool { return s.delim != "" || s.depth > 0 }

// scan reads line from offset from and returns the state at its end.
func (s scanState) scan(line string, from int) scanState {
	for k := from; k < len(line); k++ {
		if s.delim != "" {
			if end := closeMultiline(line, k, s.delim); end >= 0 {
				k, s.delim = end-1, ""
				continue
			}
			return s
		}
		switch c := line[k]; c {
		case '#':
			return s
		case '"', '\'':
			if strings.HasPrefix(line[k:], strings.Repeat(string(c), 3)) {
				s.delim = strings.Repeat(string(c), 3)
				k += 2
				continue
			}
			if c == '"' {
				k += skipBasic(line[k+1:])
			} else if j := strings.IndexByte(line[k+1:], '\''); j >= 0 {
				k += j + 1
			} else {
				k = len(line)
			}
		case '[', '{':
			s.depth++
		case ']', '}':
			s.depth = max(0, s.depth-1)
		}
	}
	return s
}

// parseHeader recognises a table header, [a.b] or [[a.b]], with an
// optional trailing comment, and returns its key path.
func parseHeader(line string) ([]string, bool) {
	s := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(s, "[") {
		return nil, false
	}
	double := strings.HasPrefix(s, "[[")
	open := 1
	if double {
		open = 2
	}
	path, rest, ok := parseKeyPath(s[open:])
	if !ok {
		return nil, false
	}
	rest = strings.TrimLeft(rest, " \t")
	closing := strings.Repeat("]", open)
	if !strings.HasPrefix(rest, closing) {
		return nil, false
	}
	rest = strings.TrimLeft(rest[open:], " \t")
	if rest != "" && !strings.HasPrefix(rest, "#") {
		return nil, false
	}
	return path, true
}

// parseKey recognises `key = ` at the start of a line and returns the key
// path and the offset just past the '='.
func parseKey(line string) ([]string, int, bool) {
	path, rest, ok := parseKeyPath(line)
	if !ok {
		return nil, 0, false
	}
	trimmed := strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(trimmed, "=") {
		return nil, 0, false
	}
	return path, len(line) - len(trimmed) + 1, true
}

// parseKeyPath reads a possibly dotted key of bare and quoted parts.
func parseKeyPath(s string) (path []string, rest string, ok bool) {
	rest = s
	for {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return nil, "", false
		}
		var part string
		switch rest[0] {
		case '"':
			n := skipBasic(rest[1:])
			if n == 0 || rest[n] != '"' {
				return nil, "", false
			}
			part = unescapeBasic(rest[1:n])
			rest = rest[n+1:]
		case '\'':
			j := strings.IndexByte(rest[1:], '\'')
			if j < 0 {
				return nil, "", false
			}
			part, rest = rest[1:j+1], rest[j+2:]
		default:
			j := 0
			for j < len(rest) && isBare(rest[j]) {
				j++
			}
			if j == 0 {
				return nil, "", false
			}
			part, rest = rest[:j], rest[j:]
		}
		path = append(path, part)
		rest = strings.TrimLeft(rest, " \t")
		if !strings.HasPrefix(rest, ".") {
			return path, rest, true
		}
		rest = rest[1:]
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// unescapeBasic undoes the common escapes of a quoted key; keys with
// anything fancier are not ones this editor looks for.
func unescapeBasic(s string) string {
	return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(s)
}

// tomlString encodes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case utf8.RuneError:
			b.WriteString(`\uFFFD`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
