package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cicdllm/llm/sim"
)

// waitFor polls cond until it holds; the deadline only guards against a
// hang, it asserts nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drain collects a session's events until a job's Done.
func drainUntilDone(t *testing.T, s *Session) (evs []SessionEvent) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev := <-s.Events():
			evs = append(evs, ev)
			if ev.Done {
				return evs
			}
		case <-timeout:
			t.Fatal("no Done event")
		}
	}
}

func TestSessionScrapePrepareWithLiveActivity(t *testing.T) {
	files := map[string]string{"a.go": goSource("a", 12), "b.go": goSource("b", 12), "c.go": goSource("c", 3)}
	f := newPrepFixture(t, files, sim.Config{Slots: 2, TokensPerSecond: 400, AnswerTokens: 60})
	s := NewSession(SessionOptions{Workspace: f.ws, Config: f.cfg, Store: f.st,
		LookupEnv: func(string) (string, bool) { return "", false }})
	defer s.Close()

	if err := s.Scrape(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := drainUntilDone(t, s)
	if last := evs[len(evs)-1]; last.Job != JobScrape || last.Err != nil {
		t.Fatalf("scrape ended with %+v", last)
	}
	if v := s.View(); len(v.Repos) != 1 || v.Repos[0].State != ActionLocal {
		t.Fatalf("repos after scrape = %+v", v.Repos)
	}

	if err := s.Prepare(context.Background(), PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Scrape(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("second job while one runs: %v, want ErrBusy", err)
	}
	// Text streams into a slot while it answers.
	var seen Activity
	waitFor(t, "a streaming answer", func() bool {
		for _, a := range s.View().Activity {
			if a.Stage == "answering" && a.Deltas > 3 && a.Tail != "" && a.Index > 0 && a.Count > 0 {
				seen = a
				return true
			}
		}
		return false
	})
	if seen.Question == "" || seen.Path == "" || seen.Key.RepoID == 0 {
		t.Errorf("activity lacks its file or question: %+v", seen)
	}
	s.Pause()
	if !s.View().Paused {
		t.Error("View().Paused is false after Pause")
	}
	s.Resume()
	evs = drainUntilDone(t, s)
	last := evs[len(evs)-1]
	if last.Job != JobPrepare || last.Err != nil {
		t.Fatalf("prepare ended with %+v", last)
	}
	var answers, paused int
	for _, ev := range evs {
		if ev.Runner != nil && ev.Runner.Kind == EventAnswer {
			answers++
		}
		if ev.Runner != nil && ev.Runner.Kind == EventPaused {
			paused++
		}
	}
	v := s.View()
	if v.Running || v.Counts.FilesDone != 3 || int64(answers) != v.Counts.Answers || answers == 0 || paused != 1 {
		t.Fatalf("after prepare: view %+v, %d answer events, %d paused events", v.Counts, answers, paused)
	}
	if v.Server.Info.Model == "" || !v.Server.Connected {
		t.Errorf("server state not recorded: %+v", v.Server)
	}
	if len(v.Repos) != 1 || v.Repos[0].Done != 3 || v.Repos[0].State != "scanned" {
		t.Errorf("repo progress = %+v", v.Repos)
	}
}

func TestSessionStopIsGracefulAndNextRunResumes(t *testing.T) {
	files := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		files[n+".go"] = goSource(n, 6)
	}
	f := newPrepFixture(t, files, sim.Config{Slots: 2, TokensPerSecond: 300, AnswerTokens: 40})
	s := NewSession(SessionOptions{Workspace: f.ws, Config: f.cfg, Store: f.st,
		LookupEnv: func(string) (string, bool) { return "", false }})
	defer s.Close()
	if err := s.Prepare(context.Background(), PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first answer", func() bool { return s.View().Counts.Answers > 0 })
	s.Stop()
	evs := drainUntilDone(t, s)
	if last := evs[len(evs)-1]; last.Err != nil {
		t.Fatalf("stop ended with an error: %v", last.Err)
	}
	n, err := f.st.CountPending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	done := s.View().Counts.FilesDone
	if done == 6 && n == 0 {
		t.Skip("the run finished before Stop took effect")
	}
	// A new run picks up exactly what is left.
	if err := s.Prepare(context.Background(), PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	drainUntilDone(t, s)
	if n, _ := f.st.CountPending(context.Background()); n != 0 {
		t.Errorf("%d questions still pending after the second run", n)
	}
	if got := s.View().Counts.FilesDone + done; got != 6 {
		t.Errorf("files done over both runs = %d, want 6", got)
	}
}

func TestSessionReportsUnreachableServer(t *testing.T) {
	f := newPrepFixture(t, map[string]string{"a.go": goSource("a", 2)}, sim.Config{Slots: 1})
	f.cfg.LLM.BaseURL = "http://127.0.0.1:1"
	s := NewSession(SessionOptions{Workspace: f.ws, Config: f.cfg, Store: f.st,
		LookupEnv: func(string) (string, bool) { return "", false }})
	defer s.Close()
	if err := s.Prepare(context.Background(), PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	evs := drainUntilDone(t, s)
	last := evs[len(evs)-1]
	if last.Err == nil || !strings.Contains(last.Err.Error(), "127.0.0.1:1") {
		t.Fatalf("Done = %+v, want an error naming the server", last)
	}
	if v := s.View(); v.Server.Connected || v.Server.Err == "" || v.LastErr == "" {
		t.Errorf("view = %+v", v.Server)
	}
}

func TestRunnerRecoversAWorkerPanic(t *testing.T) {
	f := newPrepFixture(t, map[string]string{"a.go": goSource("a", 4), "b.go": goSource("b", 4)}, sim.Config{Slots: 2})
	// A bug in an event consumer runs on a worker goroutine.
	r := f.newRunner(nil)
	r.OnEvent = func(ev Event) {
		if ev.Kind == EventAnswer {
			panic("boom")
		}
	}
	err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "internal error: boom") {
		t.Fatalf("Run = %v, want the recovered panic", err)
	}
	// The database is consistent: the next run finishes everything.
	r2 := f.run(nil)
	if r2.Progress().FilesDone.Load() == 0 {
		t.Errorf("the run after the panic finished nothing")
	}
	if n, _ := f.st.CountPending(context.Background()); n != 0 {
		t.Errorf("%d pending after the recovery run", n)
	}
}
