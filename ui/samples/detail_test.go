package samples

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/store"
	"cicdllm/ui/common"
)

var newest = store.SampleQuery{Desc: true}

func answerOf(t *testing.T, f *fixture, id int64) string {
	t.Helper()
	turn, ok := turnOf(f.sample(t, id), false)
	if !ok {
		t.Fatalf("sample %d has no answer", id)
	}
	return turn.Content
}

func questionOf(t *testing.T, f *fixture, id int64) string {
	t.Helper()
	turn, _ := turnOf(f.sample(t, id), true)
	return turn.Content
}

func found(t *testing.T, f *fixture, word string) []int64 {
	t.Helper()
	return listed(t, f.st, store.SampleQuery{Search: word, Statuses: []string{store.StatusActive, store.StatusPending, store.StatusStale, store.StatusDeleted}})
}

func TestDetailShowsSourceLines(t *testing.T) {
	f := newFixture(t, 5)
	d := f.detail(t, 100, 60, f.ids[0], newest)
	v := d.m.View()
	for _, want := range []string{
		"#1", "acme/api", "server/handler.go:17-25", "@" + f.commit[:7], "score 0.5", "unrated",
		"Question", "What does UserHandler.ServeHTTP do", "Answer", "• An empty name gives 400 Bad Request.",
		"╭─ go", "│ u, err := h.Store.Lookup(r.Context(), name)",
		"▌17 func (h UserHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {",
		"▌25         http.Error(w, err.Error(), http.StatusNotFound)",
		" 26         return", " 12 // UserHandler serves one user as JSON.",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "▌26") || strings.Contains(v, "▌16") {
		t.Error("lines outside the span are marked")
	}
	// Wide: the source sits beside the answer.
	d.m.SetSize(160, 40)
	for _, l := range strings.Split(d.m.View(), "\n") {
		if strings.Contains(l, "Question") && !strings.Contains(l, "Source") {
			t.Errorf("at 160 columns the source is not beside the question: %q", l)
		}
	}
}

func TestDetailScrolls(t *testing.T) {
	f := newFixture(t, 5)
	d := f.detail(t, 80, 12, f.ids[0], newest)
	total, h := len(d.m.body), d.m.bodyHeight()
	if total <= h {
		t.Fatalf("body (%d lines) fits; the test needs it to scroll", total)
	}
	d.press("j", "down")
	if d.m.offset != 2 {
		t.Errorf("j j: offset %d", d.m.offset)
	}
	d.press("k")
	if d.m.offset != 1 {
		t.Errorf("k: offset %d", d.m.offset)
	}
	d.press("pgdown")
	if d.m.offset != min(1+h, total-h) {
		t.Errorf("pgdown: offset %d", d.m.offset)
	}
	d.press("G")
	if d.m.offset != total-h || !strings.Contains(d.m.View(), "⋮") {
		t.Errorf("G: offset %d of %d", d.m.offset, total-h)
	}
	d.press("j")
	if d.m.offset != total-h {
		t.Error("scrolled past the end")
	}
	d.press("pgup", "ctrl+u")
	d.press("g")
	if d.m.offset != 0 {
		t.Errorf("g: offset %d", d.m.offset)
	}
	d.press("k")
	if d.m.offset != 0 {
		t.Error("scrolled above the top")
	}
}

