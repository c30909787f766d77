package dashboard

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"cicdllm/pipeline"
	"cicdllm/ui/common"
)

// wideFrom is the width from which panes stand side by side.
const wideFrom = 140

// View renders the dashboard into exactly the area given to SetSize; the
// last line is the status bar.
func (m Model) View() string {
	w, h := m.w, m.h
	if w <= 0 || h <= 0 || m.ctx == nil {
		return ""
	}
	bar := m.statusBar(w)
	if h == 1 {
		return common.Fit(bar, w, 1)
	}
	lines := m.content(w, h-1)
	if m.skip.open {
		lines = overlay(lines, m.chooserBox(w, h-1), w)
	}
	return common.Fit(strings.Join(append(lines, bar), "\n"), w, h)
}

// content lays the panes out in w×h.
func (m Model) content(w, h int) []string {
	switch {
	case h < 3:
		// No room for a pane: one line of what matters most.
		return fitLines([]string{m.summaryLine()}, w, h)
	case w >= wideFrom && h >= 6:
		lw := w * 9 / 20
		// The longer list of the left column takes the rows left over.
		leftFill := paneRepos
		if m.bodyWant(paneFailures, lw) > m.bodyWant(paneRepos, lw) {
			leftFill = paneFailures
		}
		left := m.column([]pane{paneRepos, paneFailures}, leftFill, lw, h)
		right := m.column([]pane{paneProgress, paneLive}, paneLive, w-lw, h)
		out := make([]string, h)
		for i := range out {
			out[i] = left[i] + right[i]
		}
		return out
	}
	return m.stacked(w, h)
}

// stacked shows the panes one above the other, dropping those that do not
// fit (the focused pane always stays).
func (m Model) stacked(w, h int) []string {
	keep := []pane{m.focus}
	for _, p := range []pane{paneProgress, paneLive, paneRepos, paneFailures} {
		if p != m.focus {
			keep = append(keep, p)
		}
	}
	keep = keep[:min(len(keep), max(h/3, 1))]
	var visible []pane
	for p := paneRepos; p < paneCount; p++ {
		if contains(keep, p) {
			visible = append(visible, p)
		}
	}
	filler := visible[len(visible)-1]
	for _, p := range []pane{paneLive, paneRepos, paneFailures, paneProgress} {
		if contains(visible, p) {
			filler = p
			break
		}
	}
	return m.column(visible, filler, w, h)
}

func contains(ps []pane, p pane) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// column renders panes stacked in w×h. Each pane gets a bordered line of
// body first, then (in priority order) the rows it wants within a share
// of the column, so one long list cannot starve the others, then the rows
// it wants beyond that share; filler takes whatever is left.
func (m Model) column(panes []pane, filler pane, w, h int) []string {
	iw := max(w-2, 1)
	want := make([]int, len(panes))
	share := make([]int, len(panes))
	size := make([]int, len(panes))
	used := 0
	for i, p := range panes {
		want[i] = 2 + max(m.bodyWant(p, iw), 1)
		share[i] = want[i]
		switch {
		case p == filler:
			share[i] = 3
		case p == paneRepos:
			share[i] = max(3, h/3)
		case p == paneFailures && m.logs.open:
			share[i] = max(3, h/2)
		case p == paneFailures:
			share[i] = max(3, h/4)
		}
		size[i] = min(3, h-used)
		used += size[i]
	}
	// The progress pane is short and wanted whole; then the focused pane.
	order := []pane{paneProgress, m.focus, paneRepos, paneFailures, paneLive}
	grow := func(limit func(i int) int) {
		for _, p := range order {
			for i, q := range panes {
				if q == p && q != filler {
					add := min(max(limit(i)-size[i], 0), h-used)
					size[i] += add
					used += add
				}
			}
		}
	}
	grow(func(i int) int { return min(want[i], share[i]) })
	grow(func(i int) int { return want[i] })
	for i, p := range panes {
		if p == filler {
			size[i] += h - used
			used = h
		}
	}
	var out []string
	for i, p := range panes {
		if size[i] > 0 {
			out = append(out, m.renderPane(p, w, size[i])...)
		}
	}
	return fitLines(out, w, h)
}

