package samples

import (
	"context"
	"slices"

	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/store"
)

// The Browser holds one window of rows, never the whole listing: about two
// pages around the cursor. Moving past either edge loads the next page
// through a keyset cursor, so a step costs the same at row 10 as at row
// 1,000,000, and memory stays flat.

// minPage is the smallest page the Browser asks for; pages grow with the
// screen so that one page always covers several screenfuls.
const minPage = 100

// pageKind says how a loaded page joins the window.
type pageKind int

const (
	pageFirst  pageKind = iota // replaces the window, cursor on the first row
	pageLast                   // replaces the window, cursor on the last row
	pageNext                   // appended after the window
	pagePrev                   // prepended before the window
	pageReload                 // replaces the window around an anchor row
)

// pageMsg carries rows loaded for the Browser, in display order.
type pageMsg struct {
	gen  int
	kind pageKind
	rows []store.SampleSummary
	// more: rows exist beyond these in the direction loaded (after them
	// for first/next/reload, before them for last/prev).
	more bool
	// Reload only: the rows before the anchor, whether more precede them,
	// and the anchor's id (the row the cursor was on).
	before     []store.SampleSummary
	beforeMore bool
	anchor     int64
	err        error
}

// countMsg carries the number of samples the Browser's query selects.
type countMsg struct {
	gen int
	n   int64
	err error
}

// window is the loaded slice of the listing and where the cursor is in it.
type window struct {
	rows   []store.SampleSummary
	cursor int // index into rows
	top    int // first row drawn
	// atStart/atEnd: nothing precedes/follows rows in the listing.
	atStart, atEnd bool
	// The absolute place of the window, for "row 57 of 1,234": counted
	// from the start (first = index of rows[0]), or, after a jump to the
	// end before the total is known, from the end (endGap = rows after
	// the last one).
	fromEnd bool
	first   int64
	endGap  int64
}

func (w window) selected() (store.SampleSummary, bool) {
	if w.cursor < 0 || w.cursor >= len(w.rows) {
		return store.SampleSummary{}, false
	}
	return w.rows[w.cursor], true
}

// position returns the 1-based row number of the cursor, if known.
func (w window) position(total int64, totalKnown bool) (int64, bool) {
	if len(w.rows) == 0 {
		return 0, false
	}
	if !w.fromEnd {
		return w.first + int64(w.cursor) + 1, true
	}
	if !totalKnown {
		return 0, false
	}
	return total - w.endGap - int64(len(w.rows)-1-w.cursor), true
}

// scroll keeps the cursor inside the h visible rows.
func (w *window) scroll(h int) {
	h = max(h, 1)
	if w.cursor < w.top {
		w.top = w.cursor
	}
	if w.cursor >= w.top+h {
		w.top = w.cursor - h + 1
	}
	w.top = max(0, min(w.top, max(len(w.rows)-h, 0)))
	if w.cursor < w.top {
		w.top = w.cursor
	}
}

// apply merges a loaded page into the window. maxRows bounds the window;
// rows beyond it are dropped from the end far from the cursor.
func (w *window) apply(msg pageMsg, maxRows int) {
	switch msg.kind {
	case pageFirst:
		*w = window{rows: msg.rows, atStart: true, atEnd: !msg.more}
	case pageLast:
		*w = window{rows: msg.rows, cursor: max(len(msg.rows)-1, 0), atEnd: true, atStart: !msg.more, fromEnd: true}
	case pageNext:
		w.rows = append(w.rows, msg.rows...)
		w.atEnd = !msg.more
		if drop := len(w.rows) - maxRows; drop > 0 {
			drop = min(drop, w.cursor) // never drop the cursor's row
			w.rows = slices.Delete(w.rows, 0, drop)
			w.cursor -= drop
			w.top = max(w.top-drop, 0)
			w.first += int64(drop)
			w.atStart = w.atStart && drop == 0
		}
	case pagePrev:
		n := len(msg.rows)
		w.rows = append(slices.Clone(msg.rows), w.rows...)
		w.cursor += n
		w.top += n
		w.first -= int64(n)
		w.atStart = !msg.more
		if drop := len(w.rows) - maxRows; drop > 0 {
			drop = min(drop, len(w.rows)-1-w.cursor)
			w.rows = w.rows[:len(w.rows)-drop]
			w.endGap += int64(drop)
			w.atEnd = w.atEnd && drop == 0
		}
	case pageReload:
		oldCursor, oldTop := w.cursor, w.top
		oldFirst, oldGap, oldLen := w.first, w.endGap, len(w.rows)
		rows := append(slices.Clone(msg.before), msg.rows...)
		cursor := len(msg.before) // the row that took the anchor's place
		for i, r := range rows {
			if r.ID == msg.anchor {
				cursor = i
				break
			}
		}
		cursor = max(0, min(cursor, len(rows)-1))
		w.rows, w.cursor = rows, cursor
		w.top = max(cursor-(oldCursor-oldTop), 0)
		w.atStart, w.atEnd = !msg.beforeMore, !msg.more
		// The cursor keeps its absolute place; the anchors at either end
		// of the listing are exact and win.
		w.first = oldFirst + int64(oldCursor) - int64(cursor)
		w.endGap = oldGap + int64(oldLen-1-oldCursor) - int64(len(rows)-1-cursor)
		switch {
		case w.atStart:
			w.fromEnd, w.first = false, 0
		case w.atEnd:
			w.fromEnd, w.endGap = true, 0
		}
		w.first, w.endGap = max(w.first, 0), max(w.endGap, 0)
	}
	if w.atStart {
		// Counted from the start is exact; prefer it.
		w.fromEnd, w.first = false, 0
	}
	w.cursor = max(0, min(w.cursor, len(w.rows)-1))
}

