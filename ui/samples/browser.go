package samples

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/store"
	"cicdllm/ui/common"
)

// sortMode is the Browser's sort, cycled with o.
type sortMode int

const (
	sortNewest sortMode = iota
	sortOldest
	sortScore
	sortFile
	sortModes
)

func (s sortMode) String() string {
	return [...]string{"newest first", "oldest first", "best score first", "by file"}[s]
}

// browserMode is what has the keyboard.
type browserMode int

const (
	modeList          browserMode = iota
	modeSearch                    // the search box
	modeFilter                    // the filter form
	modeConfirmDelete             // "delete N samples? y/n"
	modeRateAll                   // R pressed, waiting for a digit
)

// browserActionMsg is the result of a change the Browser made.
type browserActionMsg struct{ actionResult }

// bulkCountMsg is the number of samples a bulk delete would touch, counted
// afresh before asking for confirmation.
type bulkCountMsg struct {
	gen int
	n   int64
	err error
}

// Browser lists samples page by page from SQLite.
type Browser struct {
	ctx  *common.Context
	keys browserKeys
	w, h int

	search string
	filter filterValues
	sort   sortMode

	win window
	// gen identifies the current listing; pages of an older one (before a
	// new search, sort or reload) are dropped when they arrive.
	gen     int
	loading bool // a page is on its way; edge moves wait for it
	loaded  bool // the listing's first page has arrived
	pending int  // cursor steps to take when the loading page arrives
	err     error

	countGen   int
	total      int64
	totalKnown bool

	mode    browserMode
	input   textinput.Model
	form    filterForm
	confirm int64 // samples a bulk delete would touch; -1 while counting
	bulkGen int   // identifies the confirmation a bulkCountMsg answers
	undo    []undoAction
}

// NewBrowser returns a Browser sorted newest first, without filters.
func NewBrowser(ctx *common.Context) Browser {
	in := common.NewTextInput("words to find in questions and answers")
	in.Prompt = "/ "
	return Browser{ctx: ctx, keys: newBrowserKeys(), input: in, loading: true}
}

// Init loads the first page and, separately, the total. It cannot change
// the model, so it loads under the generation NewBrowser starts with.
func (b Browser) Init() tea.Cmd {
	return tea.Batch(b.loadFirst(b.gen), b.loadCount(b.countGen))
}

// SetSize sets the area the Browser draws in.
func (b *Browser) SetSize(w, h int) {
	b.w, b.h = w, h
	b.win.scroll(b.listHeight())
}

// Capturing reports that a text box, form or prompt has the keyboard, so
// the root must pass q, ?, :, tab and the rest through.
func (b Browser) Capturing() bool { return b.mode != modeList }

// FocusSearch opens the search box (the root calls it for / pressed on
// another screen).
func (b Browser) FocusSearch() (Browser, tea.Cmd) {
	b.mode = modeSearch
	b.input.SetValue(b.search)
	b.input.CursorEnd()
	return b, b.input.Focus()
}

// KeyHelp lists the keys that work now, for the footer.
func (b Browser) KeyHelp() []key.Binding {
	k, shared := b.keys, b.ctx.Keys
	enter := func(desc string) key.Binding {
		return key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", desc))
	}
	cancel := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
	switch b.mode {
	case modeSearch:
		return []key.Binding{enter("search"), cancel}
	case modeFilter:
		return []key.Binding{enter("apply"), cancel, k.FormNext, k.FormPick}
	case modeConfirmDelete:
		return []key.Binding{key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "delete them")),
			key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "keep them"))}
	case modeRateAll:
		return []key.Binding{key.NewBinding(key.WithKeys("1"), key.WithHelp("1-5", "rate all")),
			key.NewBinding(key.WithKeys("0"), key.WithHelp("0", "clear all")), cancel}
	}
	help := []key.Binding{shared.Down, shared.Up, enter("open"), k.Search, k.Filter, k.Sort,
		k.Rate, k.Delete, k.Undo, k.BulkDelete, k.BulkRate}
	if b.search != "" || b.filter.active() {
		help = append(help, k.Clear)
	}
	return help
}

// query is the listing's query without cursor or limit.
func (b Browser) query() store.SampleQuery {
	q := store.SampleQuery{Search: b.search}
	b.filter.apply(&q)
	switch b.sort {
	case sortNewest:
		q.Desc = true
	case sortScore:
		q.Order, q.Desc = store.OrderScore, true
	case sortFile:
		q.Order = store.OrderFile
	}
	return q
}

