// Package dashboard is the default screen of the terminal UI: the
// repositories, the progress of the running job, a live preview of the
// answer being streamed, the failed files and a status bar.
//
// The model follows the UI's rules for children: a plain struct updated by
// value, no I/O in Update or View. Store, disk, battery and log reads run
// inside the tea.Cmds it returns; the session's fast-changing state arrives
// with the root's common.TickMsg ten times a second, and the slow poll
// (store, battery, disk) is paced by those ticks too, so it never depends
// on a timer chain the root might not route back while another screen is
// shown.
package dashboard

import (
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/pipeline"
	"cicdllm/store"
	"cicdllm/ui/common"
)

// pane is one of the dashboard's panes, in tab order.
type pane int

const (
	paneRepos pane = iota
	paneProgress
	paneLive
	paneFailures
	paneCount
)

func (p pane) title() string {
	switch p {
	case paneRepos:
		return "Repos"
	case paneProgress:
		return "Progress"
	case paneLive:
		return "Live preview"
	case paneFailures:
		return "Failures"
	}
	return ""
}

// Timing of the slow poll and of what the status bar shows.
const (
	pollEvery      = 2 * time.Second // store, battery and disk
	reloadDebounce = time.Second     // reloads asked for by session events
	flashFor       = 5 * time.Second
	ringSize       = 20 // answers kept for the live preview
	recentFromDB   = 10 // newest stored samples loaded by the poll
	failuresShown  = 1000
	logLinesKept   = 50
)

// env holds the side effects the dashboard's commands perform, so tests
// can replace the machine-dependent ones (battery, disk).
type env struct {
	readPower func() (pipeline.PowerState, error)
	diskFree  func(string) (uint64, error)
}

// pollData is what one slow poll read.
type pollData struct {
	repos    []store.Repo
	stats    []store.RepoStat
	failures []store.Failure
	recent   []store.SampleSummary
	dbSize   int64
	dbErr    error
	power    pipeline.PowerState
	powerErr error
	diskFree uint64
	diskErr  error
	err      error // the store could not be read
}

// pollMsg carries a poll's result; seq drops answers overtaken by a newer
// poll.
type pollMsg struct {
	seq  int
	data pollData
}

// logMsg carries the log lines about one failed file.
type logMsg struct {
	path  string
	lines []string
	err   error
}

// recentItem is one answered question in the live preview. id is 0 until
// the poll has found the stored sample for an answer that arrived as an
// event.
type recentItem struct {
	id       int64
	repo     string
	path     string
	question string
	answer   string
}

// repoRow is one line of the repos pane: the store's row merged with what
// the session knows about it right now.
type repoRow struct {
	name    string
	state   string
	license string
	samples int64
	failed  bool
}

// chooser is the "skip which file?" prompt shown when several files are in
// flight.
type chooser struct {
	open  bool
	items []pipeline.Activity
	sel   int
}

// logView is the overlay of log lines inside the failures pane.
type logView struct {
	open    bool
	path    string
	lines   []string
	err     error
	loading bool
	scroll  int // lines scrolled up from the end
}

type flash struct {
	text  string
	err   bool
	until time.Time
}

// keyMap holds the dashboard's own keys and, for the footer only, a few
// the root handles.
type keyMap struct {
	Scrape, Prepare, Pause, Skip, Retry, RetryAll, Stop key.Binding
	Slot, Log, Open, Close, Digit                       key.Binding
	Export, Search, Tab                                 key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Scrape:   key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "scrape")),
		Prepare:  key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "prepare")),
		Pause:    key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "pause/resume")),
		Skip:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "skip file")),
		Retry:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "retry")),
		RetryAll: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "retry all")),
		Stop:     key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "stop")),
		Slot:     key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "next slot")),
		Log:      key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "log lines")),
		Open:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open sample")),
		Close:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close")),
		Digit: key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"),
			key.WithHelp("1-9", "pick")),
		Export: key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "export")),
		Search: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Tab:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
	}
}

// Model is the dashboard screen.
type Model struct {
	ctx  *common.Context
	env  env
	keys keyMap
	w, h int

	focus pane
	now   time.Time            // from the last tick
	view  pipeline.SessionView // from the last tick

	data       pollData
	loaded     bool
	loadSeq    int  // the newest poll started
	loading    bool // the newest poll has not answered yet
	lastLoad   time.Time
	wantReload bool // an event asked for fresh store data

	rows   []repoRow
	ring   []recentItem // answers seen as events, newest first
	recent []recentItem // ring merged with the newest stored samples

	repoSel   int
	repoName  string // the selected repository, kept across reloads
	failSel   int
	failID    int64 // the selected failure, kept across reloads
	recentSel int
	pin       int // the slot shown in the live preview; -1 picks one

	skip chooser
	logs logView
	msg  flash
}

