package ui

// The UI's robustness proof (issue 11, item 4): every screen and overlay,
// filled with hostile repository data (long, CJK, emoji and escape-laden
// names and text), at every size from 20×5 to 250×80, without a terminal.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/muesli/termenv"

	"cicdllm/llm/sim"
	"cicdllm/pipeline"
	"cicdllm/store"
	"cicdllm/ui/common"
)

// Hostile data: what a repository (or a model talking about it) may hold.
// Every escape sequence in it must reach the screen neutralised.
var (
	rbLong = strings.Repeat("a-very-long-directory-name/", 7)
	// rbPath: an SGR colour, an OSC title, CJK, emoji (with ZWJ), a C1
	// CSI and a name longer than any terminal.
	rbPath = "src/\x1b[31mred\x1b[0m/\x1b]0;pwned\x07/日本語ディレクトリ/絵文字😀🎉👩‍👩‍👧‍👦/" + rbLong + "\u009b2Jファイル名.go"
	rbRepo = "github.com/\x1b[2J\x1b[Hacme/日本語-😀-" + strings.Repeat("long", 20)
	// rbQuestion: escapes, CJK, emoji, tab, CR, a hyperlink and a word
	// longer than the widest terminal.
	rbQuestion = "What does \x1b[31mRed\x1b[0m() do with 日本語のテキスト and 😀 emoji,\ttabs\r\nand a " +
		"\x1b]8;;http://evil.example\x07link\x1b]8;;\x07? " + strings.Repeat("Lorem ipsum dolor sit amet. ", 8) + strings.Repeat("x", 300)
	rbAnswer = "## Red \x1b[31mheading\x1b[0m 見出し 🎉\n\n" +
		"The function paints the terminal \x1b[41mred\x1b[0m and clears it with \x1b[2J\x1b[H; " +
		"全角の文章がここに続きます。" + strings.Repeat("長い文章。", 40) + "\n\n" +
		"- item with emoji 👩‍👩‍👧‍👦 and \x1b]0;title\x07 an OSC\n- " + strings.Repeat("y", 400) + "\n\n" +
		"```go\nfmt.Print(\"\x1b[31m\") // colour \x1b[0m\n\tx := \"日本語\"\t// tab\n" + strings.Repeat("z", 300) + "\n```\n\n" +
		"> quoted \x1b[5mblink\x1b[0m \u009b31m C1\n\n| a | b |\n|---|---|\n| \x1b[31m1\x1b[0m | 日本 |\n"
	rbReason = "the LLM server said \x1b[31mERROR\x1b[0m: 文字化け 😀 \x1b]0;pwned\x07 " + strings.Repeat("very long reason ", 30)
	// rbSource is the file the samples come from: escapes in string
	// literals, CJK comments, emoji, tabs, a very long line.
	rbSource = func() string {
		var b strings.Builder
		b.WriteString("package red\n\nimport \"fmt\"\n\n")
		for i := 1; i <= 40; i++ {
			fmt.Fprintf(&b, "// Red%d は端末を赤くします 😀\nfunc Red%d() {\n\tfmt.Print(\"\x1b[31m\x1b]0;pwned\x07\") // %s\n}\n", i, i, strings.Repeat("長", 60+i))
		}
		return b.String()
	}()
)

