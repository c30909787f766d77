// Package setup is the first-run setup screen: the repositories to learn
// from (repos.txt) and the LLM server to ask, with a connection test and a
// save that edits cicdllm.toml without disturbing the rest of it.
package setup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/llm"
	"cicdllm/llm/hfhub"
	"cicdllm/pipeline"
	"cicdllm/ui/common"
)

// field is a focusable part of the screen, in display order.
type field int

const (
	fieldRepos field = iota
	fieldBackend
	fieldURL
	fieldModel
	fieldCached // mlx only: pick one of the cached MLX models
	fieldTest
	fieldSave
	numFields
)

// text reports whether the field takes typed text.
func (f field) text() bool { return f == fieldRepos || f == fieldURL || f == fieldModel }

func backends() []string { return []string{"openai", "mlx"} }

// probeTimeout bounds the connection test: a server that has not answered
// by then will not make a pipeline run work either.
const probeTimeout = 5 * time.Second

// fixedLines are the screen's lines besides the repository editor.
const fixedLines = 17

type keyMap struct {
	Next, Prev, Change, Right, Press, Save, Back key.Binding
	TextNext, TextPrev, FieldDone                key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Next:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "next field")),
		Prev:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "previous field")),
		Change:    key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/→", "change")),
		Right:     key.NewBinding(key.WithKeys("right", "l")),
		Press:     key.NewBinding(key.WithKeys("enter", " "), key.WithHelp("enter", "press")),
		Save:      key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		TextNext:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next field")),
		TextPrev:  key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous field")),
		FieldDone: key.NewBinding(key.WithKeys("enter", "down", "up"), key.WithHelp("enter/↑/↓", "next/previous field")),
	}
}

// Model is the setup screen.
type Model struct {
	ctx           *common.Context
	keys          keyMap
	width, height int

	repos     textarea.Model
	loaded    bool
	loadErr   string
	backend   int
	baseURL   textinput.Model
	model     textinput.Model // llm.model, or mlx.model with the mlx backend
	llmModel  string          // the other backend's model while one is shown
	mlxModel  string
	cached    []string // MLX models in the Hugging Face cache
	cachedAt  int      // the one shown in fieldCached
	cachedErr string
	focus     field
	lastSaved string

	probeSeq int // numbers tests; an edit or a new test outdates the running one
	probing  bool
	probe    *llm.ServerInfo
	probeErr string

	saving  bool
	saveMsg string
	saveErr string
}

type (
	loadedMsg struct {
		text string
		err  error
	}
	probeMsg struct {
		seq  int
		info llm.ServerInfo
		err  error
	}
	savedMsg  struct{ res saveResult }
	cachedMsg struct {
		models []string
		err    error
	}
)

// New returns the screen; Open fills it.
func New(ctx *common.Context) Model {
	ta := textarea.New()
	ta.Placeholder = "e.g. https://github.com/owner/repo"
	ta.ShowLineNumbers = false
	ta.MaxHeight = 0 // repos.txt may list hundreds of repositories
	ta.CharLimit = 0
	// A steady cursor: a blinking one wakes the program twice a second.
	ta.Cursor.SetMode(cursor.CursorStatic)
	m := Model{
		ctx:     ctx,
		keys:    newKeyMap(),
		repos:   ta,
		baseURL: common.NewTextInput("http://127.0.0.1:8080"),
		model:   common.NewTextInput("(empty: the first model the server lists)"),
	}
	m.reset()
	return m
}

