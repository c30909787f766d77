package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distatus/battery"

	"cicdllm/store"
)

func TestLogRedactsSecretsEverywhere(t *testing.T) {
	dir := t.TempDir()
	const secret = "sk-proj-Zx81TopSecretValue"
	var mirror bytes.Buffer
	log, err := OpenLog(LogOptions{Dir: dir, MaxFiles: 5, Level: slog.LevelDebug, Secrets: []string{secret, "short"}, Mirror: &mirror})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("calling server with key " + secret)
	log.Debug("request", "url", "https://api.example.com/v1?key="+secret, "err", errors.New("401 for "+secret))
	log.Info("config", "api_key", "anything-else", "github_token", "ghp_plain", "Authorization", "Bearer x")
	log.Info("ordinary", "model", "qwen", "note", "a short word")
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(log.Path)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"file": string(data), "mirror": mirror.String()} {
		for _, leaked := range []string{secret, "anything-else", "ghp_plain", "Bearer x"} {
			if strings.Contains(text, leaked) {
				t.Errorf("%s log contains %q:\n%s", name, leaked, text)
			}
		}
		if !strings.Contains(text, "model=qwen") || !strings.Contains(text, "a short word") {
			t.Errorf("%s log lost ordinary values:\n%s", name, text)
		}
		if strings.Count(text, redacted) < 6 {
			t.Errorf("%s log: want every secret replaced by %s:\n%s", name, redacted, text)
		}
	}
	if !strings.HasPrefix(filepath.Base(log.Path), "cicdllm-") {
		t.Errorf("log name %s", log.Path)
	}
}

