package dashboard

import (
	"context"
	"fmt"
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
	"cicdllm/pipeline"
	"cicdllm/store"
	"cicdllm/ui/common"
)

// Golden files hold plain text: no colour codes, whatever the terminal.
func init() { lipgloss.SetColorProfile(termenv.Ascii) }

// fixedNow() is the clock of every golden view.
func fixedNow() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) }

// seededStore fills a fresh store with three repositories, answered and
// pending samples and two failures.
func seededStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pipeline.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	api, err := st.UpsertRepo(ctx, store.Repo{URL: "https://github.com/acme/api", Name: "github.com/acme/api",
		LocalPath: "/ws/repos/api", HeadCommit: "0a1b2c", License: "MIT"})
	if err != nil {
		t.Fatal(err)
	}
	infra, err := st.UpsertRepo(ctx, store.Repo{URL: "https://github.com/acme/infra", Name: "github.com/acme/infra",
		LocalPath: "/ws/repos/infra", HeadCommit: "3d4e5f", License: "Apache-2.0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertRepo(ctx, store.Repo{URL: "https://gitlab.com/ops/legacy", Name: "gitlab.com/ops/legacy",
		LastError: "authentication required: set GITLAB_TOKEN"}); err != nil {
		t.Fatal(err)
	}
	questions := []string{
		"How does ParseToken reject tokens signed with the wrong algorithm?",
		"Why does Refresh compare the issued-at time with the session's start?",
		"What happens when the signing key rotates while a request is in flight?",
	}
	var nq []store.NewQuestion
	for _, q := range questions {
		nq = append(nq, store.NewQuestion{RepoID: api, FilePath: "internal/auth/jwt.go", CommitSHA: "0a1b2c", BlobOID: "b1",
			ChunkIndex: 0, LineStart: 1, LineEnd: 80, Question: q, Model: "qwen2.5-coder-7b", Theme: "code"})
	}
	ids, err := st.InsertPendingQuestions(ctx, nq)
	if err != nil {
		t.Fatal(err)
	}
	answers := []string{
		"ParseToken checks the header's alg against the key type before verifying.\nA token signed with HS256 for an RSA key is refused.",
		"Refresh refuses a token issued before the session started, so a stolen old token cannot be refreshed.",
	}
	for i, a := range answers {
		if err := st.StoreAnswer(ctx, store.Answer{SampleID: ids[i], Content: a}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RecordFailure(ctx, api, "cmd/server/main.go", "the LLM server sent no token within 120s (llm.first_token_timeout)"); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordFailure(ctx, api, "cmd/server/main.go", "the LLM server sent no token within 120s (llm.first_token_timeout)"); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordFailure(ctx, infra, "deploy/Dockerfile", "the chunk does not fit the server's context even after splitting"); err != nil {
		t.Fatal(err)
	}
	return st
}

func testContext(st *store.Store) *common.Context {
	return &common.Context{
		Store:  st,
		Styles: common.DefaultStyles(),
		Keys:   common.DefaultKeys(),
		Now:    func() time.Time { return fixedNow() },
	}
}

// busyView is a session view with two busy slots, counts, server details
// and an open breaker.
func busyView() pipeline.SessionView {
	return pipeline.SessionView{
		Job: pipeline.JobPrepare, Running: true, Started: fixedNow().Add(-95 * time.Second), Slots: 2,
		Counts: pipeline.Counts{FilesPlanned: 12, FilesDone: 5, FilesFailed: 1, FilesSkipped: 3, FilesUnchanged: 4,
			Questions: 21, Answers: 14, Requests: 24, InFlight: 2, CompletionTokens: 5320},
		Activity: []pipeline.Activity{
			{Slot: 0, Key: pipeline.FileKey{RepoID: 1, Path: "internal/auth/jwt.go"}, Repo: "github.com/acme/api",
				Path: "internal/auth/jwt.go", Stage: "answering", Lines: "1-80", Index: 3, Count: 3,
				Question: "What happens when the signing key rotates while a request is in flight?",
				Started:  fixedNow().Add(-4 * time.Second), Deltas: 152,
				Tail: "The verifier loads the key set once per request.\n\nWhen the key rotates, tokens signed with the old key\tstay valid until the cache expires:\n1. `keySet.Refresh` runs every 5 minutes\n2. a miss triggers one synchronous refresh\n\nSo a request in flight keeps the key it started with, and"},
			{Slot: 1, Key: pipeline.FileKey{RepoID: 1, Path: "cmd/server/main.go"}, Repo: "github.com/acme/api",
				Path: "cmd/server/main.go", Stage: "asking", Lines: "1-80", Started: fixedNow().Add(-2 * time.Second), Deltas: 30,
				Tail: `{"questions": ["What does main do when PORT is unset?", "How`},
		},
		Server: pipeline.ServerState{
			Info:      llm.ServerInfo{Kind: "llama.cpp", Model: "qwen2.5-coder-7b", ContextSize: 8192, Slots: 2},
			Connected: true, Breaker: llm.BreakerOpen, RetryAt: fixedNow().Add(7500 * time.Millisecond),
			Err: "connection refused",
		},
		Repos: []pipeline.RepoProgress{
			{Name: "github.com/acme/api", State: "scanned", Planned: 12, Done: 5, Failed: 1},
			{Name: "github.com/acme/infra", State: "cloning", Percent: 42},
		},
	}
}

// fixedPoll reads the seeded store, then replaces what depends on the
// machine (battery, disk, the database file's size) with fixed values.
func fixedPoll(st *store.Store) pollMsg {
	d := poll(st, "", env{})
	d.power, d.powerErr = pipeline.PowerState{HasBattery: true, Charging: true, Percent: 62}, nil
	d.diskFree, d.diskErr = 120<<30, nil
	d.dbSize, d.dbErr = 4<<20+300<<10, nil
	return pollMsg{data: d}
}

// goldenModel is the dashboard in the state the golden files show.
func goldenModel(t *testing.T, w, h int) Model {
	t.Helper()
	st := seededStore(t)
	m := New(testContext(st))
	m.SetSize(w, h)
	m = feed(t, m, fixedPoll(st))
	m = feed(t, m, common.TickMsg{Now: fixedNow(), View: busyView()})
	m = feed(t, m, common.SessionEventMsg{Event: pipeline.SessionEvent{Job: pipeline.JobPrepare, Runner: &pipeline.Event{
		Kind: pipeline.EventAnswer, Repo: "github.com/acme/api", Path: "internal/auth/jwt.go",
		Question: "Why does Refresh compare the issued-at time with the session's start?",
		Text:     "Refresh refuses a token issued before the session started, so a stolen old token cannot be refreshed."}}})
	m = feed(t, m, common.FlashMsg{Text: "prepare started: asking the LLM for questions and answers"})
	return m
}

// feed updates m with msg and drops the returned command: golden views
// must not depend on I/O.
func feed(t *testing.T, m Model, msg tea.Msg) Model {
	t.Helper()
	m, _ = m.Update(msg)
	return m
}

func TestGoldenDashboard(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := goldenModel(t, size[0], size[1])
			out := m.View()
			checkFits(t, out, size[0], size[1])
			golden.RequireEqual(t, []byte(out))
		})
	}
}

