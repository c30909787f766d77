package samples

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/store"
	"cicdllm/ui/common"
)

// filterValues is an applied filter. The zero value shows every sample
// that is not deleted.
type filterValues struct {
	repoID   int64
	repoName string
	file     string // exact repository-relative path
	status   string // "" = every status but deleted
	min, max *float64
	edited   bool
	unrated  bool
}

func (f filterValues) active() bool { return f != (filterValues{}) }

// apply writes the filter into q.
func (f filterValues) apply(q *store.SampleQuery) {
	q.RepoID, q.FilePath = f.repoID, f.file
	q.Statuses = nil
	if f.status != "" {
		q.Statuses = []string{f.status}
	}
	q.MinScore, q.MaxScore = f.min, f.max
	q.OnlyEdited, q.OnlyUnrated = f.edited, f.unrated
}

// describe is the filter in a few words for the title line.
func (f filterValues) describe() string {
	var parts []string
	if f.repoName != "" {
		parts = append(parts, "repo "+shortRepo(f.repoName))
	}
	if f.file != "" {
		parts = append(parts, "file "+f.file)
	}
	if f.status != "" {
		parts = append(parts, f.status)
	}
	switch {
	case f.min != nil && f.max != nil:
		parts = append(parts, "score "+fmtScore(*f.min)+"–"+fmtScore(*f.max))
	case f.min != nil:
		parts = append(parts, "score ≥ "+fmtScore(*f.min))
	case f.max != nil:
		parts = append(parts, "score ≤ "+fmtScore(*f.max))
	}
	if f.edited {
		parts = append(parts, "edited")
	}
	if f.unrated {
		parts = append(parts, "unrated")
	}
	return strings.Join(parts, ", ")
}

func fmtScore(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// statusChoices are the status filter's values; "all" hides deleted
// samples, as every listing does unless asked.
var statusChoices = []string{"all", store.StatusActive, store.StatusPending, store.StatusStale, store.StatusDeleted}

// The form's fields, in tab order.
const (
	fieldRepo = iota
	fieldFile
	fieldStatus
	fieldMin
	fieldMax
	fieldEdited
	fieldUnrated
	fieldCount
)

// filterForm edits a filterValues. It is open while the Browser captures
// keys; enter applies, esc cancels.
type filterForm struct {
	focus      int
	repo, file textinput.Model
	min, max   textinput.Model
	status     int
	edited     bool
	unrated    bool
	repos      []store.Repo // nil until loaded
	reposErr   error
	pick       int // index into the repository matches
	err        string
	keys       browserKeys
}

// reposMsg carries the repository list for the filter form.
type reposMsg struct {
	repos []store.Repo
	err   error
}

func loadRepos(st *store.Store) tea.Cmd {
	return func() tea.Msg {
		repos, err := st.Repos(context.Background())
		return reposMsg{repos: repos, err: err}
	}
}

func newFilterForm(f filterValues, keys browserKeys) filterForm {
	form := filterForm{
		repo:    common.NewTextInput("any repository (type part of a name)"),
		file:    common.NewTextInput("any file (exact path)"),
		min:     common.NewTextInput("none"),
		max:     common.NewTextInput("none"),
		edited:  f.edited,
		unrated: f.unrated,
		keys:    keys,
	}
	form.repo.SetValue(common.OneLine(f.repoName))
	form.file.SetValue(f.file)
	if f.min != nil {
		form.min.SetValue(fmtScore(*f.min))
	}
	if f.max != nil {
		form.max.SetValue(fmtScore(*f.max))
	}
	for i, s := range statusChoices {
		if s == f.status {
			form.status = i
		}
	}
	form.focusField(fieldRepo)
	return form
}

func (f *filterForm) input(field int) *textinput.Model {
	switch field {
	case fieldRepo:
		return &f.repo
	case fieldFile:
		return &f.file
	case fieldMin:
		return &f.min
	case fieldMax:
		return &f.max
	}
	return nil
}

func (f *filterForm) focusField(field int) {
	for _, in := range []*textinput.Model{&f.repo, &f.file, &f.min, &f.max} {
		in.Blur()
	}
	f.focus = field
	if in := f.input(field); in != nil {
		in.Focus() // a steady cursor: no blink command to return
		in.CursorEnd()
	}
}

// matches returns the repositories whose name contains the repo field's
// text; an exact name comes first.
func (f filterForm) matches() []store.Repo {
	text := strings.ToLower(strings.TrimSpace(f.repo.Value()))
	if text == "" {
		return nil
	}
	var exact, partial []store.Repo
	for _, r := range f.repos {
		name := strings.ToLower(common.OneLine(r.Name)) // as the form shows it
		switch {
		case name == text:
			exact = append(exact, r)
		case strings.Contains(name, text):
			partial = append(partial, r)
		}
	}
	return append(exact, partial...)
}

// result validates the form into filter values.
func (f filterForm) result() (filterValues, error) {
	var v filterValues
	if text := strings.TrimSpace(f.repo.Value()); text != "" {
		if f.repos == nil {
			if f.reposErr != nil {
				return v, fmt.Errorf("cannot list repositories: %v", f.reposErr)
			}
			return v, fmt.Errorf("the repository list is still loading; try again")
		}
		m := f.matches()
		if len(m) == 0 {
			return v, fmt.Errorf("no repository name contains %q", text)
		}
		r := m[min(f.pick, len(m)-1)]
		v.repoID, v.repoName = r.ID, r.Name
	}
	v.file = strings.TrimSpace(f.file.Value())
	if f.status > 0 {
		v.status = statusChoices[f.status]
	}
	for _, s := range []struct {
		in   textinput.Model
		name string
		out  **float64
	}{{f.min, "minimum score", &v.min}, {f.max, "maximum score", &v.max}} {
		text := strings.TrimSpace(s.in.Value())
		if text == "" {
			continue
		}
		x, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return v, fmt.Errorf("the %s %q is not a number", s.name, text)
		}
		*s.out = &x
	}
	if v.min != nil && v.max != nil && *v.min > *v.max {
		return v, fmt.Errorf("the minimum score %s is above the maximum %s", fmtScore(*v.min), fmtScore(*v.max))
	}
	v.edited, v.unrated = f.edited, f.unrated
	return v, nil
}