// rbFixture is the demo workspace plus hostile samples, failures and
// repositories, a log mentioning the failed file, and a repos.txt with
// long and unicode lines. It returns the samples' ids; every seventh
// (ids[6], …) is still pending.
func rbFixture(t *testing.T) (*fixture, []int64) {
	t.Helper()
	f := newFixture(t, sim.Config{})
	ctx := context.Background()

	src := filepath.Join(t.TempDir(), "red")
	repo, err := git.PlainInit(src, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "red.go"), []byte(rbSource), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	if _, err := wt.Add("red.go"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "t", Email: "t@example.com", When: fixedNow()}
	commit, err := wt.Commit("red", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := repo.CommitObject(commit)
	file, err := c.File("red.go")
	if err != nil {
		t.Fatal(err)
	}

	repoID, err := f.st.UpsertRepo(ctx, store.Repo{URL: "https://github.com/acme/red", Name: rbRepo, LocalPath: src,
		HeadCommit: commit.String(), License: "MIT\x1b[5m 日本"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.UpsertRepo(ctx, store.Repo{URL: "https://github.com/acme/broken", Name: "github.com/acme/\x1b[31mbroken😀",
		LastError: rbReason}); err != nil {
		t.Fatal(err)
	}
	var qs []store.NewQuestion
	for i := range 30 {
		qs = append(qs, store.NewQuestion{RepoID: repoID, FilePath: rbPath, CommitSHA: commit.String(), BlobOID: file.Hash.String(),
			ChunkIndex: i, LineStart: 5 + i*4, LineEnd: 12 + i*4, Question: fmt.Sprintf("%s (variant %d)", rbQuestion, i),
			Model: "qwen\x1b[31m-😀", Theme: "code"})
	}
	ids, err := f.st.InsertPendingQuestions(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	var as []store.Answer
	for i, id := range ids {
		if i%7 == 6 {
			continue // stays pending
		}
		as = append(as, store.Answer{SampleID: id, Content: rbAnswer})
	}
	if err := f.st.StoreAnswers(ctx, as); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[:10] {
		if err := f.st.SetScore(ctx, id, float64(i%5)+0.5); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.RateSample(ctx, ids[1], 4); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := f.st.RecordFailure(ctx, repoID, rbPath, rbReason); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.RecordFailure(ctx, repoID, "plain/other.go", "timeout"); err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, f.ctx.LogPath, strings.Repeat("time=2026-11-24 level=ERROR msg=\"file failed\" path=\""+rbPath+"\" err=\""+rbReason+"\"\n", 5))
	repos, err := os.ReadFile(f.ws.ReposFile)
	if err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, f.ws.ReposFile, string(repos)+"# 日本語のコメント 😀 \x1b[31m"+strings.Repeat("long comment ", 30)+"\nhttps://github.com/"+strings.Repeat("o", 200)+"/repo\n")
	return f, ids
}

func mustWriteFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rbBusy is a prepare in full swing, told in hostile words.
func rbBusy() common.TickMsg {
	now := fixedNow()
	return common.TickMsg{Now: now, View: pipeline.SessionView{
		Job: pipeline.JobPrepare, Running: true, Started: now.Add(-95 * time.Second), Slots: 3,
		Counts: pipeline.Counts{FilesPlanned: 120, FilesDone: 50, FilesFailed: 2, Questions: 300, Answers: 200, Requests: 500, InFlight: 3, CompletionTokens: 99999},
		Activity: []pipeline.Activity{
			{Slot: 0, Key: pipeline.FileKey{RepoID: 1, Path: rbPath}, Repo: rbRepo, Path: rbPath, Stage: "answering", Lines: "1-80",
				Index: 2, Count: 3, Question: rbQuestion, Started: now.Add(-3 * time.Second), Deltas: 40, Tail: rbAnswer},
			{Slot: 1, Key: pipeline.FileKey{RepoID: 1, Path: rbPath + "2"}, Repo: rbRepo, Path: rbPath + "2", Stage: "asking",
				Lines: "81-160", Started: now.Add(-2 * time.Second), Deltas: 10, Tail: "{\"questions\": [\"\x1b[31m日本😀"},
			{Slot: 2, Key: pipeline.FileKey{RepoID: 1, Path: "a.go"}, Repo: "r", Path: "a.go", Stage: "answering",
				Question: "short?", Started: now.Add(-time.Second), Deltas: 5, Tail: "short"},
		},
		Server: pipeline.ServerState{Connected: false, Err: "connection refused by \x1b[31m日本😀 " + strings.Repeat("z", 200),
			RetryAt: now.Add(8 * time.Second)},
		Repos: []pipeline.RepoProgress{{Name: rbRepo, State: "scanned", Planned: 100, Done: 40, Failed: 2, Err: rbReason},
			{Name: "github.com/acme/\x1b[31mbroken😀", State: "failed", Err: rbReason}},
	}}
}

// rbSettle runs cmd and feeds what it returns back into m, as Bubble Tea
// would, until nothing is left. Commands that block (session listeners,
// ticks) are abandoned by runShort.
func rbSettle(t *testing.T, m Model, cmd tea.Cmd) Model {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 500 {
			t.Fatal("commands keep coming")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := runShort(c)
		if msg == nil {
			continue
		}
		if b, ok := msg.(tea.BatchMsg); ok {
			queue = append(queue, b...)
			continue
		}
		// tea.Sequence's message is unexported: a slice of commands.
		if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
			for i := range v.Len() {
				queue = append(queue, v.Index(i).Interface().(tea.Cmd))
			}
			continue
		}
		if _, ok := msg.(tea.QuitMsg); ok {
			continue
		}
		var next tea.Cmd
		m, next = send(m, msg)
		queue = append(queue, next)
	}
	return m
}

// rbPress sends keys to the root and settles what each returns.
func rbPress(t *testing.T, m Model, keys ...string) Model {
	t.Helper()
	for _, k := range keys {
		var cmd tea.Cmd
		m, cmd = send(m, keyPress(k))
		m = rbSettle(t, m, cmd)
	}
	return m
}

type rbState struct {
	name string
	m    Model
	want string // shown at 120×40, so the state is what its name says
}

// rbStates builds every screen and overlay in the states worth drawing.
// The context has no session (nothing blocks); the job's state arrives as
// ticks and events, as the real session would send them.
func rbStates(t *testing.T, c *common.Context, ids []int64) []rbState {
	t.Helper()
	cc := *c
	cc.Session = nil
	newModel := func(opts Options) Model {
		opts.NoTick = true
		m := New(&cc, opts)
		m, _ = send(m, tea.WindowSizeMsg{Width: 120, Height: 40})
		return rbSettle(t, m, m.Init())
	}
	var out []rbState
	add := func(name string, m Model, want string) { out = append(out, rbState{name, m, want}) }

	// Dashboard: a prepare running, live preview, answers as events,
	// failures, a flash; then each pane focused, the log lines, and the
	// job's end with an internal error.
	dash := newModel(Options{})
	dash, _ = send(dash, rbBusy())
	for i := range 3 {
		dash, _ = send(dash, common.SessionEventMsg{Event: pipeline.SessionEvent{Job: pipeline.JobPrepare,
			Runner: &pipeline.Event{Kind: pipeline.EventAnswer, Repo: rbRepo, Path: rbPath, Chunk: i, Question: rbQuestion, Text: rbAnswer}}})
	}
	dash, _ = send(dash, common.SessionEventMsg{Event: pipeline.SessionEvent{Job: pipeline.JobPrepare, Message: "server unreachable: " + rbReason, Warn: true}})
	add("dashboard running", dash, "Failures")
	p := dash
	for i := range 3 {
		p = rbPress(t, p, "tab")
		add(fmt.Sprintf("dashboard pane %d", i+2), p, "")
	}
	add("dashboard log lines", rbPress(t, p, "j", "l"), "err=\"the LLM server said")
	add("dashboard skip chooser", rbPress(t, dash, "n"), "")
	done, _ := send(dash, common.TickMsg{Now: fixedNow(), View: pipeline.SessionView{Job: pipeline.JobPrepare, LastErr: "internal error: " + rbReason}})
	done, _ = send(done, common.SessionEventMsg{Event: pipeline.SessionEvent{Job: pipeline.JobPrepare, Done: true,
		Err: fmt.Errorf("internal error: %s (details in the log)", rbReason)}})
	add("dashboard after an internal error", done, "internal error")

	// Overlays over the busy dashboard.
	help := rbPress(t, dash, "?")
	add("help", help, "Everywhere")
	add("help scrolled", rbPress(t, help, "j", "j", "j", "pgdown", "j"), "")
	add("help scrolled past the end", rbPress(t, help, "pgdown", "pgdown", "pgdown", "pgdown", "pgdown", "pgdown"), "")
	pal := rbPress(t, dash, ":")
	add("palette", pal, "Run a command")
	add("palette filtered", rbPress(t, pal, "e", "x", "p"), "Export")
	add("palette no match", rbPress(t, pal, "z", "z", "z", "z"), "")
	add("quit confirmation", rbPress(t, dash, "q"), "Stop it gracefully and quit?")
	quality := rbPress(t, dash, "Q")
	add("quality overview", quality, "Quality overview")
	q2 := newModel(Options{})
	q2, _ = send(q2, keyPress("Q"))
	add("quality overview loading", q2, "reading the samples")

	// Samples: rows, the search box, a search applied, the filter form, a
	// filter applied.
	list := rbPress(t, newModel(Options{}), "tab", "tab", "tab", "tab")
	if list.Screen() != common.ScreenSamples {
		t.Fatalf("tab reached %v, want samples", list.Screen())
	}
	add("samples", list, "row 1 of")
	add("samples scrolled", rbPress(t, list, "j", "j", "j", "pgdown", "j"), "")
	typing := rbPress(t, list, "/", "l", "o", "r", "e", "m")
	add("samples search box", typing, "lorem")
	searched := rbPress(t, typing, "enter")
	add("samples search applied", searched, "row 1 of")
	filter := rbPress(t, list, "f")
	add("samples filter form", filter, "")
	add("samples filter applied", rbPress(t, filter, "enter"), "")

	// The sample: a long answer and its source span, scrolled, the next
	// one, the inline editor; and one still pending.
	detail, cmd := send(newModel(Options{}), common.OpenSampleMsg{ID: ids[0]})
	detail = rbSettle(t, detail, cmd)
	add("sample", detail, "variant 0")
	add("sample scrolled", rbPress(t, detail, "pgdown", "pgdown", "j"), "")
	add("sample source span", rbPress(t, detail, "G"), "func Red1()")
	add("sample next", rbPress(t, detail, "]"), "")
	add("sample inline edit", rbPress(t, detail, "i"), "ctrl+s save")
	pending, cmd := send(newModel(Options{}), common.OpenSampleMsg{ID: ids[6]})
	add("sample pending", rbSettle(t, pending, cmd), "No answer yet")

	// Export: idle, running (the export command is never run, so it stays
	// at its progress), and failed (the output exists, no overwrite).
	exp := rbPress(t, newModel(Options{}), "e")
	if exp.Screen() != common.ScreenExport {
		t.Fatalf("e opened %v", exp.Screen())
	}
	add("export", exp, "Export a training set")
	atButton := exp
	for i := 0; i < 20 && !strings.Contains(ansi.Strip(atButton.View()), "▸ [ Export ]"); i++ {
		atButton = rbPress(t, atButton, "down")
	}
	if !strings.Contains(ansi.Strip(atButton.View()), "▸ [ Export ]") {
		t.Fatalf("never reached the Export button:\n%s", atButton.View())
	}
	running, _ := send(atButton, keyPress("enter"))
	add("export running", running, "Exporting to")
	elsewhere, _ := send(running, common.SwitchMsg{Screen: common.ScreenDashboard})
	add("export quit confirmation", rbPress(t, elsewhere, "q"), "An export is running")
	// The first export writes the file, the second finds it there.
	failed := atButton
	for range 2 {
		failed, cmd = send(failed, keyPress("enter"))
		failed = rbSettle(t, failed, cmd)
	}
	add("export failed", failed, "already exists")
	add("export repositories", rbPress(t, exp, "down", "down", "down", "down", "down"), "")

	// Setup: the openai backend, then mlx.
	setup := newModel(Options{Setup: true})
	add("setup openai", setup, "Set up cicdllm")
	mlx := rbPress(t, setup, "tab", "right")
	add("setup mlx", mlx, "mlx_lm.server")
	add("setup mlx save", rbPress(t, mlx, "down", "down", "down", "down"), "")

	// Flashes in the footer of the other screens.
	flashed, _ := send(list, common.ErrMsg{Err: fmt.Errorf("cannot open %s: %s", rbPath, rbReason)})
	add("samples error flash", flashed, "cannot open")
	return out
}

// rbAudit walks a rendered view. The UI itself only ever draws SGR
// sequences (CSI … m); any other escape sequence, control character or
// C1 code can only have come from the data, raw. SGR colour parameters
// are returned apart.
func rbAudit(s string) (colours, foreign []string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c == 0x1b {
			if i+1 < len(s) && s[i+1] == '[' {
				j := i + 2
				for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';' || s[j] == ':') {
					j++
				}
				if j < len(s) && s[j] == 'm' {
					colours = append(colours, sgrColours(s[i+2:j])...)
					i = j + 1
					continue
				}
			}
			foreign = append(foreign, strconv.Quote(s[i:min(i+16, len(s))]))
			i++
			continue
		}
		if c < 0x20 && c != '\n' || c == 0x7f {
			foreign = append(foreign, strconv.Quote(s[max(0, i-8):min(i+8, len(s))]))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x80 && r <= 0x9f || r == utf8.RuneError && size == 1 {
			foreign = append(foreign, strconv.Quote(s[max(0, i-8):min(i+8, len(s))]))
		}
		i += size
	}
	return colours, foreign
}

// rbCheck: exactly h lines, none wider than w, and nothing but the UI's
// own SGR sequences. The tests of this package draw without colour or
// attributes (termenv.Ascii, see fixture_test.go), so there any ESC at
// all came from the data.
func rbCheck(t *testing.T, what, view string, w, h int) {
	t.Helper()
	rbCheckView(t, what, view, w, h, true)
}

// rbCheckView is rbCheck; plain says the view was drawn without styling.
func rbCheckView(t *testing.T, what, view string, w, h int, plain bool) {
	t.Helper()
	// Exactly h lines: no more (the terminal would scroll), and none
	// missing (the root fills the screen, so no stale line stays).
	checkFits(t, what, view, w, h)
	if _, foreign := rbAudit(view); len(foreign) > 0 {
		t.Errorf("%s at %d×%d: %d raw control sequences reached the screen, first %s", what, w, h, len(foreign), foreign[0])
	}
	if plain && strings.Contains(view, "\x1b") {
		i := strings.Index(view, "\x1b")
		t.Errorf("%s at %d×%d: an escape sequence of the data reached the screen: %q", what, w, h, view[max(0, i-20):min(len(view), i+20)])
	}
}

// rbRender resizes m and draws it, turning a panic into a test error.
func rbRender(t *testing.T, what string, m Model, w, h int) (out Model, view string, ok bool) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s at %d×%d: panic: %v", what, w, h, p)
			ok = false
		}
	}()
	m, _ = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return m, m.View(), true
}

