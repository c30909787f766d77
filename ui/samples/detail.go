package samples

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/pipeline"
	"cicdllm/store"
	"cicdllm/ui/common"
)

// detailMode is what has the keyboard in the sample view.
type detailMode int

const (
	detailRead    detailMode = iota
	detailEdit               // the inline editor
	detailDiscard            // "discard your changes? y/n"
)

// Messages of the Detail view.
type (
	sampleMsg struct {
		gen    int
		sample store.Sample
		err    error
	}
	sourceMsg struct {
		id   int64
		blob string
		text string
		err  error
	}
	detailActionMsg struct {
		actionResult
		closeEditor bool   // a save from the inline editor succeeded
		status      string // the sample's status after the action, when it changed
	}
	neighborMsg struct {
		gen  int
		id   int64 // 0: none in that direction
		next bool
		err  error
	}
	// editorReadyMsg: the text is in a temporary file, ready for $EDITOR.
	editorReadyMsg struct {
		edit pendingEdit
		path string
		argv []string // the editor command, the file's path not included
		err  error
	}
	// editorDoneMsg: the editor exited.
	editorDoneMsg struct {
		edit pendingEdit
		path string
		err  error
	}
)

// pendingEdit is one turn being edited, with the text it started from.
type pendingEdit struct {
	id   int64
	turn int
	what string // "answer" or "question"
	orig string
}

// contextLines is how many source lines surround the sample's span.
const contextLines = 5

// Detail shows one sample: header, question, answer and source.
type Detail struct {
	ctx  *common.Context
	keys detailKeys
	w, h int

	id    int64
	query store.SampleQuery
	words []string // search words to highlight
	gen   int      // sample loads and steps of an older Open are dropped

	sample  store.Sample
	loaded  bool
	loadErr error

	srcBlob   string // blob srcLines were read from
	srcLines  []string
	srcErr    error
	srcLoaded bool

	// Rendered once per change of content or size; View only slices.
	header []string
	body   []string
	offset int

	mode   detailMode
	edit   pendingEdit
	saving bool
	ta     textarea.Model

	// exec runs an external program with the terminal (tea.ExecProcess);
	// tests replace it to run the editor without a terminal.
	exec func(*exec.Cmd, tea.ExecCallback) tea.Cmd
}

// NewDetail returns an empty sample view; Open loads a sample into it.
func NewDetail(ctx *common.Context) Detail {
	return Detail{ctx: ctx, keys: newDetailKeys(), exec: tea.ExecProcess}
}

// Open shows sample id, found with q (whose search words are highlighted
// and whose order ] and [ follow).
func (d Detail) Open(id int64, q store.SampleQuery) (Detail, tea.Cmd) {
	q.After, q.AfterKey, q.Limit = 0, store.SampleCursor{}, 0
	d.gen++
	d.id, d.query, d.words = id, q, common.SearchWords(q.Search)
	d.sample, d.loaded, d.loadErr = store.Sample{}, false, nil
	d.srcBlob, d.srcLines, d.srcErr, d.srcLoaded = "", nil, nil, false
	d.mode, d.saving, d.offset = detailRead, false, 0
	d.relayout()
	return d, d.loadSample()
}

// SetSize sets the area the view draws in; text is wrapped again only
// when the width changes.
func (d *Detail) SetSize(w, h int) {
	if w != d.w {
		d.w, d.h = w, h
		d.relayout()
	}
	d.w, d.h = w, h
	d.clampOffset()
	if d.mode != detailRead {
		d.sizeEditor()
	}
}

// Capturing reports that the inline editor or its prompt has the keyboard.
func (d Detail) Capturing() bool { return d.mode != detailRead }

// KeyHelp lists the keys that work now, for the footer.
func (d Detail) KeyHelp() []key.Binding {
	k := d.keys
	switch d.mode {
	case detailEdit:
		return []key.Binding{k.Save, k.Cancel}
	case detailDiscard:
		return []key.Binding{key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "discard")),
			key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "keep editing"))}
	}
	return []key.Binding{d.ctx.Keys.Down, d.ctx.Keys.Up, k.EditAnswer, k.EditQuestion, k.ExtAnswer, k.ExtQuestion,
		k.Rate, k.Delete, k.Undo, k.Next, k.Prev, k.Back}
}

func (d Detail) loadSample() tea.Cmd {
	st, id, gen := d.ctx.Store, d.id, d.gen
	return func() tea.Msg {
		sm, err := st.Sample(context.Background(), id)
		return sampleMsg{gen: gen, sample: sm, err: err}
	}
}

// loadSource reads the blob the sample was generated from, out of the
// repository's object store, so the lines are the ones the model saw.
func (d Detail) loadSource() tea.Cmd {
	st, sm := d.ctx.Store, d.sample
	return func() tea.Msg {
		msg := sourceMsg{id: sm.ID, blob: sm.BlobOID}
		repo, err := st.RepoByName(context.Background(), sm.RepoName)
		switch {
		case err != nil:
			msg.err = err
		case repo.LocalPath == "":
			msg.err = fmt.Errorf("%s has no local clone yet; scrape it first", sm.RepoName)
		default:
			msg.text, msg.err = pipeline.ReadSource(repo.LocalPath, sm.BlobOID)
		}
		return msg
	}
}