// listHeight is how many rows fit: the area less the title, the column
// header and the status line.
func (b Browser) listHeight() int { return max(b.h-3, 1) }

// pageSize covers several screenfuls, so moving a screen at a time loads
// a page only now and then.
func (b Browser) pageSize() int { return min(max(minPage, 3*b.listHeight()), store.MaxPageSize) }

// maxRows is the window: two pages.
func (b Browser) maxRows() int { return 2 * b.pageSize() }

// reset starts a new listing: first page and total.
func (b Browser) reset() (Browser, tea.Cmd) {
	b.gen++
	b.countGen++
	b.win = window{}
	b.loaded, b.loading, b.pending, b.err = false, true, 0, nil
	b.totalKnown = false
	return b, tea.Batch(b.loadFirst(b.gen), b.loadCount(b.countGen))
}

// refresh reads the window again around the cursor after a change,
// keeping the cursor on the same sample when it still matches, and counts
// again.
func (b Browser) refresh() (Browser, tea.Cmd) {
	sel, ok := b.win.selected()
	if !ok {
		return b.reset()
	}
	b.gen++
	b.countGen++
	b.loading, b.pending = true, 0
	return b, tea.Batch(b.reload(b.gen, sel, b.win.cursor), b.loadCount(b.countGen))
}

// Update handles the Browser's messages and, when it has focus, keys.
func (b Browser) Update(msg tea.Msg) (Browser, tea.Cmd) {
	switch msg := msg.(type) {
	case pageMsg:
		if msg.gen != b.gen {
			return b, nil
		}
		b.loading, b.loaded = false, true
		if msg.err != nil {
			b.err = msg.err
			b.pending = 0
			return b, common.Fail(fmt.Errorf("could not load samples: %w", msg.err))
		}
		b.err = nil
		b.win.apply(msg, b.maxRows())
		if b.totalKnown {
			b.win.settle(b.total)
		}
		b.win.scroll(b.listHeight())
		if p := b.pending; p != 0 {
			b.pending = 0
			return b.move(p)
		}
		return b.prefetch()
	case countMsg:
		if msg.gen != b.countGen {
			return b, nil
		}
		if msg.err != nil {
			return b, common.Fail(fmt.Errorf("could not count samples: %w", msg.err))
		}
		b.total, b.totalKnown = msg.n, true
		b.win.settle(b.total)
		return b, nil
	case reposMsg:
		b.form.repos, b.form.reposErr = msg.repos, msg.err
		return b, nil
	case bulkCountMsg:
		if b.mode != modeConfirmDelete || msg.gen != b.bulkGen {
			return b, nil
		}
		switch {
		case msg.err != nil:
			b.mode = modeList
			return b, common.Fail(fmt.Errorf("could not count the samples to delete: %w", msg.err))
		case msg.n == 0:
			b.mode = modeList
			return b, common.Flash("no samples match: nothing to delete")
		}
		b.confirm = msg.n
		return b, nil
	case browserActionMsg:
		if msg.err != nil {
			if msg.retry != nil {
				b.undo = pushUndo(b.undo, *msg.retry)
			}
			return b, common.Fail(msg.err)
		}
		if msg.undo != nil {
			b.undo = pushUndo(b.undo, *msg.undo)
		}
		return b, msg.changed()
	case common.SampleChangedMsg:
		return b.refresh()
	case common.SessionEventMsg:
		if msg.Event.Done && b.mode == modeList {
			return b.refresh() // a finished job stored or marked samples
		}
		return b, nil
	case tea.KeyMsg:
		return b.handleKey(msg)
	}
	return b, nil
}

