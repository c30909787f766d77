package ui

import (
	"sort"
	"strings"
	"unicode"

	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/ui/common"
)

// action is one entry of the command palette: running it shows its
// screen and replays its key there, so the palette can never drift from
// what the keys do.
type action struct {
	title  string
	key    string // the key it replays, as tea.KeyMsg.String() spells it; "" only shows the screen
	screen common.Screen
	global bool // handled by the root (help, quit, screens)
}

func actions() []action {
	d, s, x := common.ScreenDashboard, common.ScreenSamples, common.ScreenSample
	return []action{
		{title: "Scrape: clone or update the repositories", key: "s", screen: d},
		{title: "Prepare: generate questions and answers", key: "p", screen: d},
		{title: "Pause or resume generation", key: " ", screen: d},
		{title: "Skip the current file", key: "n", screen: d},
		{title: "Retry failed files", key: "r", screen: d},
		{title: "Stop gracefully", key: "S", screen: d},
		{title: "Export a dataset", key: "e", global: true},
		{title: "Search samples", key: "/", global: true},
		{title: "Browse samples", screen: s},
		{title: "Dashboard", screen: d},
		{title: "Setup: repositories and server", screen: common.ScreenSetup},
		{title: "Filter samples", key: "f", screen: s},
		{title: "Sort samples (newest, oldest, score, file)", key: "o", screen: s},
		{title: "Delete all matching samples", key: "D", screen: s},
		{title: "Edit the answer", key: "i", screen: x},
		{title: "Edit the question", key: "I", screen: x},
		{title: "Edit the answer in $EDITOR", key: "o", screen: x},
		{title: "Delete the sample", key: "d", screen: x},
		{title: "Undo the last edit or delete", key: "u", screen: x},
		{title: "Quality overview: flags, duplicates, question types, languages", key: "Q", global: true},
		{title: "Help: every key", key: "?", global: true},
		{title: "Quit", key: "q", global: true},
	}
}

// palette is the ":" / ctrl+p overlay: type to filter, enter runs.
type palette struct {
	open    bool
	query   string
	cursor  int
	matches []action
}

func (p palette) reset() palette {
	p.open, p.query, p.cursor = true, "", 0
	p.matches = filterActions(actions(), "")
	return p
}

// update handles a key while the palette is open; it returns the chosen
// action once enter is pressed.
func (p palette) update(msg tea.KeyMsg) (palette, *action) {
	switch msg.Type {
	case tea.KeyEsc, tea.KeyCtrlP:
		p.open = false
	case tea.KeyEnter:
		p.open = false
		if p.cursor < len(p.matches) {
			a := p.matches[p.cursor]
			return p, &a
		}
	case tea.KeyUp, tea.KeyCtrlK:
		p.cursor = max(p.cursor-1, 0)
	case tea.KeyDown, tea.KeyCtrlJ:
		p.cursor = min(p.cursor+1, max(len(p.matches)-1, 0))
	case tea.KeyBackspace:
		if r := []rune(p.query); len(r) > 0 {
			p.query = string(r[:len(r)-1])
		}
	case tea.KeyRunes, tea.KeySpace:
		p.query += string(msg.Runes)
	}
	p.matches = filterActions(actions(), p.query)
	p.cursor = min(p.cursor, max(len(p.matches)-1, 0))
	return p, nil
}

func (p palette) view(st common.Styles, w, h int) string {
	var b strings.Builder
	b.WriteString(st.Label.Render("Run a command") + "\n")
	b.WriteString("> " + p.query + "█\n")
	for i, a := range p.matches {
		if i >= h-4 {
			break
		}
		line := "  " + a.title
		if i == p.cursor {
			line = st.Selected.Render("› " + a.title)
		}
		b.WriteString(line + "\n")
	}
	if len(p.matches) == 0 {
		b.WriteString(st.Muted.Render("  no command matches") + "\n")
	}
	return box(st, b.String(), w, h)
}

// filterActions ranks actions by a fuzzy match of query: every query
// letter must appear in order; matches at word starts and in a row score
// higher, as in editors' command palettes.
func filterActions(all []action, query string) []action {
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" {
		return all
	}
	type scored struct {
		a     action
		score int
	}
	var out []scored
	for _, a := range all {
		if s, ok := fuzzyScore(strings.ToLower(a.title), q); ok {
			out = append(out, scored{a, s})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].score > out[j].score })
	res := make([]action, len(out))
	for i, s := range out {
		res[i] = s.a
	}
	return res
}

func fuzzyScore(text, q string) (int, bool) {
	tr, qr := []rune(text), []rune(q)
	score, qi, prev := 0, 0, -2
	for i := 0; i < len(tr) && qi < len(qr); i++ {
		if tr[i] != qr[qi] {
			continue
		}
		score++
		if i == prev+1 {
			score += 3
		}
		if i == 0 || !unicode.IsLetter(tr[i-1]) {
			score += 5
		}
		prev = i
		qi++
	}
	return score, qi == len(qr)
}
