package samples

import (
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"cicdllm/ui/common"
)

func TestParseInline(t *testing.T) {
	for in, want := range map[string][]span{
		"plain":                     {{text: "plain"}},
		"a **bold** b":              {{text: "a "}, {text: "bold", kind: spanBold}, {text: " b"}},
		"call `f(x)` now":           {{text: "call "}, {text: "f(x)", kind: spanCode}, {text: " now"}},
		"__also bold__":             {{text: "also bold", kind: spanBold}},
		"unclosed **bold and `code": {{text: "unclosed **bold and `code"}},
		"`a**b**`":                  {{text: "a**b**", kind: spanCode}},
		"****":                      {{text: "****"}},
	} {
		if got := parseInline(in); !slices.Equal(got, want) {
			t.Errorf("parseInline(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestRenderMarkdown(t *testing.T) {
	st := common.DefaultStyles()
	text := "# Title here\n\nSome **bold** text with `code` and a verylongwordthatdoesnotfitanywhere.\n" +
		"- first item that is long enough to wrap onto a second line\n  - nested\n" +
		"3. third\n> quoted text\n---\n" +
		"```python\ndef f():\n\treturn 1  # a comment long enough to be cut into pieces\n```\n" +
		"~~~\nplain fence\n~~~\n" +
		"ctrl\x1b[31mchars\r\n" +
		"```\nunclosed"
	lines := renderMarkdown(text, 24, st, nil)
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > 24 {
			t.Errorf("line %d is %d wide: %q", i, w, l)
		}
		if strings.ContainsRune(ansi.Strip(l), '\x1b') {
			t.Errorf("line %d keeps a control character: %q", i, l)
		}
	}
	got := ansi.Strip(strings.Join(lines, "\n"))
	for _, want := range []string{
		"Title here", "Some bold text with", "code", "verylongwordthatdoesnot", "• first item that is",
		"  long enough", "  • nested", "3. third", "│ quoted text", strings.Repeat("─", 24),
		"╭─ python", "│ def f():", "│     return 1  # a", "╰─", "╭─ code", "│ plain fence", "ctrl␛[31mchars", "│ unclosed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendering lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "**") || strings.Contains(got, "```") || strings.Contains(got, "# Title") {
		t.Errorf("markup left in the text:\n%s", got)
	}
	if renderMarkdown("x", 0, st, nil) != nil {
		t.Error("zero width")
	}
	// Even a width of one column terminates and stays within it.
	for _, l := range renderMarkdown("wide 世界 words", 1, st, nil) {
		if ansi.StringWidth(l) > 2 {
			t.Errorf("line %q at width 1", l)
		}
	}
}

func TestCleanLine(t *testing.T) {
	for in, want := range map[string]string{
		"a\tb":       "a   b",
		"\tx":        "    x",
		"abcd\te":    "abcd    e",
		"bell\a!":    "bell␇!",
		"no control": "no control",
	} {
		if got := cleanLine(in); got != want {
			t.Errorf("cleanLine(%q) = %q, want %q", in, got, want)
		}
	}
}
