package dashboard

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/charmbracelet/x/ansi"

	"cicdllm/llm"
	"cicdllm/pipeline"
	"cicdllm/store"
	"cicdllm/ui/common"
)

// mergeRepos joins the store's repositories, their sample counts and the
// session's live state into rows ordered by name. A repository the session
// is cloning for the first time is shown before the store knows it.
func mergeRepos(repos []store.Repo, stats []store.RepoStat, live []pipeline.RepoProgress) []repoRow {
	samples := make(map[int64]int64, len(stats))
	for _, s := range stats {
		samples[s.RepoID] = s.Samples
	}
	byName := make(map[string]*repoRow, len(repos)+len(live))
	var names []string
	for _, r := range repos {
		row := &repoRow{name: r.Name, license: r.License, samples: samples[r.ID]}
		switch {
		case r.HeadCommit != "":
			row.state = "cloned"
		case r.LastError != "":
			row.state, row.failed = "failed: "+common.OneLine(r.LastError), true
		default:
			row.state = "listed"
		}
		byName[r.Name] = row
		names = append(names, r.Name)
	}
	for _, p := range live {
		row := byName[p.Name]
		if row == nil {
			row = &repoRow{name: p.Name}
			byName[p.Name] = row
			names = append(names, p.Name)
		}
		if s := liveState(p); s != "" {
			row.state, row.failed = s, p.State == "failed"
		}
	}
	sort.Strings(names)
	out := make([]repoRow, len(names))
	for i, n := range names {
		out[i] = *byName[n]
	}
	return out
}

// liveState words a repository's state in this session.
func liveState(p pipeline.RepoProgress) string {
	switch p.State {
	case "cloning":
		return fmt.Sprintf("cloning %d%%", p.Percent)
	case "failed":
		if p.Err == "" {
			return "failed"
		}
		return "failed: " + common.OneLine(p.Err)
	case "skipped":
		return "skipped: " + common.OneLine(p.Err)
	case "scanning", "scanned":
		if p.Planned == 0 {
			return p.State
		}
		s := fmt.Sprintf("%d/%d files done", p.Done, p.Planned)
		if p.Failed > 0 {
			s += fmt.Sprintf(", %d failed", p.Failed)
		}
		return s
	}
	return p.State // cloned, updated, unchanged, local
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// powerText words the battery for the status bar.
func powerText(p pipeline.PowerState, err error) string {
	switch {
	case err != nil:
		return "battery unknown"
	case !p.HasBattery:
		return "no battery"
	case p.Charging && p.Percent >= 99.5:
		return "on AC"
	case p.Charging:
		return fmt.Sprintf("battery %.0f%% charging", p.Percent)
	}
	return fmt.Sprintf("battery %.0f%%", p.Percent)
}

// elapsed is how long the session's job has run (or ran).
func elapsed(v pipeline.SessionView, now time.Time) time.Duration {
	switch {
	case v.Started.IsZero():
		return 0
	case v.Running:
		return max(now.Sub(v.Started), 0)
	case !v.Finished.IsZero():
		return max(v.Finished.Sub(v.Started), 0)
	}
	return 0
}

// eta uses main.go progressLine's formula: the time per finished file
// times the files left.
func eta(c pipeline.Counts, el time.Duration) string {
	finished := c.FilesDone + c.FilesFailed
	if finished > 0 && c.FilesPlanned > finished {
		left := time.Duration(float64(el) / float64(finished) * float64(c.FilesPlanned-finished))
		return "ETA " + left.Round(time.Second).String()
	}
	return "ETA …"
}

// tokenRate is completion tokens over elapsed seconds (at least one), as
// the CLI's progress line computes it.
func tokenRate(c pipeline.Counts, el time.Duration) float64 {
	return float64(c.CompletionTokens) / max(el.Seconds(), 1)
}

// breakerText says what the circuit breaker does, counting down to its
// next probe with the tick's clock.
func breakerText(s pipeline.ServerState, now time.Time) string {
	switch s.Breaker {
	case llm.BreakerOpen:
		left := s.RetryAt.Sub(now)
		if s.RetryAt.IsZero() || left <= 0 {
			return "server unreachable, retrying now"
		}
		secs := int(math.Ceil(left.Seconds()))
		return fmt.Sprintf("server unreachable, retrying in %s", time.Duration(secs)*time.Second)
	case llm.BreakerHalfOpen:
		return "server unreachable, probing it"
	}
	return ""
}

// cleanText makes streamed or logged text safe to lay out: tabs become
// spaces, carriage returns are dropped, other control characters (escape
// sequences from a model or a log included) are shown as symbols
// (common.ControlPicture); newlines stay.
func cleanText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteByte('\n')
		case r == '\t':
			b.WriteString("    ")
		case r == '\r':
		case unicode.IsControl(r):
			b.WriteRune(common.ControlPicture(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncLeft keeps the end of s (a path's file name matters most) within w
// columns.
func truncLeft(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw <= w {
		return s
	}
	if w == 1 {
		return "…"
	}
	return "…" + ansi.TruncateLeft(s, sw-w+1, "")
}

// pad right-pads s with spaces to w columns (s is never cut).
func pad(s string, w int) string {
	if n := w - ansi.StringWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// wrapLines wraps plain text to w columns and splits it into lines.
func wrapLines(s string, w int) []string {
	if w <= 0 || s == "" {
		return nil
	}
	return strings.Split(common.Wrap(s, w), "\n")
}

// lastLines wraps only as much of the end of text as can be shown: h lines
// of w columns need at most h*w characters per line break kept, so long
// streams cost the same as short ones.
func lastLines(text string, w, h int) []string {
	if h <= 0 || w <= 0 {
		return nil
	}
	if limit := h * (w + 1) * 4; len(text) > limit {
		cut := len(text) - limit
		// Cutting at a line start keeps word wrapping where the whole
		// text would put it, so lines do not jitter as the stream grows.
		if nl := strings.LastIndexByte(text[:cut], '\n'); nl >= 0 && cut-nl <= limit {
			cut = nl + 1
		}
		for cut < len(text) && text[cut]&0xC0 == 0x80 {
			cut++ // not inside a UTF-8 sequence
		}
		text = text[cut:]
	}
	lines := wrapLines(cleanText(text), w)
	if len(lines) > h {
		lines = lines[len(lines)-h:]
	}
	return lines
}