var (
	rbWidths  = []int{20, 21, 40, 59, 60, 61, 80, 120, 200, 250}
	rbHeights = []int{5, 6, 15, 16, 17, 24, 50, 80}
)

// TestEveryScreenFitsEverySize draws every screen and overlay, filled
// with hostile data, from 20×5 to 250×80 (the corners, and the 60×16
// minimum ±1): no panic, no line wider than the terminal, exactly as many
// lines as it has, and no escape sequence of the data reaching it raw
// (shown as ␛ instead). Below the minimum the screen says so.
func TestEveryScreenFitsEverySize(t *testing.T) {
	f, ids := rbFixture(t)
	states := rbStates(t, f.ctx, ids)
	for _, s := range states {
		if v := s.m.View(); s.want != "" && !strings.Contains(v, s.want) {
			t.Errorf("%s does not show %q at 120×40:\n%s", s.name, s.want, v)
		}
	}
	// The hostile names are on screen, their escapes shown as ␛.
	shows := map[string]bool{"dashboard running": true, "dashboard log lines": true, "samples": true, "sample": true, "export repositories": true}
	for _, s := range states {
		if _, v, ok := rbRender(t, s.name, s.m, 250, 80); ok && shows[s.name] && !strings.Contains(v, "␛[31m") && !strings.Contains(v, "␛[2J") {
			t.Errorf("%s at 250×80 does not show the escaped names:\n%s", s.name, v)
		}
	}
	for _, s := range states {
		for _, w := range rbWidths {
			for _, h := range rbHeights {
				_, v, ok := rbRender(t, s.name, s.m, w, h)
				if !ok {
					continue
				}
				rbCheck(t, s.name, v, w, h)
				if small := w < minWidth || h < minHeight; small != strings.Contains(strings.Join(strings.Fields(v), " "), "needs at least") {
					t.Errorf("%s at %d×%d: the too-small message is shown %v, want %v:\n%s", s.name, w, h, !small, small, v)
				}
			}
		}
	}
}

