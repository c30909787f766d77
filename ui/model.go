// Package ui is cicdllm's terminal UI: one root Bubble Tea model that owns
// the screens (dashboard, samples, sample view, export, setup), the help
// overlay and the command palette, and bridges the pipeline's session
// into messages: must-see events through a re-armed listen command, the
// high-rate state through a 10 Hz tick.
package ui

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"cicdllm/pipeline"
	"cicdllm/ui/common"
	"cicdllm/ui/dashboard"
	"cicdllm/ui/exportui"
	"cicdllm/ui/samples"
	"cicdllm/ui/setup"
)

// Below this the panes cannot show anything useful; a message says so
// instead of drawing garbage.
const (
	minWidth  = 60
	minHeight = 16
)

// tickEvery is the rate of the high-rate state (tokens, slots, counters).
const tickEvery = 100 * time.Millisecond

// forceQuitWindow: a second ctrl+c within it quits at once.
const forceQuitWindow = 2 * time.Second

// flashFor is how long a status message stays in the footer.
const flashFor = 5 * time.Second

// Options tune the root model.
type Options struct {
	// Setup opens the setup screen first (no repos.txt yet).
	Setup bool
	// NoTick leaves the 10 Hz tick out (golden and Update tests drive
	// TickMsg themselves).
	NoTick bool
	// Autostart runs scrape then prepare at once (the demo).
	Autostart bool
	// CheckServer probes the LLM server at start and opens the setup
	// screen when it cannot be reached.
	CheckServer bool
}

// Model is the root model.
type Model struct {
	ctx    *common.Context
	opts   Options
	screen common.Screen
	width  int
	height int

	dash    dashboard.Model
	browser samples.Browser
	detail  samples.Detail
	export  exportui.Model
	setup   setup.Model

	help    bool
	helpTop int // first help line shown (the help scrolls on small terminals)
	// The quality overview (Q): flags, near-duplicates, question types,
	// languages, scores; read on request, not polled.
	quality    *pipeline.QualityOverview
	qualityOn  bool
	qualityErr string
	palette    palette

	confirmQuit bool      // "a job is running: stop it and quit?"
	quitting    bool      // stopping gracefully, quitting when the job ends
	ctrlCAt     time.Time // the first ctrl+c, for the second
	flash       string
	flashErr    bool
	flashAt     time.Time // flashes fade after flashFor
	now         time.Time // the last tick's time
	// freshAnswers: answers were stored since the samples list last
	// reloaded; it reloads at most once a second while shown.
	freshAnswers bool
	listLoadedAt time.Time
	view         pipeline.SessionView
	setupLoad    tea.Cmd // the setup screen's first load, when it opens first
	// noColor: NO_COLOR is set; every frame loses its colours but keeps
	// its attributes (see honourNoColor).
	noColor bool
}

// New builds the root model on a shared context.
func New(ctx *common.Context, opts Options) Model {
	if ctx.Now == nil {
		ctx.Now = time.Now
	}
	m := Model{ctx: ctx, opts: opts,
		dash: dashboard.New(ctx), browser: samples.NewBrowser(ctx), detail: samples.NewDetail(ctx),
		export: exportui.New(ctx), setup: setup.New(ctx)}
	if opts.Setup {
		m.setup, m.setupLoad = m.setup.Open()
		m.screen = common.ScreenSetup
	}
	return m
}

// Screen is the screen shown (for tests).
func (m Model) Screen() common.Screen { return m.screen }

// Init starts the bridge and every screen's first load.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.listen(), m.dash.Init(), m.browser.Init()}
	if !m.opts.NoTick {
		cmds = append(cmds, m.tick())
	}
	if m.setupLoad != nil {
		cmds = append(cmds, m.setupLoad)
	}
	if m.opts.Autostart {
		cmds = append(cmds, m.autostart())
	}
	if m.opts.CheckServer && m.ctx.Session != nil {
		s := m.ctx.Session
		cmds = append(cmds, func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := s.Probe(ctx)
			return serverCheckMsg{err: err}
		})
	}
	return tea.Batch(cmds...)
}

// qualityMsg carries a freshly read quality overview.
type qualityMsg struct {
	o   pipeline.QualityOverview
	err error
}

// serverCheckMsg is the start-up probe's result.
type serverCheckMsg struct{ err error }

// autostartMsg chains the demo's scrape into its prepare.
type autostartMsg struct{ err error }