func (b Browser) handleKey(msg tea.KeyMsg) (Browser, tea.Cmd) {
	switch b.mode {
	case modeSearch:
		return b.searchKey(msg)
	case modeFilter:
		return b.filterKey(msg)
	case modeConfirmDelete:
		return b.confirmKey(msg)
	case modeRateAll:
		return b.rateAllKey(msg)
	}
	k, shared := b.keys, b.ctx.Keys
	switch {
	case key.Matches(msg, shared.Down):
		return b.move(1)
	case key.Matches(msg, shared.Up):
		return b.move(-1)
	case key.Matches(msg, shared.PageDown):
		return b.move(b.listHeight())
	case key.Matches(msg, shared.PageUp):
		return b.move(-b.listHeight())
	case key.Matches(msg, shared.Top):
		if b.win.atStart {
			b.win.cursor = 0
			b.win.scroll(b.listHeight())
			return b, nil
		}
		b.gen++
		b.loading, b.pending = true, 0
		return b, b.loadFirst(b.gen)
	case key.Matches(msg, shared.Bottom):
		if b.win.atEnd {
			b.win.cursor = max(len(b.win.rows)-1, 0)
			b.win.scroll(b.listHeight())
			return b, nil
		}
		b.gen++
		b.loading, b.pending = true, 0
		return b, b.loadLast(b.gen)
	case key.Matches(msg, shared.Enter):
		sel, ok := b.win.selected()
		if !ok {
			return b, nil
		}
		open := common.OpenSampleMsg{ID: sel.ID, Query: b.query()}
		return b, func() tea.Msg { return open }
	case key.Matches(msg, k.Search):
		return b.FocusSearch()
	case key.Matches(msg, k.Filter):
		b.mode = modeFilter
		b.form = newFilterForm(b.filter, b.keys)
		return b, loadRepos(b.ctx.Store)
	case key.Matches(msg, k.Sort):
		b.sort = (b.sort + 1) % sortModes
		return b.reset()
	case key.Matches(msg, k.Delete):
		return b.deleteSelected()
	case key.Matches(msg, k.Undo):
		if len(b.undo) == 0 {
			return b, common.Flash("nothing to undo")
		}
		u := b.undo[len(b.undo)-1]
		b.undo = b.undo[:len(b.undo)-1]
		st := b.ctx.Store
		return b, func() tea.Msg { return browserActionMsg{runUndo(st, u)} }
	case key.Matches(msg, k.Rate):
		r, _ := rating(msg.String())
		return b.rateSelected(r)
	case key.Matches(msg, k.BulkDelete):
		b.mode, b.confirm = modeConfirmDelete, -1
		b.bulkGen++
		st, q, gen := b.ctx.Store, b.query(), b.bulkGen
		return b, func() tea.Msg {
			n, err := st.CountSamples(context.Background(), q)
			return bulkCountMsg{gen: gen, n: n, err: err}
		}
	case key.Matches(msg, k.BulkRate):
		b.mode = modeRateAll
		return b, nil
	case key.Matches(msg, k.Clear):
		if b.search == "" && !b.filter.active() {
			return b, nil
		}
		b.search, b.filter = "", filterValues{}
		return b.reset()
	}
	return b, nil
}

// move steps the cursor; past the window's edge it loads the next page and
// finishes the step when the page arrives.
func (b Browser) move(delta int) (Browser, tea.Cmd) {
	n := len(b.win.rows)
	if n == 0 || delta == 0 {
		return b, nil
	}
	target := b.win.cursor + delta
	var cmd tea.Cmd
	switch {
	case target < 0:
		b.win.cursor = 0
		if !b.win.atStart {
			b, cmd = b.waitFor(target, b.fetchPrev)
		}
	case target >= n:
		b.win.cursor = n - 1
		if !b.win.atEnd {
			b, cmd = b.waitFor(target-(n-1), b.fetchNext)
		}
	default:
		b.win.cursor = target
	}
	b.win.scroll(b.listHeight())
	if cmd != nil {
		return b, cmd
	}
	return b.prefetch()
}

// waitFor remembers the steps left over at an edge and starts the load
// that will let them finish (unless one is already on its way).
func (b Browser) waitFor(rest int, fetch func() (Browser, tea.Cmd)) (Browser, tea.Cmd) {
	limit := b.pageSize()
	if b.loading {
		b.pending = max(-limit, min(b.pending+rest, limit))
		return b, nil
	}
	b.pending = max(-limit, min(rest, limit))
	return fetch()
}

func (b Browser) fetchNext() (Browser, tea.Cmd) {
	if b.loading || len(b.win.rows) == 0 {
		return b, nil
	}
	b.loading = true
	return b, b.loadNext(b.gen, b.win.rows[len(b.win.rows)-1].Cursor())
}

func (b Browser) fetchPrev() (Browser, tea.Cmd) {
	if b.loading || len(b.win.rows) == 0 {
		return b, nil
	}
	b.loading = true
	return b, b.loadPrev(b.gen, b.win.rows[0].Cursor())
}

