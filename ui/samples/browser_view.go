package samples

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"cicdllm/store"
	"cicdllm/ui/common"
)

// column is one column of the list. Cells are plain text; the question
// column is drawn separately because it carries search highlights.
type column struct {
	title string
	width int
	right bool
	cell  func(store.SampleSummary) string
}

// Column widths. The question takes what is left; the others appear, in
// order of usefulness, only while the question keeps enough room.
const (
	markWidth   = 2 // "› " on the cursor row: visible without colour
	questionMin = 12
	repoMin     = 8
	repoMax     = 24
	fileMin     = 12
	fileMax     = 40
)

// layoutColumns picks the columns that fit w and their widths, in display
// order, plus the question's width and its place among them.
func (b Browser) layoutColumns(w int) (cols []column, qWidth, qAt int) {
	idWidth := len("id")
	repoWidth, fileWidth := 0, 0
	for _, r := range b.win.rows {
		idWidth = max(idWidth, len(strconv.FormatInt(r.ID, 10)))
		repoWidth = max(repoWidth, ansi.StringWidth(shortRepo(r.RepoName)))
		fileWidth = max(fileWidth, ansi.StringWidth(fileCell(r)))
	}
	repoWidth = max(repoMin, min(repoWidth, repoMax))
	fileWidth = max(fileMin, min(fileWidth, fileMax))

	id := column{title: "id", width: idWidth, right: true, cell: func(r store.SampleSummary) string { return strconv.FormatInt(r.ID, 10) }}
	score := column{title: "score", width: 5, right: true, cell: scoreCell}
	rate := column{title: "rate", width: 4, right: true, cell: func(r store.SampleSummary) string {
		if r.HumanRating == 0 {
			return "-"
		}
		return strconv.Itoa(r.HumanRating)
	}}
	status := column{title: "status", width: 7, cell: func(r store.SampleSummary) string { return r.Status }}
	edited := column{title: "✎", width: 1, cell: func(r store.SampleSummary) string {
		if r.Edited {
			return "✎"
		}
		return ""
	}}
	file := column{title: "file", width: fileWidth, cell: fileCell}
	repo := column{title: "repo", width: repoWidth, cell: func(r store.SampleSummary) string { return shortRepo(r.RepoName) }}

	used := markWidth + id.width + 1
	want := map[string]bool{}
	// Each column needs the question to keep at least keep columns: the
	// question is what a curator reads, so the extras go first.
	for _, c := range []struct {
		col  column
		keep int
	}{{score, questionMin}, {file, 16}, {rate, 24}, {edited, 24}, {status, 36}, {repo, 36}} {
		need := c.col.width + 1
		if c.col.title == "file" && used+need+c.keep > w && used+fileMin+1+c.keep <= w {
			// The file is worth showing even cut short.
			file.width = w - used - 1 - c.keep
			need = file.width + 1
		}
		if used+need+c.keep <= w {
			want[c.col.title] = true
			used += need
		}
	}
	cols = []column{id}
	if want["repo"] {
		cols = append(cols, repo)
	}
	if want["file"] {
		cols = append(cols, file)
	}
	qAt = len(cols)
	for _, c := range []column{score, rate, status, edited} {
		if want[c.title] {
			cols = append(cols, c)
		}
	}
	return cols, max(w-used, 1), qAt
}

func scoreCell(r store.SampleSummary) string {
	if r.Score == nil {
		return "-"
	}
	return strconv.FormatFloat(*r.Score, 'f', 1, 64)
}

// fileCell is the file and line span; names come from repositories, so
// control characters are shown, never sent to the terminal.
func fileCell(r store.SampleSummary) string {
	if r.LineEnd > 0 {
		return fmt.Sprintf("%s:%d-%d", common.OneLine(r.FilePath), r.LineStart, r.LineEnd)
	}
	return common.OneLine(r.FilePath)
}

// shortRepo drops the host from host/owner/name: every repository of a
// workspace usually shares it. The name is made safe to draw (OneLine).
func shortRepo(name string) string {
	if i := strings.IndexByte(name, '/'); i > 0 && strings.Contains(name[:i], ".") && i+1 < len(name) {
		name = name[i+1:]
	}
	return common.OneLine(name)
}

// truncLeft cuts s to w columns from the left, keeping its end (a file
// name matters more than its directories).
func truncLeft(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	if w == 1 {
		return "…"
	}
	return "…" + ansi.TruncateLeft(s, ansi.StringWidth(s)-(w-1), "")
}

// pad fits plain text s into w columns, aligned left or right.
func pad(s string, w int, right bool) string {
	s = common.Truncate(s, w)
	gap := w - ansi.StringWidth(s)
	if gap <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", gap) + s
	}
	return s + strings.Repeat(" ", gap)
}

// View draws the Browser in exactly its size.
func (b Browser) View() string {
	w, h := b.w, b.h
	if w <= 0 || h <= 0 {
		return ""
	}
	st := b.ctx.Styles
	lines := []string{b.titleLine(w)}
	body := max(h-2, 0)
	if b.mode == modeFilter {
		form := b.form.view(st, w)
		if top := b.form.focusLine() - body + 1; top > 0 && top < len(form) {
			form = form[top:]
		}
		lines = append(lines, form...)
	} else {
		lines = append(lines, b.listLines(w, body)...)
	}
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	if len(lines) > h-1 {
		lines = lines[:max(h-1, 0)]
	}
	if h > 1 {
		lines = append(lines, b.statusLine(w))
	}
	return common.Fit(strings.Join(lines, "\n"), w, h)
}

