// Package exportui is the export dialog: a form that picks a format, an
// output path and the samples to write, shows how many records that
// selects, runs the export with a progress bar and reports what it wrote.
//
// The dialog builds its job with pipeline.NewExportJob, like the CLI's
// export command, so both write the same bytes for the same choices.
package exportui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/pipeline"
	"cicdllm/pipeline/export"
	"cicdllm/store"
	"cicdllm/ui/common"
)

// field is a row of the form, in display order.
type field int

const (
	fieldFormat field = iota
	fieldOutput
	fieldStatus
	fieldMinScore
	fieldRepos
	fieldSplit
	fieldDedup
	fieldForce
	fieldExport
	numFields
)

// text reports whether the field is a text input, which takes every
// printable key (so j, k, space and q type instead of navigating).
func (f field) text() bool { return f == fieldOutput || f == fieldSplit }

// The sample status filters the dialog offers.
const (
	statusActive = iota
	statusWithStale
	statusNotDeleted
	numStatuses
)

func statusLabel(i int) string {
	switch i {
	case statusWithStale:
		return "active + stale"
	case statusNotDeleted:
		return "everything but deleted"
	}
	return "active"
}

func statusList(i int) []string {
	switch i {
	case statusWithStale:
		return []string{store.StatusActive, store.StatusStale}
	case statusNotDeleted:
		return []string{store.StatusActive, store.StatusStale, store.StatusPending}
	}
	return []string{store.StatusActive}
}

func dedupModes() []string { return []string{"off", "exact", "near"} }

const (
	scoreStep = 0.5
	maxScore  = 5
	// countDelay lets a burst of filter changes (holding → on the score)
	// end before the database is asked.
	countDelay = 300 * time.Millisecond
	// tickEvery is the progress bar's refresh rate while an export runs.
	tickEvery = 100 * time.Millisecond
)

type keyMap struct {
	Next, Prev, Change, Right, Toggle, All, Start, Cancel, Back key.Binding
	TextNext, TextPrev, TextDone                                key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Next:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "next field")),
		Prev:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "previous field")),
		Change:   key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/→", "change")),
		Right:    key.NewBinding(key.WithKeys("right", "l")),
		Toggle:   key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "toggle")),
		All:      key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "all/none")),
		Start:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "export")),
		Cancel:   key.NewBinding(key.WithKeys("esc", "ctrl+c"), key.WithHelp("esc", "cancel the export")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		TextNext: key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab/↓", "next field")),
		TextPrev: key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "previous field")),
		TextDone: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "done")),
	}
}

// Model is the export dialog.
type Model struct {
	ctx           *common.Context
	keys          keyMap
	width, height int

	formats    []string
	format     int
	output     textinput.Model
	outputAuto string // the default the output holds until the user edits it
	status     int
	minScore   float64
	repos      []store.Repo
	reposReady bool
	reposErr   string
	// excluded holds the repositories the user unticked; empty exports
	// every repository, including ones scraped after the dialog opened.
	excluded   map[int64]bool
	repoCursor int
	split      textinput.Model
	splitAuto  string
	splitErr   string
	dedup      int
	force      bool
	focus      field

	countSeq   int // numbers count requests; only the latest one's answer is shown
	counting   bool
	count      int
	countKnown bool
	countErr   string
	countDelay time.Duration

	running   bool
	runSeq    int
	cancel    context.CancelFunc
	cancelled bool
	read      *atomic.Int64 // samples read, written by the export's goroutine
	total     int
	runOutput string
	barWidth  int
	result    *outcome
	err       string // the last attempt's error, one line
}

// outcome is a finished export.
type outcome struct {
	res    export.Result
	output string
	format string
}

type (
	reposMsg struct {
		repos []store.Repo
		err   error
	}
	countDelayMsg struct{ seq int }
	countMsg      struct {
		seq int
		n   int
		err error
	}
	tickMsg struct{ seq int }
	doneMsg struct {
		seq    int
		res    export.Result
		output string
		format string
		err    error
	}
)

// New returns the dialog; Open fills it.
func New(ctx *common.Context) Model {
	m := Model{
		ctx:        ctx,
		keys:       newKeyMap(),
		formats:    export.Names(),
		output:     common.NewTextInput("(a path, relative to the workspace)"),
		split:      common.NewTextInput("(empty: one file) e.g. train=0.9,test=0.1"),
		countDelay: countDelay,
	}
	m.reset()
	return m
}

