package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cicdllm/llm"
	"cicdllm/llm/sim"
	"cicdllm/store"
)

// goSource makes a Go source file with n small functions.
func goSource(pkg string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\nimport \"fmt\"\n", pkg)
	for i := range n {
		fmt.Fprintf(&b, "\n// Handle%d validates request %d and reports errors.\nfunc Handle%d(name string, retries int) error {\n\tif name == \"\" {\n\t\treturn fmt.Errorf(\"handler %d: empty name\")\n\t}\n\tfor i := 0; i < retries; i++ {\n\t\tfmt.Println(name, i)\n\t}\n\treturn nil\n}\n", i, i, i, i)
	}
	return b.String()
}

type prepFixture struct {
	t      testing.TB
	ws     Workspace
	st     *store.Store
	sim    *sim.Server
	src    string
	cfg    Config
	mu     sync.Mutex
	events []Event
}

// newPrepFixture makes a local repository with files, scrapes it into a
// fresh workspace and starts a simulated LLM server.
func newPrepFixture(t testing.TB, files map[string]string, simCfg sim.Config) *prepFixture {
	t.Helper()
	needGit(t)
	src := filepath.Join(t.TempDir(), "service")
	workRepo(t, src, files)
	f := &prepFixture{t: t, src: src}
	sf := newScrapeFixture(t, src+"\n")
	f.ws, f.st = sf.ws, sf.st
	if rep := sf.run(t, ScrapeOptions{Concurrency: 1}); !rep.OK() {
		t.Fatalf("scrape: %+v", rep)
	}
	f.sim = sim.New(simCfg)
	if _, err := f.sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.sim.Close() })
	f.cfg = DefaultConfig()
	f.cfg.Generation.QuestionsPerChunk = 3
	f.cfg.Generation.MaxTokens = 256
	f.cfg.LLM.BaseURL = f.sim.URL()
	f.cfg.LLM.FirstTokenTimeout = Duration(5 * time.Second)
	f.cfg.LLM.IdleTimeout = Duration(5 * time.Second)
	return f
}

