// Package samples holds the two curation screens of the terminal UI: the
// Browser, a keyset-paged list of every sample with search, filters, sort
// and bulk actions, and the Detail view of one sample with its source
// lines, inline and external editing, rating and deletion.
//
// Both are plain child components of the root model. They never touch the
// database in Update or View: every store call runs in a tea.Cmd and comes
// back as a message, and every change is committed at once, then announced
// with common.SampleChangedMsg so every screen reloads.
package samples

import "github.com/charmbracelet/bubbles/key"

// browserKeys are the Browser's own keys. The shared ones (movement,
// enter, esc) come from common.KeyMap; q ? : tab are global and never
// bound here.
type browserKeys struct {
	Search, Filter, Sort         key.Binding
	Delete, Undo, Rate           key.Binding
	BulkDelete, BulkRate, Clear  key.Binding
	FormNext, FormPrev, FormPick key.Binding
}

func newBrowserKeys() browserKeys {
	return browserKeys{
		Search:     key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Filter:     key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "filter")),
		Sort:       key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "sort")),
		Delete:     key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete")),
		Undo:       key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "undo")),
		Rate:       key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "0"), key.WithHelp("1-5/0", "rate/clear")),
		BulkDelete: key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "delete all shown")),
		BulkRate:   key.NewBinding(key.WithKeys("R"), key.WithHelp("R 1-5", "rate all shown")),
		Clear:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear search/filter")),
		FormNext:   key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab/↓", "next field")),
		FormPrev:   key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "previous field")),
		FormPick:   key.NewBinding(key.WithKeys("ctrl+n", "ctrl+p"), key.WithHelp("ctrl+n/p", "next/previous repository")),
	}
}

// detailKeys are the Detail view's own keys.
type detailKeys struct {
	EditAnswer, EditQuestion key.Binding
	ExtAnswer, ExtQuestion   key.Binding
	Undo, Delete, Rate       key.Binding
	Next, Prev, Back         key.Binding
	Save, Cancel             key.Binding
}

func newDetailKeys() detailKeys {
	return detailKeys{
		EditAnswer:   key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "edit answer")),
		EditQuestion: key.NewBinding(key.WithKeys("I"), key.WithHelp("I", "edit question")),
		ExtAnswer:    key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "answer in $EDITOR")),
		ExtQuestion:  key.NewBinding(key.WithKeys("O"), key.WithHelp("O", "question in $EDITOR")),
		Undo:         key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "undo")),
		Delete:       key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete")),
		Rate:         key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "0"), key.WithHelp("1-5/0", "rate/clear")),
		Next:         key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next sample")),
		Prev:         key.NewBinding(key.WithKeys("["), key.WithHelp("[", "previous sample")),
		Back:         key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back to list")),
		Save:         key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save")),
		Cancel:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// rating returns the rating a digit key stands for.
func rating(k string) (int, bool) {
	if len(k) == 1 && k[0] >= '0' && k[0] <= '5' {
		return int(k[0] - '0'), true
	}
	return 0, false
}