// bodyWant is how many body lines a pane would like.
func (m Model) bodyWant(p pane, iw int) int {
	switch p {
	case paneRepos:
		return len(m.rows)
	case paneProgress:
		return len(m.progressLines(iw))
	case paneFailures:
		if m.logs.open {
			return len(m.logs.lines) + 1
		}
		return len(m.data.failures)
	}
	return 0
}

func (m Model) renderPane(p pane, w, h int) []string {
	st := m.ctx.Styles.Pane
	if m.focus == p {
		st = m.ctx.Styles.PaneFocused
	}
	iw, ih := max(w-2, 1), max(h-2, 1)
	if w < 4 || h < 3 {
		iw, ih = w, max(h-1, 0)
	}
	var title string
	var body []string
	switch p {
	case paneRepos:
		title, body = m.reposPane(iw, ih)
	case paneProgress:
		title, body = m.progressPane(iw, ih)
	case paneLive:
		title, body = m.livePane(iw, ih)
	case paneFailures:
		title, body = m.failuresPane(iw, ih)
	}
	return box(st, m.ctx.Styles.PaneTitle, title, body, w, h)
}

// box draws a bordered w×h box with the title in its top border.
func box(st, titleStyle lipgloss.Style, title string, body []string, w, h int) []string {
	if w < 4 || h < 3 { // no room for a border: title and body only
		return fitLines(append([]string{titleStyle.Render(title)}, body...), w, h)
	}
	b := st.GetBorderStyle()
	fg := lipgloss.NewStyle().Foreground(st.GetBorderTopForeground())
	iw := w - 2
	t := common.Truncate(" "+title+" ", iw-1)
	fill := max(iw-1-ansi.StringWidth(t), 0)
	out := make([]string, 0, h)
	out = append(out, fg.Render(b.TopLeft+b.Top)+titleStyle.Render(t)+fg.Render(strings.Repeat(b.Top, fill)+b.TopRight))
	left, right := fg.Render(b.Left), fg.Render(b.Right)
	for i := 0; i < h-2; i++ {
		line := ""
		if i < len(body) {
			line = body[i]
		}
		out = append(out, left+common.Fit(line, iw, 1)+right)
	}
	return append(out, fg.Render(b.BottomLeft+strings.Repeat(b.Bottom, iw)+b.BottomRight))
}

// fitLines is common.Fit for a slice of lines.
func fitLines(lines []string, w, h int) []string {
	if w <= 0 || h <= 0 {
		return make([]string, max(h, 0))
	}
	return strings.Split(common.Fit(strings.Join(lines, "\n"), w, h), "\n")
}

// window returns the first index of a list of n rows shown in h lines so
// that sel is visible (kept near the middle when scrolling).
func window(sel, n, h int) int {
	if n <= h || h <= 0 {
		return 0
	}
	return min(max(sel-h/2, 0), n-h)
}

// cursor marks the selected row of the focused pane; colour alone never
// carries it.
func (m Model) cursor(p pane, selected bool, line string) string {
	if selected && m.focus == p {
		return m.ctx.Styles.Selected.Render("› " + line)
	}
	return "  " + line
}

// ---- repos ---------------------------------------------------------------

