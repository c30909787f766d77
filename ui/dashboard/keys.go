package dashboard

import (
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/pipeline"
	"cicdllm/ui/common"
)

func (m Model) handleKey(msg tea.KeyMsg) (Model, tea.Cmd) {
	if m.skip.open {
		return m.chooserKey(msg)
	}
	k, shared := m.keys, m.ctx.Keys
	if m.logs.open {
		switch {
		case key.Matches(msg, k.Close):
			m.logs = logView{}
			return m, nil
		case key.Matches(msg, shared.Up):
			m.logs.scroll++
			return m, nil
		case key.Matches(msg, shared.Down):
			m.logs.scroll = max(m.logs.scroll-1, 0)
			return m, nil
		}
	}
	switch {
	case key.Matches(msg, shared.Up):
		m.move(-1)
	case key.Matches(msg, shared.Down):
		m.move(1)
	case key.Matches(msg, shared.PageUp):
		m.move(-10)
	case key.Matches(msg, shared.PageDown):
		m.move(10)
	case key.Matches(msg, shared.Top):
		m.move(-1 << 30)
	case key.Matches(msg, shared.Bottom):
		m.move(1 << 30)
	case key.Matches(msg, k.Scrape):
		return m, m.jobCmd(func(s *pipeline.Session) error { return s.Scrape(bg()) },
			"scrape started: cloning or updating the repositories of repos.txt")
	case key.Matches(msg, k.Prepare):
		return m, m.jobCmd(func(s *pipeline.Session) error { return s.Prepare(bg(), pipeline.PrepareOptions{}) },
			"prepare started: asking the LLM for questions and answers")
	case key.Matches(msg, k.Pause):
		return m.togglePause()
	case key.Matches(msg, k.Skip):
		return m.skipKey()
	case key.Matches(msg, k.Retry):
		if m.focus == paneFailures && len(m.data.failures) > 0 {
			return m, m.retryOneCmd()
		}
		return m, m.retryAllCmd()
	case key.Matches(msg, k.RetryAll):
		return m, m.retryAllCmd()
	case key.Matches(msg, k.Stop):
		return m.stop()
	case key.Matches(msg, k.Slot):
		if m.focus == paneLive {
			m.cycleSlot()
		}
	case key.Matches(msg, k.Log):
		return m.openLog()
	case key.Matches(msg, k.Close):
		m.logs = logView{}
	case key.Matches(msg, k.Open):
		if m.focus == paneLive {
			return m, m.openSampleCmd()
		}
	}
	return m, nil
}

// move moves the cursor of the focused pane.
func (m *Model) move(d int) {
	switch m.focus {
	case paneRepos:
		m.repoSel = clamp(m.repoSel+d, len(m.rows))
		if m.repoSel < len(m.rows) {
			m.repoName = m.rows[m.repoSel].name
		}
	case paneFailures:
		m.failSel = clamp(m.failSel+d, len(m.data.failures))
		if m.failSel < len(m.data.failures) {
			m.failID = m.data.failures[m.failSel].ID
		}
	case paneLive:
		m.recentSel = clamp(m.recentSel+d, len(m.recent))
	}
}

// session returns the session, or a message saying there is none.
func (m Model) session() (*pipeline.Session, tea.Cmd) {
	if m.ctx == nil || m.ctx.Session == nil {
		return nil, common.Flash("no background session in this view; jobs cannot be started here")
	}
	return m.ctx.Session, nil
}

// jobCmd starts a job in a command: starting one takes the session's lock
// and may wait for a finishing job, which Update must not.
func (m Model) jobCmd(start func(*pipeline.Session) error, started string) tea.Cmd {
	s, none := m.session()
	if s == nil {
		return none
	}
	return func() tea.Msg {
		if err := start(s); err != nil {
			return common.ErrMsg{Err: err}
		}
		return common.FlashMsg{Text: started}
	}
}

func (m Model) togglePause() (Model, tea.Cmd) {
	s, none := m.session()
	if s == nil {
		return m, none
	}
	// The session's own state decides, not the last tick: pressing space
	// twice quickly must resume what the first press paused.
	v := s.View()
	var text string
	switch {
	case !v.Running:
		return m, common.Flash("nothing to pause: no job is running")
	case v.Job == pipeline.JobScrape:
		return m, common.Flash("a scrape cannot be paused; S stops it")
	case v.Paused:
		s.Resume()
		text = "resumed"
	default:
		s.Pause()
		text = "paused after the requests in flight; space resumes"
	}
	m.view = s.View()
	m.setFlash(text, false)
	return m, nil
}