// update handles a key; done reports enter (apply) or esc (cancel).
func (f filterForm) update(msg tea.KeyMsg) (form filterForm, apply, cancel bool) {
	switch {
	case msg.Type == tea.KeyEnter:
		return f, true, false
	case msg.Type == tea.KeyEsc:
		return f, false, true
	case key.Matches(msg, f.keys.FormNext):
		f.focusField((f.focus + 1) % fieldCount)
		return f, false, false
	case key.Matches(msg, f.keys.FormPrev):
		f.focusField((f.focus + fieldCount - 1) % fieldCount)
		return f, false, false
	}
	f.err = ""
	switch f.focus {
	case fieldStatus:
		switch msg.String() {
		case "left", "h":
			f.status = common.CycleIndex(f.status, -1, len(statusChoices))
		case "right", "l", " ":
			f.status = common.CycleIndex(f.status, 1, len(statusChoices))
		}
		return f, false, false
	case fieldEdited, fieldUnrated:
		switch msg.String() {
		case " ", "x", "left", "right", "h", "l":
			if f.focus == fieldEdited {
				f.edited = !f.edited
			} else {
				f.unrated = !f.unrated
			}
		}
		return f, false, false
	case fieldRepo:
		if key.Matches(msg, f.keys.FormPick) {
			n := len(f.matches())
			delta := 1
			if msg.String() == "ctrl+p" {
				delta = -1
			}
			f.pick = common.CycleIndex(f.pick, delta, n)
			return f, false, false
		}
		before := f.repo.Value()
		f.repo, _ = f.repo.Update(msg)
		if f.repo.Value() != before {
			f.pick = 0
		}
		return f, false, false
	}
	if in := f.input(f.focus); in != nil {
		*in, _ = in.Update(msg)
	}
	return f, false, false
}

// view renders the form, w columns wide.
func (f filterForm) view(st common.Styles, w int) []string {
	in := func(field int, m textinput.Model) string {
		m.Width = max(w-2-common.FormLabelWidth-1, 1)
		return m.View()
	}
	lines := []string{st.PaneTitle.Render("Filter samples") + st.Muted.Render("  enter applies · esc cancels · tab moves")}
	lines = append(lines, common.FormRow(st, "repository", in(fieldRepo, f.repo), f.focus == fieldRepo))
	if strings.TrimSpace(f.repo.Value()) != "" {
		var hint string
		switch m := f.matches(); {
		case f.repos == nil && f.reposErr != nil:
			hint = st.Error.Render("cannot list repositories: " + common.OneLine(f.reposErr.Error()))
		case f.repos == nil:
			hint = st.Muted.Render("loading repositories…")
		case len(m) == 0:
			hint = st.Warn.Render("no repository matches")
		default:
			hint = "→ " + common.OneLine(m[min(f.pick, len(m)-1)].Name)
			if len(m) > 1 {
				hint += st.Muted.Render(fmt.Sprintf("  (%d of %d, ctrl+n/ctrl+p)", min(f.pick, len(m)-1)+1, len(m)))
			}
		}
		lines = append(lines, common.FormIndent()+hint)
	}
	lines = append(lines,
		common.FormRow(st, "file", in(fieldFile, f.file), f.focus == fieldFile),
		common.FormRow(st, "status", common.Choice(statusChoices[f.status]), f.focus == fieldStatus),
		common.FormRow(st, "min score", in(fieldMin, f.min), f.focus == fieldMin),
		common.FormRow(st, "max score", in(fieldMax, f.max), f.focus == fieldMax),
		common.FormRow(st, "only edited", common.Checkbox(f.edited), f.focus == fieldEdited),
		common.FormRow(st, "only unrated", common.Checkbox(f.unrated), f.focus == fieldUnrated),
	)
	if f.err != "" {
		lines = append(lines, common.FormIndent()+st.Error.Render(f.err))
	}
	return lines
}

// focusLine is the index in view() of the focused field's line, so a
// short screen can scroll the form to keep it visible.
func (f filterForm) focusLine() int {
	line := 1 + f.focus
	if strings.TrimSpace(f.repo.Value()) != "" && f.focus > fieldRepo {
		line++
	}
	return line
}