func (m Model) reposPane(iw, ih int) (string, []string) {
	title := fmt.Sprintf("%s (%d)", paneRepos.title(), len(m.rows))
	if len(m.rows) == 0 {
		if !m.loaded {
			return title, []string{m.ctx.Styles.Muted.Render("loading…")}
		}
		return title, []string{m.ctx.Styles.Muted.Render("no repositories yet: list them in repos.txt, then press s to scrape")}
	}
	// Columns: name, state, samples, licence; the state takes the room
	// the others leave (it carries errors), the name at most two fifths.
	lw := iw - 2 // the cursor column
	nameW, stateW, countW, licW := 0, 0, 0, 0
	for _, r := range m.rows {
		nameW = max(nameW, ansi.StringWidth(r.name))
		stateW = max(stateW, ansi.StringWidth(r.state))
		countW = max(countW, len(plural(int(r.samples), "sample", "samples")))
		licW = max(licW, ansi.StringWidth(r.license))
	}
	nameW = min(nameW, max(lw*2/5, 12))
	gaps := 4
	if licW > 0 {
		gaps += 2
	}
	stateW = min(stateW, max(lw-nameW-countW-licW-gaps, 10))
	top := window(m.repoSel, len(m.rows), ih)
	var body []string
	for i := top; i < len(m.rows) && i < top+ih; i++ {
		r := m.rows[i]
		state := pad(common.Truncate(r.state, stateW), stateW)
		if r.failed {
			state = m.ctx.Styles.Error.Render(state)
		}
		count := plural(int(r.samples), "sample", "samples")
		line := pad(truncLeft(common.OneLine(r.name), nameW), nameW) + "  " + state + "  " + strings.Repeat(" ", countW-len(count)) + count
		if r.license != "" {
			line += "  " + m.ctx.Styles.Muted.Render(common.OneLine(r.license))
		}
		body = append(body, m.cursor(paneRepos, i == m.repoSel, common.Truncate(line, lw)))
	}
	return title, body
}

// ---- progress ------------------------------------------------------------

func (m Model) progressPane(iw, ih int) (string, []string) {
	v := m.view
	title := paneProgress.title() + " · idle"
	if v.Running {
		title = fmt.Sprintf("%s · %s running", paneProgress.title(), v.Job)
	}
	return title, bestLines(m.progressLines(iw), ih)
}

// progressLine is a line of the progress pane with its rank: when the
// pane is short, the lowest ranks are shown (in their usual order).
type progressLine struct {
	text string
	rank int
}

// progressLines are the progress pane's body: one line per busy slot,
// then the totals, the job's state and the server. The state and an
// unreachable server matter most; the slots and server details least.
func (m Model) progressLines(iw int) []progressLine {
	v, now, sty := m.view, m.clock(), m.ctx.Styles
	var out []progressLine
	switch v.Job {
	case pipeline.JobScrape:
		out = append(out, progressLine{scrapeLine(v.Repos), 2})
	case pipeline.JobPrepare, pipeline.JobRetry:
		if v.Running {
			if len(v.Activity) == 0 {
				out = append(out, progressLine{sty.Muted.Render("no request in flight"), 5})
			}
			for i, a := range v.Activity {
				out = append(out, progressLine{slotLine(a, now, iw), 3 + i})
			}
		}
		c := v.Counts
		files := fmt.Sprintf("files %d/%d (%d failed, %d skipped, %d unchanged) · %d questions · %d answers",
			c.FilesDone+c.FilesFailed, c.FilesPlanned, c.FilesFailed, c.FilesSkipped, c.FilesUnchanged, c.Questions, c.Answers)
		if c.Truncated > 0 {
			files += fmt.Sprintf(" (%d truncated)", c.Truncated)
		}
		if c.Redacted > 0 || c.SecretFiles > 0 {
			// Safety at work, visibly: secrets replaced before they reached
			// the LLM or the database, credential files never read.
			files += fmt.Sprintf(" · %d secrets redacted, %d credential files skipped", c.Redacted, c.SecretFiles)
		}
		out = append(out, progressLine{files, 2})
	}
	out = append(out, progressLine{m.stateLine(), 0})
	out = append(out, progressLine{m.serverLine(), 3 + len(v.Activity)})
	// The session keeps the breaker's last state after a job ends; an
	// idle dashboard must not claim it is still retrying.
	if b := breakerText(v.Server, now); b != "" && v.Running {
		out = append(out, progressLine{sty.Warn.Render(b), 1})
	}
	return out
}

// bestLines keeps the h lowest-ranked lines, in their order.
func bestLines(lines []progressLine, h int) []string {
	keep := len(lines)
	cutoff := 1 << 30
	if h < keep {
		ranks := make([]int, len(lines))
		for i, l := range lines {
			ranks[i] = l.rank
		}
		sort.Ints(ranks)
		cutoff = ranks[max(h-1, 0)]
	}
	var out []string
	for _, l := range lines {
		if l.rank <= cutoff && len(out) < h {
			out = append(out, l.text)
		}
	}
	return out
}

