package exportui

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/muesli/termenv"

	"cicdllm/pipeline"
	"cicdllm/pipeline/export"
	"cicdllm/store"
	"cicdllm/ui/common"
	"cicdllm/ui/uitest"
)

func init() { lipgloss.SetColorProfile(termenv.Ascii) }

// fixture is a workspace whose store holds, in github.com/acme/alpha,
// three active samples (scored 4.5, 2 and unscored) and a stale one, and in
// github.com/acme/beta two active samples, a pending question and a
// deleted sample: 5 active, 6 with stale, 7 without the deleted one.
type fixture struct {
	ctx          *common.Context
	alpha, beta  int64
	activeSample []int64
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ws, err := pipeline.NewWorkspace(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	st, err := store.Open(ctx, ws.DBPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	repo := func(name string) int64 {
		id, err := st.UpsertRepo(ctx, store.Repo{URL: "https://" + name + ".git", Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	f := fixture{alpha: repo("github.com/acme/alpha"), beta: repo("github.com/acme/beta")}
	var qs []store.NewQuestion
	for i, r := range []int64{f.alpha, f.alpha, f.alpha, f.alpha, f.beta, f.beta, f.beta, f.beta} {
		qs = append(qs, store.NewQuestion{RepoID: r, FilePath: fmt.Sprintf("f%d.go", i), BlobOID: "b",
			Question: fmt.Sprintf("What does function f%d do?", i)})
	}
	ids, err := st.InsertPendingQuestions(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if i == 6 {
			continue // stays pending
		}
		if err := st.StoreAnswer(ctx, store.Answer{SampleID: id, Content: fmt.Sprintf("f%d returns %d.", i, i*i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, score := range []float64{4.5, 2} {
		if err := st.SetScore(ctx, ids[i], score); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.MarkStale(ctx, f.alpha, "f3.go", ""); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSample(ctx, ids[7]); err != nil {
		t.Fatal(err)
	}
	f.activeSample = []int64{ids[0], ids[1], ids[2], ids[4], ids[5]}
	f.ctx = &common.Context{Store: st, WS: ws, Config: pipeline.DefaultConfig(),
		ConfigPath: filepath.Join(ws.Dir, pipeline.ConfigFileName), Styles: common.DefaultStyles(),
		Keys: common.DefaultKeys(), Now: func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }}
	return f
}

// open returns a dialog sized w×h, opened, with its repositories and count
// loaded; counts run at once instead of after the typing pause.
func (f fixture) open(t *testing.T, w, h int) Model {
	t.Helper()
	m := New(f.ctx)
	m.countDelay = 0
	m.SetSize(w, h)
	m, cmd := m.Open()
	m, _ = settle(t, m, cmd)
	return m
}

// settle runs cmd synchronously, feeds its message back into Update
// (following tea.BatchMsg) and repeats for the commands that returns, until
// none is left. Progress ticks are dropped, or a running export would tick
// forever; messages for the root (switches, ExportDoneMsg) are returned.
func settle(t *testing.T, m Model, cmd tea.Cmd) (Model, []tea.Msg) {
	t.Helper()
	return uitest.Settle(t, m, cmd, Model.Update,
		func(msg tea.Msg) bool {
			switch msg.(type) {
			case reposMsg, countDelayMsg, countMsg, doneMsg:
				return true
			}
			return false
		},
		func(msg tea.Msg) bool { _, tick := msg.(tickMsg); return tick })
}

// keyMsg turns "enter", "space", "down", "shift+tab" or plain text into a
// key message.
func keyMsg(k string) tea.KeyMsg {
	types := map[string]tea.KeyType{"enter": tea.KeyEnter, "space": tea.KeySpace, "down": tea.KeyDown, "up": tea.KeyUp,
		"left": tea.KeyLeft, "right": tea.KeyRight, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab, "esc": tea.KeyEsc,
		"backspace": tea.KeyBackspace, "ctrl+u": tea.KeyCtrlU}
	if kt, ok := types[k]; ok {
		return tea.KeyMsg{Type: kt}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// press sends each key and settles what it starts.
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

// focusOn presses ↓ or ↑ until f has focus.
func focusOn(t *testing.T, m Model, f field) Model {
	t.Helper()
	for range 50 {
		switch {
		case m.focus == f:
			return m
		case m.focus < f:
			m, _ = press(t, m, "down")
		default:
			m, _ = press(t, m, "up")
		}
	}
	t.Fatalf("cannot reach field %d (at %d)", f, m.focus)
	return m
}

func exportDone(msgs []tea.Msg) (common.ExportDoneMsg, bool) {
	for _, msg := range msgs {
		if d, ok := msg.(common.ExportDoneMsg); ok {
			return d, true
		}
	}
	return common.ExportDoneMsg{}, false
}

// jsonLines checks that every line of path is JSON and returns how many.
func jsonLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var v struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil || len(v.Messages) < 2 {
			t.Errorf("line %d is not a chat record: %v: %s", n+1, err, sc.Text())
		}
	}
	return n
}

func plain(m Model) string { return ansi.Strip(m.View()) }

func TestExportWritesChatMLFile(t *testing.T) {
	f := newFixture(t)
	m := f.open(t, 100, 30)
	if !m.countKnown || m.count != 5 || len(m.repos) != 2 {
		t.Fatalf("count %d (known %v), %d repos", m.count, m.countKnown, len(m.repos))
	}
	if !strings.Contains(plain(m), "5 records will be written") {
		t.Errorf("the count is not shown:\n%s", plain(m))
	}
	m = focusOn(t, m, fieldExport)
	m, msgs := press(t, m, "enter")
	if m.running || m.err != "" || m.result == nil {
		t.Fatalf("running %v, error %q, result %v", m.running, m.err, m.result)
	}
	out := filepath.Join(f.ctx.WS.Dir, "exports", "chatml-jsonl.jsonl")
	if n := jsonLines(t, out); n != 5 {
		t.Errorf("%d lines, want 5", n)
	}
	done, ok := exportDone(msgs)
	if !ok || done.Output != out || done.Records != 5 {
		t.Errorf("ExportDoneMsg = %+v (sent %v)", done, ok)
	}
	if v := plain(m); !strings.Contains(v, "Wrote 5 records as chatml-jsonl to exports/chatml-jsonl.jsonl") {
		t.Errorf("the result is not shown:\n%s", v)
	}
}

func TestExportExistingOutput(t *testing.T) {
	f := newFixture(t)
	m := f.open(t, 100, 30)
	m = focusOn(t, m, fieldExport)
	m, _ = press(t, m, "enter")
	out := filepath.Join(f.ctx.WS.Dir, "exports", "chatml-jsonl.jsonl")
	if err := os.WriteFile(out, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	m, msgs := press(t, m, "enter")
	if _, ok := exportDone(msgs); ok || !strings.Contains(m.err, "exports/chatml-jsonl.jsonl already exists") {
		t.Fatalf("error %q, messages %v", m.err, msgs)
	}
	if m.focus != fieldForce {
		t.Errorf("focus is on field %d, not on Overwrite", m.focus)
	}
	if v := plain(m); !strings.Contains(v, "already exists: tick Overwrite") {
		t.Errorf("the error is not shown:\n%s", v)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep me\n" {
		t.Errorf("the existing output was touched: %q", b)
	}

	m, _ = press(t, m, "space")
	if !m.force || m.err != "" {
		t.Fatalf("force %v, error %q", m.force, m.err)
	}
	m, msgs = press(t, m, "down", "enter")
	if done, ok := exportDone(msgs); !ok || done.Records != 5 {
		t.Fatalf("overwrite: %v %+v, error %q", ok, done, m.err)
	}
	if n := jsonLines(t, out); n != 5 {
		t.Errorf("%d lines after overwriting, want 5", n)
	}
}

func TestExportBadSplit(t *testing.T) {
	f := newFixture(t)
	m := f.open(t, 100, 30)
	m = focusOn(t, m, fieldSplit)
	if !m.Capturing() {
		t.Error("the split field does not capture keys")
	}
	m, _ = press(t, m, "t", "r", "a", "i", "n", "=", "0", ".", "9")
	if !strings.Contains(m.splitErr, "invalid split") || !strings.Contains(plain(m), `invalid split "train=0.9"`) {
		t.Errorf("split error %q not shown:\n%s", m.splitErr, plain(m))
	}
	m, _ = press(t, m, ",", "t", "e", "s", "t", "=", "0", ".", "1")
	if m.splitErr != "" {
		t.Errorf("a good split is refused: %s", m.splitErr)
	}
	m, _ = press(t, m, "backspace")
	m = focusOn(t, m, fieldExport)
	m, msgs := press(t, m, "enter")
	if _, ok := exportDone(msgs); ok || m.running || !strings.Contains(m.err, "invalid split") || m.focus != fieldSplit {
		t.Errorf("export with a bad split: error %q, focus %d", m.err, m.focus)
	}
	if _, err := os.Stat(filepath.Join(f.ctx.WS.Dir, "exports")); !os.IsNotExist(err) {
		t.Errorf("something was written: %v", err)
	}

	// Fixed, the split writes one file per split.
	m, _ = press(t, m, "ctrl+u")
	for _, r := range "train=0.5,test=0.5" {
		m, _ = press(t, m, string(r))
	}
	m = focusOn(t, m, fieldExport)
	m, msgs = press(t, m, "enter")
	done, ok := exportDone(msgs)
	if !ok || done.Records != 5 || m.result == nil || len(m.result.res.Records) != 2 {
		t.Fatalf("split export: %+v, error %q", done, m.err)
	}
	n := 0
	for _, s := range []string{"train", "test"} {
		n += jsonLines(t, filepath.Join(f.ctx.WS.Dir, "exports", "chatml-jsonl."+s+".jsonl"))
	}
	if n != 5 || !strings.Contains(plain(m), "splits: test ") {
		t.Errorf("%d records in the split files:\n%s", n, plain(m))
	}
}

func TestExportCountFollowsFilters(t *testing.T) {
	f := newFixture(t)
	m := f.open(t, 100, 40)
	check := func(want int, what string) {
		t.Helper()
		if m.counting || !m.countKnown || m.count != want {
			t.Errorf("%s: count %d (counting %v), want %d", what, m.count, m.counting, want)
		}
		if !strings.Contains(plain(m), common.Plural(want, "record", "records")+" will be written") {
			t.Errorf("%s: the view does not show %d:\n%s", what, want, plain(m))
		}
	}
	check(5, "active")
	m = focusOn(t, m, fieldStatus)
	m, _ = press(t, m, "right")
	check(6, "with stale")
	m, _ = press(t, m, "l")
	check(7, "everything but deleted")
	m, _ = press(t, m, "space")
	check(5, "back to active")

	m = focusOn(t, m, fieldMinScore)
	m, _ = press(t, m, "right", "right", "right", "right", "right", "right")
	check(1, "score ≥ 3")
	if !strings.Contains(plain(m), "‹ ≥ 3 ›") {
		t.Errorf("the score is not shown:\n%s", plain(m))
	}
	m, _ = press(t, m, "left", "left", "left", "left", "left", "left", "left")
	check(5, "any score")

	m = focusOn(t, m, fieldRepos)
	m, _ = press(t, m, "space")
	check(2, "beta only")
	if v := plain(m); !strings.Contains(v, "1 of 2") || !strings.Contains(v, "[ ] github.com/acme/alpha") ||
		!strings.Contains(v, "[x] github.com/acme/beta") {
		t.Errorf("the repository list is wrong:\n%s", v)
	}
	m, _ = press(t, m, "j", "space")
	if !strings.Contains(plain(m), "no sample matches") || m.count != 0 {
		t.Errorf("nothing ticked: count %d:\n%s", m.count, plain(m))
	}
	m = focusOn(t, m, fieldExport)
	m, msgs := press(t, m, "enter")
	if _, ok := exportDone(msgs); ok || !strings.Contains(m.err, "tick at least one repository") {
		t.Errorf("export without repositories: %q", m.err)
	}
	m = focusOn(t, m, fieldRepos)
	m, _ = press(t, m, "a")
	check(5, "all again")

	// The count is the query the export runs.
	job, err := pipeline.NewExportJob(f.ctx.Config, f.ctx.Store, m.spec())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(job.Query) != fmt.Sprint(m.query()) {
		t.Errorf("count query %+v, export query %+v", m.query(), job.Query)
	}
}

// TestExportCountDebounce: only the last of a burst of changes is counted.
func TestExportCountDebounce(t *testing.T) {
	f := newFixture(t)
	m := f.open(t, 100, 30)
	m.countDelay = time.Hour
	m = focusOn(t, m, fieldStatus)
	m, first := m.Update(keyMsg("right"))
	m, _ = m.Update(keyMsg("right"))
	if !m.counting || !strings.Contains(plain(m), "counting…") || first == nil {
		t.Fatalf("counting %v:\n%s", m.counting, plain(m))
	}
	m, cmd := m.Update(countDelayMsg{seq: m.countSeq - 1})
	if cmd != nil {
		t.Error("a superseded change was counted")
	}
	m, cmd = m.Update(countDelayMsg{seq: m.countSeq})
	m, _ = settle(t, m, cmd)
	if m.counting || m.count != 7 {
		t.Errorf("count %d, counting %v", m.count, m.counting)
	}
}

func TestExportCancel(t *testing.T) {
	f := newFixture(t)
	m := f.open(t, 100, 30)
	m = focusOn(t, m, fieldExport)
	m, cmd := m.Update(keyMsg("enter"))
	if !m.Running() || !m.Capturing() || cmd == nil {
		t.Fatal("the export did not start")
	}
	if v := plain(m); !strings.Contains(v, "Exporting to exports/chatml-jsonl.jsonl") || !strings.Contains(v, "0 of 5 samples read") {
		t.Errorf("no progress shown:\n%s", v)
	}
	if keys := m.KeyHelp(); len(keys) != 1 || keys[0].Help().Desc != "cancel the export" {
		t.Errorf("keys while running: %v", keys)
	}
	m, next := m.Update(keyMsg("esc"))
	if next != nil || !m.cancelled || !strings.Contains(plain(m), "Cancelling…") {
		t.Errorf("esc while running: %v\n%s", next, plain(m))
	}
	m, msgs := settle(t, m, cmd)
	if _, ok := exportDone(msgs); ok || m.running || !strings.Contains(m.err, "cancelled") {
		t.Fatalf("after cancelling: running %v, error %q, %v", m.running, m.err, msgs)
	}
	entries, _ := os.ReadDir(filepath.Join(f.ctx.WS.Dir, "exports"))
	if len(entries) != 0 {
		t.Errorf("a cancelled export left %v", entries)
	}
}

func TestExportProgressTicks(t *testing.T) {
	f := newFixture(t)
	m := f.open(t, 100, 30)
	m = focusOn(t, m, fieldExport)
	m, run := m.Update(keyMsg("enter"))
	m.read.Store(3)
	m, cmd := m.Update(tickMsg{seq: m.runSeq})
	if cmd == nil {
		t.Error("the tick was not re-armed while running")
	}
	if !strings.Contains(plain(m), "3 of 5 samples read") {
		t.Errorf("progress not shown:\n%s", plain(m))
	}
	m, _ = settle(t, m, run)
	if _, cmd := m.Update(tickMsg{seq: m.runSeq}); cmd != nil {
		t.Error("the tick runs on after the export")
	}
}

func TestExportUnwritableOutput(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(filepath.Join(f.ctx.WS.Dir, "afile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m := f.open(t, 100, 30)
	m = focusOn(t, m, fieldOutput)
	m, _ = press(t, m, "ctrl+u")
	for _, r := range "afile/out.jsonl" {
		m, _ = press(t, m, string(r))
	}
	m = focusOn(t, m, fieldExport)
	m, _ = press(t, m, "enter")
	if !strings.Contains(m.err, "is a file, not a directory") || m.focus != fieldOutput || !m.Capturing() {
		t.Errorf("error %q, focus %d", m.err, m.focus)
	}

	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere: the permission case cannot be shown")
	}
	ro := filepath.Join(f.ctx.WS.Dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	m, _ = press(t, m, "ctrl+u")
	for _, r := range "ro/out.jsonl" {
		m, _ = press(t, m, string(r))
	}
	m = focusOn(t, m, fieldExport)
	m, _ = press(t, m, "enter")
	if !strings.Contains(m.err, "cannot write to ro: permission denied") {
		t.Errorf("error %q", m.err)
	}
}

func TestExportDirectoryFormat(t *testing.T) {
	f := newFixture(t)
	m := f.open(t, 100, 30)
	for m.formatName() != "mlx-lm" {
		m, _ = press(t, m, "right")
	}
	if m.output.Value() != filepath.Join("exports", "mlx-lm") || m.split.Value() != pipeline.MLXDefaultSplit {
		t.Fatalf("mlx-lm defaults: output %q, split %q", m.output.Value(), m.split.Value())
	}
	m, _ = press(t, m, "left")
	if m.output.Value() != filepath.Join("exports", "qwen.jsonl") || m.split.Value() != "" {
		t.Errorf("qwen defaults: output %q, split %q", m.output.Value(), m.split.Value())
	}
	m, _ = press(t, m, "right")
	m = focusOn(t, m, fieldExport)
	m, msgs := press(t, m, "enter")
	if done, ok := exportDone(msgs); !ok || done.Records != 5 {
		t.Fatalf("mlx-lm export: %+v, error %q", done, m.err)
	}
	if _, err := os.Stat(filepath.Join(f.ctx.WS.Dir, "exports", "mlx-lm", "train.jsonl")); err != nil {
		t.Error(err)
	}

	// A typed output survives a format change.
	m = focusOn(t, m, fieldOutput)
	m, _ = press(t, m, "x")
	m = focusOn(t, m, fieldFormat)
	m, _ = press(t, m, "right")
	if m.output.Value() != filepath.Join("exports", "mlx-lm")+"x" {
		t.Errorf("the typed output was replaced by %q", m.output.Value())
	}
}

func TestExportEscAndKeys(t *testing.T) {
	f := newFixture(t)
	m := f.open(t, 100, 30)
	if m.Capturing() || m.Running() {
		t.Error("an idle form on a choice captures keys")
	}
	for _, k := range []string{"q", "?", ":"} {
		if _, cmd := m.Update(keyMsg(k)); cmd != nil {
			t.Errorf("%s is bound", k)
		}
	}
	if len(m.KeyHelp()) == 0 {
		t.Error("no key help")
	}
	_, msgs := press(t, m, "esc")
	if len(msgs) != 1 || msgs[0] != (common.SwitchMsg{Screen: common.ScreenDashboard}) {
		t.Errorf("esc sent %v", msgs)
	}
	// Typing q in a text field types it.
	m = focusOn(t, m, fieldOutput)
	m, _ = press(t, m, "q")
	if !strings.HasSuffix(m.output.Value(), "q") {
		t.Errorf("q did not reach the output field: %q", m.output.Value())
	}
	// Reopening resets the form.
	m, _ = m.Open()
	if m.output.Value() != filepath.Join("exports", "chatml-jsonl.jsonl") || m.focus != fieldFormat {
		t.Errorf("Open did not reset: %q, focus %d", m.output.Value(), m.focus)
	}
}

func TestExportGolden(t *testing.T) {
	f := newFixture(t)
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("idle_%dx%d", size[0], size[1]), func(t *testing.T) {
			golden.RequireEqual(t, []byte(f.open(t, size[0], size[1]).View()))
		})
	}
	t.Run("repos_80x24", func(t *testing.T) {
		m := focusOn(t, f.open(t, 80, 24), fieldRepos)
		m, _ = press(t, m, "space", "down")
		golden.RequireEqual(t, []byte(m.View()))
	})
	t.Run("done_80x24", func(t *testing.T) {
		m := f.open(t, 80, 24)
		m = focusOn(t, m, fieldForce)
		m, _ = press(t, m, "space", "down", "enter")
		if m.result == nil {
			t.Fatalf("no result: %q", m.err)
		}
		golden.RequireEqual(t, []byte(m.View()))
	})
}

// TestExportEverySize renders the dialog in its states at many sizes.
func TestExportEverySize(t *testing.T) {
	f := newFixture(t)
	base := f.open(t, 80, 24)
	states := map[string]Model{"idle": base}
	m := focusOn(t, base, fieldRepos)
	states["repos"] = m
	m = focusOn(t, base, fieldSplit)
	m, _ = press(t, m, "x")
	states["bad split"] = m
	m = focusOn(t, base, fieldExport)
	running, _ := m.Update(keyMsg("enter"))
	states["running"] = running
	// Half way: the progress bar and the count drawn part full.
	half := running
	half.read = new(atomic.Int64)
	half.read.Store(int64(max(1, half.total/2)))
	if !strings.Contains(plain(half), " of ") {
		t.Errorf("an export half way shows no progress:\n%s", plain(half))
	}
	states["running half way"] = half
	m, _ = press(t, m, "enter")
	states["done"] = m
	m, _ = press(t, m, "enter")
	states["error"] = m
	for i := range 40 {
		if _, err := f.ctx.Store.UpsertRepo(t.Context(), store.Repo{URL: fmt.Sprintf("https://example.com/r%d.git", i),
			Name: fmt.Sprintf("example.com/a-rather-long-organisation/repository-%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	m = focusOn(t, f.open(t, 80, 24), fieldRepos)
	for range 25 {
		m, _ = press(t, m, "j")
	}
	if m.focus != fieldRepos || m.repoCursor != 25 || !strings.Contains(plain(m), "› [x] example.com/a-rather-long-organisation/repository-25") {
		t.Errorf("cursor %d in the long list:\n%s", m.repoCursor, plain(m))
	}
	states["long list"] = m
	var widths, heights []int
	for w := 20; w <= 200; w += 7 {
		widths = append(widths, w)
	}
	for h := 5; h <= 60; h += 5 {
		heights = append(heights, h)
	}
	widths, heights = append(widths, 59, 60, 61, 250), append(heights, 6, 16, 17, 80)
	for name, s := range states {
		for _, w := range widths {
			for _, h := range heights {
				s.SetSize(w, h)
				checkView(t, fmt.Sprintf("%s %dx%d", name, w, h), s.View(), w, h)
			}
		}
	}
	running.cancel()
}

func checkView(t *testing.T, what, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("%s: %d lines", what, len(lines))
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("%s: line %d is %d wide: %q", what, i, lw, l)
		}
	}
}

func TestFormHelpers(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := common.Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q", n, got)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB"} {
		if got := common.HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q", n, got)
		}
	}
	if common.CycleIndex(0, -1, 3) != 2 || common.CycleIndex(2, 1, 3) != 0 || common.CycleIndex(1, 5, 0) != 0 {
		t.Error("CycleIndex does not wrap")
	}
	st := common.DefaultStyles()
	if got := ansi.Strip(common.ProgressBar(st, 10, 0.5)); got != "█████░░░░░" {
		t.Errorf("ProgressBar = %q", got)
	}
	if common.Plural(1, "record", "records") != "1 record" || common.Plural(2000, "record", "records") != "2,000 records" {
		t.Error("Plural")
	}
}

// TestExportExplain covers the errors a root-run test cannot provoke.
func TestExportExplain(t *testing.T) {
	f := newFixture(t)
	m := New(f.ctx)
	out := filepath.Join(f.ctx.WS.Dir, "ro", "set.jsonl")
	for _, tc := range []struct {
		err   error
		want  string
		field field
	}{
		{fmt.Errorf("create %s: %w", out, &fs.PathError{Op: "mkdir", Path: out, Err: syscall.EACCES}),
			"cannot write to ro: permission denied; choose another output path", fieldOutput},
		{fmt.Errorf("x: %w", &fs.PathError{Op: "open", Path: out, Err: syscall.EROFS}), "cannot write to ro", fieldOutput},
		{fmt.Errorf("%s: %w; pass --force to replace it", out, export.ErrExists), "ro/set.jsonl already exists", fieldForce},
		{errors.New("disk on fire\nreally"), "export failed: disk on fire really", fieldFormat},
	} {
		msg, f := m.explain(tc.err, out)
		if !strings.Contains(msg, tc.want) || f != tc.field {
			t.Errorf("%v: %q, field %d", tc.err, msg, f)
		}
	}
}