// New returns the dashboard for ctx. Its first poll starts with Init.
func New(ctx *common.Context) Model {
	return Model{
		ctx:  ctx,
		env:  env{readPower: pipeline.ReadPower, diskFree: pipeline.DiskFree},
		keys: newKeyMap(),
		pin:  -1,
	}
}

// Init starts the slow poll; later polls are paced by common.TickMsg.
func (m Model) Init() tea.Cmd {
	return m.loadCmd(0)
}

// SetSize sets the area View fills, status bar included.
func (m *Model) SetSize(w, h int) { m.w, m.h = w, h }

// Capturing reports that a prompt takes every key (the skip chooser), so
// the root must not treat q, ?, : or tab as its own.
func (m Model) Capturing() bool { return m.skip.open }

// Busy reports that a job runs; the root asks before quitting. It reads
// the session directly rather than the last tick, which may be 100 ms old.
func (m Model) Busy() bool {
	if m.ctx == nil || m.ctx.Session == nil {
		return false
	}
	return m.ctx.Session.View().Running
}

// NextPane moves the focus to the next pane. After the last pane it
// returns false, with the focus back on the first pane for the next visit,
// so the root moves on to the next screen.
func (m Model) NextPane() (Model, bool) {
	if m.focus+1 >= paneCount {
		m.focus = paneRepos
		return m, false
	}
	m.focus++
	return m, true
}

// KeyHelp returns the footer hints for the focused pane.
func (m Model) KeyHelp() []key.Binding {
	k := m.keys
	up, down := m.ctx.Keys.Up, m.ctx.Keys.Down
	if m.skip.open {
		enter := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "skip it"))
		return []key.Binding{up, down, enter, k.Digit, k.Close}
	}
	if m.logs.open {
		return []key.Binding{up, down, k.Close}
	}
	jobs := []key.Binding{k.Scrape, k.Prepare, k.Pause, k.Skip, k.Stop}
	var own []key.Binding
	switch m.focus {
	case paneRepos:
		own = []key.Binding{up, down}
	case paneLive:
		own = []key.Binding{k.Slot, up, down, k.Open}
	case paneFailures:
		own = []key.Binding{up, down, k.Retry, k.RetryAll, k.Log}
	}
	out := append(own, jobs...)
	return append(out, k.Tab, k.Search, k.Export)
}

// FullHelp lists every dashboard key, whatever pane has focus, for the
// help overlay.
func (m Model) FullHelp() []key.Binding {
	k := m.keys
	return []key.Binding{k.Scrape, k.Prepare, k.Pause, k.Skip, k.Stop, k.Retry, k.RetryAll, k.Log, k.Slot, k.Open, k.Tab}
}

// clock is the time of the last tick, or the context's clock before the
// first one.
func (m Model) clock() time.Time {
	if !m.now.IsZero() {
		return m.now
	}
	if m.ctx != nil && m.ctx.Now != nil {
		return m.ctx.Now()
	}
	return time.Now()
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case common.TickMsg:
		m.now, m.view = msg.Now, msg.View
		m.rebuildRows()
		if m.msg.text != "" && !m.msg.until.IsZero() && m.now.After(m.msg.until) {
			m.msg = flash{}
		}
		return m.maybePoll()

	case pollMsg:
		if msg.seq < m.loadSeq && m.loaded {
			return m, nil // a newer poll is on its way
		}
		if msg.seq == m.loadSeq {
			m.loading = false
		}
		m.applyPoll(msg.data)
		return m, nil

	case common.SessionEventMsg:
		return m.sessionEvent(msg.Event)

	case common.SampleChangedMsg:
		m.wantReload = true
		return m, nil

	case common.FlashMsg:
		m.setFlash(msg.Text, msg.Error)
		return m, nil

	case common.ErrMsg:
		if msg.Err != nil {
			m.setFlash(msg.Err.Error(), true)
		}
		return m, nil

	case logMsg:
		if m.logs.open && m.logs.path == msg.path {
			m.logs.lines, m.logs.err, m.logs.loading, m.logs.scroll = msg.lines, msg.err, false, 0
		}
		return m, nil

	case tea.KeyMsg:
		return m.handleKey(msg)
	}
	return m, nil
}