// settle converts a from-the-end position into a from-the-start one once
// the total is known, so later pages keep it without the total.
func (w *window) settle(total int64) {
	if w.fromEnd {
		w.first = max(total-w.endGap-int64(len(w.rows)), 0)
		w.fromEnd = false
	}
}

// ---- loading commands: each runs one or two ListSamples calls ------------

func reversed(rows []store.SampleSummary) []store.SampleSummary {
	r := slices.Clone(rows)
	slices.Reverse(r)
	return r
}

// flip returns q in the reverse order, for reading backwards from a row.
func flip(q store.SampleQuery) store.SampleQuery {
	q.Desc = !q.Desc
	return q
}

func (b Browser) loadFirst(gen int) tea.Cmd {
	st, q := b.ctx.Store, b.query()
	q.Limit = b.pageSize()
	return func() tea.Msg {
		page, err := st.ListSamples(context.Background(), q)
		return pageMsg{gen: gen, kind: pageFirst, rows: page.Samples, more: page.Next != 0, err: err}
	}
}

// loadLast reads the listing's last page by asking for the first page of
// the reversed order: a jump to the end costs one page, not a walk.
func (b Browser) loadLast(gen int) tea.Cmd {
	st, q := b.ctx.Store, flip(b.query())
	q.Limit = b.pageSize()
	return func() tea.Msg {
		page, err := st.ListSamples(context.Background(), q)
		return pageMsg{gen: gen, kind: pageLast, rows: reversed(page.Samples), more: page.Next != 0, err: err}
	}
}

func (b Browser) loadNext(gen int, after store.SampleCursor) tea.Cmd {
	st, q := b.ctx.Store, b.query()
	q.Limit, q.AfterKey = b.pageSize(), after
	return func() tea.Msg {
		page, err := st.ListSamples(context.Background(), q)
		return pageMsg{gen: gen, kind: pageNext, rows: page.Samples, more: page.Next != 0, err: err}
	}
}

func (b Browser) loadPrev(gen int, before store.SampleCursor) tea.Cmd {
	st, q := b.ctx.Store, flip(b.query())
	q.Limit, q.AfterKey = b.pageSize(), before
	return func() tea.Msg {
		page, err := st.ListSamples(context.Background(), q)
		return pageMsg{gen: gen, kind: pagePrev, rows: reversed(page.Samples), more: page.Next != 0, err: err}
	}
}

// reload reads the window again around the cursor's row after a change:
// up to nBefore rows before it, then a page from it on (itself included
// when it still matches). Keyset cursors name sort keys, not rows, so
// this works even when the anchor row itself is gone.
func (b Browser) reload(gen int, anchor store.SampleSummary, nBefore int) tea.Cmd {
	st, q := b.ctx.Store, b.query()
	limit := b.pageSize()
	return func() tea.Msg {
		ctx := context.Background()
		back := flip(q)
		back.Limit, back.AfterKey = max(nBefore, 1), anchor.Cursor()
		before, err := st.ListSamples(ctx, back)
		if err != nil {
			return pageMsg{gen: gen, kind: pageReload, err: err}
		}
		fwd := q
		fwd.Limit = limit
		if n := len(before.Samples); n > 0 {
			// Just after the row before the anchor: the anchor's own
			// place, inclusive.
			fwd.AfterKey = before.Samples[0].Cursor()
		}
		after, err := st.ListSamples(ctx, fwd)
		return pageMsg{gen: gen, kind: pageReload, rows: after.Samples, more: after.Next != 0,
			before: reversed(before.Samples), beforeMore: before.Next != 0, anchor: anchor.ID, err: err}
	}
}

func (b Browser) loadCount(gen int) tea.Cmd {
	st, q := b.ctx.Store, b.query()
	return func() tea.Msg {
		n, err := st.CountSamples(context.Background(), q)
		return countMsg{gen: gen, n: n, err: err}
	}
}