// The focused pane is drawn with the heavy border and moves with tab.
func TestGoldenDashboardFocusFailures(t *testing.T) {
	m := goldenModel(t, 80, 24)
	for range 3 {
		var ok bool
		if m, ok = m.NextPane(); !ok {
			t.Fatal("NextPane ended before the failures pane")
		}
	}
	if _, ok := m.NextPane(); ok {
		t.Error("NextPane went past the last pane")
	}
	golden.RequireEqual(t, []byte(m.View()))
}

func checkFits(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Errorf("%dx%d: %d lines, want %d", w, h, len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("%dx%d: line %d is %d wide: %q", w, h, i+1, lw, l)
		}
	}
}

// Every size renders, without a line wider than the screen and with
// exactly the lines asked for, whichever pane has the focus and whether
// a prompt or the log is open.
func TestViewFitsEverySize(t *testing.T) {
	base := goldenModel(t, 80, 24)
	variants := map[string]Model{"repos": base}
	m := base
	for _, name := range []string{"progress", "live", "failures"} {
		m, _ = m.NextPane()
		variants[name] = m
	}
	withLog := variants["failures"]
	withLog.logs = logView{open: true, path: "cmd/server/main.go", lines: []string{
		`time=2026-11-24T11:58:00Z level=WARN msg="request failed; trying again" file=cmd/server/main.go attempt=1 err="context deadline exceeded"`,
		`time=2026-11-24T11:59:00Z level=WARN msg="file failed" repo=github.com/acme/api file=cmd/server/main.go err="the LLM server sent no token"`,
	}}
	variants["log"] = withLog
	chooser := base
	chooser.skip = chooser2(base.view.Activity)
	variants["chooser"] = chooser
	idle := New(testContext(nil))
	variants["empty"] = idle
	for name, m := range variants {
		for w := 20; w <= 200; w += 7 {
			for h := 5; h <= 60; h += 5 {
				m.SetSize(w, h)
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("%s at %dx%d: panic: %v", name, w, h, p)
						}
					}()
					checkFits(t, m.View(), w, h)
				}()
			}
		}
	}
}

func chooser2(acts []pipeline.Activity) chooser {
	return chooser{open: true, items: inFlightFiles(acts), sel: 1}
}

// The managed mlx_lm.server's state shows on the server line: loading
// (nothing else is known yet), then running beside the model.
func TestServerLineShowsTheMLXServerPhase(t *testing.T) {
	st := seededStore(t)
	m := New(testContext(st))
	m.SetSize(120, 40)
	v := pipeline.SessionView{Job: pipeline.JobPrepare, Running: true,
		Server: pipeline.ServerState{Phase: "loading model… 12s"}}
	m = feed(t, m, common.TickMsg{Now: fixedNow(), View: v})
	if out := m.View(); !strings.Contains(out, "server: mlx_lm.server loading model… 12s") {
		t.Errorf("loading phase not shown:\n%s", out)
	}
	v.Server = pipeline.ServerState{Connected: true, Phase: "running (pid 42)",
		Info: llm.ServerInfo{Kind: llm.KindMLX, Model: "mlx-community/Qwen2.5-Coder-7B-Instruct-4bit", ContextSize: 4096, Slots: 1}}
	m = feed(t, m, common.TickMsg{Now: fixedNow(), View: v})
	if out := m.View(); !strings.Contains(out, "server: mlx_lm · mlx-community/Qwen2.5-Coder-7B-Instruct-4bit · ctx 4096 · 1 slot · running (pid 42)") {
		t.Errorf("running phase not shown:\n%s", out)
	}
	v.Server.Phase = "restarting"
	m = feed(t, m, common.TickMsg{Now: fixedNow(), View: v})
	if out := m.View(); !strings.Contains(out, "server: mlx_lm.server restarting") {
		t.Errorf("restart not shown:\n%s", out)
	}
}