// Update handles the view's messages and, when it has focus, keys.
func (d Detail) Update(msg tea.Msg) (Detail, tea.Cmd) {
	switch msg := msg.(type) {
	case sampleMsg:
		if msg.gen != d.gen {
			return d, nil
		}
		if msg.err != nil {
			d.loadErr = msg.err
			d.relayout()
			if errors.Is(msg.err, store.ErrNotFound) {
				return d, nil // shown in place
			}
			return d, common.Fail(msg.err)
		}
		first := !d.loaded
		d.sample, d.loaded, d.loadErr = msg.sample, true, nil
		var cmd tea.Cmd
		if first || d.srcBlob != d.sample.BlobOID {
			d.srcBlob, d.srcLines, d.srcErr, d.srcLoaded = d.sample.BlobOID, nil, nil, false
			cmd = d.loadSource()
		}
		d.relayout()
		return d, cmd
	case sourceMsg:
		if msg.id != d.id || msg.blob != d.srcBlob {
			return d, nil
		}
		d.srcLoaded, d.srcErr = true, msg.err
		d.srcLines = nil
		if msg.err == nil {
			d.srcLines = strings.Split(strings.TrimSuffix(strings.ReplaceAll(msg.text, "\r\n", "\n"), "\n"), "\n")
		}
		d.relayout()
		return d, nil
	case common.SampleChangedMsg:
		if d.id != 0 && (msg.ID == d.id || msg.ID == 0) {
			d.gen++
			return d, d.loadSample()
		}
		return d, nil
	case detailActionMsg:
		d.saving = false
		if msg.err != nil {
			return d, common.Fail(msg.err)
		}
		if msg.closeEditor {
			d.mode = detailRead
			d.ta.Blur()
		}
		// The reload that follows is asynchronous; u pressed before it
		// lands must already see the new status, or it would undo an
		// edit instead of the delete.
		if msg.status != "" && d.sample.ID == msg.id {
			d.sample.Status = msg.status
		}
		return d, msg.changed()
	case neighborMsg:
		if msg.gen != d.gen {
			return d, nil
		}
		switch {
		case msg.err != nil:
			return d, common.Fail(msg.err)
		case msg.id == 0 && msg.next:
			return d, common.Flash("this is the last sample of the list")
		case msg.id == 0:
			return d, common.Flash("this is the first sample of the list")
		}
		return d.Open(msg.id, d.query)
	case editorReadyMsg:
		if msg.err != nil {
			return d, common.Fail(msg.err)
		}
		c := exec.Command(msg.argv[0], append(msg.argv[1:], msg.path)...)
		edit, path := msg.edit, msg.path
		return d, d.exec(c, func(err error) tea.Msg { return editorDoneMsg{edit: edit, path: path, err: err} })
	case editorDoneMsg:
		return d, d.finishExternalEdit(msg)
	case tea.KeyMsg:
		return d.handleKey(msg)
	}
	if d.mode == detailEdit {
		var cmd tea.Cmd
		d.ta, cmd = d.ta.Update(msg)
		return d, cmd
	}
	return d, nil
}

func (d Detail) handleKey(msg tea.KeyMsg) (Detail, tea.Cmd) {
	switch d.mode {
	case detailEdit:
		return d.editKey(msg)
	case detailDiscard:
		switch msg.String() {
		case "y", "Y":
			d.mode = detailRead
			d.ta.Blur()
			return d, common.Flash("changes discarded")
		default:
			d.mode = detailEdit
			return d, nil
		}
	}
	k, shared := d.keys, d.ctx.Keys
	switch {
	case key.Matches(msg, shared.Down):
		d.scroll(1)
	case key.Matches(msg, shared.Up):
		d.scroll(-1)
	case key.Matches(msg, shared.PageDown):
		d.scroll(d.bodyHeight())
	case key.Matches(msg, shared.PageUp):
		d.scroll(-d.bodyHeight())
	case key.Matches(msg, shared.Top):
		d.offset = 0
	case key.Matches(msg, shared.Bottom):
		d.offset = len(d.body)
		d.clampOffset()
	case key.Matches(msg, k.Back):
		return d, func() tea.Msg { return common.SwitchMsg{Screen: common.ScreenSamples} }
	case !d.loaded:
		return d, nil // the rest act on the sample
	case key.Matches(msg, k.EditAnswer):
		return d.startEdit(false)
	case key.Matches(msg, k.EditQuestion):
		return d.startEdit(true)
	case key.Matches(msg, k.ExtAnswer):
		return d.startExternalEdit(false)
	case key.Matches(msg, k.ExtQuestion):
		return d.startExternalEdit(true)
	case key.Matches(msg, k.Undo):
		return d, d.undo()
	case key.Matches(msg, k.Delete):
		if d.sample.Status == store.StatusDeleted {
			return d, common.Flash("already deleted — u restores it")
		}
		st, id := d.ctx.Store, d.id
		return d, func() tea.Msg {
			err := st.DeleteSample(context.Background(), id)
			return detailActionMsg{actionResult: actionResult{id: id, err: err, flash: "deleted — u to undo"}, status: store.StatusDeleted}
		}
	case key.Matches(msg, k.Rate):
		r, _ := rating(msg.String())
		st, id := d.ctx.Store, d.id
		return d, func() tea.Msg {
			err := st.RateSample(context.Background(), id, r)
			return detailActionMsg{actionResult: actionResult{id: id, err: err, flash: rateFlash(r)}}
		}
	case key.Matches(msg, k.Next):
		return d, d.neighbor(true)
	case key.Matches(msg, k.Prev):
		return d, d.neighbor(false)
	}
	return d, nil
}