// reset fills the server fields from the configuration in use.
func (m *Model) reset() {
	c := m.ctx.Config.LLM
	m.backend = max(0, indexOf(backends(), c.Backend))
	m.baseURL.SetValue(c.BaseURL)
	m.llmModel, m.mlxModel = c.Model, m.ctx.Config.MLX.Model
	m.model.SetValue(m.llmModel)
	if m.mlx() {
		m.model.SetValue(m.mlxModel)
	}
	m.probe, m.probeErr, m.probing = nil, "", false
	m.saveMsg, m.saveErr, m.saving = "", "", false
	m.setFocus(fieldRepos)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// Open reloads repos.txt and the configuration's server settings.
func (m Model) Open() (Model, tea.Cmd) {
	m.reset()
	m.loaded, m.loadErr = false, ""
	m.repos.Reset()
	path := m.ctx.WS.ReposFile
	return m, tea.Batch(func() tea.Msg {
		text, err := readRepos(path)
		return loadedMsg{text: text, err: err}
	}, listCachedMLX)
}

// listCachedMLX reads the Hugging Face cache for the MLX model picker.
func listCachedMLX() tea.Msg {
	home, _ := os.UserHomeDir()
	env := hfhub.LoadEnv(os.LookupEnv, home)
	models, err := hfhub.Cache{Dir: env.CacheDir}.List()
	var ids []string
	for _, cm := range models {
		if cm.MLX {
			ids = append(ids, cm.ID)
		}
	}
	return cachedMsg{models: ids, err: err}
}

// mlx: the managed mlx_lm.server backend is selected.
func (m Model) mlx() bool { return backends()[m.backend] == "mlx" }

// hidden fields do not apply to the selected backend.
func (m Model) hidden(f field) bool {
	return f == fieldURL && m.mlx() || f == fieldCached && !m.mlx()
}

// switchBackend cycles the backend, swapping the model field between
// llm.model and mlx.model so neither is lost.
func (m *Model) switchBackend(step int) {
	if m.mlx() {
		m.mlxModel = m.model.Value()
	} else {
		m.llmModel = m.model.Value()
	}
	m.backend = common.CycleIndex(m.backend, step, len(backends()))
	if m.mlx() {
		m.model.SetValue(m.mlxModel)
	} else {
		m.model.SetValue(m.llmModel)
	}
	m.edited(true)
}

// SetSize sets the area View fills.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.repos.SetWidth(max(1, w-2))
	m.repos.SetHeight(max(3, min(15, h-fixedLines)))
	valueW := max(1, w-2-common.FormLabelWidth-1)
	m.baseURL.Width, m.model.Width = valueW, valueW
}

// Capturing reports that a text field has focus, so keys must reach it.
func (m Model) Capturing() bool { return m.focus.text() }

// KeyHelp lists the keys that do something now.
func (m Model) KeyHelp() []key.Binding {
	k := m.keys
	switch {
	case m.focus == fieldRepos:
		return []key.Binding{k.TextNext, k.TextPrev, k.Save, k.Back}
	case m.focus.text():
		return []key.Binding{k.FieldDone, k.TextNext, k.Save, k.Back}
	case m.focus == fieldBackend:
		return []key.Binding{k.Next, k.Prev, k.Change, k.Save, k.Back}
	}
	return []key.Binding{k.Next, k.Prev, k.Press, k.Save, k.Back}
}

// Update handles keys and the screen's own messages.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		return m.onKey(msg)
	case loadedMsg:
		m.loaded = true
		if msg.err != nil {
			m.loadErr = common.OneLine(msg.err.Error())
			return m, nil
		}
		m.repos.SetValue(strings.TrimRight(msg.text, "\n"))
		m.lastSaved = m.snapshot()
	case probeMsg:
		if msg.seq == m.probeSeq {
			m.probing = false
			m.probe, m.probeErr = nil, ""
			if msg.err != nil {
				m.probeErr = m.explainProbe(msg.err)
			} else {
				info := msg.info
				m.probe = &info
			}
		}
	case cachedMsg:
		m.cached, m.cachedErr = msg.models, ""
		if msg.err != nil {
			m.cachedErr = common.OneLine(msg.err.Error())
		}
		m.cachedAt = max(0, indexOf(m.cached, m.mlxModel))
	case savedMsg:
		m.saving = false
		r := msg.res
		if r.err != nil {
			m.saveErr = common.OneLine(r.err.Error())
			return m, nil
		}
		m.saveErr = ""
		m.lastSaved = m.snapshot()
		m.saveMsg = fmt.Sprintf("Saved %s (%s) and %s", filepath.Base(m.ctx.WS.ReposFile),
			common.Plural(r.repos, "repository", "repositories"), m.ctx.WS.Rel(r.path))
		if r.skipped != "" {
			m.saveMsg += "; " + r.skipped
		}
		saved := common.ConfigSavedMsg{Path: r.path, Config: r.config}
		return m, func() tea.Msg { return saved }
	}
	return m, nil
}