// reset puts the form back to the configuration's defaults.
func (m *Model) reset() {
	c := m.ctx.Config.Export
	m.format = max(0, slices.Index(m.formats, strings.ToLower(c.Template)))
	m.outputAuto = m.defaultOutput()
	m.output.SetValue(m.outputAuto)
	m.status = statusActive
	m.minScore = math.Max(0, math.Min(maxScore, c.MinScore))
	m.excluded = nil
	m.repoCursor = 0
	m.splitAuto = m.defaultSplit()
	m.split.SetValue(m.splitAuto)
	m.validateSplit()
	m.dedup = max(0, slices.Index(dedupModes(), c.Dedup))
	m.force = false
	m.focus = fieldFormat
	m.output.Blur()
	m.split.Blur()
	m.result, m.err = nil, ""
	m.countKnown, m.countErr = false, ""
}

// Open resets the form to the configuration's defaults and loads the
// repositories and the record count. An export in progress is kept.
func (m Model) Open() (Model, tea.Cmd) {
	if m.running {
		return m, nil
	}
	m.reset()
	m.reposReady, m.reposErr = false, ""
	m.countSeq++
	m.counting = true
	return m, tea.Batch(m.loadRepos(), m.countCmd(m.countSeq))
}

// SetSize sets the area View fills.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	valueW := max(1, w-2-common.FormLabelWidth-1)
	m.output.Width, m.split.Width = valueW, valueW
	m.barWidth = max(4, min(60, w-30))
}

// Capturing reports that keys must reach the dialog: a text field has
// focus, or an export runs (esc and ctrl+c cancel it).
func (m Model) Capturing() bool { return m.running || m.focus.text() }

// Running reports an export in progress.
func (m Model) Running() bool { return m.running }

// KeyHelp lists the keys that do something now.
func (m Model) KeyHelp() []key.Binding {
	k := m.keys
	switch {
	case m.running:
		return []key.Binding{k.Cancel}
	case m.focus.text():
		return []key.Binding{k.TextNext, k.TextPrev, k.TextDone, k.Back}
	}
	out := []key.Binding{k.Next, k.Prev}
	switch m.focus {
	case fieldFormat, fieldStatus, fieldMinScore, fieldDedup:
		out = append(out, k.Change)
	case fieldRepos:
		out = append(out, k.Toggle, k.All)
	case fieldForce:
		out = append(out, k.Toggle)
	case fieldExport:
		out = append(out, k.Start)
	}
	return append(out, k.Back)
}

// Update handles keys and the dialog's own messages.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		if m.running {
			if key.Matches(msg, m.keys.Cancel) && !m.cancelled {
				m.cancelled = true
				m.cancel()
			}
			return m, nil
		}
		return m.formKey(msg)
	case reposMsg:
		m.reposReady = true
		m.repos, m.reposErr = msg.repos, ""
		if msg.err != nil {
			m.reposErr = "cannot list the repositories: " + common.OneLine(msg.err.Error())
		}
		m.repoCursor = min(m.repoCursor, max(0, len(m.repos)-1))
	case countDelayMsg:
		if msg.seq == m.countSeq {
			return m, m.countCmd(msg.seq)
		}
	case countMsg:
		if msg.seq == m.countSeq {
			m.counting = false
			m.count, m.countKnown, m.countErr = msg.n, msg.err == nil, ""
			if msg.err != nil {
				m.countErr = "cannot count the samples: " + common.OneLine(msg.err.Error())
			}
		}
	case tickMsg:
		if m.running && msg.seq == m.runSeq {
			return m, m.tick()
		}
	case doneMsg:
		if msg.seq == m.runSeq && m.running {
			return m.finish(msg)
		}
	}
	return m, nil
}