// undo restores a deleted sample, or else reverts its last edit.
func (d Detail) undo() tea.Cmd {
	st, id := d.ctx.Store, d.id
	if d.sample.Status == store.StatusDeleted {
		return func() tea.Msg {
			err := st.RestoreSample(context.Background(), id)
			return detailActionMsg{actionResult: actionResult{id: id, err: err, flash: "restored"}, status: store.StatusActive}
		}
	}
	return func() tea.Msg {
		ok, err := st.UndoEdit(context.Background(), id)
		res := actionResult{id: id, err: err, flash: "edit undone"}
		if !ok {
			res.flash, res.unchanged = "nothing to undo", true
		}
		return detailActionMsg{actionResult: res}
	}
}

// neighbor finds the sample after (or before) this one in the list's
// order: one ListSamples call with this sample as the cursor.
func (d Detail) neighbor(next bool) tea.Cmd {
	st, q, gen := d.ctx.Store, d.query, d.gen
	q.Limit, q.AfterKey = 1, d.sample.Cursor()
	if !next {
		q.Desc = !q.Desc
	}
	return func() tea.Msg {
		page, err := st.ListSamples(context.Background(), q)
		msg := neighborMsg{gen: gen, next: next, err: err}
		if err == nil && len(page.Samples) > 0 {
			msg.id = page.Samples[0].ID
		}
		return msg
	}
}

// turnOf returns the turn an edit applies to: the first user turn (the
// question) or the last assistant turn (the answer).
func turnOf(sm store.Sample, question bool) (store.Turn, bool) {
	if question {
		for _, t := range sm.Turns {
			if t.Role == "user" {
				return t, true
			}
		}
		return store.Turn{}, false
	}
	for i := len(sm.Turns) - 1; i >= 0; i-- {
		if sm.Turns[i].Role == "assistant" {
			return sm.Turns[i], true
		}
	}
	return store.Turn{}, false
}

func (d Detail) editTarget(question bool) (pendingEdit, error) {
	what := "answer"
	if question {
		what = "question"
	}
	t, ok := turnOf(d.sample, question)
	if !ok {
		return pendingEdit{}, fmt.Errorf("sample #%d has no %s yet", d.id, what)
	}
	return pendingEdit{id: d.id, turn: t.Index, what: what, orig: t.Content}, nil
}

func (d Detail) startEdit(question bool) (Detail, tea.Cmd) {
	e, err := d.editTarget(question)
	if err != nil {
		return d, common.Flash(err.Error())
	}
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Prompt = ""
	ta.CharLimit = 0
	ta.MaxHeight = 0
	ta.MaxWidth = 0
	ta.Cursor.SetMode(cursor.CursorStatic)
	ta.SetValue(e.orig)
	d.ta, d.edit, d.mode = ta, e, detailEdit
	d.sizeEditor()
	return d, d.ta.Focus()
}

func (d *Detail) sizeEditor() {
	d.ta.SetWidth(max(d.w, 1))
	d.ta.SetHeight(max(d.h-2, 1))
}

func (d Detail) editKey(msg tea.KeyMsg) (Detail, tea.Cmd) {
	switch {
	case key.Matches(msg, d.keys.Save):
		if d.saving {
			return d, nil
		}
		text := d.ta.Value()
		if text == d.edit.orig {
			d.mode = detailRead
			d.ta.Blur()
			return d, common.Flash("no changes")
		}
		d.saving = true
		st, e := d.ctx.Store, d.edit
		return d, func() tea.Msg {
			err := st.EditTurn(context.Background(), e.id, e.turn, text)
			return detailActionMsg{actionResult: actionResult{id: e.id, err: err, flash: e.what + " saved"}, closeEditor: true}
		}
	case key.Matches(msg, d.keys.Cancel):
		if d.ta.Value() != d.edit.orig {
			d.mode = detailDiscard
			return d, nil
		}
		d.mode = detailRead
		d.ta.Blur()
		return d, nil
	}
	var cmd tea.Cmd
	d.ta, cmd = d.ta.Update(msg)
	return d, cmd
}