func TestDetailEditsInline(t *testing.T) {
	f := newFixture(t, 5)
	id := f.ids[1]
	d := f.detail(t, 80, 24, id, newest)
	orig := answerOf(t, f, id)

	d.press("i")
	if !d.m.Capturing() {
		t.Fatal("the editor does not capture keys")
	}
	if !strings.Contains(d.m.View(), "Editing the answer of #2") {
		t.Errorf("editor view:\n%s", d.m.View())
	}
	d.typeText(" A giraffe q?: checks it.") // global keys are text here
	d.press("ctrl+s")
	d.noErrors()
	if got := answerOf(t, f, id); got != orig+" A giraffe q?: checks it." {
		t.Errorf("saved answer %q", got)
	}
	if d.m.Capturing() {
		t.Error("the editor stayed open after saving")
	}
	if !slices.Contains(d.flashes(), "answer saved") {
		t.Errorf("flashes %v", d.flashes())
	}
	if got := found(t, f, "giraffe"); !slices.Equal(got, []int64{id}) {
		t.Errorf("search for the new word finds %v", got)
	}
	if !strings.Contains(d.m.View(), "giraffe") || !strings.Contains(d.m.View(), "✎ edited") {
		t.Errorf("the view was not reloaded:\n%s", d.m.View())
	}

	// The question, with I.
	d.press("I")
	if !strings.Contains(d.m.View(), "Editing the question of #2") {
		t.Fatalf("editor view:\n%s", d.m.View())
	}
	d.press("backspace")
	d.typeText(" about okapis?")
	d.press("ctrl+s")
	d.noErrors()
	if got := questionOf(t, f, id); !strings.HasSuffix(got, "(variant 1 about okapis?") {
		t.Errorf("saved question %q", got)
	}
	if got := found(t, f, "okapis"); !slices.Equal(got, []int64{id}) {
		t.Errorf("search for the new question word finds %v", got)
	}

	// ctrl+s without a change just closes.
	d.take()
	d.press("i", "ctrl+s")
	if d.m.Capturing() || !slices.Contains(d.flashes(), "no changes") {
		t.Error("saving an unchanged answer")
	}
	// Emptying the answer is refused; the editor stays open.
	d.press("i")
	for range len(answerOf(t, f, id)) + 5 {
		d.press("backspace")
	}
	for range 20 {
		d.send(tea.KeyMsg{Type: tea.KeyCtrlK})
		d.send(tea.KeyMsg{Type: tea.KeyUp})
	}
	d.send(tea.KeyMsg{Type: tea.KeyCtrlK})
	d.take()
	d.press("ctrl+s")
	var failed bool
	for _, msg := range d.take() {
		if _, ok := msg.(common.ErrMsg); ok {
			failed = true
		}
	}
	if !failed || !d.m.Capturing() {
		t.Errorf("an empty answer: error %v, editor open %v", failed, d.m.Capturing())
	}
	d.press("esc", "y")
}

func TestDetailDiscardAsks(t *testing.T) {
	f := newFixture(t, 5)
	id := f.ids[0]
	d := f.detail(t, 80, 24, id, newest)
	orig := answerOf(t, f, id)

	d.press("i", "esc") // unchanged: closes at once
	if d.m.Capturing() {
		t.Fatal("esc on an unchanged answer did not close the editor")
	}
	d.press("i")
	d.typeText("xyz")
	d.press("esc")
	if d.m.mode != detailDiscard || !strings.Contains(d.m.View(), "Discard your changes? y/n") {
		t.Fatalf("no discard prompt:\n%s", d.m.View())
	}
	d.press("n")
	if d.m.mode != detailEdit || !strings.HasSuffix(d.m.ta.Value(), "xyz") {
		t.Fatal("n did not go back to the editor with the text")
	}
	d.press("esc", "y")
	if d.m.Capturing() || answerOf(t, f, id) != orig {
		t.Error("y did not discard")
	}
}

// editorScript writes a shell script that stands in for $EDITOR.
func editorScript(t *testing.T, body string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in editor is a shell script")
	}
	path := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// runSync runs the editor without a terminal, as tea.ExecProcess would.
func runSync(c *exec.Cmd, fn tea.ExecCallback) tea.Cmd {
	return func() tea.Msg { return fn(c.Run()) }
}