// run prepares with a fresh client, as a new process would.
func (f *prepFixture) run(only map[FileKey]bool) *Runner {
	f.t.Helper()
	r := f.newRunner(only)
	if err := r.Run(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	return r
}

// newRunner builds a Runner with a fresh, probed client.
func (f *prepFixture) newRunner(only map[FileKey]bool) *Runner {
	f.t.Helper()
	opts, err := f.cfg.LLMOptions(func(string) (string, bool) { return "", false }, nil, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	opts.RetryBaseDelay, opts.RetryMaxDelay = 5*time.Millisecond, 50*time.Millisecond
	client, err := llm.New(opts)
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := client.Probe(context.Background(), llm.ProbeOptions{ContextSize: f.cfg.LLM.ContextSize})
	if err != nil {
		f.t.Fatal(err)
	}
	theme, err := LoadTheme(f.ws.PromptsDir, f.cfg.Generation.Theme)
	if err != nil {
		f.t.Fatal(err)
	}
	r := &Runner{WS: f.ws, Config: f.cfg, Store: f.st, Client: client, Theme: theme, Slots: info.Slots,
		ContextSize: info.ContextSize, Model: info.Model, Only: only,
		OnEvent: func(ev Event) { f.mu.Lock(); f.events = append(f.events, ev); f.mu.Unlock() }}
	return r
}

func (f *prepFixture) samples(statuses ...string) []store.SampleSummary {
	f.t.Helper()
	var out []store.SampleSummary
	q := store.SampleQuery{Statuses: statuses, Limit: 1000}
	for {
		page, err := f.st.ListSamples(context.Background(), q)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, page.Samples...)
		if page.Next == 0 {
			return out
		}
		q.After = page.Next
	}
}

func fixtureFiles() map[string]string {
	return map[string]string{
		"cmd/server/main.go":   goSource("main", 6),
		"internal/auth/jwt.go": goSource("auth", 4),
		"deploy/Dockerfile":    "FROM golang:1.26 AS build\nWORKDIR /src\nCOPY . .\nRUN go build -o /out/server ./cmd/server\n\nFROM gcr.io/distroless/base\nCOPY --from=build /out/server /server\nENTRYPOINT [\"/server\"]\n",
		"scripts/release.sh":   "#!/bin/sh\nset -eu\nVERSION=\"$1\"\ngit tag \"v$VERSION\"\ngit push origin \"v$VERSION\"\n",
		"Makefile":             "build:\n\tgo build ./...\n\ntest:\n\tgo test ./...\n",
		"assets/logo.png":      "\x89PNG\r\n\x1a\n\x00\x00binary",
	}
}

func checkComplete(t testing.TB, f *prepFixture, wantFiles int) []store.SampleSummary {
	t.Helper()
	ctx := context.Background()
	if n, err := f.st.CountPending(ctx); err != nil || n != 0 {
		t.Errorf("pending left: %d %v", n, err)
	}
	repo, err := f.st.Repos(ctx)
	if err != nil || len(repo) != 1 {
		t.Fatal(repo, err)
	}
	hashes, _ := f.st.FileHashes(ctx, repo[0].ID)
	done := 0
	for _, h := range hashes {
		if h.Status == store.FileStatusDone {
			done++
		}
	}
	if done != wantFiles {
		t.Errorf("%d files done, want %d: %+v", done, wantFiles, hashes)
	}
	if fails, _ := f.st.Failures(ctx, 0); len(fails) != 0 {
		t.Errorf("failures: %+v", fails)
	}
	if ok, err := f.st.IntegrityCheck(ctx); ok != "ok" || err != nil {
		t.Errorf("integrity: %s %v", ok, err)
	}
	return f.samples(store.StatusActive)
}

func TestPrepareEndToEnd(t *testing.T) {
	for _, mode := range []string{llm.ModeAuto, llm.ModeOff} {
		t.Run("structured_output="+mode, func(t *testing.T) {
			f := newPrepFixture(t, fixtureFiles(), sim.Config{Slots: 4})
			f.cfg.LLM.StructuredOutput = mode
			r := f.run(nil)
			active := checkComplete(t, f, 5)
			t.Logf("%d samples from %d questions, %d requests, mode %s", len(active), r.Progress().Questions.Load(), r.Progress().Requests.Load(), r.Client.StructuredMode())
			chunks := int(r.Progress().Questions.Load()) / f.cfg.Generation.QuestionsPerChunk
			if len(active) != int(r.Progress().Answers.Load()) || len(active) < 5*f.cfg.Generation.QuestionsPerChunk || chunks < 5 {
				t.Errorf("%d active samples, %d answers, %d questions", len(active), r.Progress().Answers.Load(), r.Progress().Questions.Load())
			}
			for _, s := range active {
				full, err := f.st.Sample(context.Background(), s.ID)
				if err != nil {
					t.Fatal(err)
				}
				if full.RepoName == "" || full.FilePath == "" || full.CommitSHA == "" || full.BlobOID == "" || full.LineStart < 1 ||
					full.LineEnd < full.LineStart || full.Model == "" || full.Theme != "code" || full.PromptHash == "" ||
					len(full.Turns) != 2 || !strings.HasSuffix(strings.TrimSpace(full.Turns[0].Content), "?") || full.Turns[1].Content == "" {
					t.Fatalf("incomplete sample %+v", full)
				}
				if full.FilePath == "assets/logo.png" {
					t.Errorf("a binary file was processed")
				}
			}
		})
	}
}

func TestPrepareChangeDetection(t *testing.T) {
	f := newPrepFixture(t, fixtureFiles(), sim.Config{Slots: 4})
	f.run(nil)
	first := checkComplete(t, f, 5)
	ctx := context.Background()
	// Curate one sample of a file that will change: it must survive.
	var edited int64
	for _, s := range first {
		if s.FilePath == "scripts/release.sh" {
			edited = s.ID
			if err := f.st.EditTurn(ctx, s.ID, 1, "Tags the release and pushes the tag."); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	// Rescan with nothing changed: no request at all.
	f.sim.ResetStats()
	f.run(nil)
	if n := f.sim.Stats().Requests; n != 1 { // the structured-output probe only
		t.Errorf("unchanged rescan sent %d requests", n)
	}

	// Change 2 files, delete 1, add 1.
	if err := os.Remove(filepath.Join(f.src, "Makefile")); err != nil {
		t.Fatal(err)
	}
	commitFiles(t, f.src, map[string]string{
		"scripts/release.sh":  "#!/bin/sh\nset -eu\necho releasing \"$1\"\n",
		"deploy/Dockerfile":   "FROM alpine:3.20\nCOPY server /server\nENTRYPOINT [\"/server\"]\n",
		"internal/db/pool.go": goSource("db", 2),
	}, "change")
	sf := &scrapeFixture{ws: f.ws, st: f.st}
	if rep := sf.run(t, ScrapeOptions{Concurrency: 1}); !rep.OK() {
		t.Fatal(rep)
	}
	f.sim.ResetStats()
	r := f.run(nil)
	// 3 files, one chunk each: 3 question lists + 3×3 answers, plus the probe.
	if n := f.sim.Stats().Requests; n != int64(1+3*(1+f.cfg.Generation.QuestionsPerChunk)) {
		t.Errorf("rescan after the change sent %d requests, want %d", n, 1+3*(1+f.cfg.Generation.QuestionsPerChunk))
	}
	if r.Progress().FilesDone.Load() != 3 || r.Progress().FilesUnchanged.Load() < 2 {
		t.Errorf("done %d unchanged %d", r.Progress().FilesDone.Load(), r.Progress().FilesUnchanged.Load())
	}
	stale := map[string]int{}
	for _, s := range f.samples(store.StatusStale) {
		stale[s.FilePath]++
	}
	if stale["Makefile"] == 0 || stale["deploy/Dockerfile"] == 0 || stale["scripts/release.sh"] == 0 || stale["cmd/server/main.go"] != 0 {
		t.Errorf("stale samples by file: %v", stale)
	}
	kept, err := f.st.Sample(ctx, edited)
	if err != nil || kept.Status != store.StatusActive || kept.Turns[1].Content != "Tags the release and pushes the tag." {
		t.Errorf("the edited sample did not survive: %+v %v", kept, err)
	}
}

func TestPrepareFaultsThenRetry(t *testing.T) {
	files := fixtureFiles()
	for i := range 8 {
		files[fmt.Sprintf("pkg/p%d/p.go", i)] = goSource(fmt.Sprintf("p%d", i), 3)
	}
	f := newPrepFixture(t, files, sim.Config{Slots: 4, Seed: 7, Faults: sim.FaultConfig{Rate: 0.2, RetryAfter: 10 * time.Millisecond}})
	f.cfg.LLM.MaxRetries = 1
	f.cfg.LLM.FirstTokenTimeout, f.cfg.LLM.IdleTimeout = Duration(300*time.Millisecond), Duration(300*time.Millisecond)
	r := f.run(nil)
	ctx := context.Background()
	fails, _ := f.st.Failures(ctx, 0)
	if int64(len(fails)) != r.Progress().FilesFailed.Load() || r.Progress().FilesDone.Load()+r.Progress().FilesFailed.Load() != 13 {
		t.Fatalf("done %d failed %d (rows %d)", r.Progress().FilesDone.Load(), r.Progress().FilesFailed.Load(), len(fails))
	}
	t.Logf("with 20%% faults: %d files done, %d failed, %d requests", r.Progress().FilesDone.Load(), len(fails), r.Progress().Requests.Load())
	if len(fails) == 0 {
		t.Fatal("no file failed: the fault rate did not exercise retry")
	}
	for _, fl := range fails {
		if fl.Reason == "" {
			t.Errorf("failure without a reason: %+v", fl)
		}
	}
	// Retry with the faults off: every failed file finishes.
	f.sim.SetFaults(sim.FaultConfig{})
	only := map[FileKey]bool{}
	for _, fl := range fails {
		only[FileKey{RepoID: fl.RepoID, Path: fl.FilePath}] = true
	}
	f.run(only)
	checkComplete(t, f, 13)
}

func TestPrepareSmallContextChunks(t *testing.T) {
	f := newPrepFixture(t, map[string]string{"big/handlers.go": goSource("handlers", 60)}, sim.Config{Slots: 2, ContextSize: 1024})
	f.cfg.Generation.MaxTokens = 200
	f.cfg.Generation.QuestionsPerChunk = 2
	r := f.run(nil)
	active := checkComplete(t, f, 1)
	spans := map[string]bool{}
	for _, s := range active {
		spans[fmt.Sprintf("%d-%d", s.LineStart, s.LineEnd)] = true
	}
	if len(spans) < 5 || r.Progress().FilesFailed.Load() != 0 {
		t.Errorf("a 600-line file in a 1024-token context made %d chunks", len(spans))
	}
}

// BenchmarkPrepareUtilisation prepares 200 files against a 4-slot sim and
// reports how busy its slots were and how much of the answer prompts the
// prefix cache served.
func BenchmarkPrepareUtilisation(b *testing.B) {
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("pkg/m%03d/m.go", i)] = goSource(fmt.Sprintf("m%03d", i), 2)
	}
	b.StopTimer()
	for range b.N {
		f := newPrepFixture(b, files, sim.Config{Slots: 4, TokensPerSecond: 2000, PromptTokensPerSecond: 20000, AnswerTokens: 48})
		f.cfg.Generation.MaxTokens = 128
		f.cfg.Generation.QuestionsPerChunk = DefaultConfig().Generation.QuestionsPerChunk
		// The simulator's questions are templated: near-duplicate control
		// would drop most of them and measure a lighter workload.
		f.cfg.Generation.NearDuplicateThreshold = 0
		f.sim.ResetStats()
		b.StartTimer()
		r := f.run(nil)
		b.StopTimer()
		st := f.sim.Stats()
		b.ReportMetric(st.Utilisation, "utilisation")
		p := r.Progress()
		b.ReportMetric(float64(p.AnswerCachedTokens.Load())/float64(max(p.AnswerPromptTokens.Load(), 1)), "answer-cached-share")
		b.ReportMetric(float64(st.CachedPromptTokens)/float64(max(st.PromptTokens, 1)), "all-cached-share")
		b.ReportMetric(float64(r.Progress().FilesDone.Load()), "files")
	}
}

// BenchmarkRescanUnchanged plans a run over a repository of 50,000 files
// that were all done before: nothing may be read or sent.
func BenchmarkRescanUnchanged(b *testing.B) {
	needGit(b)
	const n = 50_000
	src := filepath.Join(b.TempDir(), "huge")
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("d%03d/f%05d.go", i%500, i)] = fmt.Sprintf("package d\n\nconst V%d = %d\n", i, i)
	}
	workRepo(b, src, files)
	f := &prepFixture{t: b, src: src}
	sf := newScrapeFixture(b, src+"\n")
	f.ws, f.st = sf.ws, sf.st
	if rep := sf.run(b, ScrapeOptions{Concurrency: 1}); !rep.OK() {
		b.Fatal(rep)
	}
	// Mark every file done at its blob, as a finished earlier run would have.
	ctx := context.Background()
	repos, _ := f.st.Repos(ctx)
	tree, err := OpenTree(repos[0].LocalPath)
	if err != nil {
		b.Fatal(err)
	}
	for _, tf := range tree.Files {
		if err := f.st.MarkFileDone(ctx, store.FileDone{RepoID: repos[0].ID, FilePath: tf.Path, BlobOID: tf.BlobOID}); err != nil {
			b.Fatal(err)
		}
	}
	f.sim = sim.New(sim.Config{})
	if _, err := f.sim.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer f.sim.Close()
	f.cfg = DefaultConfig()
	f.cfg.LLM.BaseURL = f.sim.URL()
	f.cfg.Files.MaxFilesPerRepo = n
	b.ResetTimer()
	var r *Runner
	for range b.N {
		f.sim.ResetStats()
		r = f.run(nil)
	}
	b.StopTimer()
	p := r.Progress()
	if p.FilesUnchanged.Load() != n || p.FilesRead.Load() != 0 || f.sim.Stats().Requests > 1 {
		b.Fatalf("unchanged %d, read %d, requests %d", p.FilesUnchanged.Load(), p.FilesRead.Load(), f.sim.Stats().Requests)
	}
	b.ReportMetric(float64(p.FilesRead.Load()), "files-read")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/rescan")
}

type pauseRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (p *pauseRecorder) Pause()  { p.mu.Lock(); p.calls = append(p.calls, "pause"); p.mu.Unlock() }
func (p *pauseRecorder) Resume() { p.mu.Lock(); p.calls = append(p.calls, "resume"); p.mu.Unlock() }

func TestWatchBattery(t *testing.T) {
	readings := []PowerState{
		{HasBattery: true, Percent: 50},                 // fine
		{HasBattery: true, Percent: 14},                 // below 15 while discharging: pause
		{HasBattery: true, Percent: 12},                 // still low: nothing new
		{HasBattery: true, Percent: 40, Charging: true}, // charger: resume
		{HasBattery: true, Percent: 10, Charging: true}, // low but charging: nothing
		{HasBattery: true, Percent: 10},                 // discharging again: pause
		{HasBattery: true, Percent: 95},                 // at high: resume
		{},                                              // no battery: never pauses
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var i int
	var mu sync.Mutex
	read := func() (PowerState, error) {
		mu.Lock()
		defer mu.Unlock()
		if i >= len(readings) {
			cancel()
			return PowerState{}, nil
		}
		i++
		return readings[i-1], nil
	}
	p := &pauseRecorder{}
	var notes []bool
	cfg := BatteryConfig{Enabled: true, Low: 15, High: 90, CheckInterval: Duration(time.Millisecond)}
	WatchBattery(ctx, cfg, read, p, slogDiscard(), func(_ PowerState, paused bool) { notes = append(notes, paused) })
	if got := strings.Join(p.calls, ","); got != "pause,resume,pause,resume" {
		t.Errorf("calls %s", got)
	}
	if len(notes) != 4 {
		t.Errorf("notifications %v", notes)
	}
	// Disabled: never reads, never pauses.
	p2 := &pauseRecorder{}
	WatchBattery(context.Background(), BatteryConfig{Enabled: false}, func() (PowerState, error) { t.Fatal("read"); return PowerState{}, nil }, p2, slogDiscard(), nil)
	if len(p2.calls) != 0 {
		t.Error("disabled watcher paused")
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestRunnerPauseResumeStop(t *testing.T) {
	files := map[string]string{}
	for i := range 6 {
		files[fmt.Sprintf("p%d.go", i)] = goSource(fmt.Sprintf("p%d", i), 2)
	}
	f := newPrepFixture(t, files, sim.Config{Slots: 2, TokensPerSecond: 200, AnswerTokens: 20})
	opts, _ := f.cfg.LLMOptions(func(string) (string, bool) { return "", false }, nil, nil)
	client, _ := llm.New(opts)
	info, err := client.Probe(context.Background(), llm.ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	theme, _ := LoadTheme(f.ws.PromptsDir, "code")
	r := &Runner{WS: f.ws, Config: f.cfg, Store: f.st, Client: client, Theme: theme, Slots: 2, ContextSize: info.ContextSize, Model: info.Model}
	r.Pause()
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	time.Sleep(300 * time.Millisecond)
	if n := r.Progress().Requests.Load(); n != 0 {
		t.Errorf("%d requests while paused", n)
	}
	r.Resume()
	for r.Progress().Answers.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	r.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Stop did not end the run")
	}
	if ok, _ := f.st.IntegrityCheck(context.Background()); ok != "ok" {
		t.Error(ok)
	}
	// The next run finishes what Stop left.
	f.run(nil)
	checkComplete(t, f, 6)
}

func TestPrepareReconsidersSkippedFiles(t *testing.T) {
	big := goSource("big", 40) // about 8 KiB
	f := newPrepFixture(t, map[string]string{"small.go": goSource("small", 1), "big.go": big}, sim.Config{Slots: 2})
	f.cfg.Files.MaxFileSize = 4 * KiB
	f.run(nil)
	checkComplete(t, f, 1)
	// The same blobs, a larger limit: the big file is processed now.
	f.cfg.Files.MaxFileSize = 64 * KiB
	r := f.run(nil)
	if r.Progress().FilesDone.Load() != 1 {
		t.Errorf("raising max_file_size did not bring the skipped file back: %d done", r.Progress().FilesDone.Load())
	}
	checkComplete(t, f, 2)
}

// TestWorkerPanicStopsTheRunCleanly: a panic in a worker goroutine (here
// injected before a request) stops the run with an internal error instead
// of killing the process, leaves no request counted in flight, and the
// next run finishes every file.
func TestWorkerPanicStopsTheRunCleanly(t *testing.T) {
	files := map[string]string{}
	for i := range 6 {
		files[fmt.Sprintf("p%d.go", i)] = goSource(fmt.Sprintf("p%d", i), 1)
	}
	f := newPrepFixture(t, files, sim.Config{Slots: 2})
	r := f.newRunner(nil)
	var calls atomic.Int64
	r.BeforeTask = func(repo, path string) {
		if calls.Add(1) == 3 {
			panic("injected")
		}
	}
	err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "internal error: injected") {
		t.Fatalf("Run = %v, want the internal error", err)
	}
	if n := r.Progress().InFlight.Load(); n != 0 {
		t.Errorf("%d requests still counted in flight after the run", n)
	}
	f.run(nil)
	if st, err := f.st.Stats(context.Background()); err != nil || st.FilesDone != int64(len(files)) || st.FilesFailed != 0 {
		t.Errorf("after the second run: %d files done, %d failed (%v); want %d/0", st.FilesDone, st.FilesFailed, err, len(files))
	}
	if n, _ := f.st.CountPending(context.Background()); n != 0 {
		t.Errorf("%d questions pending after the second run", n)
	}
}

// TestSameContentIsAskedAboutOnce: a file whose content (git blob) was
// already processed as another file, in this run or an earlier one, in
// the same repository or another, is skipped as duplicate_content, so the
// LLM sees each piece of content once and the dataset holds it once.
func TestSameContentIsAskedAboutOnce(t *testing.T) {
	needGit(t)
	shared := goSource("shared", 1)
	srcA := filepath.Join(t.TempDir(), "alpha")
	workRepo(t, srcA, map[string]string{"shared.go": shared, "tools/copy_of_shared.go": shared, "a.go": goSource("a", 1)})
	srcB := filepath.Join(t.TempDir(), "beta")
	workRepo(t, srcB, map[string]string{"vendor_copy/shared.go": shared, "b.go": goSource("b", 1)})
	f := &prepFixture{t: t, src: srcA}
	sf := newScrapeFixture(t, srcA+"\n"+srcB+"\n")
	f.ws, f.st = sf.ws, sf.st
	if rep := sf.run(t, ScrapeOptions{Concurrency: 1}); !rep.OK() {
		t.Fatalf("scrape: %+v", rep)
	}
	f.sim = sim.New(sim.Config{Slots: 2})
	if _, err := f.sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.sim.Close() })
	f.cfg = DefaultConfig()
	f.cfg.Generation.QuestionsPerChunk = 2
	f.cfg.Generation.NearDuplicateThreshold = 0
	f.cfg.LLM.BaseURL = f.sim.URL()

	// The first run covers alpha only: of its two copies the first in path
	// order is asked about, once.
	r := f.newRunner(nil)
	r.RepoFilter = "alpha"
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The second covers beta too: its copy matches alpha's done file.
	f.run(nil)

	ctx := context.Background()
	reasons := map[string]string{}
	repos, _ := f.st.Repos(ctx)
	for _, repo := range repos {
		hashes, err := f.st.FileHashes(ctx, repo.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hashes {
			reasons[filepath.Base(repo.Name)+"/"+h.FilePath] = h.Status + " " + h.SkipReason
		}
	}
	want := map[string]string{
		"alpha/a.go": "done ", "alpha/shared.go": "done ", "alpha/tools/copy_of_shared.go": "skipped duplicate_content",
		"beta/b.go": "done ", "beta/vendor_copy/shared.go": "skipped duplicate_content",
	}
	for k, w := range want {
		if reasons[k] != w {
			t.Errorf("%s: %q, want %q (all: %v)", k, reasons[k], w, reasons)
		}
	}
	perFile := map[string]int{}
	for _, s := range f.samples(store.StatusActive) {
		full, _ := f.st.Sample(ctx, s.ID)
		perFile[full.FilePath]++
	}
	if len(perFile) != 3 || perFile["shared.go"] != 2 {
		t.Errorf("samples per file %v: want 2 for each of shared.go, a.go and b.go only", perFile)
	}
}
