package ui

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"cicdllm/ui/common"
)

// honourNoColor applies NO_COLOR (https://no-color.org), or CLICOLOR=0,
// to the renderer the styles draw with, the way the README promises: no
// colour, but bold, faint, underline and reverse video stay, so focus and
// selection remain visible. lipgloss alone would drop every attribute
// with the colours (its no-colour profile is plain text), so the renderer
// keeps the 16-colour profile, whose attributes the terminal understands,
// and the root strips the colours from every frame (cleanFrame). A
// terminal lipgloss would draw plain anyway (TERM=dumb, a TERM it does not
// know) stays plain. It reports whether colours must be stripped.
func honourNoColor(r *lipgloss.Renderer) bool {
	o := r.Output()
	if !o.EnvNoColor() {
		return false
	}
	if o.ColorProfile() != termenv.Ascii { // the terminal's own, NO_COLOR aside
		r.SetColorProfile(termenv.ANSI)
	}
	return true
}

// cleanFrame is the last step of View, a backstop behind the screens' own
// care (common.OneLine and friends show a control character of the data
// as a symbol): the UI itself only draws SGR sequences (CSI … m), so any
// other escape sequence or control character left in a frame came raw
// from data (a file name, a model's answer) and is dropped rather than
// moving the cursor, setting the title or writing the clipboard. Dropped,
// not shown: the frame was measured without it (ansi.StringWidth counts
// it as zero columns), so showing it would push the line past the
// terminal's edge. With noColor, SGR colour parameters are removed and
// the attributes kept.
func cleanFrame(s string, noColor bool) string {
	if !needsCleaning(s, noColor) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	var state byte
	for len(s) > 0 {
		seq, width, n, next := ansi.DecodeSequence(s, state, nil)
		if n <= 0 { // cannot happen; never loop forever on a parser surprise
			seq, n = s[:1], 1
		}
		s, state = s[n:], next
		switch {
		case width > 0 && !utf8.ValidString(seq): // as many � as it was measured
			b.WriteString(strings.Repeat(string(utf8.RuneError), width))
		case width > 0 || seq == "\n":
			b.WriteString(seq)
		case seq[0] == 0x1b:
			if end, ok := sgrEnd(seq, 0); ok && end == len(seq) {
				if noColor {
					seq = dropColors(seq)
				}
				b.WriteString(seq)
			}
		case isControlSeq(seq):
		default:
			b.WriteString(seq) // zero-width text: a lone combining mark, a joiner
		}
	}
	return b.String()
}

// isControlSeq: a zero-width piece of a frame that is a control character
// (C0, DEL, C1 raw or UTF-8 encoded) or a stray byte, not text.
func isControlSeq(seq string) bool {
	c := seq[0]
	if c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xc0 {
		return true
	}
	r, size := utf8.DecodeRuneInString(seq)
	return r == utf8.RuneError && size <= 1 || r >= 0x80 && r <= 0x9f
}

// needsCleaning: the common case, a frame with nothing to change, costs
// one scan and no allocation.
func needsCleaning(s string, noColor bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == 0x1b:
			end, ok := sgrEnd(s, i)
			if !ok || noColor && hasColor(s[i+2:end-1]) {
				return true
			}
			i = end
		case c == '\n':
			i++
		case c < 0x20 || c == 0x7f:
			return true
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r >= 0x80 && r <= 0x9f {
				return true
			}
			i += size
		}
	}
	return false
}

// sgrEnd reports whether s[i:] starts with an SGR sequence (ESC [ params
// m, params being digits, ';' and ':') and where it ends.
func sgrEnd(s string, i int) (int, bool) {
	if i+1 >= len(s) || s[i] != 0x1b || s[i+1] != '[' {
		return 0, false
	}
	j := i + 2
	for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';' || s[j] == ':') {
		j++
	}
	if j < len(s) && s[j] == 'm' {
		return j + 1, true
	}
	return 0, false
}

// hasColor reports whether SGR parameters p set a colour (see
// dropColors), without allocating.
func hasColor(p string) bool {
	for p != "" {
		param, rest, _ := strings.Cut(p, ";")
		p = rest
		head, _, _ := strings.Cut(param, ":")
		if n, err := strconv.Atoi(head); err == nil && common.IsColourSGR(n) {
			return true
		}
	}
	return false
}

// dropColors removes the colour parameters from one SGR sequence: 30–37,
// 38;5;n and 38;2;r;g;b (and their ':' forms), 39, 40–47, 48;…, 49,
// 58;…, 59, 90–97 and 100–107. A sequence left with no parameter is
// dropped whole (an empty SGR would mean "reset everything").
func dropColors(seq string) string {
	params := seq[2 : len(seq)-1]
	if params == "" {
		return seq
	}
	_, kept := common.SplitSGR(params)
	if len(kept) == 0 {
		return ""
	}
	return "\x1b[" + strings.Join(kept, ";") + "m"
}
