package setup

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/muesli/termenv"

	"cicdllm/llm"
	"cicdllm/llm/sim"
	"cicdllm/pipeline"
	"cicdllm/ui/common"
	"cicdllm/ui/uitest"
)

func init() { lipgloss.SetColorProfile(termenv.Ascii) }

func newContext(t *testing.T) *common.Context {
	t.Helper()
	if _, set := os.LookupEnv("HF_HUB_CACHE"); !set {
		t.Setenv("HF_HUB_CACHE", t.TempDir()) // never the developer's own model cache
	}
	ws, err := pipeline.NewWorkspace(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	return &common.Context{WS: ws, Config: pipeline.DefaultConfig(),
		ConfigPath: filepath.Join(ws.Dir, pipeline.ConfigFileName), Styles: common.DefaultStyles(),
		Keys: common.DefaultKeys(), Now: func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }}
}

// open returns the screen sized w×h with repos.txt loaded.
func open(t *testing.T, ctx *common.Context, w, h int) Model {
	t.Helper()
	m := New(ctx)
	m.SetSize(w, h)
	m, cmd := m.Open()
	m, _ = settle(t, m, cmd)
	return m
}

// settle runs cmd synchronously, feeds its message back into Update
// (following tea.BatchMsg) and repeats for the commands that returns.
// Cursor blink ticks would never end, so they are dropped (the screen
// uses a steady cursor, but a textarea default could bring them back);
// messages for the root are returned.
func settle(t *testing.T, m Model, cmd tea.Cmd) (Model, []tea.Msg) {
	t.Helper()
	return uitest.Settle(t, m, cmd, Model.Update,
		func(msg tea.Msg) bool {
			switch msg.(type) {
			case loadedMsg, probeMsg, savedMsg, cachedMsg:
				return true
			}
			return false
		},
		func(msg tea.Msg) bool { return strings.Contains(fmt.Sprintf("%T", msg), "Blink") })
}

