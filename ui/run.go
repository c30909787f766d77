package ui

import (
	"context"
	"errors"
	"fmt"
	"io"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// Run shows the UI on in/out until the user quits or ctx ends. The
// terminal is restored however it ends, a panic in Update or View
// included (Bubble Tea recovers it and Run returns it as an error).
// NO_COLOR turns colours off and keeps bold, underline and reverse video.
func Run(ctx context.Context, m Model, in io.Reader, out io.Writer) error {
	m = m.forTerminal(lipgloss.DefaultRenderer())
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		err = nil // SIGTERM or the parent's cancel: a normal way to end
	}
	if errors.Is(err, tea.ErrProgramPanic) {
		return fmt.Errorf("the terminal UI crashed (the database is consistent; details in the log): %w", err)
	}
	return err
}

// forTerminal readies m for the terminal r draws for: NO_COLOR.
func (m Model) forTerminal(r *lipgloss.Renderer) Model {
	m.noColor = honourNoColor(r)
	return m
}