func (b Browser) titleLine(w int) string {
	st := b.ctx.Styles
	left := st.PaneTitle.Render("Samples") + st.Muted.Render(" · "+b.sort.String())
	if b.search != "" {
		left += st.Muted.Render(" · search ") + "“" + b.search + "”"
	}
	if b.filter.active() {
		left += st.Muted.Render(" · filter: ") + b.filter.describe()
	}
	right := st.Muted.Render("counting…")
	if b.totalKnown {
		right = common.Plural(int(b.total), "sample", "samples")
	}
	lw, rw := ansi.StringWidth(left), ansi.StringWidth(right)
	if lw+2+rw <= w {
		return left + strings.Repeat(" ", w-lw-rw) + right
	}
	return common.Truncate(left, w)
}

// listLines is the column header and the visible rows, n lines in all.
func (b Browser) listLines(w, n int) []string {
	st := b.ctx.Styles
	if n <= 0 {
		return nil
	}
	switch {
	case b.err != nil && len(b.win.rows) == 0:
		return []string{st.Error.Render("Could not load samples: " + common.OneLine(b.err.Error()))}
	case !b.loaded:
		return []string{st.Muted.Render("loading samples…")}
	case len(b.win.rows) == 0 && (b.search != "" || b.filter.active()):
		return []string{"No samples match.", st.Muted.Render("esc clears the search and filter; / searches again; f changes the filter.")}
	case len(b.win.rows) == 0:
		return []string{"No samples yet.", st.Muted.Render("Scrape and prepare from the dashboard to generate some.")}
	}
	cols, qWidth, qAt := b.layoutColumns(w)
	var hdr strings.Builder
	hdr.WriteString(strings.Repeat(" ", markWidth))
	for i, c := range cols {
		if i == qAt {
			hdr.WriteString(pad("question", qWidth, false) + " ")
		}
		hdr.WriteString(pad(c.title, c.width, c.right) + " ")
	}
	if qAt == len(cols) {
		hdr.WriteString(pad("question", qWidth, false))
	}
	lines := []string{st.Muted.Render(strings.TrimRight(hdr.String(), " "))}

	words := common.SearchWords(b.search)
	rows := n - 1
	for i := b.win.top; i < len(b.win.rows) && i < b.win.top+rows; i++ {
		r := b.win.rows[i]
		sel := i == b.win.cursor
		var line strings.Builder
		if sel {
			line.WriteString("› ")
		} else {
			line.WriteString("  ")
		}
		question := common.OneLine(r.Question)
		qCell := pad(question, qWidth, false)
		if !sel && len(words) > 0 {
			// Highlight before cutting, so a match is never split into
			// a styled half and a plain half.
			qCell = common.Truncate(common.Highlight(question, words, st.Match), qWidth)
			if gap := qWidth - ansi.StringWidth(qCell); gap > 0 {
				qCell += strings.Repeat(" ", gap)
			}
		}
		for j, c := range cols {
			if j == qAt {
				line.WriteString(qCell + " ")
			}
			cell := pad(c.cell(r), c.width, c.right)
			if c.title == "file" {
				cell = pad(truncLeft(c.cell(r), c.width), c.width, false)
			}
			line.WriteString(cell + " ")
		}
		if qAt == len(cols) {
			line.WriteString(qCell)
		}
		text := strings.TrimRight(line.String(), " ")
		if sel {
			text = st.Selected.Render(common.Fit(text, w, 1))
		} else if r.Status == store.StatusDeleted {
			text = st.Muted.Render(text)
		}
		lines = append(lines, text)
	}
	return lines
}

func (b Browser) statusLine(w int) string {
	st := b.ctx.Styles
	switch b.mode {
	case modeSearch:
		in := b.input
		in.Width = max(w-ansi.StringWidth(in.Prompt)-1, 1)
		return in.View()
	case modeConfirmDelete:
		if b.confirm < 0 {
			return st.Muted.Render("counting the samples to delete… (esc cancels)")
		}
		return st.Warn.Render(fmt.Sprintf("Delete %s matching this view? y/n", common.Plural(int(b.confirm), "sample", "samples")))
	case modeRateAll:
		what := "every sample shown"
		if b.totalKnown {
			what = "all " + common.Plural(int(b.total), "sample", "samples") + " shown"
		}
		return st.Warn.Render("Rate " + what + ": press 1–5, or 0 to clear; esc cancels")
	case modeFilter:
		return st.Muted.Render("filter: enter applies · esc cancels")
	}
	var parts []string
	if pos, ok := b.win.position(b.total, b.totalKnown); ok {
		if b.totalKnown {
			parts = append(parts, fmt.Sprintf("row %s of %s", common.Thousands(int(pos)), common.Thousands(int(b.total))))
		} else {
			parts = append(parts, "row "+common.Thousands(int(pos)))
		}
	}
	if b.loading && b.loaded {
		parts = append(parts, "loading…")
	}
	return st.Muted.Render(strings.Join(parts, " · "))
}