func (m Model) formKey(msg tea.KeyMsg) (Model, tea.Cmd) {
	k := m.keys
	if key.Matches(msg, k.Back) {
		return m, func() tea.Msg { return common.SwitchMsg{Screen: common.ScreenDashboard} }
	}
	if m.focus.text() {
		switch {
		case key.Matches(msg, k.TextNext), key.Matches(msg, k.TextDone):
			return m.move(1), nil
		case key.Matches(msg, k.TextPrev):
			return m.move(-1), nil
		}
		var cmd tea.Cmd
		if m.focus == fieldOutput {
			m.output, cmd = m.output.Update(msg)
			m.err = ""
		} else {
			m.split, cmd = m.split.Update(msg)
			m.validateSplit()
		}
		return m, cmd
	}
	switch {
	case key.Matches(msg, k.Next):
		if m.focus == fieldRepos && m.repoCursor < len(m.repos)-1 {
			m.repoCursor++
			return m, nil
		}
		return m.move(1), nil
	case key.Matches(msg, k.Prev):
		if m.focus == fieldRepos && m.repoCursor > 0 {
			m.repoCursor--
			return m, nil
		}
		return m.move(-1), nil
	case key.Matches(msg, m.ctx.Keys.Top) && m.focus == fieldRepos:
		m.repoCursor = 0
	case key.Matches(msg, m.ctx.Keys.Bottom) && m.focus == fieldRepos:
		m.repoCursor = max(0, len(m.repos)-1)
	case key.Matches(msg, k.Change):
		return m.change(-1)
	case key.Matches(msg, k.Right):
		return m.change(1)
	case key.Matches(msg, k.All) && m.focus == fieldRepos:
		return m.toggleAll()
	case key.Matches(msg, k.Toggle), key.Matches(msg, k.Start):
		switch m.focus {
		case fieldExport:
			return m.start()
		case fieldRepos:
			return m.toggleRepo()
		default:
			return m.change(1)
		}
	}
	return m, nil
}

// move focuses the field delta rows away, stopping at the first and last.
func (m Model) move(delta int) Model {
	from := m.focus
	m.focus = field(max(0, min(int(numFields)-1, int(m.focus)+delta)))
	if m.focus == from {
		return m
	}
	m.output.Blur()
	m.split.Blur()
	switch m.focus {
	case fieldOutput:
		m.output.Focus()
		m.output.CursorEnd()
	case fieldSplit:
		m.split.Focus()
		m.split.CursorEnd()
	case fieldRepos:
		// Arriving from below starts at the bottom of the list, so ↑ walks
		// back through it in order.
		m.repoCursor = 0
		if delta < 0 {
			m.repoCursor = max(0, len(m.repos)-1)
		}
	}
	return m
}

// change steps the focused choice by delta.
func (m Model) change(delta int) (Model, tea.Cmd) {
	switch m.focus {
	case fieldFormat:
		m.setFormat(common.CycleIndex(m.format, delta, len(m.formats)))
	case fieldStatus:
		m.status = common.CycleIndex(m.status, delta, numStatuses)
		return m.recount()
	case fieldMinScore:
		v := math.Round((m.minScore+float64(delta)*scoreStep)/scoreStep) * scoreStep
		if v < 0 || v > maxScore {
			return m, nil
		}
		m.minScore = v
		return m.recount()
	case fieldDedup:
		m.dedup = common.CycleIndex(m.dedup, delta, len(dedupModes()))
	case fieldForce:
		m.force = !m.force
		if m.force && strings.Contains(m.err, "already exists") {
			m.err = ""
		}
	}
	return m, nil
}

// setFormat switches the format and moves the output and split fields to
// the new format's defaults unless the user has typed their own.
func (m *Model) setFormat(i int) {
	m.format = i
	if m.output.Value() == m.outputAuto {
		m.outputAuto = m.defaultOutput()
		m.output.SetValue(m.outputAuto)
	} else {
		m.outputAuto = m.defaultOutput()
	}
	if m.split.Value() == m.splitAuto {
		m.splitAuto = m.defaultSplit()
		m.split.SetValue(m.splitAuto)
		m.validateSplit()
	} else {
		m.splitAuto = m.defaultSplit()
	}
}

func (m Model) toggleRepo() (Model, tea.Cmd) {
	if len(m.repos) == 0 {
		return m, nil
	}
	id := m.repos[m.repoCursor].ID
	m.excluded = maps.Clone(m.excluded)
	if m.excluded == nil {
		m.excluded = map[int64]bool{}
	}
	if m.excluded[id] {
		delete(m.excluded, id)
	} else {
		m.excluded[id] = true
	}
	return m.recount()
}

// toggleAll selects every repository, or none when all are selected.
func (m Model) toggleAll() (Model, tea.Cmd) {
	if len(m.repos) == 0 {
		return m, nil
	}
	if len(m.excluded) > 0 {
		m.excluded = nil
	} else {
		m.excluded = make(map[int64]bool, len(m.repos))
		for _, r := range m.repos {
			m.excluded[r.ID] = true
		}
	}
	return m.recount()
}

// noRepos reports that the user unticked every repository.
func (m Model) noRepos() bool {
	if len(m.excluded) == 0 {
		return false
	}
	for _, r := range m.repos {
		if !m.excluded[r.ID] {
			return false
		}
	}
	return true
}

