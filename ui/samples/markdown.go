package samples

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"cicdllm/ui/common"
)

// A small Markdown renderer for answers: enough of the syntax LLMs write
// (headings, lists, quotes, rules, **bold**, `code` and fenced blocks) to
// read an answer as text, not as markup. Every structure stays visible
// without colour: bullets, a gutter on code and quotes, labels on fences.
// It returns lines already wrapped to the width, so a view only slices.

var (
	headingRe = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	bulletRe  = regexp.MustCompile(`^(\s*)[-*+]\s+(.*)$`)
	orderedRe = regexp.MustCompile(`^(\s*)(\d{1,9}[.)])\s+(.*)$`)
	quoteRe   = regexp.MustCompile(`^\s*>\s?(.*)$`)
	ruleRe    = regexp.MustCompile(`^\s*(-{3,}|\*{3,}|_{3,})\s*$`)
	fenceRe   = regexp.MustCompile("^\\s*(`{3,}|~{3,})\\s*([^`\\s]*)")
)

// tabWidth is where tabs stop in code and source lines.
const tabWidth = 4

// cleanLine expands tabs, drops carriage returns and shows other control
// characters as symbols (common.ControlPicture): sent raw, they would move
// the terminal's cursor and break the layout.
func cleanLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		switch {
		case r == '\t':
			n := tabWidth - col%tabWidth
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case r == '\r':
		case unicode.IsControl(r):
			b.WriteRune(common.ControlPicture(r))
			col++
		default:
			b.WriteRune(r)
			col += ansi.StringWidth(string(r))
		}
	}
	return b.String()
}

// spanKind is the inline style of a run of text.
type spanKind int

const (
	spanPlain spanKind = iota
	spanBold
	spanCode
)

type span struct {
	text string
	kind spanKind
}

