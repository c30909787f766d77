package dashboard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"cicdllm/llm/sim"
	"cicdllm/pipeline"
	"cicdllm/store"
	"cicdllm/ui/common"
)

// ---- driving the model -------------------------------------------------------

// drive feeds msg to m and then every message its commands produce, as
// the Bubble Tea runtime would, following tea.BatchMsg. The dashboard
// returns no command that sleeps (its polls are paced by the root's
// ticks), so every command runs synchronously here. Messages meant for
// the root (OpenSampleMsg, SwitchMsg) are returned.
func drive(t *testing.T, m Model, msg tea.Msg) (Model, []tea.Msg) {
	t.Helper()
	queue := []tea.Msg{msg}
	var seen []tea.Msg
	for len(queue) > 0 {
		msg := queue[0]
		queue = queue[1:]
		seen = append(seen, msg)
		var cmd tea.Cmd
		m, cmd = m.Update(msg)
		queue = append(queue, runCmd(cmd)...)
	}
	return m, seen
}

func runCmd(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if batch, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range batch {
			out = append(out, runCmd(c)...)
		}
		return out
	}
	if msg == nil {
		return nil
	}
	return []tea.Msg{msg}
}

// keyMsg builds the message Bubble Tea sends for a key name.
func keyMsg(k string) tea.KeyMsg {
	switch k {
	case " ", "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEscape}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

func press(t *testing.T, m Model, keys ...string) (Model, []tea.Msg) {
	t.Helper()
	var all []tea.Msg
	for _, k := range keys {
		var seen []tea.Msg
		m, seen = drive(t, m, keyMsg(k))
		all = append(all, seen...)
	}
	return m, all
}

// pollNow runs a poll at once, as the next tick would.
func pollNow(t *testing.T, m Model) Model {
	t.Helper()
	m, cmd := m.startLoad()
	for _, msg := range runCmd(cmd) {
		m, _ = drive(t, m, msg)
	}
	return m
}

// focus tabs to pane p.
func focus(t *testing.T, m Model, p pane) Model {
	t.Helper()
	for m.focus != p {
		var ok bool
		if m, ok = m.NextPane(); !ok && p != paneRepos {
			t.Fatalf("pane %d not reachable with tab", p)
		}
	}
	return m
}

// ---- a real session against a simulated server ------------------------------

type fixture struct {
	ws   pipeline.Workspace
	st   *store.Store
	sim  *sim.Server
	sess *pipeline.Session
	ctx  *common.Context
	src  string
}

// smallGo is a Go file with a couple of functions to ask about.
func smallGo(pkg string, i int) string {
	return fmt.Sprintf("package %s\n\n// Double%d returns twice n.\nfunc Double%d(n int) int {\n\treturn n * 2\n}\n\n// Clamp%d keeps v between lo and hi.\nfunc Clamp%d(v, lo, hi int) int {\n\tif v < lo {\n\t\treturn lo\n\t}\n\tif v > hi {\n\t\treturn hi\n\t}\n\treturn v\n}\n", pkg, i, i, i, i)
}

// gitRepo makes a repository with go-git holding files, one commit.
func gitRepo(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	sig := &object.Signature{Name: "t", Email: "t@example.com", When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if _, err := wt.Commit("init", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
}

// newFixture makes a workspace whose repos.txt lists one local repository
// of four Go files, a store, a simulated LLM server and a session.
func newFixture(t *testing.T, simCfg sim.Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	ws, err := pipeline.NewWorkspace(dir, "data")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "svc")
	gitRepo(t, src, map[string]string{
		"a.go": smallGo("svc", 1), "b.go": smallGo("svc", 2),
		"util/c.go": smallGo("util", 3), "util/d.go": smallGo("util", 4),
	})
	if err := os.WriteFile(ws.ReposFile, []byte(src+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), ws.DBPath, store.Options{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := sim.New(simCfg)
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cfg := pipeline.DefaultConfig()
	cfg.LLM.BaseURL = url
	cfg.LLM.FirstTokenTimeout = pipeline.Duration(20 * time.Second)
	cfg.LLM.IdleTimeout = pipeline.Duration(20 * time.Second)
	cfg.Generation.QuestionsPerChunk = 2
	cfg.Generation.MaxTokens = 64
	cfg.Battery.Enabled = false
	noEnv := func(string) (string, bool) { return "", false }
	sess := pipeline.NewSession(pipeline.SessionOptions{Workspace: ws, Config: cfg, Store: st, LookupEnv: noEnv, Home: dir,
		ReadPower: func() (pipeline.PowerState, error) { return pipeline.PowerState{}, nil }})
	t.Cleanup(sess.Close) // runs first: the job ends before the store closes
	ctx := &common.Context{Store: st, WS: ws, Config: cfg, Styles: common.DefaultStyles(), Keys: common.DefaultKeys(),
		Now: time.Now, Session: sess, LogPath: filepath.Join(dir, "logs", "run.log")}
	return &fixture{ws: ws, st: st, sim: srv, sess: sess, ctx: ctx, src: src}
}

// model is a dashboard on the fixture with fixed battery and disk.
func (f *fixture) model(t *testing.T) Model {
	t.Helper()
	m := New(f.ctx)
	m.env = env{
		readPower: func() (pipeline.PowerState, error) { return pipeline.PowerState{}, nil },
		diskFree:  func(string) (uint64, error) { return 1 << 30, nil },
	}
	m.SetSize(100, 30)
	m, _ = drive(t, m, runCmd(m.Init())[0])
	return m
}

// pump feeds the session's events (and a tick with its view every 20 ms)
// to m until done says so. Jobs wait for room on the event channel, so a
// test must keep reading it while they run.
func (f *fixture) pump(t *testing.T, m Model, what string, done func(m Model, ev *pipeline.SessionEvent) bool) Model {
	t.Helper()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ev := <-f.sess.Events():
			m, _ = drive(t, m, common.SessionEventMsg{Event: ev})
			if ev.Done && ev.Err != nil && !strings.Contains(what, "error") {
				t.Logf("job ended with: %v", ev.Err)
			}
			if done(m, &ev) {
				return m
			}
		case now := <-tick.C:
			m, _ = m.Update(common.TickMsg{Now: now, View: f.sess.View()}) // the poll it may start is not run
			if done(m, nil) {
				return m
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s; session: %+v", what, f.sess.View())
		}
	}
}

// jobDone waits for the end of a job of kind k and checks it succeeded.
func (f *fixture) jobDone(t *testing.T, m Model, k pipeline.JobKind) Model {
	t.Helper()
	var err error
	m = f.pump(t, m, k.String()+" to finish", func(_ Model, ev *pipeline.SessionEvent) bool {
		if ev != nil && ev.Done && ev.Job == k {
			err = ev.Err
			return true
		}
		return false
	})
	if err != nil {
		t.Fatalf("%s failed: %v", k, err)
	}
	return m
}

// scrape clones the fixture's repository through the session directly.
func (f *fixture) scrape(t *testing.T, m Model) Model {
	t.Helper()
	if err := f.sess.Scrape(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f.jobDone(t, m, pipeline.JobScrape)
}

func flashOf(m Model) string { return m.msg.text }

func hasMsg[T any](msgs []tea.Msg) (T, bool) {
	for _, msg := range msgs {
		if v, ok := msg.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// ---- the keys ------------------------------------------------------------------

func TestKeyScrape(t *testing.T) {
	f := newFixture(t, sim.Config{Slots: 2})
	m := f.model(t)
	m, msgs := press(t, m, "s")
	if _, ok := hasMsg[common.FlashMsg](msgs); !ok || !strings.Contains(flashOf(m), "scrape started") {
		t.Fatalf("s: flash %q, messages %v", flashOf(m), msgs)
	}
	m = f.jobDone(t, m, pipeline.JobScrape)
	m, _ = drive(t, m, common.TickMsg{Now: time.Now(), View: f.sess.View()})
	m = pollNow(t, m)
	if len(m.rows) != 1 || m.rows[0].state != pipeline.ActionLocal {
		t.Fatalf("repos after scrape: %+v", m.rows)
	}
	if !strings.Contains(m.View(), m.rows[0].name) || !strings.Contains(flashOf(m), "scrape finished") {
		t.Errorf("view after scrape (flash %q):\n%s", flashOf(m), m.View())
	}
}

func TestKeyPrepareAndOpenSample(t *testing.T) {
	f := newFixture(t, sim.Config{Slots: 2})
	m := f.scrape(t, f.model(t))
	m, _ = press(t, m, "p")
	if !strings.Contains(flashOf(m), "prepare started") {
		t.Fatalf("p: flash %q", flashOf(m))
	}
	m = f.jobDone(t, m, pipeline.JobPrepare)
	if len(m.ring) == 0 {
		t.Fatal("no answer reached the live preview's ring")
	}
	m = pollNow(t, m)
	if len(m.recent) == 0 || m.recent[0].id == 0 {
		t.Fatalf("recent answers without ids: %+v", m.recent)
	}
	if m.Busy() {
		t.Error("Busy after the job ended")
	}
	m = focus(t, m, paneLive)
	m, msgs := press(t, m, "j", "k", "enter")
	open, ok := hasMsg[common.OpenSampleMsg](msgs)
	if !ok || open.ID != m.recent[0].id {
		t.Fatalf("enter on the newest answer: %+v (want id %d)", msgs, m.recent[0].id)
	}
	if s, err := f.st.Sample(context.Background(), open.ID); err != nil || s.Status != store.StatusActive {
		t.Errorf("opened sample %d: %+v %v", open.ID, s.Status, err)
	}

	// An answer known only from its event is looked up when opened.
	m.recent[0].id = 0
	_, msgs = press(t, m, "enter")
	if again, ok := hasMsg[common.OpenSampleMsg](msgs); !ok || again.ID != open.ID {
		t.Errorf("lazy lookup: %+v, want id %d", msgs, open.ID)
	}
}

// The job keys against a run slow enough that both slots stay busy.
func TestKeysWhileRunning(t *testing.T) {
	f := newFixture(t, sim.Config{Slots: 2, TokensPerSecond: 15, AnswerTokens: 45})
	m := f.scrape(t, f.model(t))
	m, _ = press(t, m, "p")
	twoFiles := func(m Model, _ *pipeline.SessionEvent) bool { return len(inFlightFiles(m.view.Activity)) >= 2 }
	m = f.pump(t, m, "two files in flight", twoFiles)
	if !m.Busy() {
		t.Fatal("Busy is false while prepare runs")
	}

	// s while a job runs: the session's refusal is shown.
	m, msgs := press(t, m, "s")
	if e, ok := hasMsg[common.ErrMsg](msgs); !ok || !errors.Is(e.Err, pipeline.ErrBusy) || !m.msg.err {
		t.Errorf("s during prepare: %+v, flash %q", msgs, flashOf(m))
	}

	// v cycles the live preview through the busy slots.
	m = focus(t, m, paneLive)
	first, _ := m.liveActivity()
	m, _ = press(t, m, "v")
	second, ok := m.liveActivity()
	if !ok || second.Slot == first.Slot {
		t.Errorf("v: slot %d, then %d", first.Slot, second.Slot)
	}
	m, _ = press(t, m, "v")
	if third, _ := m.liveActivity(); third.Slot != first.Slot {
		t.Errorf("v twice with two busy slots: slot %d, want %d", third.Slot, first.Slot)
	}

	// space pauses, space resumes.
	m, _ = press(t, m, " ")
	if !f.sess.View().Paused || !strings.Contains(flashOf(m), "paused") {
		t.Errorf("space: paused=%v flash %q", f.sess.View().Paused, flashOf(m))
	}
	m, _ = press(t, m, " ")
	if f.sess.View().Paused || flashOf(m) != "resumed" {
		t.Errorf("space again: paused=%v flash %q", f.sess.View().Paused, flashOf(m))
	}

	// n with two files in flight opens the chooser; esc cancels it.
	m = f.pump(t, m, "two files in flight", twoFiles)
	m, _ = press(t, m, "n")
	if !m.Capturing() || len(m.skip.items) < 2 {
		t.Fatalf("n with two busy slots: capturing=%v items %+v", m.Capturing(), m.skip.items)
	}
	if !strings.Contains(m.View(), "Skip which file?") {
		t.Errorf("chooser not drawn:\n%s", m.View())
	}
	m, _ = press(t, m, "q") // swallowed: the prompt has the keys
	if !m.Capturing() {
		t.Error("a stray key closed the chooser")
	}
	m, _ = press(t, m, "esc")
	if m.Capturing() {
		t.Fatal("esc left the chooser open")
	}
	m = f.pump(t, m, "two files in flight", twoFiles)
	m, _ = press(t, m, "n", "j")
	chosen := m.skip.items[1].Path
	m, _ = press(t, m, "enter")
	if m.Capturing() || !strings.Contains(flashOf(m), "skipping "+chosen) {
		t.Fatalf("enter in the chooser: capturing=%v flash %q", m.Capturing(), flashOf(m))
	}
	m = f.pump(t, m, chosen+" to be skipped", func(_ Model, ev *pipeline.SessionEvent) bool {
		return ev != nil && ev.Runner != nil && ev.Runner.Kind == pipeline.EventFileSkipped && ev.Runner.Path == chosen
	})

	// Digits pick directly.
	m = f.pump(t, m, "two files in flight", twoFiles)
	m, _ = press(t, m, "n")
	if m.Capturing() {
		picked := m.skip.items[0].Path
		m, _ = press(t, m, "1")
		if m.Capturing() || !strings.Contains(flashOf(m), "skipping "+picked) {
			t.Errorf("1 in the chooser: capturing=%v flash %q", m.Capturing(), flashOf(m))
		}
	}

	// S stops gracefully.
	m, _ = press(t, m, "S")
	if v := f.sess.View(); v.Running && !v.Stopping {
		t.Errorf("S: session %+v", v)
	}
	if !strings.Contains(flashOf(m), "stopping") {
		t.Errorf("S: flash %q", flashOf(m))
	}
	m = f.jobDone(t, m, pipeline.JobPrepare)
	if m.Busy() || f.sess.View().Running {
		t.Error("still running after S")
	}
	m, _ = press(t, m, "S")
	if flashOf(m) != "no job is running" {
		t.Errorf("S when idle: %q", flashOf(m))
	}
	m, _ = press(t, m, " ")
	if !strings.Contains(flashOf(m), "nothing to pause") {
		t.Errorf("space when idle: %q", flashOf(m))
	}
}

// With one file in flight n skips it without asking.
func TestKeySkipSingleSlot(t *testing.T) {
	f := newFixture(t, sim.Config{Slots: 1, TokensPerSecond: 15, AnswerTokens: 45})
	m := f.scrape(t, f.model(t))
	m, _ = press(t, m, "p")
	m = f.pump(t, m, "a file in flight", func(m Model, _ *pipeline.SessionEvent) bool { return len(m.view.Activity) == 1 })
	path := f.sess.View().Activity[0].Path
	m, _ = press(t, m, "n")
	if m.Capturing() || !strings.Contains(flashOf(m), "skipping "+path) {
		t.Fatalf("n with one busy slot: capturing=%v flash %q", m.Capturing(), flashOf(m))
	}
	m = f.pump(t, m, path+" to be skipped", func(_ Model, ev *pipeline.SessionEvent) bool {
		return ev != nil && ev.Runner != nil && ev.Runner.Kind == pipeline.EventFileSkipped && ev.Runner.Path == path
	})
	m, _ = press(t, m, "S")
	f.jobDone(t, m, pipeline.JobPrepare)
}

func TestKeysRetry(t *testing.T) {
	f := newFixture(t, sim.Config{Slots: 2})
	m := f.scrape(t, f.model(t))
	ctx := context.Background()
	repos, err := f.st.Repos(ctx)
	if err != nil || len(repos) != 1 {
		t.Fatalf("repos %+v %v", repos, err)
	}
	for _, p := range []string{"a.go", "util/c.go"} {
		if err := f.st.RecordFailure(ctx, repos[0].ID, p, "the LLM server sent no token within 120s"); err != nil {
			t.Fatal(err)
		}
	}
	m = pollNow(t, m)
	if len(m.data.failures) != 2 {
		t.Fatalf("failures %+v", m.data.failures)
	}
	m = focus(t, m, paneFailures)
	m, _ = press(t, m, "G")
	selected := m.data.failures[m.failSel].FilePath
	other := m.data.failures[1-m.failSel].FilePath

	// r in the failures pane retries the selected file only.
	m, _ = press(t, m, "r")
	if !strings.Contains(flashOf(m), "retrying "+selected) {
		t.Fatalf("r: flash %q", flashOf(m))
	}
	m = f.jobDone(t, m, pipeline.JobRetry)
	m = pollNow(t, m)
	if len(m.data.failures) != 1 || m.data.failures[0].FilePath != other {
		t.Fatalf("after r: failures %+v, want only %s", m.data.failures, other)
	}
	if n := countSamples(t, f.st, selected); n == 0 {
		t.Errorf("r produced no samples for %s", selected)
	}
	if n := countSamples(t, f.st, "b.go"); n != 0 {
		t.Errorf("r processed b.go too (%d samples)", n)
	}

	// R retries all of them, from any pane.
	m = focus(t, m, paneRepos)
	m, _ = press(t, m, "R")
	if !strings.Contains(flashOf(m), "retrying 1 failed file") {
		t.Fatalf("R: flash %q", flashOf(m))
	}
	m = f.jobDone(t, m, pipeline.JobRetry)
	m = pollNow(t, m)
	if len(m.data.failures) != 0 {
		t.Fatalf("after R: failures %+v", m.data.failures)
	}

	// r outside the failures pane retries all; none are left.
	m, _ = press(t, m, "r")
	if flashOf(m) != "no failed files to retry" {
		t.Errorf("r with no failures: %q", flashOf(m))
	}
}

func countSamples(t *testing.T, st *store.Store, path string) int {
	t.Helper()
	page, err := st.ListSamples(context.Background(), store.SampleQuery{FilePath: path, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Samples)
}

func TestKeyLogLines(t *testing.T) {
	st := seededStore(t)
	ctx := testContext(st)
	ctx.LogPath = filepath.Join(t.TempDir(), "cicdllm-run.log")
	var log strings.Builder
	for i := range 80 {
		fmt.Fprintf(&log, "time=2026-11-24T11:%02d:00Z level=INFO msg=\"answer stored\" file=internal/auth/jwt.go n=%d\n", i%60, i)
		if i%10 == 0 {
			fmt.Fprintf(&log, "time=2026-11-24T11:%02d:30Z level=WARN msg=\"request failed; trying again\" file=deploy/Dockerfile attempt=%d\n", i%60, i/10+1)
		}
	}
	log.WriteString("time=2026-11-24T11:59:59Z level=WARN msg=\"file failed\" repo=github.com/acme/infra file=deploy/Dockerfile err=\"the chunk does not fit\"\n")
	if err := os.WriteFile(ctx.LogPath, []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(ctx)
	m.SetSize(120, 30)
	m, _ = drive(t, m, fixedPoll(st))
	if m.data.failures[0].FilePath != "deploy/Dockerfile" {
		t.Fatalf("newest failure %+v", m.data.failures[0])
	}
	m, _ = press(t, m, "l")
	if m.focus != paneFailures || !m.logs.open || len(m.logs.lines) != 9 {
		t.Fatalf("l: focus %d open %v lines %d: %q", m.focus, m.logs.open, len(m.logs.lines), m.logs.lines)
	}
	view := m.View()
	if !strings.Contains(view, "Log: deploy/Dockerfile") || !strings.Contains(view, `chunk does not fit"`) ||
		strings.Contains(view, "answer stored") {
		t.Errorf("log overlay:\n%s", view)
	}
	m, _ = press(t, m, "esc")
	if m.logs.open || !strings.Contains(m.View(), "Failures (2)") {
		t.Errorf("esc left the log open:\n%s", m.View())
	}

	// Only the last 50 lines about a file are kept.
	lines, err := logLinesAbout(ctx.LogPath, "internal/auth/jwt.go", logLinesKept)
	if err != nil || len(lines) != logLinesKept || !strings.HasSuffix(lines[len(lines)-1], "n=79") {
		t.Errorf("last lines: %d %v", len(lines), err)
	}
	m.logs = logView{}
	m.ctx.LogPath = filepath.Join(t.TempDir(), "missing.log")
	m, _ = press(t, m, "l")
	if m.logs.err == nil || !strings.Contains(m.View(), "cannot open the log") {
		t.Errorf("missing log: %v", m.logs.err)
	}
}

func TestMoveKeys(t *testing.T) {
	st := seededStore(t)
	m := New(testContext(st))
	m.SetSize(100, 30)
	m, _ = drive(t, m, fixedPoll(st))
	m, _ = press(t, m, "j", "down")
	if m.repoSel != 2 || m.repoName != "gitlab.com/ops/legacy" {
		t.Errorf("j, down: %d %s", m.repoSel, m.repoName)
	}
	m, _ = press(t, m, "j", "k", "up")
	if m.repoSel != 0 {
		t.Errorf("j at the end, then k, up: %d", m.repoSel)
	}
	m, _ = press(t, m, "G")
	if m.repoSel != 2 {
		t.Errorf("G: %d", m.repoSel)
	}
	m, _ = press(t, m, "g")
	if m.repoSel != 0 {
		t.Errorf("g: %d", m.repoSel)
	}
	// The selection follows its repository when a poll reorders rows.
	m, _ = press(t, m, "j")
	m, _ = drive(t, m, common.TickMsg{Now: fixedNow(), View: pipeline.SessionView{Repos: []pipeline.RepoProgress{{Name: "a.example/first", State: "cloning"}}}})
	if m.rows[m.repoSel].name != "github.com/acme/infra" {
		t.Errorf("selection moved to %s", m.rows[m.repoSel].name)
	}

	m = focus(t, m, paneFailures)
	m, _ = press(t, m, "j")
	if m.failSel != 1 || m.repoSel != 2 {
		t.Errorf("j in failures: fail %d repo %d", m.failSel, m.repoSel)
	}
	// Without a session the job keys explain instead of failing.
	m, msgs := press(t, m, "p")
	if f, ok := hasMsg[common.FlashMsg](msgs); !ok || !strings.Contains(f.Text, "no background session") {
		t.Errorf("p without a session: %+v", msgs)
	}
	if m.Busy() {
		t.Error("Busy without a session")
	}
}

// The slow poll is paced by ticks: every pollEvery, and a second after an
// event asked for fresh data, never two at once.
func TestPollPacing(t *testing.T) {
	st := seededStore(t)
	m := New(testContext(st))
	t0 := fixedNow()
	m, cmd := m.Update(common.TickMsg{Now: t0})
	if cmd == nil {
		t.Fatal("first tick started no poll")
	}
	if _, cmd2 := m.Update(common.TickMsg{Now: t0.Add(3 * time.Second)}); cmd2 != nil {
		t.Error("a second poll started while the first is out")
	}
	m, _ = drive(t, m, runCmd(cmd)[0])
	if m.loading || !m.loaded {
		t.Fatal("poll result not applied")
	}
	if _, cmd = m.Update(common.TickMsg{Now: t0.Add(time.Second)}); cmd != nil {
		t.Error("polled again after a second without a reason")
	}
	m, _ = m.Update(common.SessionEventMsg{Event: pipeline.SessionEvent{Job: pipeline.JobPrepare, Done: true}})
	if _, cmd = m.Update(common.TickMsg{Now: t0.Add(500 * time.Millisecond)}); cmd != nil {
		t.Error("the reload after an event was not debounced")
	}
	if _, cmd = m.Update(common.TickMsg{Now: t0.Add(1100 * time.Millisecond)}); cmd == nil {
		t.Error("no reload a second after a Done event")
	}
	m2 := New(testContext(st))
	m2, _ = m2.Update(common.TickMsg{Now: t0})
	m2, _ = m2.Update(common.SampleChangedMsg{ID: 1})
	if !m2.wantReload {
		t.Error("SampleChangedMsg asked for no reload")
	}
	// A stale poll answer does not overwrite a newer one.
	m2, _ = m2.Update(pollMsg{seq: 1, data: pollData{failures: []store.Failure{{ID: 9}}}})
	m2, _ = m2.Update(pollMsg{seq: 0, data: pollData{}})
	if len(m2.data.failures) != 1 {
		t.Error("a stale poll replaced a newer one")
	}
}

func TestFlashExpiresAndErrors(t *testing.T) {
	m := New(testContext(nil))
	m.SetSize(80, 5)
	t0 := fixedNow()
	m, _ = m.Update(common.TickMsg{Now: t0})
	m, _ = m.Update(common.ErrMsg{Err: errors.New("cannot reach the LLM server")})
	if !strings.Contains(m.View(), "cannot reach the LLM server") {
		t.Errorf("error not shown:\n%s", m.View())
	}
	m, _ = m.Update(common.TickMsg{Now: t0.Add(flashFor + time.Second)})
	if strings.Contains(m.View(), "cannot reach") {
		t.Errorf("flash still shown after %s", flashFor)
	}
	m, _ = m.Update(common.SessionEventMsg{Event: pipeline.SessionEvent{Message: "paused: battery 14% < 15%", Warn: true}})
	if !m.msg.err || !strings.Contains(m.View(), "paused: battery 14% < 15%") {
		t.Errorf("battery notice:\n%s", m.View())
	}
}

func TestStatusBarTexts(t *testing.T) {
	cases := []struct {
		p    pipeline.PowerState
		err  error
		want string
	}{
		{pipeline.PowerState{}, nil, "no battery"},
		{pipeline.PowerState{HasBattery: true, Charging: true, Percent: 62}, nil, "battery 62% charging"},
		{pipeline.PowerState{HasBattery: true, Charging: true, Percent: 100}, nil, "on AC"},
		{pipeline.PowerState{HasBattery: true, Percent: 14}, nil, "battery 14%"},
		{pipeline.PowerState{}, errors.New("ioreg"), "battery unknown"},
	}
	for _, c := range cases {
		if got := powerText(c.p, c.err); got != c.want {
			t.Errorf("powerText(%+v, %v) = %q, want %q", c.p, c.err, got, c.want)
		}
	}
	m := goldenModel(t, 120, 20)
	m.msg = flash{}
	m.view.BatteryPause = "paused: battery 14% < 15%"
	bar := m.statusBar(120)
	for _, want := range []string{"battery 62% charging", "paused: battery 14% < 15%", "disk 120.0 GiB free", "db 4.3 MiB"} {
		if !strings.Contains(bar, want) {
			t.Errorf("status bar %q lacks %q", bar, want)
		}
	}
	// The breaker countdown follows the tick's clock.
	now := fixedNow()
	m, _ = m.Update(common.TickMsg{Now: now.Add(5 * time.Second), View: m.view})
	if !strings.Contains(m.View(), "server unreachable, retrying in 3s") {
		t.Errorf("countdown:\n%s", m.View())
	}
}