func (m Model) autostart() tea.Cmd {
	s := m.ctx.Session
	return func() tea.Msg {
		return autostartMsg{err: s.Scrape(context.Background())}
	}
}

// listen waits for the session's next must-see event; Update re-arms it.
func (m Model) listen() tea.Cmd {
	if m.ctx.Session == nil {
		return nil
	}
	ch := m.ctx.Session.Events()
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return nil
		}
		return common.SessionEventMsg{Event: ev}
	}
}

// tick copies the session's state off the UI goroutine ten times a second.
func (m Model) tick() tea.Cmd {
	s := m.ctx.Session
	return tea.Tick(tickEvery, func(t time.Time) tea.Msg {
		var v pipeline.SessionView
		if s != nil {
			v = s.View()
		}
		return common.TickMsg{Now: t, View: v}
	})
}

// Update routes messages: sizes and domain messages to every screen, keys
// to the overlay or screen that has focus.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.resize()
		return m, nil
	case tea.KeyMsg:
		return m.key(msg)
	case common.TickMsg:
		m.view, m.now = msg.View, msg.Now
		var cmd, refresh tea.Cmd
		if m.freshAnswers && m.screen == common.ScreenSamples && !m.browser.Capturing() && msg.Now.Sub(m.listLoadedAt) >= time.Second {
			m, refresh = m.refreshList()
		}
		m, cmd = m.broadcast(msg)
		cmd = tea.Batch(cmd, refresh)
		if !m.opts.NoTick {
			cmd = tea.Batch(cmd, m.tick())
		}
		return m, cmd
	case common.SessionEventMsg:
		ev := msg.Event
		var cmds []tea.Cmd
		if ev.Done {
			if ev.Err != nil {
				m = m.setFlash(fmt.Sprintf("%s failed: %v", ev.Job, ev.Err), true)
			} else {
				m = m.setFlash(ev.Job.String()+" finished", false)
			}
			if m.quitting {
				return m, tea.Quit
			}
			if m.opts.Autostart && ev.Job == pipeline.JobScrape && ev.Err == nil {
				s := m.ctx.Session
				cmds = append(cmds, func() tea.Msg {
					return autostartMsg{err: s.Prepare(context.Background(), pipeline.PrepareOptions{})}
				})
			}
		} else if ev.Message != "" {
			m = m.setFlash(ev.Message, ev.Warn)
		}
		if ev.Runner != nil && ev.Runner.Kind == pipeline.EventAnswer {
			m.freshAnswers = true
		}
		var cmd tea.Cmd
		m, cmd = m.broadcast(msg)
		cmds = append(cmds, cmd, m.listen())
		return m, tea.Batch(cmds...)
	case qualityMsg:
		m.qualityErr = ""
		if msg.err != nil {
			m.qualityErr = msg.err.Error()
		} else {
			o := msg.o
			m.quality = &o
		}
		return m, nil
	case serverCheckMsg:
		if msg.err == nil || m.screen != common.ScreenDashboard {
			return m, nil
		}
		m = m.setFlash(msg.err.Error()+" — set the server here and use Test connection, or esc to go on without it", true)
		return m.switchTo(common.ScreenSetup)
	case autostartMsg:
		if msg.err != nil {
			m = m.setFlash(msg.err.Error(), true)
		}
		return m, nil
	case common.SwitchMsg:
		return m.switchTo(msg.Screen)
	case common.OpenSampleMsg:
		var cmd tea.Cmd
		m.detail, cmd = m.detail.Open(msg.ID, msg.Query)
		m.screen = common.ScreenSample
		return m, cmd
	case common.FlashMsg:
		m = m.setFlash(msg.Text, msg.Error)
		return m.broadcast(msg)
	case common.ErrMsg:
		m = m.setFlash(msg.Err.Error(), true)
		return m.broadcast(msg)
	case common.ConfigSavedMsg:
		m.ctx.Config = msg.Config
		if m.ctx.Session != nil {
			m.ctx.Session.SetConfig(msg.Config)
		}
		m = m.setFlash("saved "+msg.Path, false)
		return m.broadcast(msg)
	case common.ExportDoneMsg:
		m = m.setFlash(fmt.Sprintf("exported %d records to %s", msg.Records, msg.Output), false)
		return m.broadcast(msg)
	}
	// Everything else (a screen's own results) goes to every screen: each
	// ignores what is not its own.
	return m.broadcast(msg)
}

