package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
}

// preparedFixture runs scrape and prepare to the end against an unpaced
// simulator, so the flows below have samples to curate.
func preparedFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, sim.Config{Slots: 2})
	for _, start := range []func() error{
		func() error { return f.sess.Scrape(context.Background()) },
		func() error { return f.sess.Prepare(context.Background(), pipeline.PrepareOptions{}) },
	} {
		if err := start(); err != nil {
			t.Fatal(err)
		}
		for ev := range f.sess.Events() {
			if ev.Done {
				if ev.Err != nil {
					t.Fatal(ev.Err)
				}
				break
			}
		}
	}
	if activeSamples(t, f.st) == 0 {
		t.Fatal("prepare stored no samples")
	}
	return f
}

func typeKeys(tm *teatest.TestModel, keys ...string) {
	for _, k := range keys {
		tm.Send(keyPress(k))
	}
}

// TestFlowEditDeleteUndoExport: search, open a sample, edit its answer
// (the database has the new text and full-text search finds it), delete
// it and undo, then export from the dialog (the file exists and parses).
func TestFlowEditDeleteUndoExport(t *testing.T) {
	f := preparedFixture(t)
	tm := startProgram(t, f, Options{NoTick: false})

	typeKeys(tm, "/")
	tm.Type("Total")
	typeKeys(tm, "enter")
	waitScreen(t, tm, "row 1 of") // the matches are listed
	typeKeys(tm, "enter")         // open the first
	waitScreen(t, tm, "unscored") // the sample view's header

	typeKeys(tm, "i")
	waitScreen(t, tm, "ctrl+s save") // the editor is open
	tm.Type(" zanzibar")
	typeKeys(tm, "ctrl+s")
	var edited store.SampleSummary
	waitUntil(t, "the edit in the database", func() bool {
		page, err := f.st.ListSamples(context.Background(), store.SampleQuery{Search: "zanzibar"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Samples) == 1 {
			edited = page.Samples[0]
			return true
		}
		return false
	})
	if !edited.Edited || !bytes.HasSuffix([]byte(edited.Answer), []byte(" zanzibar")) {
		t.Fatalf("edited sample: %+v", edited)
	}

	status := func() string {
		s, err := f.st.Sample(context.Background(), edited.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s.Status
	}
	typeKeys(tm, "d")
	waitUntil(t, "the delete", func() bool { return status() == store.StatusDeleted })
	waitScreen(t, tm, "u to undo")
	typeKeys(tm, "u")
	waitUntil(t, "the undo", func() bool { return status() == store.StatusActive })

	typeKeys(tm, "esc")
	waitScreen(t, tm, "row 1 of 1")
	typeKeys(tm, "esc", "e")
	waitScreen(t, tm, "records will be written")
	for range 20 {
		tm.Send(tea.KeyMsg{Type: tea.KeyDown})
	}
	typeKeys(tm, "enter")
	var out string
	waitUntil(t, "the exported file", func() bool {
		matches, _ := filepath.Glob(filepath.Join(f.dir, "exports", "*.jsonl")) // not the temporary file
		if len(matches) == 1 {
			out = matches[0]
			return true
		}
		return false
	})
	waitScreen(t, tm, "exported ")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(30*time.Second))

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if int64(len(lines)) != activeSamples(t, f.st) {
		t.Errorf("exported %d records, %d samples are active", len(lines), activeSamples(t, f.st))
	}
	found := false
	for i, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("%s:%d: %v", out, i+1, err)
		}
		found = found || strings.Contains(l, "zanzibar")
	}
	if !found {
		t.Error("the export lacks the edited answer")
	}
}