func (m Model) onKey(msg tea.KeyMsg) (Model, tea.Cmd) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Back):
		return m, func() tea.Msg { return common.SwitchMsg{Screen: common.ScreenDashboard} }
	case key.Matches(msg, k.Save):
		return m.save()
	case key.Matches(msg, k.TextNext) && m.focus.text():
		m.setFocus(m.focus + 1)
		return m, nil
	case key.Matches(msg, k.TextPrev) && m.focus.text():
		m.setFocus(m.focus - 1)
		return m, nil
	}
	switch m.focus {
	case fieldRepos:
		var cmd tea.Cmd
		before := m.repos.Value()
		m.repos, cmd = m.repos.Update(msg)
		if m.repos.Value() != before {
			m.edited(false)
		}
		return m, cmd
	case fieldURL, fieldModel:
		switch msg.String() {
		case "enter", "down":
			m.setFocus(m.focus + 1)
			return m, nil
		case "up":
			m.setFocus(m.focus - 1)
			return m, nil
		}
		var cmd tea.Cmd
		before := m.baseURL.Value() + "\x00" + m.model.Value()
		if m.focus == fieldURL {
			m.baseURL, cmd = m.baseURL.Update(msg)
		} else {
			m.model, cmd = m.model.Update(msg)
		}
		if m.baseURL.Value()+"\x00"+m.model.Value() != before {
			m.edited(true)
		}
		return m, cmd
	}
	switch {
	case key.Matches(msg, k.Next):
		m.setFocus(m.focus + 1)
	case key.Matches(msg, k.Prev):
		m.setFocus(m.focus - 1)
	case key.Matches(msg, k.Change) && m.focus == fieldBackend:
		m.switchBackend(-1)
	case (key.Matches(msg, k.Right) || key.Matches(msg, k.Press)) && m.focus == fieldBackend:
		m.switchBackend(1)
	case m.focus == fieldCached && len(m.cached) > 0 &&
		(key.Matches(msg, k.Change) || key.Matches(msg, k.Right) || key.Matches(msg, k.Press)):
		switch {
		case key.Matches(msg, k.Change):
			m.cachedAt = common.CycleIndex(m.cachedAt, -1, len(m.cached))
		case key.Matches(msg, k.Right):
			m.cachedAt = common.CycleIndex(m.cachedAt, 1, len(m.cached))
		}
		m.model.SetValue(m.cached[m.cachedAt])
		m.edited(true)
	case key.Matches(msg, k.Press) && m.focus == fieldTest:
		return m.test()
	case key.Matches(msg, k.Press) && m.focus == fieldSave:
		return m.save()
	}
	return m, nil
}

// edited notes a change; a change to the server settings outdates the
// last connection test.
func (m *Model) edited(server bool) {
	m.saveMsg = ""
	if server {
		m.probeSeq++
		m.probe, m.probeErr, m.probing = nil, "", false
	}
}

func (m *Model) setFocus(f field) {
	f = max(0, min(numFields-1, f))
	// Skip what does not apply to the backend, in the direction of travel.
	for m.hidden(f) {
		if f > m.focus {
			f++
		} else {
			f--
		}
	}
	m.focus = f
	m.repos.Blur()
	m.baseURL.Blur()
	m.model.Blur()
	switch f {
	case fieldRepos:
		m.repos.Focus()
	case fieldURL:
		m.baseURL.Focus()
		m.baseURL.CursorEnd()
	case fieldModel:
		m.model.Focus()
		m.model.CursorEnd()
	}
}

// snapshot is the form's content, to tell whether it has unsaved changes.
func (m Model) snapshot() string {
	return strings.Join([]string{m.repos.Value(), backends()[m.backend], m.baseURL.Value(), m.model.Value()}, "\x00")
}