// setFlash shows text in the footer for a while.
func (m Model) setFlash(text string, isErr bool) Model {
	m.flash, m.flashErr, m.flashAt = text, isErr, m.clock()
	return m
}

// clock is the last tick's time, or the context's clock before one.
func (m Model) clock() time.Time {
	if !m.now.IsZero() {
		return m.now
	}
	return m.ctx.Now()
}

// broadcast hands msg to every screen.
func (m Model) broadcast(msg tea.Msg) (Model, tea.Cmd) {
	var c1, c2, c3, c4, c5 tea.Cmd
	m.dash, c1 = m.dash.Update(msg)
	m.browser, c2 = m.browser.Update(msg)
	m.detail, c3 = m.detail.Update(msg)
	m.export, c4 = m.export.Update(msg)
	m.setup, c5 = m.setup.Update(msg)
	return m, tea.Batch(c1, c2, c3, c4, c5)
}

// capturing: the focused screen takes text, so global keys pass through.
func (m Model) capturing() bool {
	switch m.screen {
	case common.ScreenDashboard:
		return m.dash.Capturing()
	case common.ScreenSamples:
		return m.browser.Capturing()
	case common.ScreenSample:
		return m.detail.Capturing()
	case common.ScreenExport:
		return m.export.Capturing()
	case common.ScreenSetup:
		return m.setup.Capturing()
	}
	return false
}

func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	keys := m.ctx.Keys
	if key.Matches(msg, keys.ForceQuit) {
		now := m.ctx.Now()
		if !m.ctrlCAt.IsZero() && now.Sub(m.ctrlCAt) < forceQuitWindow || !m.busy() {
			if m.ctx.Session != nil {
				m.ctx.Session.Cancel()
			}
			return m, tea.Quit
		}
		m.ctrlCAt = now
		m = m.setFlash("press ctrl+c again to quit now (requests in flight are abandoned; the next run resumes them)", true)
		return m, nil
	}
	if m.confirmQuit {
		switch msg.String() {
		case "y", "Y", "enter":
			m.confirmQuit = false
			if !m.view.Running && (m.ctx.Session == nil || !m.ctx.Session.View().Running) {
				// Only an export runs: it writes to a temporary file, so
				// quitting leaves the previous output untouched.
				return m, tea.Quit
			}
			m.quitting = true
			m.ctx.Session.Stop()
			m = m.setFlash("stopping after the requests in flight…", false)
		default:
			m.confirmQuit = false
		}
		return m, nil
	}
	if m.help {
		switch {
		case key.Matches(msg, keys.Help, keys.Back, keys.Quit):
			m.help, m.helpTop = false, 0
		case key.Matches(msg, keys.Down):
			m.helpTop++
		case key.Matches(msg, keys.Up):
			m.helpTop = max(m.helpTop-1, 0)
		case key.Matches(msg, keys.PageDown):
			m.helpTop += max(m.height-6, 1)
		case key.Matches(msg, keys.PageUp):
			m.helpTop = max(m.helpTop-max(m.height-6, 1), 0)
		case key.Matches(msg, keys.Top):
			m.helpTop = 0
		}
		return m, nil
	}
	if m.qualityOn {
		if key.Matches(msg, keys.Back, keys.Quit) || msg.String() == "Q" {
			m.qualityOn = false
		}
		return m, nil
	}
	if m.palette.open {
		var a *action
		m.palette, a = m.palette.update(msg)
		if a != nil {
			return m.run(*a)
		}
		return m, nil
	}
	if !m.capturing() {
		switch {
		case key.Matches(msg, keys.Quit):
			if m.quitting {
				return m, nil
			}
			if m.busy() {
				m.confirmQuit = true
				return m, nil
			}
			return m, tea.Quit
		case key.Matches(msg, keys.Help):
			m.help = true
			return m, nil
		case msg.String() == "Q":
			m.qualityOn, m.quality, m.qualityErr = true, nil, ""
			st := m.ctx.Store
			return m, func() tea.Msg {
				o, err := pipeline.ReadQualityOverview(context.Background(), st)
				return qualityMsg{o: o, err: err}
			}
		case key.Matches(msg, keys.Palette):
			m.palette = m.palette.reset()
			return m, nil
		case key.Matches(msg, keys.NextScreen):
			if m.screen == common.ScreenDashboard {
				var more bool
				if m.dash, more = m.dash.NextPane(); more {
					return m, nil
				}
			}
			return m.switchTo(nextScreen(m.screen, 1))
		case key.Matches(msg, keys.PrevScreen):
			return m.switchTo(nextScreen(m.screen, -1))
		case msg.String() == "/" && m.screen != common.ScreenSamples:
			var cmd tea.Cmd
			m.screen = common.ScreenSamples
			m.browser, cmd = m.browser.FocusSearch()
			return m, cmd
		case msg.String() == "e" && (m.screen == common.ScreenDashboard || m.screen == common.ScreenSamples || m.screen == common.ScreenSample):
			return m.switchTo(common.ScreenExport)
		}
	}
	var cmd tea.Cmd
	switch m.screen {
	case common.ScreenDashboard:
		m.dash, cmd = m.dash.Update(msg)
	case common.ScreenSamples:
		m.browser, cmd = m.browser.Update(msg)
	case common.ScreenSample:
		m.detail, cmd = m.detail.Update(msg)
	case common.ScreenExport:
		m.export, cmd = m.export.Update(msg)
	case common.ScreenSetup:
		m.setup, cmd = m.setup.Update(msg)
	}
	return m, cmd
}

