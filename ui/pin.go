//go:build pin

// This file is never compiled. It keeps the design card's UI and git
// packages pinned in go.mod (go mod tidy honours every build tag) until the
// issues that use them land: the terminal UI (issue 7) and scrape (issue 4)
// each delete their import here, and this file with the last one.
package ui

import (
	_ "github.com/charmbracelet/bubbles/list"
	_ "github.com/charmbracelet/bubbletea"
	_ "github.com/charmbracelet/lipgloss"
	_ "github.com/go-git/go-git/v5"
)