func TestLogRotationNeverDeletesCurrentAndKeepsNewest(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var paths []string
	for i := range 5 {
		l, err := OpenLog(LogOptions{Dir: dir, MaxFiles: 2, Now: start.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, l.Path)
		_ = l.Close()
	}
	got, _ := LogFiles(dir)
	if len(got) != 2 || got[0] != paths[3] || got[1] != paths[4] {
		t.Errorf("kept %v, want the two newest %v", got, paths[3:])
	}
	// Two runs in the same millisecond get distinct files.
	a, err := OpenLog(LogOptions{Dir: dir, MaxFiles: 10, Now: start})
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenLog(LogOptions{Dir: dir, MaxFiles: 10, Now: start})
	if err != nil {
		t.Fatal(err)
	}
	if a.Path == b.Path {
		t.Errorf("same log file for two runs: %s", a.Path)
	}
	_, _ = a.Close(), b.Close()
}

func TestResetStaysInsideWorkspace(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	sentinel := filepath.Join(outside, "keep.txt")
	if err := os.WriteFile(sentinel, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// repos/ is a symlink to a directory outside the workspace.
	if err := os.Symlink(outside, filepath.Join(dir, "repos")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	ws, err := NewWorkspace(dir, "data")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PlanReset(ws, "repos", ""); err == nil || !strings.Contains(err.Error(), "outside the workspace") {
		t.Errorf("plan over a symlink out of the workspace: %v", err)
	}
	if _, err := os.Stat(sentinel); err != nil {
		t.Fatal(err)
	}

	// --data-dir pointing outside is refused too.
	ws2, _ := NewWorkspace(dir, outside)
	if err := os.WriteFile(ws2.DBPath, []byte("db"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PlanReset(ws2, "db", ""); err == nil {
		t.Error("reset db accepted a data dir outside the workspace")
	}
	if _, err := PlanReset(ws, "bogus", ""); err == nil || !strings.Contains(err.Error(), "db, logs, repos, all") {
		t.Errorf("bad target: %v", err)
	}
	if ws.Contains(dir) || ws.Contains(filepath.Join(dir, "..", "x")) || !ws.Contains(filepath.Join(dir, "data", "new")) {
		t.Error("Contains is wrong about the workspace root, parent or a new path")
	}
}

func TestPowerFromBatteryResults(t *testing.T) {
	bat := func(state battery.AgnosticState, cur, full float64) *battery.Battery {
		return &battery.Battery{State: battery.State{Raw: state}, Current: cur, Full: full}
	}
	cases := []struct {
		name    string
		bats    []*battery.Battery
		err     error
		want    PowerState
		wantErr bool
	}{
		{"no battery", nil, nil, PowerState{}, false},
		{"not found", nil, battery.ErrFatal{Err: battery.ErrNotFound}, PowerState{}, false},
		{"fatal", nil, battery.ErrFatal{Err: fmt.Errorf("ioreg failed")}, PowerState{}, true},
		{"discharging half", []*battery.Battery{bat(battery.Discharging, 25, 50)}, nil, PowerState{HasBattery: true, Percent: 50}, false},
		{"charging", []*battery.Battery{bat(battery.Charging, 10, 100)}, nil, PowerState{HasBattery: true, Charging: true, Percent: 10}, false},
		{"two batteries, one draining", []*battery.Battery{bat(battery.Full, 50, 50), bat(battery.Discharging, 0, 50)}, nil,
			PowerState{HasBattery: true, Percent: 50}, false},
		{"partial read without charge is ignored", []*battery.Battery{bat(battery.Discharging, 0, 0)},
			battery.Errors{battery.ErrPartial{Current: errors.New("no current")}}, PowerState{}, false},
		{"partial read with charge is used", []*battery.Battery{bat(battery.Discharging, 30, 60)},
			battery.Errors{battery.ErrPartial{Voltage: errors.New("no voltage")}}, PowerState{HasBattery: true, Percent: 50}, false},
	}
	for _, tc := range cases {
		got, err := powerFrom(tc.bats, tc.err)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v, err %v", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestNextStepLadder(t *testing.T) {
	cases := []struct {
		s    Status
		want string
	}{
		{Status{}, "Create repos.txt"},
		{Status{ReposListed: 3}, "Run `cicdllm scrape` to clone the 3 repositories"},
		{Status{ReposListed: 3, ReposCloned: 3}, "Run `cicdllm prepare` to generate"},
		{Status{ReposKnown: 1, ReposCloned: 1, FilesDone: 4, FilesFailed: 2, Samples: map[string]int64{"active": 9}}, "Run `cicdllm retry` to retry the 2 failed files"},
		{Status{ReposKnown: 1, ReposCloned: 1, FilesDone: 4, Samples: map[string]int64{"pending": 5, "active": 9}}, "answer the 5 pending questions"},
		{Status{ReposKnown: 1, ReposCloned: 1, FilesDone: 4, Samples: map[string]int64{"active": 9}}, "cicdllm export"},
	}
	for _, tc := range cases {
		if got := nextStep(tc.s); !strings.Contains(got, tc.want) {
			t.Errorf("nextStep(%+v) = %q, want it to contain %q", tc.s, got, tc.want)
		}
	}
}

func TestReadStatusFromRealStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ws, err := NewWorkspace(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ws.ReposFile, []byte("\ufeff# mine\nhttps://github.com/o/a\n\n  https://github.com/o/b  # two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, ws.DBPath, store.Options{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repoID, err := st.UpsertRepo(ctx, store.Repo{URL: "https://github.com/o/a", Name: "github.com/o/a", HeadCommit: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := st.InsertPendingQuestions(ctx, []store.NewQuestion{
		{RepoID: repoID, FilePath: "main.go", BlobOID: "b1", Question: "What does main do?"},
		{RepoID: repoID, FilePath: "main.go", BlobOID: "b1", Question: "Why exit 2?"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.StoreAnswer(ctx, store.Answer{SampleID: ids[0], Content: "It runs."}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordFailure(ctx, repoID, "big.go", "context overflow"); err != nil {
		t.Fatal(err)
	}
	s, err := ReadStatus(ctx, ws, st, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.ReposListed != 2 || s.ReposCloned != 1 || s.FilesFailed != 1 || s.Samples["active"] != 1 || s.Samples["pending"] != 1 || s.DBSize == 0 {
		t.Errorf("status = %+v", s)
	}
	if !strings.Contains(s.NextStep, "retry") {
		t.Errorf("next step = %q", s.NextStep)
	}
	stats, err := ReadStatistics(ctx, st, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats.Repositories) != 1 || stats.Repositories[0].Samples != 2 || len(stats.Failures) != 1 || stats.Failures[0].FilePath != "big.go" {
		t.Errorf("statistics = %+v", stats)
	}
}
