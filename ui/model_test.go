package ui

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"cicdllm/llm/sim"
	"cicdllm/pipeline"
	"cicdllm/ui/common"
)

func sized(t *testing.T, f *fixture, w, h int, opts Options) Model {
	t.Helper()
	opts.NoTick = true
	m := New(f.ctx, opts)
	m, _ = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

func checkFits(t *testing.T, what, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("%s at %d×%d: %d lines", what, w, h, len(lines))
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("%s at %d×%d: line %d is %d wide: %q", what, w, h, i+1, lw, l)
			return
		}
	}
}

func TestTooSmallTerminalSaysSo(t *testing.T) {
	f := newFixture(t, sim.Config{})
	for _, sz := range [][2]int{{59, 30}, {100, 15}, {20, 5}} {
		m := sized(t, f, sz[0], sz[1], Options{})
		v := m.View()
		checkFits(t, "too small", v, sz[0], sz[1])
		if !strings.Contains(strings.Join(strings.Fields(v), " "), "needs at least") {
			t.Errorf("%v: no minimum-size message:\n%s", sz, v)
		}
	}
	if v := sized(t, f, 60, 16, Options{}).View(); strings.Contains(v, "needs at least") {
		t.Errorf("60×16 is enough, got:\n%s", v)
	}
}

func TestGlobalKeys(t *testing.T) {
	f := newFixture(t, sim.Config{})
	m := sized(t, f, 100, 30, Options{})

	// ? opens help, ? or esc closes it; keys do nothing else meanwhile.
	m, _ = send(m, keyPress("?"))
	if !m.help || !strings.Contains(m.View(), "Everywhere") {
		t.Fatal("? did not open the help")
	}
	m, _ = send(m, keyPress("q"))
	if m.help {
		t.Fatal("q did not close the help")
	}

	// tab walks the dashboard's panes, then the screens.
	start := m.Screen()
	for i := 0; i < 10 && m.Screen() == start; i++ {
		m, _ = send(m, keyPress("tab"))
	}
	if m.Screen() != common.ScreenSamples {
		t.Fatalf("tab from the dashboard reached %v, want samples", m.Screen())
	}
	m, _ = send(m, tea.KeyMsg{Type: tea.KeyShiftTab})
	if m.Screen() != common.ScreenDashboard {
		t.Fatalf("shift+tab: screen %v", m.Screen())
	}

	// e opens the export dialog, / the search on the samples screen.
	m, _ = send(m, keyPress("e"))
	if m.Screen() != common.ScreenExport {
		t.Fatalf("e: screen %v", m.Screen())
	}
	m, _ = send(m, common.SwitchMsg{Screen: common.ScreenDashboard})
	m, _ = send(m, keyPress("/"))
	if m.Screen() != common.ScreenSamples || !m.browser.Capturing() {
		t.Fatalf("/: screen %v, capturing %v", m.Screen(), m.browser.Capturing())
	}
	// While the search box has focus, q is text, not quit.
	if _, cmd := send(m, keyPress("q")); isQuit(cmd) {
		t.Fatal("q quit while typing a search")
	}
	m, _ = send(m, keyPress("esc"))
	m, _ = send(m, common.SwitchMsg{Screen: common.ScreenDashboard})

	// The palette: type to filter, enter runs.
	m, _ = send(m, keyPress(":"))
	if !m.palette.open {
		t.Fatal(": did not open the palette")
	}
	for _, r := range "exprt" {
		m, _ = send(m, keyPress(string(r)))
	}
	if len(m.palette.matches) == 0 || !strings.HasPrefix(m.palette.matches[0].title, "Export") {
		t.Fatalf("palette matches for exprt: %+v", m.palette.matches)
	}
	m, _ = send(m, keyPress("enter"))
	if m.palette.open || m.Screen() != common.ScreenExport {
		t.Fatalf("palette enter: open %v, screen %v", m.palette.open, m.Screen())
	}
	m, _ = send(m, common.SwitchMsg{Screen: common.ScreenDashboard})
	m, _ = send(m, keyPress("ctrl+p"))
	m, _ = send(m, keyPress("esc"))
	if m.palette.open {
		t.Fatal("esc did not close the palette")
	}

	// q with nothing running quits at once.
	if _, cmd := send(m, keyPress("q")); !isQuit(cmd) {
		t.Fatal("q while idle did not quit")
	}
	if _, cmd := send(m, keyPress("ctrl+c")); !isQuit(cmd) {
		t.Fatal("ctrl+c while idle did not quit")
	}
}