// TestResizeStorm sends 1,000 random sizes, 0×0 to 300×100, across every
// screen and overlay, drawing after each: no panic, and every frame fits.
func TestResizeStorm(t *testing.T) {
	f, ids := rbFixture(t)
	states := rbStates(t, f.ctx, ids)
	rng := rand.New(rand.NewPCG(11, 4))
	cur := make([]Model, len(states))
	for i, s := range states {
		cur[i] = s.m
	}
	for i := range 1000 {
		k := rng.IntN(len(states))
		w, h := rng.IntN(301), rng.IntN(101)
		m, v, ok := rbRender(t, states[k].name, cur[k], w, h)
		if !ok {
			continue
		}
		cur[k] = m
		if w == 0 || h == 0 {
			if v != "" {
				t.Errorf("step %d, %s at %d×%d: drew %q", i, states[k].name, w, h, v)
			}
			continue
		}
		rbCheck(t, fmt.Sprintf("step %d, %s", i, states[k].name), v, w, h)
	}
}

// rbEnv is a process environment for termenv.
type rbEnv map[string]string

func (e rbEnv) Getenv(k string) string { return e[k] }
func (e rbEnv) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

// rbTerminal makes lipgloss draw, for the rest of the test, as it does in
// the program on a terminal with env (the default renderer every style is
// built on), and returns that renderer.
func rbTerminal(t *testing.T, env rbEnv) *lipgloss.Renderer {
	t.Helper()
	r := lipgloss.NewRenderer(io.Discard, termenv.WithTTY(true), termenv.WithEnvironment(env))
	prev := lipgloss.DefaultRenderer()
	lipgloss.SetDefaultRenderer(r)
	t.Cleanup(func() { lipgloss.SetDefaultRenderer(prev) })
	return r
}