func keyMsg(k string) tea.KeyMsg {
	types := map[string]tea.KeyType{"enter": tea.KeyEnter, "space": tea.KeySpace, "down": tea.KeyDown, "up": tea.KeyUp,
		"left": tea.KeyLeft, "right": tea.KeyRight, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab, "esc": tea.KeyEsc,
		"backspace": tea.KeyBackspace, "ctrl+u": tea.KeyCtrlU, "ctrl+s": tea.KeyCtrlS}
	if kt, ok := types[k]; ok {
		return tea.KeyMsg{Type: kt}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

func press(t *testing.T, m Model, keys ...string) (Model, []tea.Msg) {
	t.Helper()
	var all []tea.Msg
	for _, k := range keys {
		var cmd tea.Cmd
		var out []tea.Msg
		m, cmd = m.Update(keyMsg(k))
		m, out = settle(t, m, cmd)
		all = append(all, out...)
	}
	return m, all
}

// typeText types s into the focused field, one key per rune; "\n" is
// enter.
func typeText(t *testing.T, m Model, s string) Model {
	t.Helper()
	for _, r := range s {
		k := string(r)
		if r == '\n' {
			k = "enter"
		}
		m, _ = press(t, m, k)
	}
	return m
}

// focusOn moves to f with tab and ↓ (leaving the text fields with tab).
func focusOn(t *testing.T, m Model, f field) Model {
	t.Helper()
	for range 20 {
		switch {
		case m.focus == f:
			return m
		case m.focus == fieldRepos:
			m, _ = press(t, m, "tab")
		case m.focus < f:
			m, _ = press(t, m, "down")
		case m.focus.text():
			m, _ = press(t, m, "shift+tab")
		default:
			m, _ = press(t, m, "up")
		}
	}
	t.Fatalf("cannot reach field %d (at %d)", f, m.focus)
	return m
}

// setField replaces a text input's value by typing.
func setField(t *testing.T, m Model, f field, value string) Model {
	t.Helper()
	m = focusOn(t, m, f)
	m, _ = press(t, m, "ctrl+u")
	return typeText(t, m, value)
}

func plain(m Model) string { return ansi.Strip(m.View()) }

func startSim(t *testing.T) string {
	t.Helper()
	s := sim.New(sim.Config{Model: "sim-coder", ContextSize: 8192, Slots: 3})
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return url
}

func TestSetupTestConnection(t *testing.T) {
	ctx := newContext(t)
	url := startSim(t)
	m := open(t, ctx, 100, 40)
	m = setField(t, m, fieldURL, url)
	m = focusOn(t, m, fieldTest)
	m, cmd := m.Update(keyMsg("enter"))
	if !m.probing || !strings.Contains(plain(m), "testing the connection…") {
		t.Errorf("no progress shown:\n%s", plain(m))
	}
	m, _ = settle(t, m, cmd)
	if m.probe == nil {
		t.Fatalf("probe failed: %s", m.probeErr)
	}
	v := plain(m)
	for _, want := range []string{"✓ Connected to a llama.cpp server; requests will use sim-coder", "Models: sim-coder",
		"Context: 8,192 tokens per request", "Slots: 3 requests at once", "Structured output: json_schema"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q:\n%s", want, v)
		}
	}
	if ctx.Config.LLM.BaseURL != pipeline.DefaultConfig().LLM.BaseURL {
		t.Error("testing changed the configuration in use")
	}

	// Editing the server outdates the result.
	m = setField(t, m, fieldModel, "other")
	if m.probe != nil || strings.Contains(plain(m), "Connected") {
		t.Error("the result of another server is still shown")
	}
	m = focusOn(t, m, fieldTest)
	m, _ = press(t, m, "enter")
	if !strings.Contains(m.probeErr, `model "other" is not served`) || !strings.Contains(plain(m), "✗ model") {
		t.Errorf("unknown model: %q", m.probeErr)
	}
}

func TestSetupTestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	m := open(t, newContext(t), 100, 40)
	m = setField(t, m, fieldURL, url)
	m = focusOn(t, m, fieldTest)
	m, _ = press(t, m, "space")
	if m.probe != nil || m.probing || !strings.Contains(m.probeErr, "cannot reach the LLM server at "+url) {
		t.Fatalf("closed port: %q", m.probeErr)
	}
	if v := plain(m); !strings.Contains(v, "✗ cannot reach the LLM server") {
		t.Errorf("the error is not shown:\n%s", v)
	}
	if strings.Contains(m.probeErr, "\n") {
		t.Error("the error spans lines")
	}
}