func scrapeLine(repos []pipeline.RepoProgress) string {
	var cloning, done, failed int
	for _, r := range repos {
		switch r.State {
		case "cloning":
			cloning++
		case "failed":
			failed++
		case "cloned", "updated", "unchanged", "local":
			done++
		}
	}
	return fmt.Sprintf("repositories: %d ready, %d cloning, %d failed", done, cloning, failed)
}

// slotLine: "slot 1 internal/x.go  answering q 2/3  38 tok/s"; the path
// is cut from the left so the file name stays.
func slotLine(a pipeline.Activity, now time.Time, iw int) string {
	stage := a.Stage
	switch {
	case a.Stage == "answering" && a.Count > 0:
		stage = fmt.Sprintf("answering q %d/%d", a.Index, a.Count)
	case a.Stage == "asking":
		stage = "asking lines " + a.Lines
	}
	path := common.OneLine(a.Path) // names come from repositories: no control characters
	prefix := fmt.Sprintf("slot %d ", a.Slot+1)
	suffix := fmt.Sprintf("  %s  %.0f tok/s", stage, a.TokensPerSecond(now))
	room := iw - ansi.StringWidth(prefix) - ansi.StringWidth(suffix)
	if room < 8 {
		return common.Truncate(prefix+path+suffix, iw)
	}
	return prefix + truncLeft(path, room) + suffix
}

// stateLine words what the job does (running, paused, stopping, idle or
// its last error) and, while a prepare runs, its rates as the CLI's
// progress line has them.
func (m Model) stateLine() string {
	v, sty := m.view, m.ctx.Styles
	el := elapsed(v, m.clock())
	var state string
	switch {
	case v.Running && v.Stopping:
		state = sty.Warn.Render("stopping after the requests in flight")
	case v.Running && v.Paused && v.BatteryPause != "":
		state = sty.Warn.Render(v.BatteryPause)
	case v.Running && v.Paused:
		state = sty.Warn.Render("paused (space resumes)")
	case v.Running:
		state = "running " + v.Job.String()
	case v.LastErr != "":
		return sty.Error.Render("last error: " + common.OneLine(v.LastErr))
	case v.Job != pipeline.JobNone:
		return fmt.Sprintf("idle · the last %s ran %s", v.Job, el.Round(time.Second))
	default:
		return "idle · s scrape, p prepare"
	}
	if v.Job == pipeline.JobScrape {
		return state + " · " + el.Round(time.Second).String()
	}
	c, slots := v.Counts, v.Slots
	if slots == 0 {
		slots = v.Server.Info.Slots
	}
	return fmt.Sprintf("%s · %d/%d in flight · %.0f tok/s · %s · %s", state, c.InFlight, slots, tokenRate(c, el),
		el.Round(time.Second), eta(c, el))
}

// serverLine: kind, model, context and slots of the LLM server.
func (m Model) serverLine() string {
	s, sty := m.view.Server, m.ctx.Styles
	// A managed mlx_lm.server: while it starts or loads its model there is
	// nothing else to say, and a restart must be visible.
	switch {
	case s.Phase != "" && !s.Connected:
		return sty.Warn.Render("server: mlx_lm.server " + s.Phase)
	case s.Phase == "exited" || s.Phase == "restarting":
		return sty.Warn.Render("server: mlx_lm.server " + s.Phase + " · " + s.Info.Model)
	}
	if s.Info.Model == "" && !s.Connected {
		if s.Err != "" {
			return sty.Error.Render("server: " + common.OneLine(s.Err))
		}
		return sty.Muted.Render("server: not connected yet (prepare connects)")
	}
	kind := s.Info.Kind
	if kind == "" {
		kind = "server"
	}
	line := fmt.Sprintf("server: %s · %s · ctx %d · %s", kind, s.Info.Model, s.Info.ContextSize,
		plural(s.Info.Slots, "slot", "slots"))
	if s.Phase != "" {
		line += " · " + s.Phase
	}
	return line
}

