// Package common holds what every screen of the terminal UI shares: the
// context (store, workspace, configuration, styles, keys), the messages
// screens send each other through the root model, and small rendering
// helpers that measure text by display width.
package common

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/pipeline"
	"cicdllm/store"
)

// Context is shared, read-only state handed to every screen instead of
// globals. Screens never change it; the root model owns it.
type Context struct {
	Store  *store.Store
	WS     pipeline.Workspace
	Config pipeline.Config
	// ConfigPath is the file settings are saved to (cicdllm.toml in the
	// workspace unless --config named another).
	ConfigPath string
	Styles     Styles
	Keys       KeyMap
	// Now is the clock; tests fix it so golden views do not change.
	Now func() time.Time
	// Demo marks a workspace made by `cicdllm demo` (simulated LLM).
	Demo bool
	// Session runs scrape, prepare and retry in the background. Its
	// control methods (Pause, Resume, Skip, Stop) only take a mutex and
	// may be called from Update; starting jobs and Probe belong in Cmds.
	Session *pipeline.Session
	// LogPath is this run's log file (failures pane: "open its log lines").
	LogPath string
}

// TickMsg arrives ten times a second with a copy of the session's state;
// the root broadcasts it to every screen.
type TickMsg struct {
	Now  time.Time
	View pipeline.SessionView
}

// SessionEventMsg carries one must-see event of the session's job; the
// root broadcasts it to every screen.
type SessionEventMsg struct{ Event pipeline.SessionEvent }

// Screen names a top-level screen of the UI.
type Screen int

// The screens, in tab order. Help and the palette are overlays, not screens.
const (
	ScreenDashboard Screen = iota
	ScreenSamples
	ScreenSample // one sample: question, answer, source lines
	ScreenExport
	ScreenSetup
)

// Component is the shape of every child screen: a plain struct the root
// model owns, sized by the root and fed the messages meant for it.
// Children return themselves (value semantics) from Update.
//
// Capturing reports that the child is taking text input (a search box, an
// editor, a form field), so the root must pass every key through instead
// of treating q, ?, :, tab as global commands.

// ---- messages screens send to the root ----------------------------------

// SwitchMsg asks the root to show a screen.
type SwitchMsg struct{ Screen Screen }

// OpenSampleMsg asks the root to open the sample view on a sample.
// Query, when set, is the search the sample was found with (for
// highlighting) and Order lists the ids around it for ]/[ navigation.
type OpenSampleMsg struct {
	ID    int64
	Query store.SampleQuery
}

// SampleChangedMsg tells every screen that a sample was edited, deleted,
// restored or rated, so lists and counts reload.
type SampleChangedMsg struct{ ID int64 }

// FlashMsg shows a short message in the status bar.
type FlashMsg struct {
	Text  string
	Error bool
}

// ErrMsg reports a failed background action; the root shows it in the
// status bar in the error style.
type ErrMsg struct{ Err error }

// Flash returns a command that shows text in the status bar.
func Flash(text string) tea.Cmd {
	return func() tea.Msg { return FlashMsg{Text: text} }
}

// Fail returns a command that shows err in the status bar.
func Fail(err error) tea.Cmd {
	return func() tea.Msg { return ErrMsg{Err: err} }
}

// ConfigSavedMsg reports that the setup screen wrote the configuration;
// the root reloads it.
type ConfigSavedMsg struct {
	Path   string
	Config pipeline.Config
}

// ExportDoneMsg reports a finished export (from the export dialog).
type ExportDoneMsg struct {
	Output  string
	Records int
}
