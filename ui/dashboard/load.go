package dashboard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/pipeline"
	"cicdllm/store"
	"cicdllm/ui/common"
)

// bg is the context jobs run under: they outlive the command that started
// them and end through the session (Stop, Cancel, Close).
func bg() context.Context { return context.Background() }

// loadTimeout bounds one poll; a database busy for longer is reported and
// read again at the next poll.
const loadTimeout = 10 * time.Second

// loadCmd reads everything the dashboard shows from the store and the
// machine. The closure copies what it needs, so it never touches the model.
func (m Model) loadCmd(seq int) tea.Cmd {
	if m.ctx == nil {
		return nil
	}
	st, dir, e := m.ctx.Store, m.ctx.WS.Dir, m.env
	return func() tea.Msg {
		return pollMsg{seq: seq, data: poll(st, dir, e)}
	}
}

func poll(st *store.Store, dir string, e env) pollData {
	var d pollData
	if st != nil {
		ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
		defer cancel()
		var errs []error
		var err error
		if d.repos, err = st.Repos(ctx); err != nil {
			errs = append(errs, err)
		}
		if d.stats, err = st.RepoStats(ctx); err != nil {
			errs = append(errs, err)
		}
		if d.failures, err = st.Failures(ctx, failuresShown); err != nil {
			errs = append(errs, err)
		}
		page, err := st.ListSamples(ctx, store.SampleQuery{Desc: true, Limit: recentFromDB, Statuses: []string{store.StatusActive}})
		if err != nil {
			errs = append(errs, err)
		}
		d.recent = page.Samples
		d.dbSize, d.dbErr = st.DBSize()
		if len(errs) > 0 {
			d.err = fmt.Errorf("cannot read the database: %w", errors.Join(errs...))
		}
	}
	if e.readPower != nil {
		d.power, d.powerErr = e.readPower()
	}
	if e.diskFree != nil && dir != "" {
		d.diskFree, d.diskErr = e.diskFree(dir)
	}
	return d
}

// retryOneCmd retries the selected failed file alone.
func (m Model) retryOneCmd() tea.Cmd {
	s, none := m.session()
	if s == nil {
		return none
	}
	f := m.data.failures[clamp(m.failSel, len(m.data.failures))]
	only := map[pipeline.FileKey]bool{{RepoID: f.RepoID, Path: f.FilePath}: true}
	return func() tea.Msg {
		if err := s.Prepare(bg(), pipeline.PrepareOptions{Only: only}); err != nil {
			return common.ErrMsg{Err: err}
		}
		return common.FlashMsg{Text: "retrying " + f.FilePath}
	}
}

// retryAllCmd retries every recorded failure, read fresh from the store
// (the pane may show fewer than there are).
func (m Model) retryAllCmd() tea.Cmd {
	s, none := m.session()
	if s == nil {
		return none
	}
	st := m.ctx.Store
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
		only, err := pipeline.RetrySet(ctx, st, "")
		cancel()
		if err != nil {
			return common.ErrMsg{Err: fmt.Errorf("cannot list the failed files: %w", err)}
		}
		if len(only) == 0 {
			return common.FlashMsg{Text: "no failed files to retry"}
		}
		if err := s.Prepare(bg(), pipeline.PrepareOptions{Only: only}); err != nil {
			return common.ErrMsg{Err: err}
		}
		return common.FlashMsg{Text: fmt.Sprintf("retrying %s", plural(len(only), "failed file", "failed files"))}
	}
}

// openSampleCmd opens the selected answer of the live preview. An answer
// that arrived as an event may not have its id yet; it is looked up among
// the newest stored samples.
func (m Model) openSampleCmd() tea.Cmd {
	if len(m.recent) == 0 {
		return nil
	}
	it := m.recent[clamp(m.recentSel, len(m.recent))]
	if it.id != 0 {
		return func() tea.Msg { return common.OpenSampleMsg{ID: it.id} }
	}
	st := m.ctx.Store
	if st == nil {
		return nil
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
		defer cancel()
		page, err := st.ListSamples(ctx, store.SampleQuery{Desc: true, Limit: 100, Statuses: []string{store.StatusActive}})
		if err != nil {
			return common.ErrMsg{Err: fmt.Errorf("cannot find that sample: %w", err)}
		}
		for _, s := range page.Samples {
			if s.FilePath == it.path && s.Question == it.question {
				return common.OpenSampleMsg{ID: s.ID}
			}
		}
		return common.FlashMsg{Text: "that answer is not among the newest stored samples; find it with / search"}
	}
}

// readLogCmd reads the last logLinesKept lines of the log that mention
// path. The log is scanned line by line, so a large log costs time, not
// memory.
func readLogCmd(logPath, path string) tea.Cmd {
	return func() tea.Msg {
		lines, err := logLinesAbout(logPath, path, logLinesKept)
		return logMsg{path: path, lines: lines, err: err}
	}
}

func logLinesAbout(logPath, path string, keep int) ([]string, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, fmt.Errorf("cannot open the log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20) // a record can carry a long error
	ring := make([]string, 0, keep)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, path) {
			continue
		}
		if len(ring) == keep {
			ring = append(ring[:0], ring[1:]...)
		}
		ring = append(ring, line)
	}
	if err := sc.Err(); err != nil {
		return ring, fmt.Errorf("cannot read the log: %w", err)
	}
	return ring, nil
}
