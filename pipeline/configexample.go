package pipeline

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ExampleTOML renders config.example.toml: every section and key with its
// documentation and default value. `cicdllm config init` writes it, and a
// test keeps the committed config.example.toml identical to it.
func ExampleTOML() []byte {
	var b strings.Builder
	b.WriteString(`# cicdllm configuration.
#
# Copy to cicdllm.toml in your workspace (or run "cicdllm config init") and
# change what you need; every key is optional and shows its default.
# Precedence: built-in defaults < this file < CICDLLM_<SECTION>_<KEY>
# environment variables (e.g. CICDLLM_LLM_BASE_URL) < command-line flags.
# Durations are strings with a unit ("30s", "5m"); sizes accept "5MiB",
# "512KB", "2GB" (1024-based) or a number of bytes. Secrets never go in this
# file: *_env keys name the environment variable that holds them.
`)
	defaults := DefaultConfig()
	section := ""
	for _, f := range configFields() {
		if f.Section != section {
			section = f.Section
			fmt.Fprintf(&b, "\n# %s\n[%s]\n", f.SectionDoc, section)
		}
		for _, line := range wrap(f.Doc, 76) {
			b.WriteString("# " + line + "\n")
		}
		fmt.Fprintf(&b, "%s = %s\n", f.Name, f.format(&defaults))
	}
	return []byte(b.String())
}

// ShowTOML renders the effective configuration as valid TOML with each
// value's source in a trailing comment, for `cicdllm config show`.
func (l *Loaded) ShowTOML() string {
	var b strings.Builder
	b.WriteString("# Effective cicdllm configuration\n")
	if l.File != "" {
		fmt.Fprintf(&b, "# config file: %s\n", l.File)
	} else {
		b.WriteString("# config file: none found (built-in defaults; `cicdllm config init` writes one)\n")
	}
	b.WriteString("# precedence: default < file < environment (CICDLLM_*) < flag\n")
	settings := l.Settings()
	width := 0
	for _, s := range settings {
		width = max(width, utf8.RuneCountInString(s.Key[strings.IndexByte(s.Key, '.')+1:])+3+utf8.RuneCountInString(s.Value))
	}
	width = min(width, 60)
	section := ""
	for _, s := range settings {
		sec, name, _ := strings.Cut(s.Key, ".")
		if sec != section {
			section = sec
			fmt.Fprintf(&b, "\n[%s]\n", sec)
		}
		line := name + " = " + s.Value
		pad := max(1, width-utf8.RuneCountInString(line)+2)
		from := string(s.Source)
		if s.Origin != "" {
			from += " " + s.Origin
		}
		fmt.Fprintf(&b, "%s%s# %s\n", line, strings.Repeat(" ", pad), from)
	}
	return b.String()
}

// wrap breaks text into lines of at most width runes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
