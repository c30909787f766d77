package samples

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/muesli/termenv"

	"cicdllm/store"
	"cicdllm/ui/common"
)

// Golden files hold plain text: no colour codes, whatever the terminal.
func init() { lipgloss.SetColorProfile(termenv.Ascii) }

var fixedNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

const sourcePath = "server/handler.go"

// sourceText is the file every fixture sample was generated from.
var sourceText = func() string {
	var b strings.Builder
	b.WriteString(`package server

import (
	"encoding/json"
	"errors"
	"net/http"
)

// ErrNoUser is returned when the request names no user.
var ErrNoUser = errors.New("no user given")

// UserHandler serves one user as JSON.
type UserHandler struct {
	Store UserStore
}

func (h UserHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		http.Error(w, ErrNoUser.Error(), http.StatusBadRequest)
		return
	}
	u, err := h.Store.Lookup(r.Context(), name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(u)
}
`)
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "\nfunc helper%02d(x int) int {\n\treturn x * %d\n}\n", i, i)
	}
	return b.String()
}()

// answers are Markdown the way an LLM writes it.
var answers = []string{
	"## What it does\n\nThe handler reads the **name** query parameter and answers with the user as JSON.\n\n" +
		"- An empty name gives `400 Bad Request`.\n- A failed lookup gives `404 Not Found`.\n\n" +
		"```go\nu, err := h.Store.Lookup(r.Context(), name)\n```\n\nThe encoder writes straight to the response.",
	"It returns `ErrNoUser` when the request has no name, so callers can tell a bad request from a missing user.",
	"1. Read the parameter.\n2. Look the user up through the **store**.\n3. Encode the result as JSON.\n\n> The content type is set before the body is written.",
}

var questions = []string{
	"What does UserHandler.ServeHTTP do with the name parameter?",
	"Why does the package define ErrNoUser instead of a plain string?",
	"How is the zebra user encoded in the response?",
	"What status code does a failed lookup produce?",
	"Which header does the handler set before writing the body?",
}

type fixture struct {
	st      *store.Store
	ctx     *common.Context
	repoDir string
	blob    string
	commit  string
	repoA   int64
	repoB   int64
	ids     []int64 // ascending
}