// TestNoColor draws every screen and overlay as the program does on a
// true-colour terminal (the styles on lipgloss's default renderer, then
// Run's forTerminal): with NO_COLOR (or CLICOLOR=0) no frame holds a
// single SGR colour parameter, yet bold and reverse video are still drawn;
// without it the same frames are in colour, so the check can see colour.
func TestNoColor(t *testing.T) {
	base := rbEnv{"TERM": "xterm-256color", "COLORTERM": "truecolor"}
	with := func(k, v string) rbEnv {
		e := rbEnv{k: v}
		for bk, bv := range base {
			e[bk] = bv
		}
		return e
	}
	for _, tc := range []struct {
		name    string
		env     rbEnv
		noColor bool
	}{
		{"colour terminal", base, false},
		{"NO_COLOR=1", with("NO_COLOR", "1"), true},
		{"CLICOLOR=0", with("CLICOLOR", "0"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rbTerminal(t, tc.env)
			f, ids := rbFixture(t)
			states := rbStates(t, f.ctx, ids)
			colours, emphasis := 0, 0
			for _, s := range states {
				m := s.m.forTerminal(r)
				for _, sz := range [][2]int{{20, 5}, {60, 16}, {120, 40}, {250, 80}} {
					_, v, ok := rbRender(t, s.name, m, sz[0], sz[1])
					if !ok {
						continue
					}
					rbCheckView(t, s.name, v, sz[0], sz[1], false)
					c, _ := rbAudit(v)
					colours += len(c)
					if tc.noColor && len(c) > 0 {
						t.Errorf("%s at %dx%d: colour parameters %v under %s", s.name, sz[0], sz[1], c, tc.name)
					}
					for _, attr := range []string{"\x1b[1m", "\x1b[7m", "\x1b[1;7m", "\x1b[7;1m"} {
						emphasis += strings.Count(v, attr)
					}
				}
			}
			if !tc.noColor && colours == 0 {
				t.Error("a colour terminal got no colour at all: the check cannot see colour")
			}
			if tc.noColor && emphasis == 0 {
				t.Errorf("under %s no bold or reverse video is drawn: focus and selection are invisible", tc.name)
			}
			t.Logf("%s: %d colour parameters, %d bold/reverse sequences", tc.name, colours, emphasis)
		})
	}
}