// prefetch loads the neighbouring page once the cursor is within a screen
// of the window's edge, so scrolling rarely waits.
func (b Browser) prefetch() (Browser, tea.Cmd) {
	if b.loading || len(b.win.rows) == 0 {
		return b, nil
	}
	h := b.listHeight()
	switch {
	case !b.win.atEnd && len(b.win.rows)-1-b.win.cursor < h:
		return b.fetchNext()
	case !b.win.atStart && b.win.cursor < h:
		return b.fetchPrev()
	}
	return b, nil
}

func (b Browser) deleteSelected() (Browser, tea.Cmd) {
	sel, ok := b.win.selected()
	if !ok {
		return b, nil
	}
	if sel.Status == store.StatusDeleted {
		return b, common.Flash(fmt.Sprintf("#%d is already deleted; u restores it", sel.ID))
	}
	st, id := b.ctx.Store, sel.ID
	return b, func() tea.Msg {
		err := st.DeleteSample(context.Background(), id)
		return browserActionMsg{actionResult{id: id, err: err,
			flash: fmt.Sprintf("deleted #%d — u to undo", id), undo: &undoAction{restore: []int64{id}}}}
	}
}

func (b Browser) rateSelected(r int) (Browser, tea.Cmd) {
	sel, ok := b.win.selected()
	if !ok {
		return b, nil
	}
	st, id, old := b.ctx.Store, sel.ID, sel.HumanRating
	return b, func() tea.Msg {
		err := st.RateSample(context.Background(), id, r)
		return browserActionMsg{actionResult{id: id, err: err, flash: rateFlash(r),
			undo: &undoAction{ratings: []store.RatingChange{{ID: id, Rating: old}}}}}
	}
}

func (b Browser) searchKey(msg tea.KeyMsg) (Browser, tea.Cmd) {
	switch msg.Type {
	case tea.KeyEnter:
		b.mode = modeList
		b.input.Blur()
		b.search = strings.TrimSpace(b.input.Value())
		return b.reset()
	case tea.KeyEsc:
		b.mode = modeList
		b.input.Blur()
		return b, nil
	}
	var cmd tea.Cmd
	b.input, cmd = b.input.Update(msg)
	return b, cmd
}

func (b Browser) filterKey(msg tea.KeyMsg) (Browser, tea.Cmd) {
	form, apply, cancel := b.form.update(msg)
	b.form = form
	switch {
	case cancel:
		b.mode = modeList
		return b, nil
	case apply:
		v, err := b.form.result()
		if err != nil {
			b.form.err = err.Error()
			return b, nil
		}
		b.mode, b.filter = modeList, v
		return b.reset()
	}
	return b, nil
}

func (b Browser) confirmKey(msg tea.KeyMsg) (Browser, tea.Cmd) {
	if b.confirm < 0 && msg.Type != tea.KeyEsc {
		return b, nil // still counting; only esc cancels
	}
	b.mode = modeList
	if s := msg.String(); s != "y" && s != "Y" {
		return b, common.Flash("nothing deleted")
	}
	st, q := b.ctx.Store, b.query()
	return b, func() tea.Msg {
		ids, err := st.DeleteMatching(context.Background(), q)
		res := actionResult{err: err, flash: "deleted " + common.Plural(len(ids), "sample", "samples") + " — u to undo"}
		if len(ids) > 0 {
			res.undo = &undoAction{restore: ids}
		}
		return browserActionMsg{res}
	}
}

func (b Browser) rateAllKey(msg tea.KeyMsg) (Browser, tea.Cmd) {
	b.mode = modeList
	r, ok := rating(msg.String())
	if !ok {
		return b, common.Flash("nothing rated")
	}
	st, q := b.ctx.Store, b.query()
	return b, func() tea.Msg {
		changes, err := st.RateMatchingWithUndo(context.Background(), q, r)
		res := actionResult{err: err}
		n := common.Plural(len(changes), "sample", "samples")
		if r == 0 {
			res.flash = "cleared the rating of " + n
		} else {
			res.flash = fmt.Sprintf("rated %s %d", n, r)
		}
		if len(changes) > 0 {
			res.undo = &undoAction{ratings: changes}
		}
		return browserActionMsg{res}
	}
}
