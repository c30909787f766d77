package common

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// Truncate cuts s (which may hold escape codes) to at most w display
// columns, ending with "…" when something was cut.
func Truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// OneLine flattens s to a single line: newlines and tabs become spaces and
// other control characters are shown as symbols (ControlPicture), so a
// preview never breaks a layout and an escape sequence in a file name is
// shown, never obeyed by the terminal.
func OneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t' || r == ' ':
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		case unicode.IsControl(r):
			b.WriteRune(ControlPicture(r))
			space = false
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " ")
}

// ControlPicture is the one-column symbol that stands for control
// character r on screen: ␛ for ESC, ␇ for BEL and so on (Unicode's
// Control Pictures), ␡ for DEL, and � for the C1 controls, which have
// none. Text from repositories and models goes to the terminal through
// it, so what it holds is seen rather than executed.
func ControlPicture(r rune) rune {
	switch {
	case r >= 0 && r < 0x20:
		return 0x2400 + r
	case r == 0x7f:
		return '\u2421'
	case unicode.IsControl(r):
		return '\ufffd'
	}
	return r
}

// Fit makes s exactly w columns wide and h lines tall: longer lines are
// truncated, missing lines and columns padded with spaces. Every screen's
// View ends with Fit, so nothing ever draws past the terminal.
func Fit(s string, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		l = Truncate(l, w)
		if pad := w - ansi.StringWidth(l); pad > 0 {
			l += strings.Repeat(" ", pad)
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// FitAround fits lines into w×h like Fit, scrolled so that line anchor
// (the focused field of a form) stays in view when they do not all fit.
func FitAround(lines []string, anchor, w, h int) string {
	start := 0
	if len(lines) > h {
		start = max(0, min(len(lines)-h, anchor-h/2))
	}
	return Fit(strings.Join(lines[start:], "\n"), w, h)
}

// Wrap wraps plain text to w columns, breaking long words, and keeps
// existing line breaks.
func Wrap(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Wrap(s, w, "")
}

// Highlight marks every case-insensitive occurrence of each word in plain
// text with style. Words shorter than two characters are ignored (they
// would light up everything).
func Highlight(text string, words []string, style lipgloss.Style) string {
	lower := strings.ToLower(text)
	if len(lower) != len(text) {
		return text // case folding changed byte offsets; better plain than wrong
	}
	mark := make([]bool, len(text))
	any := false
	for _, w := range words {
		w = strings.ToLower(strings.Trim(w, `"*()`))
		if len(w) < 2 {
			continue
		}
		for i := 0; ; {
			j := strings.Index(lower[i:], w)
			if j < 0 {
				break
			}
			for k := i + j; k < i+j+len(w) && k < len(mark); k++ {
				mark[k] = true
			}
			any = true
			i += j + len(w)
		}
	}
	if !any {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		j := i
		for j < len(text) && mark[j] == mark[i] {
			j++
		}
		if mark[i] {
			b.WriteString(style.Render(text[i:j]))
		} else {
			b.WriteString(text[i:j])
		}
		i = j
	}
	return b.String()
}

// SearchWords splits a search box's text into the words FTS matched.
func SearchWords(q string) []string {
	return strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' })
}