// TestCleanFrame: the UI's own SGR passes, colours go under NO_COLOR,
// every other escape sequence or control character is dropped (the
// screens show the data's as symbols before it gets here), and the
// frame's width is what ansi.StringWidth measured.
func TestCleanFrame(t *testing.T) {
	for _, tc := range []struct {
		in, plain, noColor string
	}{
		{"plain text\nline 2", "plain text\nline 2", "plain text\nline 2"},
		{"\x1b[1mbold\x1b[0m", "\x1b[1mbold\x1b[0m", "\x1b[1mbold\x1b[0m"},
		{"\x1b[1;38;5;99;48;2;1;2;3;7mx\x1b[m", "\x1b[1;38;5;99;48;2;1;2;3;7mx\x1b[m", "\x1b[1;7mx\x1b[m"},
		{"\x1b[31mred\x1b[39m\x1b[4;58:2::1:2:3m", "\x1b[31mred\x1b[39m\x1b[4;58:2::1:2:3m", "red\x1b[4m"},
		{"\x1b[95;107mhi", "\x1b[95;107mhi", "hi"},
		{"a\x1b[2Jb\x1b]0;t\x07c\x1b]52;c;aGk=\x1b\\d\x1b[?1049le", "abcde", "abcde"},
		{"tab\tcr\rdel\x7f c1\u009b31m bel\a", "tabcrdel c131m bel", "tabcrdel c131m bel"},
		{"日本😀 e\u0301 ␛ shown", "日本😀 e\u0301 ␛ shown", "日本😀 e\u0301 ␛ shown"},
	} {
		if got := cleanFrame(tc.in, false); got != tc.plain {
			t.Errorf("cleanFrame(%q) = %q, want %q", tc.in, got, tc.plain)
		}
		if got := cleanFrame(tc.in, true); got != tc.noColor {
			t.Errorf("cleanFrame(%q, noColor) = %q, want %q", tc.in, got, tc.noColor)
		}
		if a, b := ansi.StringWidth(tc.in), ansi.StringWidth(cleanFrame(tc.in, false)); a != b {
			t.Errorf("cleanFrame(%q) changed the width from %d to %d", tc.in, a, b)
		}
	}
	if got := cleanFrame("bad \xff utf8", false); strings.Contains(got, "\xff") {
		t.Errorf("invalid UTF-8 passed: %q", got)
	}
}

