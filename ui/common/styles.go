package common

import "github.com/charmbracelet/lipgloss"

// Styles holds every style of the UI in one place. Every style must stay
// readable without colour (NO_COLOR, or a terminal without colours):
// emphasis also comes from bold, reverse or a marker character, never
// from colour alone.
type Styles struct {
	App         lipgloss.Style // the whole screen
	Header      lipgloss.Style // the title line
	DemoBadge   lipgloss.Style // "SIMULATED LLM — demo data"
	Pane        lipgloss.Style // a pane's border
	PaneFocused lipgloss.Style
	PaneTitle   lipgloss.Style
	Selected    lipgloss.Style // the cursor row of a list
	Muted       lipgloss.Style // secondary text
	Error       lipgloss.Style
	Warn        lipgloss.Style
	OK          lipgloss.Style
	Key         lipgloss.Style // a key in the footer or help
	KeyDesc     lipgloss.Style
	StatusBar   lipgloss.Style
	Match       lipgloss.Style // search matches
	Code        lipgloss.Style // code blocks
	LineNo      lipgloss.Style // source line numbers
	Span        lipgloss.Style // the source lines a sample came from
	Dialog      lipgloss.Style // a modal box (help, palette, confirm)
	Input       lipgloss.Style
	Label       lipgloss.Style
}

// DefaultStyles returns the UI's styles. lipgloss downgrades colours to
// the terminal's profile (none under NO_COLOR), so only the non-colour
// attributes are guaranteed.
func DefaultStyles() Styles {
	accent := lipgloss.AdaptiveColor{Light: "#5A3FC0", Dark: "#A78BFA"}
	muted := lipgloss.AdaptiveColor{Light: "#6B7280", Dark: "#9CA3AF"}
	red := lipgloss.AdaptiveColor{Light: "#B91C1C", Dark: "#F87171"}
	yellow := lipgloss.AdaptiveColor{Light: "#A16207", Dark: "#FACC15"}
	green := lipgloss.AdaptiveColor{Light: "#15803D", Dark: "#4ADE80"}
	border := lipgloss.AdaptiveColor{Light: "#D1D5DB", Dark: "#4B5563"}
	return Styles{
		App:         lipgloss.NewStyle(),
		Header:      lipgloss.NewStyle().Bold(true).Foreground(accent),
		DemoBadge:   lipgloss.NewStyle().Bold(true).Reverse(true).Foreground(yellow),
		Pane:        lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(border),
		PaneFocused: lipgloss.NewStyle().Border(lipgloss.ThickBorder()).BorderForeground(accent),
		PaneTitle:   lipgloss.NewStyle().Bold(true),
		Selected:    lipgloss.NewStyle().Reverse(true),
		Muted:       lipgloss.NewStyle().Foreground(muted),
		Error:       lipgloss.NewStyle().Bold(true).Foreground(red),
		Warn:        lipgloss.NewStyle().Foreground(yellow),
		OK:          lipgloss.NewStyle().Foreground(green),
		Key:         lipgloss.NewStyle().Bold(true).Foreground(accent),
		KeyDesc:     lipgloss.NewStyle().Foreground(muted),
		StatusBar:   lipgloss.NewStyle(),
		Match:       lipgloss.NewStyle().Bold(true).Underline(true).Foreground(yellow),
		Code:        lipgloss.NewStyle().Foreground(green),
		LineNo:      lipgloss.NewStyle().Foreground(muted),
		Span:        lipgloss.NewStyle().Bold(true),
		Dialog:      lipgloss.NewStyle().Border(lipgloss.DoubleBorder()).BorderForeground(accent).Padding(0, 1),
		Input:       lipgloss.NewStyle().Underline(true),
		Label:       lipgloss.NewStyle().Bold(true),
	}
}