func TestSetupSaveNewFiles(t *testing.T) {
	ctx := newContext(t)
	if err := os.MkdirAll(filepath.Join(ctx.WS.Dir, "local", ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := open(t, ctx, 100, 40)
	if m.repos.Value() != "" || !m.Capturing() {
		t.Fatalf("fresh workspace: %q, capturing %v", m.repos.Value(), m.Capturing())
	}
	m = typeText(t, m, "https://github.com/acme/alpha\nhttps://github.com/acme-org\n./local")
	m = focusOn(t, m, fieldBackend)
	m, _ = press(t, m, "right")
	m, _ = press(t, m, "left")
	m = setField(t, m, fieldURL, "http://127.0.0.1:11434")
	m = setField(t, m, fieldModel, "qwen2.5-coder:7b")
	if !strings.Contains(plain(m), "(unsaved changes)") {
		t.Error("unsaved changes are not shown")
	}
	m, msgs := press(t, m, "ctrl+s")
	if m.saveErr != "" {
		t.Fatal(m.saveErr)
	}
	repos, err := os.ReadFile(ctx.WS.ReposFile)
	if err != nil || string(repos) != "https://github.com/acme/alpha\nhttps://github.com/acme-org\n./local\n" {
		t.Errorf("repos.txt = %q, %v", repos, err)
	}
	l, err := pipeline.LoadConfig(pipeline.LoadOptions{Workdir: ctx.WS.Dir, Path: ctx.ConfigPath})
	if err != nil {
		t.Fatal(err)
	}
	if c := l.Config.LLM; c.Backend != "openai" || c.BaseURL != "http://127.0.0.1:11434" || c.Model != "qwen2.5-coder:7b" {
		t.Errorf("saved [llm] = %+v", c)
	}
	data, _ := os.ReadFile(ctx.ConfigPath)
	if !strings.HasPrefix(string(data), "# cicdllm configuration.") {
		t.Error("a new config file does not start from the documented example")
	}
	if len(msgs) != 1 {
		t.Fatalf("messages %v", msgs)
	}
	saved, ok := msgs[0].(common.ConfigSavedMsg)
	if !ok || saved.Path != ctx.ConfigPath || saved.Config.LLM.Model != "qwen2.5-coder:7b" {
		t.Errorf("sent %+v", msgs[0])
	}
	v := plain(m)
	if !strings.Contains(v, "✓ Saved repos.txt (3 repositories) and cicdllm.toml") || strings.Contains(v, "unsaved") {
		t.Errorf("the save is not shown:\n%s", v)
	}
	leftovers, _ := filepath.Glob(filepath.Join(ctx.WS.Dir, ".*.tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// Reopened, the screen shows what was saved.
	ctx.Config = saved.Config
	m = open(t, ctx, 100, 40)
	if m.repos.Value() != "https://github.com/acme/alpha\nhttps://github.com/acme-org\n./local" ||
		m.baseURL.Value() != "http://127.0.0.1:11434" || m.model.Value() != "qwen2.5-coder:7b" {
		t.Errorf("reopened: %q %q %q", m.repos.Value(), m.baseURL.Value(), m.model.Value())
	}
}

const existingConfig = `# My settings; keep this comment.
[generation]
theme = "devops" # and this one

[llm]
base_url = "http://old:8080"   # the old server
concurrency = 3
`

func TestSetupSavePreservesConfig(t *testing.T) {
	ctx := newContext(t)
	if err := os.WriteFile(ctx.ConfigPath, []byte(existingConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ctx.WS.ReposFile, []byte("https://github.com/acme/old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := open(t, ctx, 100, 40)
	if m.repos.Value() != "https://github.com/acme/old" {
		t.Fatalf("repos.txt not loaded: %q", m.repos.Value())
	}
	m = typeText(t, m, "\nnot a url ::\n")
	m = setField(t, m, fieldURL, "http://127.0.0.1:9999")
	m = focusOn(t, m, fieldBackend)
	m, _ = press(t, m, "space") // mlx: the model field now edits mlx.model
	m = setField(t, m, fieldModel, "mlx-community/Tiny-4bit")
	m = focusOn(t, m, fieldSave)
	m, msgs := press(t, m, "enter")
	if m.saveErr != "" || len(msgs) != 1 {
		t.Fatalf("save: %q, %v", m.saveErr, msgs)
	}
	data, _ := os.ReadFile(ctx.ConfigPath)
	want := `# My settings; keep this comment.
[generation]
theme = "devops" # and this one

[llm]
backend = "mlx"
model = ""
base_url = "http://127.0.0.1:9999"   # the old server
concurrency = 3

[mlx]
model = "mlx-community/Tiny-4bit"
`
	if string(data) != want {
		t.Errorf("cicdllm.toml:\n%s\nwant:\n%s", data, want)
	}
	if fi, _ := os.Stat(ctx.ConfigPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("the file's mode changed to %v", fi.Mode().Perm())
	}
	l, err := pipeline.LoadConfig(pipeline.LoadOptions{Workdir: ctx.WS.Dir, Path: ctx.ConfigPath})
	if err != nil {
		t.Fatal(err)
	}
	if c := l.Config; c.LLM.Backend != "mlx" || c.LLM.BaseURL != "http://127.0.0.1:9999" || c.LLM.Concurrency != 3 ||
		c.Generation.Theme != "devops" || c.MLX.Model != "mlx-community/Tiny-4bit" {
		t.Errorf("loaded %+v", c.LLM)
	}
	if v := plain(m); !strings.Contains(v, "(1 repository)") || !strings.Contains(v, "line 2 is skipped") {
		t.Errorf("the rejected line is not reported:\n%s", v)
	}
}

func TestSetupSaveInvalidRestores(t *testing.T) {
	ctx := newContext(t)
	if err := os.WriteFile(ctx.ConfigPath, []byte(existingConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	m := open(t, ctx, 100, 40)
	m = typeText(t, m, "https://github.com/acme/new")
	m = setField(t, m, fieldURL, "ftp://nope")
	m, msgs := press(t, m, "ctrl+s")
	if len(msgs) != 0 || !strings.Contains(m.saveErr, "not saved, the settings are invalid") ||
		!strings.Contains(m.saveErr, "llm.base_url") {
		t.Fatalf("invalid URL: %q %v", m.saveErr, msgs)
	}
	if data, _ := os.ReadFile(ctx.ConfigPath); string(data) != existingConfig {
		t.Errorf("the previous file was not restored:\n%s", data)
	}
	if _, err := os.Stat(ctx.WS.ReposFile); !os.IsNotExist(err) {
		t.Error("repos.txt was written although the configuration was refused")
	}
	if v := plain(m); !strings.Contains(v, "✗ not saved") {
		t.Errorf("the error is not shown:\n%s", v)
	}

	// Without a previous file, nothing stays behind.
	if err := os.Remove(ctx.ConfigPath); err != nil {
		t.Fatal(err)
	}
	m, _ = press(t, m, "ctrl+s")
	if m.saveErr == "" {
		t.Fatal("saved")
	}
	if _, err := os.Stat(ctx.ConfigPath); !os.IsNotExist(err) {
		t.Error("a refused new config file was left")
	}

	// An empty URL is refused before anything is written.
	m = setField(t, m, fieldURL, "")
	m, _ = press(t, m, "ctrl+s")
	if !strings.Contains(m.saveErr, "enter the server URL") || m.focus != fieldURL {
		t.Errorf("empty URL: %q", m.saveErr)
	}
}

func TestSetupKeys(t *testing.T) {
	m := open(t, newContext(t), 100, 40)
	if !m.Capturing() || len(m.KeyHelp()) == 0 {
		t.Error("the repository editor does not capture keys")
	}
	m = typeText(t, m, "q?:jk")
	if m.repos.Value() != "q?:jk" {
		t.Errorf("typed %q", m.repos.Value())
	}
	m = focusOn(t, m, fieldBackend)
	if m.Capturing() {
		t.Error("the backend choice captures keys")
	}
	for _, k := range []string{"q", "?", ":"} {
		if _, cmd := m.Update(keyMsg(k)); cmd != nil {
			t.Errorf("%s is bound", k)
		}
	}
	_, msgs := press(t, m, "esc")
	if len(msgs) != 1 || msgs[0] != (common.SwitchMsg{Screen: common.ScreenDashboard}) {
		t.Errorf("esc sent %v", msgs)
	}
	m = focusOn(t, m, fieldModel)
	_, msgs = press(t, m, "esc")
	if len(msgs) != 1 {
		t.Errorf("esc in a text field sent %v", msgs)
	}
}

// probed is the screen after a successful test, without a server: the
// goldens need a fixed URL.
func probed(t *testing.T, w, h int) Model {
	m := open(t, newContext(t), w, h)
	m = typeText(t, m, "https://github.com/acme/alpha\nhttps://gitlab.com/acme-group\n~/src/tool")
	m = focusOn(t, m, fieldTest)
	m, _ = m.test()
	m, _ = m.Update(probeMsg{seq: m.probeSeq, info: llm.ServerInfo{URL: "http://127.0.0.1:8080", Kind: llm.KindLlamaCpp,
		Models: []string{"qwen2.5-coder-7b", "a", "b", "c", "d", "e"}, Model: "qwen2.5-coder-7b", ContextSize: 16384,
		ContextSource: "/props", Slots: 4, SlotsSource: "/props", StructuredOutput: "json_schema"}})
	return m
}

func TestSetupGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("open_%dx%d", w, h), func(t *testing.T) {
			golden.RequireEqual(t, []byte(open(t, newContext(t), w, h).View()))
		})
		t.Run(fmt.Sprintf("tested_%dx%d", w, h), func(t *testing.T) {
			golden.RequireEqual(t, []byte(probed(t, w, h).View()))
		})
	}
}

func TestSetupEverySize(t *testing.T) {
	ctx := newContext(t)
	long := strings.Repeat("https://github.com/some-very-long-organisation-name/a-repository-with-a-long-name\n", 30)
	if err := os.WriteFile(ctx.WS.ReposFile, []byte(long), 0o644); err != nil {
		t.Fatal(err)
	}
	states := map[string]Model{"open": open(t, ctx, 80, 24), "probed": probed(t, 80, 24)}
	m := open(t, ctx, 80, 24)
	m = setField(t, m, fieldURL, "ftp://"+strings.Repeat("x", 300))
	m, _ = press(t, m, "ctrl+s")
	states["error"] = m
	for name, s := range states {
		for w := 20; w <= 200; w += 7 {
			for h := 5; h <= 60; h += 5 {
				s.SetSize(w, h)
				view := s.View()
				lines := strings.Split(view, "\n")
				if len(lines) != h {
					t.Errorf("%s %dx%d: %d lines", name, w, h, len(lines))
				}
				for i, l := range lines {
					if lw := ansi.StringWidth(l); lw > w {
						t.Errorf("%s %dx%d: line %d is %d wide", name, w, h, i, lw)
					}
				}
			}
		}
	}
}

// mlxCache builds a Hugging Face cache holding the given MLX models (a
// config.json with a quantization block is what marks them).
func mlxCache(t *testing.T, ids ...string) string {
	t.Helper()
	dir := t.TempDir()
	const commit = "89abcdef0123456789abcdef0123456789abcdef"
	for _, id := range ids {
		folder := filepath.Join(dir, "models--"+strings.ReplaceAll(id, "/", "--"))
		snap := filepath.Join(folder, "snapshots", commit)
		if err := os.MkdirAll(snap, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(folder, "refs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, "refs", "main"), []byte(commit), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := `{"model_type":"qwen2","quantization":{"bits":4,"group_size":64}}`
		if err := os.WriteFile(filepath.Join(snap, "config.json"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSetupOffersCachedMLXModels(t *testing.T) {
	t.Setenv("HF_HUB_CACHE", mlxCache(t, "mlx-community/Alpha-1B-4bit", "mlx-community/Beta-3B-4bit"))
	ctx := newContext(t)
	m := open(t, ctx, 100, 40)
	if len(m.cached) != 2 {
		t.Fatalf("cached MLX models = %v (%s)", m.cached, m.cachedErr)
	}
	m = focusOn(t, m, fieldBackend)
	m, _ = press(t, m, "right")
	if !m.mlx() {
		t.Fatal("right on the backend did not select mlx")
	}
	v := plain(m)
	for _, want := range []string{"started by cicdllm", "MLX model", "mlx-community/Alpha-1B-4bit", "1 of 2"} {
		if !strings.Contains(v, want) {
			t.Errorf("the mlx form lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "Server URL") {
		t.Error("the server URL is shown for the managed mlx backend")
	}
	m = focusOn(t, m, fieldCached)
	m, _ = press(t, m, "right")
	if got := m.model.Value(); got != "mlx-community/Beta-3B-4bit" {
		t.Fatalf("picked %q", got)
	}
	// Off Apple Silicon the test says so instead of starting anything.
	m = focusOn(t, m, fieldTest)
	m, _ = press(t, m, "enter")
	if v := plain(m); !strings.Contains(v, "MLX needs macOS on Apple Silicon") {
		t.Errorf("test connection on Linux:\n%s", v)
	}
	m = focusOn(t, m, fieldSave)
	m, msgs := press(t, m, "enter")
	if m.saveErr != "" || len(msgs) != 1 {
		t.Fatalf("save: %q %v", m.saveErr, msgs)
	}
	saved := msgs[0].(common.ConfigSavedMsg)
	if saved.Config.LLM.Backend != "mlx" || saved.Config.MLX.Model != "mlx-community/Beta-3B-4bit" {
		t.Errorf("saved %+v %+v", saved.Config.LLM, saved.Config.MLX)
	}
	// Back to openai: the llm.model field comes back as it was.
	m = focusOn(t, m, fieldBackend)
	m, _ = press(t, m, "left")
	if m.mlx() || m.model.Value() != ctx.Config.LLM.Model {
		t.Errorf("back to openai: mlx %v, model %q", m.mlx(), m.model.Value())
	}
}
