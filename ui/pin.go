//go:build pin

// This file is never compiled. It keeps the design card's UI packages
// pinned in go.mod (go mod tidy honours every build tag) until the terminal
// UI (issue 7) imports them; that issue deletes this file.
package ui

import (
	_ "github.com/charmbracelet/bubbles/list"
	_ "github.com/charmbracelet/bubbletea"
	_ "github.com/charmbracelet/lipgloss"
)