// run executes a palette action: show its screen, replay its key.
func (m Model) run(a action) (tea.Model, tea.Cmd) {
	if !a.global {
		next, cmd := m.switchTo(a.screen)
		if a.key == "" {
			return next, cmd
		}
		next2, cmd2 := next.(Model).key(keyMsg(a.key))
		return next2, tea.Batch(cmd, cmd2)
	}
	return m.key(keyMsg(a.key))
}

func keyMsg(k string) tea.KeyMsg {
	if k == " " {
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune(" ")}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

func (m Model) busy() bool {
	return m.view.Running || m.export.Running() || m.ctx.Session != nil && m.ctx.Session.View().Running
}

// tabOrder: the screens tab walks through (the sample view is reached
// from the list, not by tab).
func tabOrder() []common.Screen {
	return []common.Screen{common.ScreenDashboard, common.ScreenSamples, common.ScreenExport, common.ScreenSetup}
}

func nextScreen(cur common.Screen, step int) common.Screen {
	if cur == common.ScreenSample {
		cur = common.ScreenSamples
	}
	order := tabOrder()
	for i, s := range order {
		if s == cur {
			return order[(i+step+len(order))%len(order)]
		}
	}
	return common.ScreenDashboard
}

func (m Model) switchTo(s common.Screen) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	if s == m.screen {
		return m, nil
	}
	switch s {
	case common.ScreenExport:
		m.export, cmd = m.export.Open()
	case common.ScreenSetup:
		m.setup, cmd = m.setup.Open()
	case common.ScreenSamples:
		if m.freshAnswers {
			m, cmd = m.refreshList()
		}
	}
	m.screen = s
	return m, cmd
}

// refreshList reloads the samples list (keeping its cursor) to show
// answers stored since it last loaded.
func (m Model) refreshList() (Model, tea.Cmd) {
	var cmd tea.Cmd
	m.browser, cmd = m.browser.Update(common.SampleChangedMsg{})
	m.freshAnswers, m.listLoadedAt = false, m.clock()
	return m, cmd
}

// body is the height left for a screen between the header and the footer.
func (m *Model) resize() {
	w, h := m.width, max(m.height-2, 1)
	m.dash.SetSize(w, h)
	m.browser.SetSize(w, h)
	m.detail.SetSize(w, h)
	m.export.SetSize(w, h)
	m.setup.SetSize(w, h)
}

// View draws header, the screen (or an overlay) and the footer. Every
// line is cut to the terminal's width, so a resize never wraps, and
// nothing but the UI's own styling reaches the terminal (cleanFrame).
func (m Model) View() string {
	return cleanFrame(m.draw(), m.noColor)
}

func (m Model) draw() string {
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		return ""
	}
	st := m.ctx.Styles
	if w < minWidth || h < minHeight {
		msg := fmt.Sprintf("cicdllm needs at least %d×%d; this terminal is %d×%d.\nEnlarge the window, or press q to quit.", minWidth, minHeight, w, h)
		return common.Fit(common.Wrap(msg, w), w, h)
	}
	var body string
	bh := h - 2
	switch {
	case m.help:
		body = m.helpView(w, bh)
	case m.qualityOn:
		body = m.qualityView(w, bh)
	case m.palette.open:
		body = m.palette.view(st, w, bh)
	default:
		body = m.screenView()
	}
	return common.Fit(m.header(w)+"\n"+common.Fit(body, w, bh)+"\n"+m.footer(w), w, h)
}

