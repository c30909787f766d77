package ui

import (
	"bytes"
	"context"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"cicdllm/llm/sim"
	"cicdllm/pipeline"
	"cicdllm/store"
)

// startProgram runs the root model under teatest at 120×40 with the real
// tick and session bridge.
func startProgram(t *testing.T, f *fixture, opts Options) *teatest.TestModel {
	t.Helper()
	m := New(f.ctx, opts)
	return teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
}

func waitScreen(t *testing.T, tm *teatest.TestModel, want string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
		teatest.WithDuration(90*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

func activeSamples(t *testing.T, st *store.Store) int64 {
	t.Helper()
	n, err := st.CountSamples(context.Background(), store.SampleQuery{Statuses: []string{store.StatusActive}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFlowPrepareSamplesPauseResumeSkipQuit: start prepare against the
// simulator from the dashboard, see samples arrive, pause, resume, skip
// the file in flight, and quit (stopping gracefully).
func TestFlowPrepareSamplesPauseResumeSkipQuit(t *testing.T) {
	// One slot, paced: exactly one file is in flight, long enough to skip.
	f := newFixture(t, sim.Config{Slots: 1, TokensPerSecond: 150, AnswerTokens: 60})
	tm := startProgram(t, f, Options{})

	tm.Type("s")
	waitUntil(t, "the scrape to finish", func() bool {
		v := f.sess.View()
		return v.Job == pipeline.JobScrape && !v.Running
	})
	tm.Type("p")
	waitUntil(t, "samples", func() bool { return activeSamples(t, f.st) > 0 })
	waitScreen(t, tm, "answering")

	tm.Type(" ")
	waitUntil(t, "pause", func() bool { return f.sess.View().Paused })
	tm.Type(" ")
	waitUntil(t, "resume", func() bool { return !f.sess.View().Paused })

	var skipped pipeline.FileKey
	waitUntil(t, "a file in flight", func() bool {
		if a := f.sess.View().Activity; len(a) == 1 {
			skipped = a[0].Key
			return true
		}
		return false
	})
	tm.Type("n")
	waitUntil(t, "the skip", func() bool {
		for _, a := range f.sess.View().Activity {
			if a.Key == skipped {
				return false
			}
		}
		return true
	})
	tm.Type("q")
	waitScreen(t, tm, "Stop it gracefully and quit?")
	tm.Type("y")
	tm.WaitFinished(t, teatest.WithFinalTimeout(90*time.Second))

	f.sess.Wait()
	if v := f.sess.View(); v.Running {
		t.Fatal("the job still runs after quit")
	}
	// The skipped file is not done: the next run picks it up.
	if fh, ok, err := f.st.FileState(context.Background(), skipped.RepoID, skipped.Path); err != nil {
		t.Fatal(err)
	} else if ok && fh.Status == store.FileStatusDone {
		t.Errorf("%s was skipped but is marked done", skipped.Path)
	}
	if activeSamples(t, f.st) == 0 {
		t.Error("no samples stored")
	}
	_ = tea.Quit
}