// newFixture builds a store with n answered samples (some scored, rated,
// edited) from a real git repository, so the sample view reads real
// source lines.
func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	f := &fixture{repoDir: filepath.Join(dir, "repo")}

	repo, err := git.PlainInit(f.repoDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.repoDir, "server"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.repoDir, sourcePath), []byte(sourceText), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add(sourcePath); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "t", Email: "t@example.com", When: fixedNow}
	commit, err := wt.Commit("add handler", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(commit)
	if err != nil {
		t.Fatal(err)
	}
	file, err := c.File(sourcePath)
	if err != nil {
		t.Fatal(err)
	}
	f.blob, f.commit = file.Hash.String(), commit.String()

	f.st, err = store.Open(ctx, filepath.Join(dir, "data", "cicdllm.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	f.repoA, err = f.st.UpsertRepo(ctx, store.Repo{URL: "https://github.com/acme/api.git", Name: "github.com/acme/api", LocalPath: f.repoDir, HeadCommit: f.commit})
	if err != nil {
		t.Fatal(err)
	}
	f.repoB, err = f.st.UpsertRepo(ctx, store.Repo{URL: "https://github.com/acme/infra.git", Name: "github.com/acme/infra", LocalPath: f.repoDir, HeadCommit: f.commit})
	if err != nil {
		t.Fatal(err)
	}

	var qs []store.NewQuestion
	for i := range n {
		repo := f.repoA
		if i%4 == 3 {
			repo = f.repoB
		}
		start := 17 + (i%3)*2
		qs = append(qs, store.NewQuestion{
			RepoID: repo, FilePath: sourcePath, CommitSHA: f.commit, BlobOID: f.blob,
			ChunkIndex: i, LineStart: start, LineEnd: start + 8,
			Question: questions[i%len(questions)] + fmt.Sprintf(" (variant %d)", i),
			Model:    "qwen2.5-coder", Theme: "behaviour",
		})
	}
	for start := 0; start < len(qs); start += 500 {
		ids, err := f.st.InsertPendingQuestions(ctx, qs[start:min(start+500, len(qs))])
		if err != nil {
			t.Fatal(err)
		}
		var as []store.Answer
		for k, id := range ids {
			i := start + k
			if i%11 == 10 {
				continue // stays pending
			}
			as = append(as, store.Answer{SampleID: id, Content: answers[i%len(answers)]})
		}
		if err := f.st.StoreAnswers(ctx, as); err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, ids...)
	}
	for i, id := range f.ids {
		if i%3 != 2 && i < 200 {
			if err := f.st.SetScore(ctx, id, float64(i%5)+0.5); err != nil {
				t.Fatal(err)
			}
		}
		if i%7 == 1 && i < 200 {
			if err := f.st.RateSample(ctx, id, 1+i%5); err != nil {
				t.Fatal(err)
			}
		}
		if i%9 == 4 && i%11 != 10 && i < 200 {
			if err := f.st.EditTurn(ctx, id, 1, answers[i%len(answers)]+"\n\nEdited by a curator."); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.ctx = &common.Context{Store: f.st, Styles: common.DefaultStyles(), Keys: common.DefaultKeys(),
		Now: func() time.Time { return fixedNow }}
	return f
}

func (f *fixture) sample(t testing.TB, id int64) store.Sample {
	t.Helper()
	sm, err := f.st.Sample(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

// ---- driving Update the way the root model does ---------------------------

// driver feeds messages to a component and runs the commands it returns
// synchronously, following batches and sequences, until none is left. It
// broadcasts SampleChangedMsg back, as the root does, and keeps what is
// addressed to the root (flashes, errors, screen switches, opens).
type driver[M any] struct {
	t      testing.TB
	m      M
	update func(M, tea.Msg) (M, tea.Cmd)
	out    []tea.Msg
}

func newDriver[M any](t testing.TB, m M, update func(M, tea.Msg) (M, tea.Cmd)) *driver[M] {
	return &driver[M]{t: t, m: m, update: update}
}

func (d *driver[M]) send(msg tea.Msg) {
	d.t.Helper()
	var cmd tea.Cmd
	d.m, cmd = d.update(d.m, msg)
	d.run(cmd)
}

func (d *driver[M]) run(cmd tea.Cmd) {
	d.t.Helper()
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 10000 {
			d.t.Fatal("commands do not settle")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		if msg == nil {
			continue
		}
		if batch, ok := msg.(tea.BatchMsg); ok {
			queue = append(queue, batch...)
			continue
		}
		// tea.Sequence's message type is unexported: a slice of Cmds.
		if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
			for i := range v.Len() {
				queue = append(queue, v.Index(i).Interface().(tea.Cmd))
			}
			continue
		}
		switch msg.(type) {
		case common.FlashMsg, common.ErrMsg, common.SwitchMsg, common.OpenSampleMsg:
			d.out = append(d.out, msg)
			continue
		case common.SampleChangedMsg:
			d.out = append(d.out, msg)
		}
		var next tea.Cmd
		d.m, next = d.update(d.m, msg)
		queue = append(queue, next)
	}
}

// press sends keys: named keys ("enter", "esc", "ctrl+s", "pgdown") or
// runes, one key per argument.
func (d *driver[M]) press(keys ...string) {
	d.t.Helper()
	for _, k := range keys {
		d.send(keyMsg(k))
	}
}

// typeText sends each rune of s as a key.
func (d *driver[M]) typeText(s string) {
	d.t.Helper()
	for _, r := range s {
		if r == ' ' {
			d.send(tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
			continue
		}
		d.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

// take returns and forgets the messages sent to the root so far.
func (d *driver[M]) take() []tea.Msg {
	out := d.out
	d.out = nil
	return out
}

// noErrors fails on an error sent to the root.
func (d *driver[M]) noErrors() {
	d.t.Helper()
	for _, msg := range d.out {
		if e, ok := msg.(common.ErrMsg); ok {
			d.t.Fatalf("unexpected error: %v", e.Err)
		}
	}
}

// flashes lists the status bar texts sent so far.
func (d *driver[M]) flashes() []string {
	var out []string
	for _, msg := range d.out {
		if f, ok := msg.(common.FlashMsg); ok {
			out = append(out, f.Text)
		}
	}
	return out
}

var namedKeys = map[string]tea.KeyType{
	"enter": tea.KeyEnter, "esc": tea.KeyEsc, "up": tea.KeyUp, "down": tea.KeyDown,
	"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd,
	"tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab, "ctrl+s": tea.KeyCtrlS, "ctrl+u": tea.KeyCtrlU,
	"ctrl+d": tea.KeyCtrlD, "ctrl+n": tea.KeyCtrlN, "ctrl+p": tea.KeyCtrlP, "ctrl+c": tea.KeyCtrlC,
	"backspace": tea.KeyBackspace, "space": tea.KeySpace, "left": tea.KeyLeft, "right": tea.KeyRight,
}

func keyMsg(k string) tea.KeyMsg {
	if t, ok := namedKeys[k]; ok {
		if t == tea.KeySpace {
			return tea.KeyMsg{Type: t, Runes: []rune{' '}}
		}
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// ---- starting components on a fixture -------------------------------------

func (f *fixture) browser(t testing.TB, w, h int) *driver[Browser] {
	t.Helper()
	b := NewBrowser(f.ctx)
	b.SetSize(w, h)
	d := newDriver(t, b, Browser.Update)
	d.run(b.Init())
	d.noErrors()
	return d
}

func (f *fixture) detail(t testing.TB, w, h int, id int64, q store.SampleQuery) *driver[Detail] {
	t.Helper()
	m := NewDetail(f.ctx)
	m.SetSize(w, h)
	m, cmd := m.Open(id, q)
	d := newDriver(t, m, Detail.Update)
	d.run(cmd)
	d.noErrors()
	return d
}