func (m *Model) setFlash(text string, isErr bool) {
	m.msg = flash{text: common.OneLine(text), err: isErr, until: m.clock().Add(flashFor)}
}

// maybePoll starts a poll every pollEvery, or sooner (debounced) when an
// event asked for one; at most one poll is out at a time.
func (m Model) maybePoll() (Model, tea.Cmd) {
	if m.loading || m.ctx == nil {
		return m, nil
	}
	since := m.now.Sub(m.lastLoad)
	if m.lastLoad.IsZero() || since >= pollEvery || (m.wantReload && since >= reloadDebounce) {
		return m.startLoad()
	}
	return m, nil
}

// startLoad begins a poll now.
func (m Model) startLoad() (Model, tea.Cmd) {
	m.loadSeq++
	m.loading, m.wantReload, m.lastLoad = true, false, m.clock()
	return m, m.loadCmd(m.loadSeq)
}

func (m *Model) applyPoll(d pollData) {
	m.data, m.loaded = d, true
	m.rebuildRows()
	m.mergeRecent()
	// Keep the selected failure selected even when newer ones arrive on top.
	m.failSel = clamp(m.failSel, len(d.failures))
	for i, f := range d.failures {
		if f.ID == m.failID {
			m.failSel = i
			break
		}
	}
	if m.failSel < len(d.failures) {
		m.failID = d.failures[m.failSel].ID
	}
}

// rebuildRows merges the store's repositories with the session's live
// state. Run on ticks and polls so View only formats.
func (m *Model) rebuildRows() {
	m.rows = mergeRepos(m.data.repos, m.data.stats, m.view.Repos)
	m.repoSel = clamp(m.repoSel, len(m.rows))
	for i, r := range m.rows {
		if r.name == m.repoName {
			m.repoSel = i
			break
		}
	}
	if m.repoSel < len(m.rows) {
		m.repoName = m.rows[m.repoSel].name
	}
}

// mergeRecent lists the answers seen as events first (newest first), with
// the ids the poll found for them, then the stored samples not among them.
func (m *Model) mergeRecent() {
	seen := map[int64]bool{}
	out := make([]recentItem, 0, ringSize)
	for i := range m.ring {
		it := &m.ring[i]
		if it.id == 0 {
			for _, s := range m.data.recent {
				if s.FilePath == it.path && s.Question == it.question && !seen[s.ID] {
					it.id = s.ID
					break
				}
			}
		}
		if it.id != 0 {
			seen[it.id] = true
		}
		out = append(out, *it)
	}
	for _, s := range m.data.recent {
		if len(out) >= ringSize {
			break
		}
		if !seen[s.ID] {
			seen[s.ID] = true
			out = append(out, recentItem{id: s.ID, repo: s.RepoName, path: s.FilePath, question: s.Question, answer: s.Answer})
		}
	}
	m.recent = out
	m.recentSel = clamp(m.recentSel, len(m.recent))
}

func (m Model) sessionEvent(ev pipeline.SessionEvent) (Model, tea.Cmd) {
	switch {
	case ev.Runner != nil:
		switch ev.Runner.Kind {
		case pipeline.EventAnswer:
			it := recentItem{repo: ev.Runner.Repo, path: ev.Runner.Path, question: ev.Runner.Question, answer: ev.Runner.Text}
			m.ring = append([]recentItem{it}, m.ring...)
			if len(m.ring) > ringSize {
				m.ring = m.ring[:ringSize]
			}
			m.mergeRecent()
			m.wantReload = true // find the stored ids
		case pipeline.EventFileDone, pipeline.EventFileFailed, pipeline.EventRepoFailed:
			m.wantReload = true
		}
	case ev.Scrape != nil:
		m.wantReload = true
	case ev.Done:
		m.wantReload = true
		switch {
		case ev.Err != nil:
			m.setFlash(ev.Job.String()+" failed: "+ev.Err.Error(), true)
		case m.view.Stopping:
			m.setFlash(ev.Job.String()+" stopped; start it again to resume", false)
		default:
			m.setFlash(ev.Job.String()+" finished", false)
		}
	case ev.Message != "":
		m.setFlash(ev.Message, ev.Warn)
	}
	return m, nil
}

func clamp(i, n int) int {
	if i >= n {
		i = n - 1
	}
	if i < 0 {
		i = 0
	}
	return i
}