// TestCleanFrameLeavesCleanFramesAlone: a frame with nothing to clean
// (box drawing, CJK, emoji, the UI's SGR) is returned as it is, without a
// copy.
func TestCleanFrameLeavesCleanFramesAlone(t *testing.T) {
	clean := "╭─ 日本語 😀 👩‍👩‍👧‍👦 ─╮\n\x1b[1mbold\x1b[0m \x1b[7mreverse\x1b[0m\n"
	for _, noColor := range []bool{false, true} {
		if needsCleaning(clean, noColor) {
			t.Errorf("needsCleaning(%q, %v) = true", clean, noColor)
		}
	}
	if !needsCleaning("\x1b[31mred", true) || needsCleaning("\x1b[31mred", false) {
		t.Error("colour SGR: needs cleaning only under NO_COLOR")
	}
	for _, dirty := range []string{"a\x1b[2J", "\x07", "\u009b", "\xff", "\x1b]0;t\x07"} {
		if !needsCleaning(dirty, false) {
			t.Errorf("needsCleaning(%q) = false", dirty)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = cleanFrame(clean, true) }); allocs != 0 {
		t.Errorf("cleaning a clean frame allocates %v times", allocs)
	}
}

func sgrColours(params string) []string {
	colours, _ := common.SplitSGR(params)
	return colours
}
