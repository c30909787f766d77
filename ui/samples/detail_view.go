package samples

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"cicdllm/store"
	"cicdllm/ui/common"
)

// sideBySide is the width from which the source sits beside the question
// and answer instead of below them.
const sideBySide = 140

// spanMark marks the sample's lines in the source, so the span shows
// without colour.
const spanMark = "▌"

// relayout renders header and body for the current sample, source and
// width. It runs when one of them changes, never from View, so a long
// answer is wrapped once, not once per frame.
func (d *Detail) relayout() {
	d.header, d.body = nil, nil
	if !d.loaded || d.w <= 0 {
		return
	}
	w := d.w
	d.header = d.headerLines(w)
	if w >= sideBySide {
		leftW := (w - 3) / 2
		rightW := w - 3 - leftW
		left, right := d.qaLines(leftW), d.sourceLines(rightW)
		sep := d.ctx.Styles.Muted.Render(" │ ")
		for i := 0; i < max(len(left), len(right)); i++ {
			l, r := "", ""
			if i < len(left) {
				l = left[i]
			}
			if i < len(right) {
				r = right[i]
			}
			d.body = append(d.body, common.Fit(l, leftW, 1)+sep+r)
		}
	} else {
		d.body = append(d.qaLines(w), "")
		d.body = append(d.body, d.sourceLines(w)...)
	}
	d.clampOffset()
}

// headerLines packs the sample's facts into as few lines as fit.
func (d Detail) headerLines(w int) []string {
	st, sm := d.ctx.Styles, d.sample
	fields := []string{st.PaneTitle.Render(fmt.Sprintf("#%d", sm.ID)), shortRepo(sm.RepoName), spanLabel(sm.FilePath, sm.LineStart, sm.LineEnd)}
	if sm.CommitSHA != "" {
		fields = append(fields, "@"+shortSHA(sm.CommitSHA))
	}
	status := sm.Status
	if sm.Status == store.StatusDeleted {
		status = st.Warn.Render("deleted")
	}
	fields = append(fields, status)
	if sm.Score != nil {
		fields = append(fields, "score "+strconv.FormatFloat(*sm.Score, 'f', 1, 64))
	} else {
		fields = append(fields, st.Muted.Render("unscored"))
	}
	if sm.HumanRating > 0 {
		fields = append(fields, fmt.Sprintf("rated %d/5", sm.HumanRating))
	} else {
		fields = append(fields, st.Muted.Render("unrated"))
	}
	if !sm.EditedAt.IsZero() {
		fields = append(fields, "✎ edited")
	}
	if sm.Truncated {
		fields = append(fields, st.Warn.Render("answer cut off"))
	}
	if sm.Model != "" {
		fields = append(fields, st.Muted.Render(common.OneLine(sm.Model)))
	}
	fields = append(fields, checkFields(st, sm)...)
	var lines []string
	cur, used := "", 0
	for _, f := range fields {
		f = common.Truncate(f, w)
		fw := ansi.StringWidth(f)
		switch {
		case used == 0:
			cur, used = f, fw
		case used+2+fw <= w:
			cur += "  " + f
			used += 2 + fw
		default:
			lines = append(lines, cur)
			cur, used = f, fw
		}
	}
	return append(lines, cur)
}