func (m Model) screenView() string {
	switch m.screen {
	case common.ScreenSamples:
		return m.browser.View()
	case common.ScreenSample:
		return m.detail.View()
	case common.ScreenExport:
		return m.export.View()
	case common.ScreenSetup:
		return m.setup.View()
	}
	return m.dash.View()
}

func screenName(s common.Screen) string {
	switch s {
	case common.ScreenSamples:
		return "Samples"
	case common.ScreenSample:
		return "Sample"
	case common.ScreenExport:
		return "Export"
	case common.ScreenSetup:
		return "Setup"
	}
	return "Dashboard"
}

func (m Model) header(w int) string {
	st := m.ctx.Styles
	left := st.Header.Render("cicdllm")
	if m.ctx.Demo {
		left += " " + st.DemoBadge.Render(" SIMULATED LLM — demo data ")
	}
	var tabs []string
	for _, s := range tabOrder() {
		name := screenName(s)
		if s == m.screen || s == common.ScreenSamples && m.screen == common.ScreenSample {
			name = st.Selected.Render("[" + name + "]")
		} else {
			name = st.Muted.Render(" " + name + " ")
		}
		tabs = append(tabs, name)
	}
	right := strings.Join(tabs, "")
	if gap := w - ansi.StringWidth(left) - ansi.StringWidth(right); gap >= 1 {
		return left + strings.Repeat(" ", gap) + right
	}
	return common.Truncate(left, w)
}

func (m Model) footer(w int) string {
	st := m.ctx.Styles
	switch {
	case m.confirmQuit && !m.view.Running:
		return st.Warn.Render("An export is running. Quit and abandon it? (y/n)")
	case m.confirmQuit:
		return st.Warn.Render(fmt.Sprintf("A %s is running. Stop it gracefully and quit? (y/n)", m.view.Job))
	case m.quitting:
		return st.Warn.Render(fmt.Sprintf("stopping: waiting for %d requests in flight… (ctrl+c twice to quit now)", m.view.Counts.InFlight))
	case m.flash != "" && m.flashErr && m.clock().Sub(m.flashAt) < 3*flashFor:
		return st.Error.Render(common.Truncate(common.OneLine(m.flash), w))
	case m.flash != "" && m.screen != common.ScreenDashboard && m.clock().Sub(m.flashAt) < flashFor:
		// The dashboard shows messages in its own status bar.
		return st.OK.Render(common.Truncate(common.OneLine(m.flash), w))
	}
	var hints []key.Binding
	switch m.screen {
	case common.ScreenDashboard:
		hints = m.dash.KeyHelp()
	case common.ScreenSamples:
		hints = m.browser.KeyHelp()
	case common.ScreenSample:
		hints = m.detail.KeyHelp()
	case common.ScreenExport:
		hints = m.export.KeyHelp()
	case common.ScreenSetup:
		hints = m.setup.KeyHelp()
	}
	k := m.ctx.Keys
	hints = append(hints, k.NextScreen, k.Palette, k.Help, k.Quit)
	var parts []string
	used := 0
	shown := map[string]bool{}
	for _, b := range hints {
		hp := b.Help()
		if hp.Key == "" || shown[hp.Key] {
			continue
		}
		shown[hp.Key] = true
		part := st.Key.Render(hp.Key) + " " + st.KeyDesc.Render(hp.Desc)
		pw := ansi.StringWidth(part) + 2
		if used+pw > w {
			break
		}
		parts = append(parts, part)
		used += pw
	}
	return strings.Join(parts, "  ")
}