func (m Model) skipKey() (Model, tea.Cmd) {
	s, none := m.session()
	if s == nil {
		return m, none
	}
	busy := inFlightFiles(s.View().Activity)
	switch len(busy) {
	case 0:
		return m, common.Flash("no file is being processed")
	case 1:
		s.Skip(busy[0].Key)
		m.setFlash(skippedText(busy[0]), false)
		return m, nil
	}
	m.skip = chooser{open: true, items: busy}
	return m, nil
}

// inFlightFiles lists each file being worked on once, in slot order:
// several slots can answer questions of the same file.
func inFlightFiles(acts []pipeline.Activity) []pipeline.Activity {
	seen := map[pipeline.FileKey]bool{}
	var out []pipeline.Activity
	for _, a := range acts {
		if !seen[a.Key] {
			seen[a.Key] = true
			out = append(out, a)
		}
	}
	return out
}

func skippedText(a pipeline.Activity) string {
	return fmt.Sprintf("skipping %s for this run: its requests in flight finish, the rest are dropped", a.Path)
}

func (m Model) chooserKey(msg tea.KeyMsg) (Model, tea.Cmd) {
	shared := m.ctx.Keys
	pick := -1
	switch {
	case key.Matches(msg, m.keys.Close):
		m.skip = chooser{}
		return m, nil
	case key.Matches(msg, shared.Up):
		m.skip.sel = clamp(m.skip.sel-1, len(m.skip.items))
	case key.Matches(msg, shared.Down):
		m.skip.sel = clamp(m.skip.sel+1, len(m.skip.items))
	case key.Matches(msg, shared.Enter):
		pick = m.skip.sel
	case key.Matches(msg, m.keys.Digit):
		if n := int(msg.String()[0] - '1'); n < len(m.skip.items) {
			pick = n
		}
	}
	if pick < 0 || pick >= len(m.skip.items) {
		return m, nil // every other key is swallowed while the prompt is open
	}
	a := m.skip.items[pick]
	m.skip = chooser{}
	if s, _ := m.session(); s != nil {
		s.Skip(a.Key)
	}
	m.setFlash(skippedText(a), false)
	return m, nil
}

func (m Model) stop() (Model, tea.Cmd) {
	s, none := m.session()
	if s == nil {
		return m, none
	}
	v := s.View()
	if !v.Running {
		return m, common.Flash("no job is running")
	}
	s.Stop()
	m.view = s.View()
	if v.Job == pipeline.JobScrape {
		m.setFlash("stopping the scrape; finished clones are kept", false)
	} else {
		m.setFlash("stopping after the requests in flight; run prepare again to resume", false)
	}
	return m, nil
}

// cycleSlot shows the next busy slot in the live preview.
func (m *Model) cycleSlot() {
	acts := m.view.Activity
	if len(acts) == 0 {
		m.pin = -1
		return
	}
	cur, ok := m.liveActivity()
	if !ok {
		m.pin = acts[0].Slot
		return
	}
	for i, a := range acts {
		if a.Slot == cur.Slot {
			m.pin = acts[(i+1)%len(acts)].Slot
			return
		}
	}
	m.pin = acts[0].Slot
}

// liveActivity is the slot the live preview shows: the one chosen with v
// while it is busy, else the first slot answering, else the first busy.
func (m Model) liveActivity() (pipeline.Activity, bool) {
	acts := m.view.Activity
	if m.pin >= 0 {
		for _, a := range acts {
			if a.Slot == m.pin {
				return a, true
			}
		}
	}
	for _, a := range acts {
		if a.Stage == "answering" {
			return a, true
		}
	}
	if len(acts) > 0 {
		return acts[0], true
	}
	return pipeline.Activity{}, false
}

func (m Model) openLog() (Model, tea.Cmd) {
	if len(m.data.failures) == 0 {
		return m, common.Flash("no failed files: nothing to show from the log")
	}
	if m.ctx.LogPath == "" {
		return m, common.Flash("this run writes no log file")
	}
	f := m.data.failures[clamp(m.failSel, len(m.data.failures))]
	m.focus = paneFailures
	m.logs = logView{open: true, path: f.FilePath, loading: true}
	return m, readLogCmd(m.ctx.LogPath, f.FilePath)
}