func spanLabel(path string, start, end int) string {
	path = common.OneLine(path) // from a repository: shown, never obeyed
	switch {
	case end > start:
		return fmt.Sprintf("%s:%d-%d", path, start, end)
	case start > 0:
		return fmt.Sprintf("%s:%d", path, start)
	}
	return path
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

// qaLines renders the question and the answer, w columns wide.
func (d Detail) qaLines(w int) []string {
	st, sm := d.ctx.Styles, d.sample
	var out []string
	out = append(out, st.Label.Render("Question"))
	if t, ok := turnOf(sm, true); ok {
		out = append(out, renderMarkdown(t.Content, w, st, d.words)...)
	}
	out = append(out, "", st.Label.Render("Answer"))
	t, ok := turnOf(sm, false)
	if !ok {
		return append(out, st.Muted.Render("No answer yet: the sample is waiting for the LLM."))
	}
	out = append(out, renderMarkdown(t.Content, w, st, d.words)...)
	if sm.Truncated {
		out = append(out, st.Warn.Render(common.Truncate("(the model stopped at its token limit)", w)))
	}
	return out
}

// sourceLines renders the sample's span with a few lines around it,
// numbered, the span marked and styled.
func (d Detail) sourceLines(w int) []string {
	st, sm := d.ctx.Styles, d.sample
	out := []string{common.Truncate(st.Label.Render("Source")+"  "+spanLabel(sm.FilePath, sm.LineStart, sm.LineEnd), w)}
	switch {
	case !d.srcLoaded:
		return append(out, st.Muted.Render("loading source…"))
	case d.srcErr != nil:
		msg := "Cannot show the source: " + common.OneLine(d.srcErr.Error())
		for _, l := range strings.Split(common.Wrap(msg, w), "\n") {
			out = append(out, st.Error.Render(l))
		}
		return out
	}
	n := len(d.srcLines)
	start, end := sm.LineStart, sm.LineEnd
	if start <= 0 || start > n {
		start, end = 1, min(n, 2*contextLines)
	}
	end = max(start, min(end, n))
	from, to := max(1, start-contextLines), min(n, end+contextLines)
	numW := len(strconv.Itoa(to))
	codeW := max(w-2-numW, 1)
	if from > 1 {
		out = append(out, st.Muted.Render(strings.Repeat(" ", 1+numW)+" ⋮"))
	}
	for i := from; i <= to; i++ {
		code := common.Truncate(cleanLine(d.srcLines[i-1]), codeW)
		num := fmt.Sprintf("%*d", numW, i)
		if i >= start && i <= end {
			out = append(out, st.Span.Render(spanMark)+st.LineNo.Render(num)+" "+st.Span.Render(code))
		} else {
			out = append(out, " "+st.LineNo.Render(num)+" "+code)
		}
	}
	if to < n {
		out = append(out, st.Muted.Render(strings.Repeat(" ", 1+numW)+" ⋮"))
	}
	return out
}

// bodyHeight is how many body lines fit under the header.
func (d Detail) bodyHeight() int { return max(d.h-len(d.header)-1, 1) }

func (d *Detail) clampOffset() {
	d.offset = max(0, min(d.offset, len(d.body)-d.bodyHeight()))
}

func (d *Detail) scroll(n int) {
	d.offset += n
	d.clampOffset()
}

// View draws the sample view in exactly its size.
func (d Detail) View() string {
	w, h := d.w, d.h
	if w <= 0 || h <= 0 {
		return ""
	}
	st := d.ctx.Styles
	switch {
	case d.mode != detailRead:
		return d.editorView()
	case d.loadErr != nil && errors.Is(d.loadErr, store.ErrNotFound):
		return common.Fit(common.Wrap(fmt.Sprintf("Sample #%d does not exist (any more).\nesc goes back to the list.", d.id), w), w, h)
	case d.loadErr != nil:
		return common.Fit(st.Error.Render(common.Wrap("Could not load sample: "+d.loadErr.Error(), w)), w, h)
	case !d.loaded:
		return common.Fit(st.Muted.Render(fmt.Sprintf("loading sample #%d…", d.id)), w, h)
	}
	lines := append([]string{}, d.header...)
	lines = append(lines, st.Muted.Render(strings.Repeat("─", w)))
	end := min(d.offset+d.bodyHeight(), len(d.body))
	if d.offset < end {
		lines = append(lines, d.body[d.offset:end]...)
	}
	return common.Fit(strings.Join(lines, "\n"), w, h)
}

func (d Detail) editorView() string {
	st := d.ctx.Styles
	title := st.PaneTitle.Render(fmt.Sprintf("Editing the %s of #%d", d.edit.what, d.edit.id)) +
		st.Muted.Render(" · ctrl+s saves · esc cancels")
	if d.saving {
		title += st.Muted.Render(" · saving…")
	}
	prompt := ""
	if d.mode == detailDiscard {
		prompt = st.Warn.Render("Discard your changes? y/n")
	}
	return common.Fit(title+"\n"+d.ta.View()+"\n"+prompt, d.w, d.h)
}

// checkFields shows the quality checks prepare stored with the answer:
// each flag (with what it found), and whether its code blocks parse.
func checkFields(st common.Styles, sm store.Sample) []string {
	var meta struct {
		Flags []struct{ Kind, Detail string } `json:"quality_flags"`
		Code  []struct {
			Lang    string
			OK      bool
			Checked bool
			Err     string
		} `json:"code_blocks"`
	}
	for _, t := range sm.Turns {
		if t.Role == "assistant" && t.MetadataJSON != "" {
			_ = json.Unmarshal([]byte(t.MetadataJSON), &meta)
		}
	}
	var out []string
	for _, f := range meta.Flags {
		text := "⚑ " + f.Kind
		if f.Detail != "" {
			text += " " + f.Detail
		}
		out = append(out, st.Warn.Render(text))
	}
	for _, c := range meta.Code {
		switch {
		case !c.Checked:
		case c.OK:
			out = append(out, st.OK.Render("✓ "+c.Lang+" parses"))
		default:
			out = append(out, st.Error.Render("✗ "+c.Lang+": "+c.Err))
		}
	}
	return out
}