// edits returns the configuration in use with the form's server settings.
func (m Model) edits() pipeline.Config {
	cfg := m.ctx.Config
	cfg.LLM.Backend = backends()[m.backend]
	cfg.LLM.BaseURL = strings.TrimSpace(m.baseURL.Value())
	if m.mlx() {
		cfg.MLX.Model = strings.TrimSpace(m.model.Value())
		cfg.LLM.Model = strings.TrimSpace(m.llmModel)
	} else {
		cfg.LLM.Model = strings.TrimSpace(m.model.Value())
	}
	return cfg
}

// test probes the server with the edited settings in a command.
func (m Model) test() (Model, tea.Cmd) {
	m.probeSeq++
	m.probing, m.probe, m.probeErr = true, nil, ""
	seq, cfg := m.probeSeq, m.edits()
	return m, func() tea.Msg {
		info, err := probe(cfg)
		return probeMsg{seq: seq, info: info, err: err}
	}
}

func probe(cfg pipeline.Config) (llm.ServerInfo, error) {
	if cfg.LLM.Backend == "mlx" {
		// Loading a model takes minutes: check what can be checked now;
		// prepare starts the server.
		home, _ := os.UserHomeDir()
		err := pipeline.CheckMLX(cfg, os.LookupEnv, home)
		return llm.ServerInfo{Kind: llm.KindMLX, Model: cfg.MLX.Model}, err
	}
	opts, err := cfg.LLMOptions(os.LookupEnv, nil, nil)
	if err != nil {
		return llm.ServerInfo{}, err
	}
	client, err := llm.New(opts)
	if err != nil {
		return llm.ServerInfo{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	return client.Probe(ctx, llm.ProbeOptions{ContextSize: cfg.LLM.ContextSize, Concurrency: cfg.LLM.Concurrency})
}

func (m Model) explainProbe(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("%s did not answer within %s; is the server running and loaded?",
			strings.TrimSpace(m.baseURL.Value()), probeTimeout)
	}
	return common.OneLine(err.Error())
}

// save writes the files in a command.
func (m Model) save() (Model, tea.Cmd) {
	if m.saving {
		return m, nil
	}
	switch {
	case m.mlx() && strings.TrimSpace(m.model.Value()) == "":
		m.saveErr = "enter the MLX model, e.g. mlx-community/Qwen2.5-Coder-7B-Instruct-4bit"
		m.setFocus(fieldModel)
		return m, nil
	case !m.mlx() && strings.TrimSpace(m.baseURL.Value()) == "":
		m.saveErr = "enter the server URL, e.g. http://127.0.0.1:8080"
		m.setFocus(fieldURL)
		return m, nil
	}
	m.saving, m.saveMsg, m.saveErr = true, "", ""
	cfg := m.edits()
	req := saveRequest{ws: m.ctx.WS, configPath: m.ctx.ConfigPath, repos: m.repos.Value(),
		backend: cfg.LLM.Backend, baseURL: cfg.LLM.BaseURL, model: cfg.LLM.Model, mlxModel: cfg.MLX.Model,
		allowHTTP: cfg.Scrape.AllowHTTP}
	return m, func() tea.Msg { return savedMsg{res: save(req)} }
}

// ---- view -------------------------------------------------------------------

// View renders the screen into exactly the SetSize area.
func (m Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	lines, anchor := m.lines()
	return common.FitAround(lines, anchor, m.width, m.height)
}

func (m Model) lines() ([]string, int) {
	st := m.ctx.Styles
	var lines []string
	anchor := 0
	add := func(s ...string) { lines = append(lines, s...) }
	row := func(f field, label, value string) {
		if m.focus == f {
			anchor = len(lines)
		}
		add(common.FormRow(st, label, value, m.focus == f))
	}

	title := st.Header.Render("Set up cicdllm")
	if m.snapshot() != m.lastSaved && m.loaded {
		title += st.Muted.Render("  (unsaved changes)")
	}
	add(title, "")
	mark, label := "  ", st.Label
	if m.focus == fieldRepos {
		mark, label = "▸ ", st.Selected
		anchor = len(lines)
	}
	add(mark + label.Render("Repositories") + st.Muted.Render("  one URL, organisation URL or local path per line ("+
		filepath.Base(m.ctx.WS.ReposFile)+")"))
	switch {
	case m.loadErr != "":
		add("  " + st.Error.Render(m.loadErr))
	case !m.loaded:
		add("  " + st.Muted.Render("loading…"))
	default:
		for _, l := range strings.Split(m.repos.View(), "\n") {
			add("  " + l)
		}
	}
	add("")
	backendHint := "any OpenAI-compatible server: llama-server, Ollama, vLLM, LM Studio"
	if backends()[m.backend] == "mlx" {
		backendHint = "mlx_lm.server on Apple Silicon"
	}
	row(fieldBackend, "Backend", common.Choice(backends()[m.backend])+"  "+st.Muted.Render(backendHint))
	if m.mlx() {
		add(common.FormRow(st, "Server", st.Muted.Render("started by cicdllm: python -m mlx_lm server, on a free loopback port"), false))
		row(fieldModel, "MLX model", m.model.View())
		switch {
		case m.cachedErr != "":
			row(fieldCached, "Cached", st.Error.Render(m.cachedErr))
		case len(m.cached) == 0:
			row(fieldCached, "Cached", st.Muted.Render("no MLX models in the Hugging Face cache; cicdllm mlx download <model>"))
		default:
			row(fieldCached, "Cached", common.Choice(m.cached[m.cachedAt])+st.Muted.Render(fmt.Sprintf("  %d of %d · ←/→ picks", m.cachedAt+1, len(m.cached))))
		}
	} else {
		row(fieldURL, "Server URL", m.baseURL.View())
		row(fieldModel, "Model", m.model.View())
	}
	add("")
	button := func(f field, text string) string {
		if m.focus == f {
			anchor = len(lines)
			return "▸ " + st.Selected.Render("[ "+text+" ]")
		}
		return "  [ " + text + " ]"
	}
	add(button(fieldTest, "Test connection") + "  " + button(fieldSave, "Save"))
	if status := m.statusLines(); len(status) > 0 {
		add("")
		add(status...)
	}
	return lines, anchor
}

// statusLines are the connection test's and the save's outcome.
func (m Model) statusLines() []string {
	st := m.ctx.Styles
	indent := "    "
	var out []string
	switch {
	case m.probing:
		out = append(out, "  "+st.Muted.Render("testing the connection…"))
	case m.probeErr != "":
		out = append(out, "  "+st.Error.Render("✗ "+m.probeErr))
	case m.probe != nil && m.probe.Kind == llm.KindMLX:
		out = append(out, "  "+st.OK.Render("✓ Ready")+": mlx_lm.server can serve "+m.probe.Model+"; it starts (and loads the model) when prepare runs")
	case m.probe != nil:
		p := m.probe
		out = append(out, "  "+st.OK.Render("✓ Connected")+" to a "+p.Kind+" server; requests will use "+p.Model)
		models := p.Models
		more := ""
		if len(models) > 4 {
			models, more = models[:4], fmt.Sprintf(" (+%d more)", len(p.Models)-4)
		}
		out = append(out,
			indent+"Models: "+strings.Join(models, ", ")+more,
			indent+"Context: "+common.Thousands(p.ContextSize)+" tokens per request"+source(p.ContextSource),
			indent+"Slots: "+common.Plural(p.Slots, "request", "requests")+" at once"+source(p.SlotsSource),
			indent+"Structured output: "+p.StructuredOutput)
	}
	switch {
	case m.saving:
		out = append(out, "  "+st.Muted.Render("saving…"))
	case m.saveErr != "":
		out = append(out, "  "+st.Error.Render("✗ "+m.saveErr))
	case m.saveMsg != "":
		out = append(out, "  "+st.OK.Render("✓ "+m.saveMsg))
	}
	return out
}

func source(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}