// parseInline splits a line into plain, **bold** and `code` runs. An
// unclosed marker is kept as text.
func parseInline(s string) []span {
	var out []span
	var plain strings.Builder
	flush := func() {
		if plain.Len() > 0 {
			out = append(out, span{text: plain.String()})
			plain.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch {
		case s[i] == '`':
			if j := strings.IndexByte(s[i+1:], '`'); j >= 0 {
				flush()
				out = append(out, span{text: s[i+1 : i+1+j], kind: spanCode})
				i += j + 2
				continue
			}
		case strings.HasPrefix(s[i:], "**") || strings.HasPrefix(s[i:], "__"):
			marker := s[i : i+2]
			if j := strings.Index(s[i+2:], marker); j > 0 {
				flush()
				out = append(out, span{text: s[i+2 : i+2+j], kind: spanBold})
				i += j + 4
				continue
			}
		}
		plain.WriteByte(s[i])
		i++
	}
	flush()
	return out
}

// token is one word of a wrapped paragraph.
type token struct {
	text  string
	kind  spanKind
	space bool // a space separates it from the previous token
}

func tokenize(spans []span) []token {
	var toks []token
	space := false
	for _, sp := range spans {
		for i, word := range strings.Split(sp.text, " ") {
			if i > 0 {
				space = true
			}
			if word == "" {
				continue
			}
			toks = append(toks, token{text: word, kind: sp.kind, space: space && len(toks) > 0})
			space = false
		}
	}
	return toks
}

// mdRenderer renders with one set of styles and search words.
type mdRenderer struct {
	st    common.Styles
	words []string
}

func (r mdRenderer) style(kind spanKind, text string) string {
	switch kind {
	case spanBold:
		return r.st.Label.Render(text)
	case spanCode:
		return r.st.Code.Render(text)
	}
	return common.Highlight(text, r.words, r.st.Match)
}

// wrap lays tokens out in lines of w columns: the first line starts with
// first, the others with rest (a hanging indent); both are plain text of
// the same width. A word wider than a line is cut.
func (r mdRenderer) wrap(toks []token, w int, first, rest string, allBold bool) []string {
	indent := ansi.StringWidth(first)
	avail := max(w-indent, 1)
	var lines []string
	var cur strings.Builder
	cur.WriteString(first)
	used := 0
	flush := func() {
		lines = append(lines, cur.String())
		cur.Reset()
		cur.WriteString(rest)
		used = 0
	}
	for _, t := range toks {
		kind := t.kind
		if allBold && kind == spanPlain {
			kind = spanBold
		}
		text, tw := t.text, ansi.StringWidth(t.text)
		gap := 0
		if t.space && used > 0 {
			gap = 1
		}
		if used > 0 && used+gap+tw > avail {
			flush()
			gap = 0
		}
		// A word longer than a whole line is cut where the line ends.
		for tw > avail-used-gap {
			head := ansi.Truncate(text, avail-used-gap, "")
			if head == "" {
				if used > 0 {
					flush()
					gap = 0
					continue
				}
				// Not even one (wide) character fits: draw it anyway and
				// let the view cut the line.
				_, size := utf8.DecodeRuneInString(text)
				head = text[:size]
			}
			cur.WriteString(strings.Repeat(" ", gap) + r.style(kind, head))
			flush()
			gap = 0
			text = text[len(head):]
			tw = ansi.StringWidth(text)
		}
		if text == "" {
			continue
		}
		cur.WriteString(strings.Repeat(" ", gap) + r.style(kind, text))
		used += gap + tw
	}
	if used > 0 || len(lines) == 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// renderMarkdown renders text to lines at most w columns wide.
func renderMarkdown(text string, w int, st common.Styles, words []string) []string {
	if w <= 0 {
		return nil
	}
	r := mdRenderer{st: st, words: words}
	var out []string
	fence := "" // the open fence's marker, "" outside code
	for _, raw := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line := cleanLine(raw)
		if fence != "" {
			if t := strings.TrimSpace(line); strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
				fence = ""
				out = append(out, st.Muted.Render("╰─"))
				continue
			}
			out = append(out, r.codeLines(line, w)...)
			continue
		}
		if m := fenceRe.FindStringSubmatch(line); m != nil {
			fence = m[1]
			label := m[2]
			if label == "" {
				label = "code"
			}
			out = append(out, common.Truncate(st.Muted.Render("╭─ ")+st.Label.Render(label), w))
			continue
		}
		switch {
		case strings.TrimSpace(line) == "":
			out = append(out, "")
		case ruleRe.MatchString(line):
			out = append(out, st.Muted.Render(strings.Repeat("─", w)))
		case headingRe.MatchString(line):
			m := headingRe.FindStringSubmatch(line)
			out = append(out, r.wrap(tokenize(parseInline(m[2])), w, "", "", true)...)
		case quoteRe.MatchString(line):
			m := quoteRe.FindStringSubmatch(line)
			bar := st.Muted.Render("│ ")
			out = append(out, r.wrapStyled(m[1], w, bar, bar)...)
		case bulletRe.MatchString(line):
			m := bulletRe.FindStringSubmatch(line)
			indent := strings.Repeat(" ", min(len(m[1]), 8))
			out = append(out, r.wrapStyled(m[2], w, indent+"• ", indent+"  ")...)
		case orderedRe.MatchString(line):
			m := orderedRe.FindStringSubmatch(line)
			indent := strings.Repeat(" ", min(len(m[1]), 8))
			num := m[2] + " "
			out = append(out, r.wrapStyled(m[3], w, indent+num, indent+strings.Repeat(" ", len(num)))...)
		default:
			out = append(out, r.wrap(tokenize(parseInline(strings.TrimSpace(line))), w, "", "", false)...)
		}
	}
	return out
}

// wrapStyled wraps inline Markdown with prefixes that may carry styles:
// widths are measured on the prefix as drawn.
func (r mdRenderer) wrapStyled(text string, w int, first, rest string) []string {
	return r.wrap(tokenize(parseInline(text)), w, first, rest, false)
}

// codeLines renders one line of a fenced block: verbatim, cut into
// pieces of the width rather than reflowed, behind a gutter.
func (r mdRenderer) codeLines(line string, w int) []string {
	gutter := r.st.Muted.Render("│ ")
	cw := max(w-2, 1)
	if line == "" {
		return []string{gutter}
	}
	var out []string
	for _, piece := range strings.Split(ansi.Hardwrap(line, cw, true), "\n") {
		out = append(out, gutter+r.st.Code.Render(piece))
	}
	return out
}