func TestQuitWhileBusyConfirmsAndStopsGracefully(t *testing.T) {
	f := newFixture(t, sim.Config{})
	m := sized(t, f, 100, 30, Options{})
	busy := common.TickMsg{Now: fixedNow(), View: pipeline.SessionView{Job: pipeline.JobPrepare, Running: true}}
	m, _ = send(m, busy)

	m, cmd := send(m, keyPress("q"))
	if isQuit(cmd) || !m.confirmQuit || !strings.Contains(m.View(), "Stop it gracefully and quit?") {
		t.Fatal("q while busy did not ask")
	}
	m, _ = send(m, keyPress("n"))
	if m.confirmQuit || m.quitting {
		t.Fatal("n did not cancel the quit")
	}
	m, _ = send(m, keyPress("q"))
	m, cmd = send(m, keyPress("y"))
	if isQuit(cmd) || !m.quitting {
		t.Fatal("y should stop first, then quit")
	}
	// The job's end quits.
	_, cmd = send(m, common.SessionEventMsg{Event: pipeline.SessionEvent{Job: pipeline.JobPrepare, Done: true}})
	if !isQuit(cmd) {
		t.Fatal("the job ended but the UI did not quit")
	}

	// ctrl+c twice quits at once.
	m = sized(t, f, 100, 30, Options{})
	m, _ = send(m, busy)
	m, cmd = send(m, keyPress("ctrl+c"))
	if isQuit(cmd) || !strings.Contains(m.View(), "ctrl+c again") {
		t.Fatal("the first ctrl+c while busy should warn")
	}
	if _, cmd = send(m, keyPress("ctrl+c")); !isQuit(cmd) {
		t.Fatal("the second ctrl+c did not quit")
	}
}

func TestSetupScreenOnFirstRun(t *testing.T) {
	f := newFixture(t, sim.Config{})
	m := sized(t, f, 100, 30, Options{Setup: true})
	if m.Screen() != common.ScreenSetup {
		t.Fatalf("first run opened %v", m.Screen())
	}
}

func TestGoldenHelpAndPalette(t *testing.T) {
	f := newFixture(t, sim.Config{})
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		m := sized(t, f, sz[0], sz[1], Options{})
		m, _ = send(m, keyPress("?"))
		t.Run(fmt.Sprintf("help_%dx%d", sz[0], sz[1]), func(t *testing.T) {
			golden.RequireEqual(t, []byte(m.View()))
		})
		m, _ = send(m, keyPress("?"))
		m, _ = send(m, keyPress(":"))
		for _, r := range "skip" {
			m, _ = send(m, keyPress(string(r)))
		}
		t.Run(fmt.Sprintf("palette_%dx%d", sz[0], sz[1]), func(t *testing.T) {
			golden.RequireEqual(t, []byte(m.View()))
		})
	}
}

func TestFuzzyPaletteRanksWordStarts(t *testing.T) {
	got := filterActions(actions(), "pr")
	if len(got) == 0 || !strings.HasPrefix(got[0].title, "Prepare") {
		t.Fatalf("pr → %v", got)
	}
	if got := filterActions(actions(), "zzzz"); len(got) != 0 {
		t.Fatalf("zzzz matched %v", got)
	}
	if got := filterActions(actions(), ""); len(got) != len(actions()) {
		t.Fatalf("empty query lists %d of %d", len(got), len(actions()))
	}
}

func TestUnreachableServerOpensSetup(t *testing.T) {
	f := newFixture(t, sim.Config{})
	f.cfg.LLM.BaseURL = "http://127.0.0.1:1"
	f.sess.SetConfig(f.cfg)
	m := sized(t, f, 100, 30, Options{CheckServer: true})
	var probe tea.Msg
	for _, c := range m.Init()().(tea.BatchMsg) {
		if c == nil {
			continue
		}
		if msg, ok := runShort(c).(serverCheckMsg); ok {
			probe = msg
		}
	}
	if probe == nil || probe.(serverCheckMsg).err == nil {
		t.Fatalf("no failed probe at start: %#v", probe)
	}
	m, _ = send(m, probe)
	if m.Screen() != common.ScreenSetup || !strings.Contains(m.View(), "127.0.0.1:1") {
		t.Fatalf("screen %v after an unreachable server:\n%s", m.Screen(), m.View())
	}
}

func TestQualityOverviewOverlay(t *testing.T) {
	f := newFixture(t, sim.Config{})
	m := sized(t, f, 100, 30, Options{})
	m, cmd := send(m, keyPress("Q"))
	if !m.qualityOn || cmd == nil || !strings.Contains(m.View(), "reading the samples") {
		t.Fatal("Q did not open the quality overview")
	}
	m, _ = send(m, cmd())
	v := m.View()
	for _, want := range []string{"Quality overview", "0 active samples", "Grounding flags", "Question types", "Samples per language"} {
		if !strings.Contains(v, want) {
			t.Errorf("overview lacks %q:\n%s", want, v)
		}
	}
	checkFits(t, "quality", v, 100, 30)
	m, _ = send(m, keyPress("esc"))
	if m.qualityOn {
		t.Error("esc did not close the overview")
	}
}