// summaryLine replaces the panes when only a line or two is free.
func (m Model) summaryLine() string {
	v := m.view
	if !v.Running {
		return m.stateLine()
	}
	c := v.Counts
	return fmt.Sprintf("%s · files %d/%d · %d answers · %d failed", v.Job, c.FilesDone+c.FilesFailed,
		c.FilesPlanned, c.Answers, len(m.data.failures))
}

// ---- live preview ----------------------------------------------------------

func (m Model) livePane(iw, ih int) (string, []string) {
	sty := m.ctx.Styles
	a, busy := m.liveActivity()
	if !busy {
		return paneLive.title() + " · recent answers", m.recentLines(iw, ih)
	}
	title := fmt.Sprintf("%s · slot %d · %s", paneLive.title(), a.Slot+1, common.OneLine(a.Path))
	recentRows := 0
	if len(m.recent) > 0 && ih >= 8 {
		recentRows = min(len(m.recent)+1, ih/3)
	}
	streamRows := ih - recentRows
	var head []string
	if a.Stage == "answering" {
		// A question is one sentence or two; it is cut before wrapping.
		q := common.Truncate(common.OneLine(a.Question), 3*iw)
		head = wrapLines("Q: "+q, iw)
		if len(head) > 2 {
			head = append(head[:1], common.Truncate(strings.Join(head[1:], " "), iw))
		}
	} else {
		head = []string{"asking questions about lines " + a.Lines}
	}
	// In a short pane the streaming answer shows as much as the question.
	head = head[:min(len(head), streamRows/2)]
	for i := range head {
		head[i] = sty.Label.Render(head[i])
	}
	body := append(head, lastLines(a.Tail, iw, streamRows-len(head))...)
	if recentRows > 0 {
		for len(body) < streamRows {
			body = append(body, "")
		}
		body = append(body, sty.Muted.Render("recent answers (enter opens)"))
		body = append(body, m.recentLines(iw, recentRows-1)...)
	}
	return title, body
}

// recentLines lists the newest answers: question, then the answer's first
// line.
func (m Model) recentLines(iw, ih int) []string {
	if len(m.recent) == 0 {
		if !m.loaded {
			return []string{m.ctx.Styles.Muted.Render("loading…")}
		}
		return []string{m.ctx.Styles.Muted.Render("no answers yet: p starts prepare")}
	}
	top := window(m.recentSel, len(m.recent), ih)
	var out []string
	for i := top; i < len(m.recent) && i < top+ih; i++ {
		it := m.recent[i]
		first, _, _ := strings.Cut(strings.TrimSpace(it.answer), "\n")
		line := common.Truncate(common.OneLine(it.question), iw*2/3) + " — " + common.OneLine(first)
		out = append(out, m.cursor(paneLive, i == m.recentSel, common.Truncate(line, iw-2)))
	}
	return out
}

// ---- failures --------------------------------------------------------------

func (m Model) failuresPane(iw, ih int) (string, []string) {
	sty := m.ctx.Styles
	if m.logs.open {
		return m.logPane(iw, ih)
	}
	fs := m.data.failures
	title := fmt.Sprintf("%s (%d)", paneFailures.title(), len(fs))
	if len(fs) == 0 {
		return title, []string{sty.Muted.Render("no failed files")}
	}
	top := window(m.failSel, len(fs), ih)
	var body []string
	for i := top; i < len(fs) && i < top+ih; i++ {
		f := fs[i]
		line := fmt.Sprintf("%s · %s · %s · %s", common.OneLine(f.FilePath), common.OneLine(f.RepoName), plural(f.Attempts, "attempt", "attempts"),
			common.OneLine(f.Reason))
		body = append(body, m.cursor(paneFailures, i == m.failSel, common.Truncate(line, iw-2)))
	}
	return title, body
}