// helpView lists every key: the shared ones, then each screen's own (a
// key already listed under "Everywhere" is not repeated).
func (m Model) helpView(w, h int) string {
	st := m.ctx.Styles
	k := m.ctx.Keys
	var lines []string
	seen := map[string]bool{}
	section := func(title string, bindings []key.Binding, shared bool) {
		var rows []string
		for _, kb := range bindings {
			hp := kb.Help()
			id := hp.Key + "\x00" + hp.Desc
			if hp.Key == "" || seen[id] {
				continue
			}
			if shared {
				seen[id] = true
			}
			seen[id+title] = true
			rows = append(rows, fmt.Sprintf("  %-11s %s", hp.Key, hp.Desc))
		}
		if len(rows) > 0 {
			lines = append(lines, st.Label.Render(title))
			lines = append(lines, rows...)
		}
	}
	section("Everywhere", []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.PageUp, k.PageDown, k.Enter, k.Back,
		k.NextScreen, k.PrevScreen, k.Palette, k.Help, k.Quit, k.ForceQuit,
		key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search samples")),
		key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "export dialog")),
		key.NewBinding(key.WithKeys("Q"), key.WithHelp("Q", "quality overview"))}, true)
	section("Dashboard", m.dash.FullHelp(), false)
	section("Samples", m.browser.KeyHelp(), false)
	section("Sample", m.detail.KeyHelp(), false)
	section("Export", m.export.KeyHelp(), false)
	section("Setup", m.setup.KeyHelp(), false)
	inner, ih := max(w-4, 1), max(h-3, 1) // border, and the hint line
	// Two columns when they fit side by side.
	if cols := 2; inner >= 76 && len(lines) > ih {
		per := (len(lines) + cols - 1) / cols
		half := inner / cols
		var two []string
		for i := 0; i < per; i++ {
			l := common.Fit(lines[i], half, 1)
			if i+per < len(lines) {
				l += common.Truncate(lines[i+per], inner-half)
			}
			two = append(two, l)
		}
		lines = two
	}
	top := min(m.helpTop, max(len(lines)-ih, 0))
	end := min(top+ih, len(lines))
	hint := "? or esc closes"
	if len(lines) > ih {
		hint = fmt.Sprintf("lines %d-%d of %d · j/k scroll · ? or esc closes", top+1, end, len(lines))
	}
	return box(st, strings.Join(lines[top:end], "\n")+"\n"+st.Muted.Render(hint), w, h)
}

// box draws content in the dialog style, filling w×h: in two columns when
// it is taller than the box and wide enough for two.
func box(st common.Styles, content string, w, h int) string {
	inner := max(w-4, 1)
	ih := max(h-2, 1)
	lines := strings.Split(strings.TrimRight(content, "\n"), "\n")
	if len(lines) > ih && inner >= 80 {
		half := inner / 2
		var two []string
		for i := 0; i < ih; i++ {
			l := ""
			if i < len(lines) {
				l = common.Fit(lines[i], half, 1)
			} else {
				l = strings.Repeat(" ", half)
			}
			if i+ih < len(lines) {
				l += common.Truncate(lines[i+ih], inner-half)
			}
			two = append(two, l)
		}
		lines = two
	}
	body := common.Fit(strings.Join(lines, "\n"), inner, ih)
	return st.Dialog.Width(inner + 2).Render(body)
}

// qualityView shows where a curator should look, as `cicdllm stats` does.
func (m Model) qualityView(w, h int) string {
	st := m.ctx.Styles
	var b strings.Builder
	b.WriteString(st.Label.Render("Quality overview") + "\n")
	switch {
	case m.qualityErr != "":
		b.WriteString(st.Error.Render(m.qualityErr) + "\n")
	case m.quality == nil:
		b.WriteString(st.Muted.Render("reading the samples…") + "\n")
	default:
		o := m.quality
		section := func(title string, counts map[string]int64) {
			b.WriteString("\n" + st.Label.Render(title) + "\n")
			if len(counts) == 0 {
				b.WriteString(st.Muted.Render("  none") + "\n")
				return
			}
			for _, k := range slices.Sorted(maps.Keys(counts)) {
				fmt.Fprintf(&b, "  %-22s %d\n", k, counts[k])
			}
		}
		fmt.Fprintf(&b, "%d active samples · %d near-duplicate questions dropped before answering\n", o.Samples, o.NearDuplicates)
		b.WriteString("\n" + st.Label.Render("Judge scores") + "\n")
		if len(o.Scores) == 0 {
			b.WriteString(st.Muted.Render("  none yet: run cicdllm score") + "\n")
		}
		for _, sc := range o.Scores {
			fmt.Fprintf(&b, "  %.1f  %d\n", sc.Score, sc.Count)
		}
		section("Grounding flags (answers)", o.Flags)
		section("Question types", o.QuestionTypes)
		section("Samples per language", o.Languages)
	}
	b.WriteString(st.Muted.Render("Q or esc closes"))
	return box(st, b.String(), w, h)
}
