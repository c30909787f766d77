package common

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/x/ansi"
)

// FormLabelWidth is the width of a form's label column, so every form lines
// its values up in the same place.
const FormLabelWidth = 14

// FormRow renders one form field: a cursor mark and the label when the
// field has focus (the mark keeps focus visible without colour), then the
// value in the column after the labels.
func FormRow(st Styles, label, value string, focused bool) string {
	mark, style := "  ", st.Label
	if focused {
		mark, style = "▸ ", st.Selected
	}
	pad := strings.Repeat(" ", max(1, FormLabelWidth-ansi.StringWidth(label)))
	return mark + style.Render(label) + pad + value
}

// FormIndent is the blank space before a form's value column, for lines
// that continue a field (hints, errors, list items).
func FormIndent() string { return strings.Repeat(" ", 2+FormLabelWidth) }

// Choice renders the value of a field changed with ←/→.
func Choice(value string) string { return "‹ " + value + " ›" }

// Checkbox renders a toggle.
func Checkbox(on bool) string {
	if on {
		return "[x]"
	}
	return "[ ]"
}

// CycleIndex moves i by delta through n choices, wrapping at both ends.
func CycleIndex(i, delta, n int) int {
	if n <= 0 {
		return 0
	}
	return ((i+delta)%n + n) % n
}

// NewTextInput returns a one-line input with no prompt and a steady
// cursor: a blinking one would wake the program twice a second for as long
// as a form is open, which matters on a laptop running on battery.
func NewTextInput(placeholder string) textinput.Model {
	ti := textinput.New()
	ti.Prompt = ""
	ti.Placeholder = placeholder
	ti.Cursor.SetMode(cursor.CursorStatic)
	return ti
}

// HumanBytes formats a byte count with a binary unit: "512 B", "1.5 KiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Thousands formats n with comma separators: 1234567 → "1,234,567".
func Thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Plural formats a count with the singular or plural noun: "1 record",
// "2,000 records".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Thousands(n) + " " + many
}

// ProgressBar draws a bar w columns wide filled to frac (0 to 1). It is
// drawn with block characters, so it reads the same without colour.
func ProgressBar(st Styles, w int, frac float64) string {
	if w <= 0 {
		return ""
	}
	frac = math.Max(0, math.Min(1, frac))
	full := int(math.Round(frac * float64(w)))
	return st.Header.Render(strings.Repeat("█", full)) + st.Muted.Render(strings.Repeat("░", w-full))
}