func TestDetailExternalEditor(t *testing.T) {
	f := newFixture(t, 5)
	id := f.ids[2]
	t.Setenv("EDITOR", "false") // VISUAL wins over EDITOR
	t.Setenv("VISUAL", editorScript(t, `case "$1" in
*question*) printf 'Where does the walrus live?\n' > "$1" ;;
*) printf 'Rewritten by the editor: the walrus checks the name.\n' > "$1" ;;
esac`))
	d := f.detail(t, 80, 24, id, newest)
	d.m.exec = runSync

	d.press("o")
	d.noErrors()
	if got := answerOf(t, f, id); got != "Rewritten by the editor: the walrus checks the name." {
		t.Errorf("answer after o: %q", got)
	}
	if !slices.Contains(d.flashes(), "answer saved") {
		t.Errorf("flashes %v", d.flashes())
	}
	d.press("O")
	d.noErrors()
	if got := questionOf(t, f, id); got != "Where does the walrus live?" {
		t.Errorf("question after O: %q", got)
	}
	if got := found(t, f, "walrus"); !slices.Equal(got, []int64{id}) {
		t.Errorf("search finds %v", got)
	}
	// Temporary files are cleaned up.
	if m, _ := filepath.Glob(filepath.Join(os.TempDir(), "cicdllm-sample-3-*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}

	// An editor that changes nothing saves nothing.
	t.Setenv("VISUAL", editorScript(t, "exit 0"))
	d.take()
	d.press("o")
	if !slices.Contains(d.flashes(), "no changes") {
		t.Errorf("unchanged: %v", d.flashes())
	}
	// An editor that fails saves nothing, even if it wrote.
	t.Setenv("VISUAL", editorScript(t, `printf 'half written' > "$1"; exit 3`))
	d.take()
	d.press("o")
	var failed bool
	for _, msg := range d.take() {
		if e, ok := msg.(common.ErrMsg); ok && strings.Contains(e.Err.Error(), "not saved") {
			failed = true
		}
	}
	if !failed || answerOf(t, f, id) != "Rewritten by the editor: the walrus checks the name." {
		t.Error("a failing editor's text was saved")
	}
	// Without VISUAL, EDITOR is used (with its arguments).
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", "sh "+editorScript(t, `printf 'From EDITOR.\n' > "$1"`))
	d.press("o")
	d.noErrors()
	if got := answerOf(t, f, id); got != "From EDITOR." {
		t.Errorf("answer from $EDITOR: %q", got)
	}
}

func TestEditorArgv(t *testing.T) {
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", "")
	want := "vi"
	if runtime.GOOS == "windows" {
		want = "notepad"
	}
	if got := editorArgv(); len(got) != 1 || got[0] != want {
		t.Errorf("editorArgv() = %v, want [%s]", got, want)
	}
	t.Setenv("EDITOR", "code --wait")
	if got := editorArgv(); !slices.Equal(got, []string{"code", "--wait"}) {
		t.Errorf("editorArgv() = %v", got)
	}
	t.Setenv("VISUAL", "nvim")
	if got := editorArgv(); !slices.Equal(got, []string{"nvim"}) {
		t.Errorf("editorArgv() = %v", got)
	}
}

func TestDetailUndoDeleteRate(t *testing.T) {
	f := newFixture(t, 5)
	id := f.ids[0]
	d := f.detail(t, 80, 24, id, newest)
	orig := answerOf(t, f, id)

	d.press("i")
	d.typeText(" More.")
	d.press("ctrl+s")
	d.press("u")
	d.noErrors()
	if got := answerOf(t, f, id); got != orig {
		t.Errorf("u after an edit: %q", got)
	}
	if !f.sample(t, id).EditedAt.IsZero() {
		t.Error("still marked edited after undoing the only edit")
	}
	d.take()
	d.press("u")
	if !slices.Contains(d.flashes(), "nothing to undo") {
		t.Errorf("flashes %v", d.flashes())
	}

	d.press("d")
	d.noErrors()
	if st := f.sample(t, id).Status; st != store.StatusDeleted {
		t.Fatalf("after d: %s", st)
	}
	if !slices.Contains(d.flashes(), "deleted — u to undo") || !strings.Contains(d.m.View(), "deleted") {
		t.Errorf("flashes %v", d.flashes())
	}
	d.press("u")
	d.noErrors()
	if st := f.sample(t, id).Status; st != store.StatusActive {
		t.Errorf("after u: %s", st)
	}

	for _, k := range []string{"3", "5", "0", "2", "4", "1"} {
		d.press(k)
		r, _ := rating(k)
		if got := f.sample(t, id).HumanRating; got != r {
			t.Errorf("after %s: rating %d", k, got)
		}
	}
	d.noErrors()
	if !strings.Contains(d.m.View(), "rated 1/5") || !slices.Contains(d.flashes(), "rated 3") {
		t.Errorf("view:\n%s\nflashes %v", d.m.View(), d.flashes())
	}
	var announced int
	for _, msg := range d.out {
		if c, ok := msg.(common.SampleChangedMsg); ok && c.ID == id {
			announced++
		}
	}
	if announced < 8 { // d.take() dropped the two for the edit and its undo
		t.Errorf("%d SampleChangedMsg for 8 changes", announced)
	}
}

func TestDetailNextAndPrevious(t *testing.T) {
	f := newFixture(t, 30)
	d := f.detail(t, 80, 24, f.ids[5], newest)
	d.press("]")
	if d.m.id != f.ids[4] || !strings.Contains(d.m.View(), "#5") {
		t.Errorf("] opened %d, want %d", d.m.id, f.ids[4])
	}
	d.press("[", "[")
	if d.m.id != f.ids[6] {
		t.Errorf("[ [ opened %d, want %d", d.m.id, f.ids[6])
	}
	// Under a search, only its matches, in the list's order.
	zebra := listed(t, f.st, store.SampleQuery{Search: "zebra", Order: store.OrderScore, Desc: true})
	d = f.detail(t, 80, 24, zebra[0], store.SampleQuery{Search: "zebra", Order: store.OrderScore, Desc: true})
	var seen []int64
	for range len(zebra) + 1 {
		seen = append(seen, d.m.id)
		d.press("]")
	}
	if !slices.Equal(seen[:len(zebra)], zebra) || seen[len(zebra)] != zebra[len(zebra)-1] {
		t.Errorf("] walked %v, want %v", seen, zebra)
	}
	if !slices.Contains(d.flashes(), "this is the last sample of the list") {
		t.Errorf("flashes %v", d.flashes())
	}
	d = f.detail(t, 80, 24, f.ids[29], newest)
	d.press("[")
	if !slices.Contains(d.flashes(), "this is the first sample of the list") {
		t.Errorf("flashes %v", d.flashes())
	}
	d.noErrors()
}

func TestDetailEscGoesBack(t *testing.T) {
	f := newFixture(t, 3)
	d := f.detail(t, 80, 24, f.ids[0], newest)
	d.press("esc")
	var back bool
	for _, msg := range d.take() {
		if s, ok := msg.(common.SwitchMsg); ok && s.Screen == common.ScreenSamples {
			back = true
		}
	}
	if !back {
		t.Error("esc did not switch back to the list")
	}
	for _, k := range []string{"q", "?", ":", "tab", "shift+tab", "ctrl+c", "ctrl+p"} {
		if _, cmd := d.m.Update(keyMsg(k)); cmd != nil {
			t.Errorf("%s is global but the sample view acted on it", k)
		}
	}
	if len(d.m.KeyHelp()) == 0 {
		t.Error("no key help")
	}
}

func TestDetailWithoutSource(t *testing.T) {
	f := newFixture(t, 3)
	if _, err := f.st.UpsertRepo(context.Background(), store.Repo{URL: "https://github.com/acme/api.git", Name: "github.com/acme/api",
		LocalPath: filepath.Join(t.TempDir(), "gone")}); err != nil {
		t.Fatal(err)
	}
	d := f.detail(t, 80, 40, f.ids[0], newest)
	if v := d.m.View(); !strings.Contains(v, "Cannot show the source") || !strings.Contains(v, "Answer") {
		t.Errorf("view:\n%s", v)
	}
	if _, err := f.st.UpsertRepo(context.Background(), store.Repo{URL: "https://github.com/acme/api.git", Name: "github.com/acme/api"}); err != nil {
		t.Fatal(err)
	}
	d = f.detail(t, 80, 40, f.ids[0], newest)
	if v := d.m.View(); !strings.Contains(v, "no local clone") {
		t.Errorf("view:\n%s", v)
	}
}

func TestDetailPendingSampleHasNothingToEdit(t *testing.T) {
	f := newFixture(t, 12)
	pending := f.ids[10] // the fixture leaves every eleventh unanswered
	d := f.detail(t, 80, 24, pending, newest)
	if !strings.Contains(d.m.View(), "No answer yet") {
		t.Errorf("view:\n%s", d.m.View())
	}
	d.press("i")
	if d.m.Capturing() || !slices.Contains(d.flashes(), "sample #11 has no answer yet") {
		t.Errorf("i on a pending sample: %v", d.flashes())
	}
	d.press("o")
	d.noErrors()
	d = f.detail(t, 80, 24, 424242, newest)
	if !strings.Contains(d.m.View(), "does not exist") {
		t.Errorf("missing sample:\n%s", d.m.View())
	}
	d.press("i", "d", "3") // nothing to act on
	d.noErrors()
}

// The sample view shows the quality checks prepare stored with the answer.
func TestDetailShowsQualityChecks(t *testing.T) {
	f := newFixture(t, 3)
	ctx := context.Background()
	ids, err := f.st.InsertPendingQuestions(ctx, []store.NewQuestion{{RepoID: f.repoA, FilePath: "server/handler.go",
		CommitSHA: f.commit, BlobOID: f.blob, ChunkIndex: 99, LineStart: 1, LineEnd: 5, Question: "What does RotateKeys do?"}})
	if err != nil {
		t.Fatal(err)
	}
	meta := `{"quality_flags":[{"Kind":"unknown_identifier","Detail":"RotateKeys"}],` +
		`"code_blocks":[{"Lang":"go","OK":false,"Checked":true,"Err":"line 1: expected operand"},{"Lang":"json","OK":true,"Checked":true}]}`
	if err := f.st.StoreAnswer(ctx, store.Answer{SampleID: ids[0], Content: "It rotates keys.", MetadataJSON: meta}); err != nil {
		t.Fatal(err)
	}
	d := f.detail(t, 160, 40, ids[0], store.SampleQuery{})
	view := d.m.View()
	for _, want := range []string{"⚑ unknown_identifier RotateKeys", "✗ go: line 1: expected operand", "✓ json parses"} {
		if !strings.Contains(view, want) {
			t.Errorf("the sample view lacks %q:\n%s", want, view)
		}
	}
}