// repoIDs is the repository filter: nil for all.
func (m Model) repoIDs() []int64 {
	if len(m.excluded) == 0 {
		return nil
	}
	ids := []int64{}
	for _, r := range m.repos {
		if !m.excluded[r.ID] {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func (m *Model) validateSplit() {
	m.splitErr = ""
	if v := strings.TrimSpace(m.split.Value()); v != "" {
		if _, err := export.ParseSplits(v); err != nil {
			m.splitErr = err.Error()
		}
	}
}

func (m Model) formatName() string { return m.formats[m.format] }

func (m Model) currentFormat() *export.Format {
	ft, _ := export.Lookup(m.formatName())
	return ft
}

// defaultOutput is exports/<format>.<ext>, or exports/<format> for the
// formats that write a directory; relative to the workspace.
func (m Model) defaultOutput() string {
	ft := m.currentFormat()
	if ft.Dir {
		return filepath.Join("exports", ft.Name)
	}
	return filepath.Join("exports", ft.Name+filepath.Ext(ft.DataFile("train")))
}

func (m Model) defaultSplit() string {
	if s := m.ctx.Config.Export.Split; s != "" {
		return s
	}
	if m.formatName() == "mlx-lm" {
		return pipeline.MLXDefaultSplit
	}
	return ""
}

// outputPath resolves the output field against the workspace.
func (m Model) outputPath() string {
	v := strings.TrimSpace(m.output.Value())
	if v == "" || filepath.IsAbs(v) {
		return v
	}
	return filepath.Join(m.ctx.WS.Dir, v)
}

// spec is the form as an export request.
func (m Model) spec() pipeline.ExportSpec {
	split := strings.TrimSpace(m.split.Value())
	if split == "" {
		split = "none" // an emptied field means one file, whatever the config says
	}
	minScore := m.minScore
	if minScore == 0 {
		minScore = -1 // "any", even when the config sets a minimum
	}
	return pipeline.ExportSpec{
		Template: m.formatName(), Output: m.outputPath(), Force: m.force,
		Statuses: statusList(m.status), MinScore: minScore, RepoIDs: m.repoIDs(),
		Dedup: dedupModes()[m.dedup], Split: split,
	}
}

// query is the selection the form describes, for the count; it matches
// the query NewExportJob builds from spec.
func (m Model) query() store.ExportQuery {
	q := store.ExportQuery{Statuses: statusList(m.status), RepoIDs: m.repoIDs()}
	if m.minScore > 0 {
		v := m.minScore
		q.MinScore = &v
	}
	return q
}

func (m Model) loadRepos() tea.Cmd {
	st := m.ctx.Store
	return func() tea.Msg {
		if st == nil {
			return reposMsg{err: errors.New("no database is open")}
		}
		repos, err := st.Repos(context.Background())
		return reposMsg{repos: repos, err: err}
	}
}

// recount asks for a new count after a pause, so a burst of changes costs
// one query.
func (m Model) recount() (Model, tea.Cmd) {
	m.countSeq++
	m.counting = true
	if m.countDelay <= 0 {
		return m, m.countCmd(m.countSeq)
	}
	seq := m.countSeq
	return m, tea.Tick(m.countDelay, func(time.Time) tea.Msg { return countDelayMsg{seq: seq} })
}

func (m Model) countCmd(seq int) tea.Cmd {
	st, q := m.ctx.Store, m.query()
	if len(q.RepoIDs) == 0 && q.RepoIDs != nil {
		return func() tea.Msg { return countMsg{seq: seq} } // no repository ticked: nothing to count
	}
	return func() tea.Msg {
		if st == nil {
			return countMsg{seq: seq, err: errors.New("no database is open")}
		}
		n, err := pipeline.CountExport(context.Background(), st, q)
		return countMsg{seq: seq, n: n, err: err}
	}
}

func (m Model) tick() tea.Cmd {
	seq := m.runSeq
	return tea.Tick(tickEvery, func(time.Time) tea.Msg { return tickMsg{seq: seq} })
}

// start checks the form and runs the export in a command.
func (m Model) start() (Model, tea.Cmd) {
	m.err, m.result = "", nil
	switch {
	case m.splitErr != "":
		m.err, m.focus = m.splitErr, fieldSplit
		return m.refocus(), nil
	case strings.TrimSpace(m.output.Value()) == "":
		m.err, m.focus = "enter the path of the output file or directory", fieldOutput
		return m.refocus(), nil
	case m.noRepos():
		m.err, m.focus = "tick at least one repository (space), or press a to tick them all", fieldRepos
		return m, nil
	}
	job, err := pipeline.NewExportJob(m.ctx.Config, m.ctx.Store, m.spec())
	if err != nil {
		m.err = common.OneLine(err.Error())
		return m, nil
	}
	if m.ctx.Store == nil {
		m.err = "no database is open"
		return m, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	read := new(atomic.Int64)
	job.Progress = func(n int) { read.Store(int64(n)) }
	m.running, m.cancelled = true, false
	m.runSeq++
	m.cancel, m.read = cancel, read
	m.total = 0
	if m.countKnown && !m.counting {
		m.total = m.count
	}
	m.runOutput = job.Output
	seq, format := m.runSeq, job.Format.Name
	run := func() tea.Msg {
		res, err := export.Run(ctx, job)
		return doneMsg{seq: seq, res: res, output: job.Output, format: format, err: err}
	}
	return m, tea.Batch(run, m.tick())
}

// refocus gives the keyboard to the focused text field after focus was
// moved programmatically.
func (m Model) refocus() Model {
	m.output.Blur()
	m.split.Blur()
	switch m.focus {
	case fieldOutput:
		m.output.Focus()
	case fieldSplit:
		m.split.Focus()
	}
	return m
}

// finish shows a finished export's result or error.
func (m Model) finish(msg doneMsg) (Model, tea.Cmd) {
	m.running = false
	m.cancel()
	cancelled := m.cancelled
	m.cancelled = false
	if msg.err != nil {
		if cancelled {
			m.err = "export cancelled; nothing was written"
			return m, nil
		}
		m.err, m.focus = m.explain(msg.err, msg.output)
		return m.refocus(), nil
	}
	m.result = &outcome{res: msg.res, output: msg.output, format: msg.format}
	out, n := msg.output, msg.res.Total()
	return m, func() tea.Msg { return common.ExportDoneMsg{Output: out, Records: n} }
}

// explain words an export error for the user, and picks the field that
// fixes it.
func (m Model) explain(err error, output string) (string, field) {
	rel := m.ctx.WS.Rel(output)
	switch {
	case errors.Is(err, export.ErrExists):
		return rel + " already exists: tick Overwrite (space) and export again, or change the output", fieldForce
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return "cannot write to " + m.ctx.WS.Rel(filepath.Dir(output)) + ": permission denied; choose another output path", fieldOutput
	case errors.Is(err, syscall.ENOTDIR):
		return "a part of " + rel + " is a file, not a directory; choose another output path", fieldOutput
	}
	return "export failed: " + common.OneLine(err.Error()), m.focus
}

// ---- view -------------------------------------------------------------------

// View renders the dialog into exactly the SetSize area.
func (m Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	lines, anchor := m.lines()
	return common.FitAround(lines, anchor, m.width, m.height)
}

// lines renders the whole dialog and says which line must stay visible
// when it does not fit: the focused field, or the progress while running.
func (m Model) lines() ([]string, int) {
	st := m.ctx.Styles
	var lines []string
	anchor := 0
	add := func(s ...string) { lines = append(lines, s...) }
	row := func(f field, label, value string) {
		focused := m.focus == f && !m.running
		if focused {
			anchor = len(lines)
		}
		add(common.FormRow(st, label, value, focused))
	}
	indent := common.FormIndent()

	add(st.Header.Render("Export a training set"), "")
	row(fieldFormat, "Format", common.Choice(m.formatName()))
	add(indent + st.Muted.Render(m.currentFormat().Summary))
	row(fieldOutput, "Output", m.output.View())
	row(fieldStatus, "Samples", common.Choice(statusLabel(m.status)))
	score := "any"
	if m.minScore > 0 {
		score = "≥ " + strconv.FormatFloat(m.minScore, 'f', -1, 64)
	}
	row(fieldMinScore, "Min score", common.Choice(score))
	row(fieldRepos, "Repositories", m.reposSummary())
	listAt := len(lines)
	row(fieldSplit, "Split", m.split.View())
	if m.splitErr != "" {
		add(indent + st.Error.Render(common.OneLine(m.splitErr)))
	}
	row(fieldDedup, "Duplicates", common.Choice(dedupModes()[m.dedup]))
	row(fieldForce, "Overwrite", common.Checkbox(m.force)+" replace an existing output")
	add("")
	btn, mark := "[ Export ]", "  "
	if m.focus == fieldExport && !m.running {
		btn, mark = st.Selected.Render(btn), "▸ "
		anchor = len(lines)
	}
	add(mark + btn + "  " + m.countLine())
	if status := m.statusLines(); len(status) > 0 {
		add("")
		if m.running {
			anchor = len(lines) + len(status) - 1
		}
		add(status...)
	}

	if m.focus == fieldRepos && !m.running && len(m.repos) > 0 {
		// The list gets the rows the rest of the dialog leaves, at least 3.
		rows := max(3, m.height-len(lines))
		list, cursor := m.repoList(rows)
		anchor = listAt + cursor
		lines = slices.Insert(lines, listAt, list...)
	}
	return lines, anchor
}

func (m Model) reposSummary() string {
	st := m.ctx.Styles
	switch {
	case m.reposErr != "":
		return st.Error.Render(m.reposErr)
	case !m.reposReady:
		return st.Muted.Render("loading…")
	case len(m.repos) == 0:
		return st.Muted.Render("none yet; scrape some first")
	}
	hint := ""
	if m.focus == fieldRepos && !m.running {
		hint = st.Muted.Render("  space ticks · a all/none")
	}
	if len(m.excluded) == 0 {
		return "all " + strconv.Itoa(len(m.repos)) + hint
	}
	return fmt.Sprintf("%d of %d", len(m.repoIDs()), len(m.repos)) + hint
}

// repoList renders at most rows repositories around the cursor and says
// which of the returned lines holds it.
func (m Model) repoList(rows int) ([]string, int) {
	st := m.ctx.Styles
	rows = min(rows, len(m.repos))
	first := max(0, min(len(m.repos)-rows, m.repoCursor-rows/2))
	var out []string
	for i := first; i < first+rows; i++ {
		r := m.repos[i]
		line := common.Checkbox(!m.excluded[r.ID]) + " " + common.OneLine(r.Name)
		mark := "  "
		if i == m.repoCursor {
			mark, line = "› ", st.Selected.Render(line)
		}
		out = append(out, common.FormIndent()+mark+line)
	}
	return out, m.repoCursor - first
}

func (m Model) countLine() string {
	st := m.ctx.Styles
	switch {
	case m.countErr != "":
		return st.Error.Render(m.countErr)
	case m.counting || !m.countKnown:
		return st.Muted.Render("counting…")
	case m.noRepos() || m.count == 0:
		return st.Warn.Render("no sample matches these filters")
	}
	s := common.Plural(m.count, "record", "records") + " will be written"
	if dedupModes()[m.dedup] != "off" {
		s += st.Muted.Render(" (fewer if duplicates are found)")
	}
	return s
}

// statusLines are the progress, the result or the error below the form.
func (m Model) statusLines() []string {
	st := m.ctx.Styles
	switch {
	case m.running:
		read := int(m.read.Load())
		head := "Exporting to " + m.ctx.WS.Rel(m.runOutput) + "…"
		if m.cancelled {
			head = "Cancelling…"
		}
		count := common.Thousands(read) + " samples read"
		pct := 0.0
		if m.total > 0 {
			pct = math.Min(1, float64(read)/float64(m.total))
			count = common.Thousands(min(read, m.total)) + " of " + common.Plural(m.total, "sample", "samples") + " read"
		}
		return []string{"  " + head, "  " + common.ProgressBar(st, m.barWidth, pct) + "  " + count,
			"  " + st.Muted.Render("esc cancels; the output only appears once the export completes")}
	case m.err != "":
		return []string{"  " + st.Error.Render("✗ "+m.err)}
	case m.result != nil:
		return m.resultLines()
	}
	return nil
}

func (m Model) resultLines() []string {
	st := m.ctx.Styles
	r := m.result
	out := []string{"  " + st.OK.Render("✓ Wrote "+common.Plural(r.res.Total(), "record", "records")) +
		" as " + r.format + " to " + m.ctx.WS.Rel(r.output) + " (" + common.HumanBytes(r.res.Bytes) + ")"}
	if len(r.res.Records) > 1 || (len(r.res.Records) == 1 && r.res.Records["train"] == 0) {
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(r.res.Records)) {
			parts = append(parts, name+" "+common.Thousands(r.res.Records[name]))
		}
		out = append(out, "  splits: "+strings.Join(parts, ", "))
	}
	if len(r.res.Skipped) > 0 {
		var parts []string
		for _, reason := range slices.Sorted(maps.Keys(r.res.Skipped)) {
			parts = append(parts, reason+" "+common.Thousands(r.res.Skipped[reason]))
		}
		out = append(out, "  skipped: "+strings.Join(parts, ", "))
	}
	return out
}