// logPane shows the log lines about the selected failure, newest at the
// bottom, scrolled with ↑/↓.
func (m Model) logPane(iw, ih int) (string, []string) {
	sty := m.ctx.Styles
	title := "Log: " + common.OneLine(m.logs.path) + " · esc closes"
	switch {
	case m.logs.loading:
		return title, []string{sty.Muted.Render("reading the log…")}
	case m.logs.err != nil && len(m.logs.lines) == 0:
		return title, []string{sty.Error.Render(m.logs.err.Error())}
	case len(m.logs.lines) == 0:
		return title, []string{sty.Muted.Render("the log of this run does not mention this file")}
	}
	var all []string
	for _, l := range m.logs.lines {
		all = append(all, wrapLines(cleanText(l), iw)...)
	}
	end := max(len(all)-m.logs.scroll, min(ih, len(all)))
	start := max(end-ih, 0)
	return title, all[start:end]
}

// ---- status bar ------------------------------------------------------------

// statusBar: battery, battery pause, disk free, database size on the left;
// the last message on the right, for a few seconds.
func (m Model) statusBar(w int) string {
	sty, d := m.ctx.Styles, m.data
	var parts []string
	if m.loaded {
		parts = append(parts, powerText(d.power, d.powerErr))
	}
	if m.view.BatteryPause != "" {
		parts = append(parts, sty.Warn.Render(m.view.BatteryPause))
	}
	if m.loaded && d.diskErr == nil && d.diskFree > 0 {
		parts = append(parts, "disk "+common.HumanBytes(int64(d.diskFree))+" free")
	}
	if m.loaded && m.ctx.Store != nil && d.dbErr == nil {
		parts = append(parts, "db "+common.HumanBytes(d.dbSize))
	}
	left := strings.Join(parts, " · ")
	right := ""
	switch {
	case m.msg.text != "" && m.msg.err:
		right = sty.Error.Render(m.msg.text)
	case m.msg.text != "":
		right = m.msg.text
	case d.err != nil:
		right = sty.Error.Render(common.OneLine(d.err.Error()))
	}
	if right == "" {
		return sty.StatusBar.Render(common.Truncate(left, w))
	}
	right = common.Truncate(right, w)
	room := w - ansi.StringWidth(right) - 2
	if room < 8 {
		return sty.StatusBar.Render(right) // the message matters more
	}
	left = common.Truncate(left, room)
	gap := w - ansi.StringWidth(left) - ansi.StringWidth(right)
	return sty.StatusBar.Render(left + strings.Repeat(" ", max(gap, 2)) + right)
}

// ---- skip chooser ----------------------------------------------------------

// chooserBox is the "skip which file?" dialog, at most w wide and h tall.
func (m Model) chooserBox(w, h int) []string {
	var items []string
	for i, a := range m.skip.items {
		line := fmt.Sprintf("%d  slot %d  %s  (%s)", i+1, a.Slot+1, common.OneLine(a.Path), common.OneLine(a.Repo))
		if i == m.skip.sel {
			line = m.ctx.Styles.Selected.Render("› " + line)
		} else {
			line = "  " + line
		}
		items = append(items, " "+line)
	}
	title := "Skip which file? 1-9 · enter · esc cancels"
	dw := ansi.StringWidth(title) + 6
	for _, it := range items {
		dw = max(dw, ansi.StringWidth(it)+3)
	}
	dw = min(dw, w)
	dh := min(len(items)+2, h)
	return box(m.ctx.Styles.Dialog, m.ctx.Styles.PaneTitle, title, items, dw, dh)
}

// overlay draws box centred over lines, each w columns wide.
func overlay(lines, box []string, w int) []string {
	if len(box) == 0 {
		return lines
	}
	bw := ansi.StringWidth(box[0])
	x := max((w-bw)/2, 0)
	y := max((len(lines)-len(box))/2, 0)
	out := append([]string(nil), lines...)
	for i, b := range box {
		if y+i >= len(out) {
			break
		}
		base := out[y+i]
		left := pad(ansi.Truncate(base, x, ""), x)
		right := ansi.TruncateLeft(base, x+ansi.StringWidth(b), "")
		out[y+i] = left + b + right
	}
	return out
}
