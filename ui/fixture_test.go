package ui

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"cicdllm/llm/sim"
	"cicdllm/pipeline"
	"cicdllm/pipeline/demo"
	"cicdllm/store"
	"cicdllm/ui/common"
)

func init() { lipgloss.SetColorProfile(termenv.Ascii) }

// fixedNow keeps golden views free of the real clock.
func fixedNow() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) }

type fixture struct {
	dir  string
	ws   pipeline.Workspace
	cfg  pipeline.Config
	st   *store.Store
	sim  *sim.Server
	sess *pipeline.Session
	ctx  *common.Context
}

// newFixture makes the demo workspace (the embedded sample repository)
// against a simulator with simCfg, a real store and a session.
func newFixture(t *testing.T, simCfg sim.Config) *fixture {
	t.Helper()
	f := &fixture{dir: filepath.Join(t.TempDir(), "ws")}
	f.sim = sim.New(simCfg)
	url, err := f.sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.sim.Close() })
	if err := demo.Create(f.dir, url); err != nil {
		t.Fatal(err)
	}
	f.ws, err = pipeline.NewWorkspace(f.dir, "data")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := pipeline.LoadConfig(pipeline.LoadOptions{Workdir: f.dir,
		LookupEnv: func(string) (string, bool) { return "", false }, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = loaded.Config
	f.st, err = store.Open(context.Background(), f.ws.DBPath, store.Options{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	f.sess = pipeline.NewSession(pipeline.SessionOptions{Workspace: f.ws, Config: f.cfg, Store: f.st,
		LookupEnv: func(string) (string, bool) { return "", false },
		ReadPower: func() (pipeline.PowerState, error) { return pipeline.PowerState{}, nil }})
	// Cleanups run last-in first-out: the session stops before the store closes.
	t.Cleanup(func() { f.st.Close() })
	t.Cleanup(f.sess.Close)
	f.ctx = &common.Context{Store: f.st, WS: f.ws, Config: f.cfg, ConfigPath: filepath.Join(f.dir, "cicdllm.toml"),
		Styles: common.DefaultStyles(), Keys: common.DefaultKeys(), Now: fixedNow, Session: f.sess,
		LogPath: filepath.Join(f.dir, "logs", "test.log")}
	return f
}

// waitUntil polls cond; the deadline only guards against a hang.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func keyPress(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "ctrl+p":
		return tea.KeyMsg{Type: tea.KeyCtrlP}
	case "ctrl+s":
		return tea.KeyMsg{Type: tea.KeyCtrlS}
	case " ":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune(" ")}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// send feeds one message to the root model.
func send(m Model, msg tea.Msg) (Model, tea.Cmd) {
	next, cmd := m.Update(msg)
	return next.(Model), cmd
}

// isQuit runs cmd (and any batch it holds) looking for tea.Quit.
func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	switch msg := runShort(cmd).(type) {
	case tea.QuitMsg:
		return true
	case tea.BatchMsg:
		for _, c := range msg {
			if isQuit(c) {
				return true
			}
		}
	}
	return false
}

// runShort runs a command unless it blocks (a tick or a listen); those
// report nil.
func runShort(cmd tea.Cmd) tea.Msg {
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	select {
	case msg := <-ch:
		return msg
	case <-time.After(300 * time.Millisecond):
		return nil
	}
}
