package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"cicdllm/llm/hfhub"
	"cicdllm/llm/sim"
	"cicdllm/pipeline"
	"cicdllm/pipeline/demo"
	"cicdllm/store"
	"cicdllm/ui/ptytest"
)

// TestMain lets a test run the real main() in a subprocess: the test binary
// re-executes itself with CICDLLM_TEST_MAIN=1 and behaves as cicdllm.
//
// Two more variables, read only here, inject faults into that subprocess:
// CICDLLM_TEST_PANIC=worker panics in a prepare worker before its first
// request, and CICDLLM_TEST_MAX_PAGES=N caps the database at N pages (a
// full disk).
func TestMain(m *testing.M) {
	if os.Getenv("CICDLLM_TEST_MAIN") == "1" {
		os.Args = append([]string{"cicdllm"}, os.Args[1:]...)
		a := newApp()
		if os.Getenv("CICDLLM_TEST_PANIC") == "worker" {
			a.beforeTask = func(repo, path string) { panic("injected fault in a prepare worker (" + path + ")") }
		}
		if n, err := strconv.Atoi(os.Getenv("CICDLLM_TEST_MAX_PAGES")); err == nil {
			a.maxDBPages = n
		}
		os.Exit(runMain(a))
	}
	os.Exit(m.Run())
}

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs one invocation in-process with no terminal and only the given
// environment variables (listed by environ too, so a misspelt CICDLLM_*
// variable is seen).
func runCLI(t testing.TB, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{
		stdin:     strings.NewReader(""),
		stdout:    &out,
		stderr:    &errOut,
		lookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		environ: func() []string {
			var kv []string
			for k, v := range vars {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
		interactive: func() bool { return false },
	}
	code := a.run(context.Background(), args)
	return result{code, out.String(), errOut.String()}
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel != "." {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestStatusOnEmptyFolderCreatesOnlyDataAndLog(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, nil, "--workdir", dir, "status")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{dir, "0 listed in repos.txt, 0 cloned", "Next step: Create repos.txt"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status output lacks %q:\n%s", want, r.stdout)
		}
	}
	var logs int
	for _, p := range listTree(t, dir) {
		switch {
		case p == "data" || p == "logs":
		case strings.HasPrefix(p, "data/pipeline.db"):
		case strings.HasPrefix(p, "logs/cicdllm-") && strings.HasSuffix(p, ".log"):
			logs++
		default:
			t.Errorf("status created %s", p)
		}
	}
	if logs != 1 {
		t.Errorf("want exactly one log file, got %d", logs)
	}
}

func TestGlobalFlagsBeforeOrAfterCommand(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--workdir", dir, "status"},
		{"status", "--workdir", dir},
		{"--workdir=" + dir, "--max-log-files", "2", "status", "-v"},
		{"status", "--max-log-files=2", "--workdir", dir, "--verbose"},
	} {
		r := runCLI(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, dir+"\n") {
			t.Errorf("%q: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
		}
	}
	// The same flag after the command is a config override like before it.
	r := runCLI(t, nil, "config", "show", "--workdir", dir, "--max-log-files", "7")
	if !strings.Contains(r.stdout, "max_log_files = 7") || !strings.Contains(r.stdout, "# flag --max-log-files") {
		t.Errorf("config show does not credit the flag:\n%s", r.stdout)
	}
}

func TestLogRotationKeepsMaxLogFiles(t *testing.T) {
	dir := t.TempDir()
	for range 6 {
		if r := runCLI(t, nil, "status", "--workdir", dir, "--max-log-files", "3"); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "cicdllm-*.log"))
	if len(logs) != 3 {
		t.Errorf("want 3 log files, got %d: %v", len(logs), logs)
	}
}

func TestResetRefusesWithoutYesWhenNoTerminal(t *testing.T) {
	dir := t.TempDir()
	if r := runCLI(t, nil, "status", "--workdir", dir); r.code != 0 {
		t.Fatal(r.stderr)
	}
	db := filepath.Join(dir, "data", "pipeline.db")
	r := runCLI(t, nil, "reset", "db", "--workdir", dir)
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	if !strings.Contains(r.stderr, "pass --yes to confirm") || !strings.Contains(r.stderr, "data/pipeline.db") {
		t.Errorf("message: %s", r.stderr)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("database deleted without --yes: %v", err)
	}

	r = runCLI(t, nil, "reset", "--yes", "db", "--workdir", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("database still there after reset db --yes")
	}
}

func TestResetAllDeletesOnlyWorkspaceData(t *testing.T) {
	dir := t.TempDir()
	if r := runCLI(t, nil, "status", "--workdir", dir); r.code != 0 {
		t.Fatal(r.stderr)
	}
	mustWrite(t, filepath.Join(dir, "repos", "github.com", "o", "r.git", "HEAD"), "ref: refs/heads/main\n")
	mustWrite(t, filepath.Join(dir, "repos.txt"), "https://github.com/o/r\n")
	mustWrite(t, filepath.Join(dir, "logs", "notes.txt"), "mine")
	r := runCLI(t, nil, "reset", "all", "--yes", "--workdir", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := listTree(t, dir)
	want := []string{"data", "data/cicdllm.lock", "logs", "logs/notes.txt", "repos.txt"}
	// This run's own log survives reset logs.
	var kept []string
	for _, p := range got {
		if strings.HasPrefix(p, "logs/cicdllm-") {
			continue
		}
		// The lock file stays by design: deleting it would race another process.
		if strings.HasPrefix(p, "data/") && p != "data/cicdllm.lock" {
			t.Errorf("left %s", p)
			continue
		}
		kept = append(kept, p)
	}
	if strings.Join(kept, ",") != strings.Join(want, ",") {
		t.Errorf("after reset all: %v, want %v", kept, want)
	}
}

func TestResetRefusesDataDirOutsideWorkspace(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if r := runCLI(t, nil, "status", "--workdir", dir, "--data-dir", outside); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCLI(t, nil, "reset", "db", "--yes", "--workdir", dir, "--data-dir", outside)
	if r.code != 2 || !strings.Contains(r.stderr, "outside the workspace") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(outside, "pipeline.db")); err != nil {
		t.Errorf("database outside the workspace was touched: %v", err)
	}
}

func TestSecondWriterGetsLockError(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "data", "pipeline.db"), store.Options{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := runCLI(t, nil, "reset", "db", "--yes", "--workdir", dir)
	if r.code != 3 {
		t.Errorf("exit %d, want 3: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "another cicdllm") || !strings.Contains(r.stderr, "pid") {
		t.Errorf("message does not name the holder: %s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "pipeline.db")); err != nil {
		t.Errorf("database deleted while locked: %v", err)
	}
	// Readers are not blocked by the writer.
	if r := runCLI(t, nil, "status", "--workdir", dir); r.code != 0 {
		t.Errorf("status while locked: exit %d: %s", r.code, r.stderr)
	}
}

func TestTUIWithoutTerminalPointsToTheSubcommands(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, nil, "--workdir", dir, "tui")
	if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
		!strings.Contains(r.stderr, "needs a terminal") || !strings.Contains(r.stderr, "cicdllm scrape, prepare, export") {
		t.Errorf("tui without a terminal: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestDemoHeadlessWritesADataset is the README's first command without a
// terminal: scrape, prepare and export against the built-in simulator.
func TestDemoHeadlessWritesADataset(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	r := runCLI(t, nil, "demo", "--dir", dir)
	if r.code != 0 {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	out := filepath.Join(dir, "exports", "demo-chatml.jsonl")
	for _, want := range []string{"SIMULATED LLM", "$ cicdllm prepare", "dataset: " + out} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 10 {
		t.Fatalf("the demo dataset has %d records", len(lines))
	}
	for i, l := range lines {
		var rec struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil || len(rec.Messages) < 2 || rec.Messages[len(rec.Messages)-1].Role != "assistant" {
			t.Fatalf("record %d: %v: %s", i+1, err, l)
		}
	}
	// Running it again into the same folder is refused without harm.
	if r := runCLI(t, nil, "demo", "--dir", dir); r.code != 2 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("demo into a used folder: exit %d, %s", r.code, r.stderr)
	}
}

func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	a := &app{}
	for _, c := range a.commands() {
		for _, args := range [][]string{{c.name, "-h"}, {"help", c.name}} {
			r := runCLI(t, nil, args...)
			if r.code != 0 {
				t.Errorf("%q: exit %d %s", args, r.code, r.stderr)
			}
			for _, want := range []string{"Usage: cicdllm " + c.name, "Examples:", "--workdir"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("%q help lacks %q:\n%s", args, want, r.stdout)
				}
			}
		}
	}
	r := runCLI(t, nil, "help")
	if r.code != 0 || !strings.Contains(r.stdout, "Commands:") || !strings.Contains(r.stdout, "reset") {
		t.Errorf("help: %d %s", r.code, r.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "Usage:"}, // no arguments and no terminal: usage on stderr
		{[]string{"stauts"}, `unknown command "stauts" (did you mean "status"?)`},
		{[]string{"status", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"stats", "--format", "xml", "--workdir", os.TempDir()}, `--format "xml" is not supported; use table or json`},
		{[]string{"reset", "everything", "--workdir", os.TempDir()}, `unknown reset target "everything"`},
		{[]string{"config"}, "config needs one of show, validate, init"},
		{[]string{"status", "--workdir", "/nonexistent/cicdllm"}, "does not exist; create it or pass another --workdir"},
	}
	for _, tc := range cases {
		r := runCLI(t, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestConfigInitValidateShow(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, nil, "config", "init", "--workdir", dir)
	if r.code != 0 {
		t.Fatalf("init: %d %s", r.code, r.stderr)
	}
	path := filepath.Join(dir, "cicdllm.toml")
	data, err := os.ReadFile(path)
	if err != nil || !bytes.Contains(data, []byte("base_url = \"http://127.0.0.1:8080\"")) {
		t.Fatalf("init wrote %q, %v", data, err)
	}
	if r := runCLI(t, nil, "config", "init", "--workdir", dir); r.code != 2 || !strings.Contains(r.stderr, "already exists; pass --force") {
		t.Errorf("second init: %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, nil, "config", "validate", "--workdir", dir); r.code != 0 || !strings.Contains(r.stdout, "configuration is valid: "+path) {
		t.Errorf("validate: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// A broken file: validate lists every problem with file:line; init --force repairs it.
	mustWrite(t, path, "[llm]\nconcurrency = 999\nbackend = \"gpt\"\n[generation]\ntemprature = 1\n")
	r = runCLI(t, nil, "config", "validate", "--workdir", dir)
	if r.code != 2 {
		t.Errorf("validate broken: exit %d", r.code)
	}
	for _, want := range []string{path + ":2: llm.concurrency", path + ":3: llm.backend", path + ":5: generation.temprature: unknown key"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("validate output lacks %q:\n%s", want, r.stderr)
		}
	}
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; n != 3 {
		t.Errorf("want 3 problem lines, got %d:\n%s", n, r.stderr)
	}
	if r := runCLI(t, nil, "status", "--workdir", dir); r.code != 2 {
		t.Errorf("status with a broken config: exit %d, want 2", r.code)
	}
	if r := runCLI(t, nil, "config", "init", "--force", "--workdir", dir); r.code != 0 {
		t.Errorf("init --force over a broken file: %d %s", r.code, r.stderr)
	}

	r = runCLI(t, map[string]string{"CICDLLM_LLM_MODEL": "qwen2.5-coder"}, "config", "show", "--workdir", dir)
	for _, want := range []string{`model = "qwen2.5-coder"`, "# env CICDLLM_LLM_MODEL", "# file cicdllm.toml:", "# config file: " + path} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	// show and validate create nothing in the workspace.
	if got := listTree(t, dir); len(got) != 1 || got[0] != "cicdllm.toml" {
		t.Errorf("config commands created files: %v", got)
	}
}

func TestStatsTableAndJSON(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, nil, "stats", "--workdir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "Samples per repository") {
		t.Fatalf("stats: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "stats", "--format", "json", "--workdir", dir)
	for _, want := range []string{`"repositories": []`, `"quality_distribution": []`, `"failed_files": []`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stats json lacks %s:\n%s", want, r.stdout)
		}
	}
}

func TestRealBinaryExitCodes(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (int, string) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "CICDLLM_TEST_MAIN=1")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := run("--workdir", dir, "status"); code != 0 || !strings.Contains(out, "Next step") {
		t.Errorf("status: %d %s", code, out)
	}
	if code, out := run("mlx"); code != 2 || !strings.Contains(out, "mlx needs a subcommand") {
		t.Errorf("mlx: %d %s", code, out)
	}
	// No LLM server: one line saying so, with the command that starts one.
	mustWrite(t, filepath.Join(dir, "cicdllm.toml"), "[llm]\nbase_url = \"http://127.0.0.1:1\"\n")
	if code, out := run("--workdir", dir, "prepare"); code != 1 || !strings.Contains(out, "cannot reach the LLM server at http://127.0.0.1:1") || !strings.Contains(out, "llama-server -m") {
		t.Errorf("prepare without a server: %d %s", code, out)
	}
	if code, out := run("version"); code != 0 || !strings.HasPrefix(out, "cicdllm ") {
		t.Errorf("version: %d %s", code, out)
	}
}

func mustWrite(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSimCommandServesUntilCancelled(t *testing.T) {
	pr, pw := io.Pipe()
	a := &app{
		stdin: strings.NewReader(""), stdout: pw, stderr: io.Discard,
		lookupEnv: func(string) (string, bool) { return "", false }, environ: func() []string { return nil },
		interactive: func() bool { return false },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() { code <- a.run(ctx, []string{"sim", "--addr", "127.0.0.1:0", "--slots", "2"}); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := strings.Fields(strings.TrimPrefix(line, "LLM simulator listening on "))[0]
	resp, err := http.Get(url + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	}
	resp.Body.Close()
	go io.Copy(io.Discard, pr)
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit %d", c)
	}
	if r := runCLI(t, nil, "help"); strings.Contains(r.stdout, "  sim ") {
		t.Error("the hidden sim command is listed in help")
	}
}

// localRepo makes a git repository with one commit using go-git.
func localRepo(t *testing.T, dir string) {
	t.Helper()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "deploy.sh"), "#!/bin/sh\necho deploy\n")
	wt, _ := repo.Worktree()
	if _, err := wt.Add("deploy.sh"); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Commit("init", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}}); err != nil {
		t.Fatal(err)
	}
}

func TestScrapeCommand(t *testing.T) {
	dir := t.TempDir()
	if r := runCLI(t, nil, "scrape", "--workdir", dir); r.code != 2 || !strings.Contains(r.stderr, "no repos.txt") {
		t.Errorf("without repos.txt: %d %s", r.code, r.stderr)
	}
	local := filepath.Join(t.TempDir(), "infra")
	localRepo(t, local)
	mustWrite(t, filepath.Join(dir, "repos.txt"), "# ours\n"+local+"\n")

	r := runCLI(t, nil, "scrape", "--dry-run", "--workdir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "read in place") || !strings.Contains(r.stdout, "dry run") {
		t.Errorf("dry run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "scrape", "--workdir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "local local/infra") || !strings.Contains(r.stdout, "1 repository ready") {
		t.Errorf("scrape: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Error("escape codes in output without a terminal")
	}
	if r := runCLI(t, nil, "status", "--workdir", dir); !strings.Contains(r.stdout, "1 cloned") {
		t.Errorf("status after scrape: %s", r.stdout)
	}

	// A rejected line is reported with its number, and the exit code says so.
	mustWrite(t, filepath.Join(dir, "repos.txt"), local+"\n--upload-pack=touch /tmp/x\n")
	r = runCLI(t, nil, "scrape", "--workdir", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "repos.txt:2: rejected") || !strings.Contains(r.stderr, "1 line of repos.txt rejected") {
		t.Errorf("rejected line: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestPrepareSurvivesKills SIGKILLs a `cicdllm prepare` subprocess at 10
// random moments, then lets it finish: every file ends done, no question is
// duplicated, nothing is left pending and the database is intact.
func TestPrepareSurvivesKills(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "svc")
	repo, err := git.PlainInit(src, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	for i := range 12 {
		name := fmt.Sprintf("pkg/f%02d.go", i)
		var body strings.Builder
		fmt.Fprintf(&body, "package pkg\n\n// Worker%d processes jobs.\nfunc Worker%d(jobs []string) int {\n\tn := 0\n\tfor range jobs {\n\t\tn++\n\t}\n\treturn n\n}\n", i, i)
		mustWrite(t, filepath.Join(src, name), body.String())
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := wt.Commit("init", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	s := sim.New(sim.Config{Slots: 4, TokensPerSecond: 400, AnswerTokens: 40})
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustWrite(t, filepath.Join(dir, "repos.txt"), src+"\n")
	// Near-duplicate control off: every question must come back as a
	// sample, so a lost or doubled one shows in the count.
	mustWrite(t, filepath.Join(dir, "cicdllm.toml"), "[llm]\nbase_url = \""+url+"\"\n[generation]\nquestions_per_chunk = 3\nmax_tokens = 96\nnear_duplicate_threshold = 0\n[battery]\nenabled = false\n")
	if r := runCLI(t, nil, "scrape", "--workdir", dir); r.code != 0 {
		t.Fatalf("scrape: %s %s", r.stdout, r.stderr)
	}
	prepare := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "--workdir", dir, "prepare")
		cmd.Env = append(os.Environ(), "CICDLLM_TEST_MAIN=1")
		return cmd
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 10 {
		cmd := prepare()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(700)) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Logf("kill %d done", i+1)
	}
	out, err := prepare().CombinedOutput()
	if err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}

	st := openIntact(t, dir, "after the kills and a final run")
	ctx := context.Background()
	if n, _ := st.CountPending(ctx); n != 0 {
		t.Errorf("%d pending samples after completion", n)
	}
	stats, _ := st.Stats(ctx)
	if stats.FilesDone != 12 || stats.FilesFailed != 0 {
		t.Errorf("files done %d failed %d, want 12/0", stats.FilesDone, stats.FilesFailed)
	}
	if n := uniqueSamples(t, st); n < 12*3 {
		t.Errorf("%d samples for 12 files × 3 questions", n)
	}
}

// TestPrepareCtrlC interrupts prepare: it stops after the requests in
// flight with exit code 130, the database is intact, and the next run
// finishes the rest.
func TestPrepareCtrlC(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT for child processes on Windows")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "svc")
	localRepo(t, src)
	repo, _ := git.PlainOpen(src)
	wt, _ := repo.Worktree()
	for i := range 8 {
		name := fmt.Sprintf("m%d.go", i)
		mustWrite(t, filepath.Join(src, name), fmt.Sprintf("package m\n\n// F%d doubles n.\nfunc F%d(n int) int { return n * 2 }\n", i, i))
		_, _ = wt.Add(name)
	}
	_, _ = wt.Commit("more", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}})
	s := sim.New(sim.Config{Slots: 2, TokensPerSecond: 100, AnswerTokens: 40})
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustWrite(t, filepath.Join(dir, "repos.txt"), src+"\n")
	mustWrite(t, filepath.Join(dir, "cicdllm.toml"), "[llm]\nbase_url = \""+url+"\"\n[generation]\nquestions_per_chunk = 2\nmax_tokens = 64\n[battery]\nenabled = false\n")
	if r := runCLI(t, nil, "scrape", "--workdir", dir); r.code != 0 {
		t.Fatal(r.stderr)
	}
	cmd := exec.Command(os.Args[0], "--workdir", dir, "prepare")
	cmd.Env = append(os.Environ(), "CICDLLM_TEST_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "stopping after the requests in flight") || !strings.Contains(out.String(), "run the same command again to resume") {
		t.Errorf("output:\n%s", out.String())
	}
	openIntact(t, dir, "after Ctrl-C").Close()
	r := runCLI(t, nil, "prepare", "--workdir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "0 failed") {
		t.Errorf("resume: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestPrepareDryRunAndPrompts(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "infra")
	localRepo(t, src)
	mustWrite(t, filepath.Join(dir, "repos.txt"), src+"\n")
	if r := runCLI(t, nil, "scrape", "--workdir", dir); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCLI(t, nil, "prepare", "--dry-run", "--workdir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "deploy.sh") || !strings.Contains(r.stdout, "dry run: no LLM was called") {
		t.Errorf("dry run: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, nil, "prompts", "export", "devops", "--workdir", dir); r.code != 0 || !strings.Contains(r.stdout, "prompts/devops/question_user.txt") {
		t.Errorf("export: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, nil, "prompts", "export", "devops", "--workdir", dir); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("second export: %d %s", r.code, r.stderr)
	}
	// A custom theme that never shows the model the code is refused.
	mustWrite(t, filepath.Join(dir, "prompts", "devops", "answer_user.txt"), "Question: {{.Question}}\n")
	r = runCLI(t, nil, "prepare", "--dry-run", "--theme", "devops", "--workdir", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "never uses {{.Code}}") {
		t.Errorf("bad theme: %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, nil, "prompts", "list", "--workdir", dir); !strings.Contains(r.stdout, "code (built in)") || !strings.Contains(r.stdout, "devops (prompts/devops)") {
		t.Errorf("list: %s", r.stdout)
	}
}

// TestExportKillLeavesOldOrNew kills `cicdllm export --force` at random
// moments: the target always holds a complete old or complete new export,
// never part of one, and a normal run afterwards leaves no temporary file.
func TestExportKillLeavesOldOrNew(t *testing.T) {
	dir := t.TempDir()
	fillAnswered(t, filepath.Join(dir, "data", "pipeline.db"), "github.com/a/b", 30_000)
	target := filepath.Join(dir, "out", "dataset.jsonl")
	if r := runCLI(t, nil, "export", "--workdir", dir, "--template", "chatml-jsonl", "--output-file", target); r.code != 0 {
		t.Fatalf("export: %s %s", r.stdout, r.stderr)
	}
	old, _ := os.ReadFile(target)
	ref := filepath.Join(dir, "ref.jsonl")
	if r := runCLI(t, nil, "export", "--workdir", dir, "--template", "alpaca-jsonl", "--output-file", ref); r.code != 0 {
		t.Fatal(r.stderr)
	}
	newer, _ := os.ReadFile(ref)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 8 {
		cmd := exec.Command(os.Args[0], "--workdir", dir, "export", "--force", "--template", "alpaca-jsonl", "--output-file", target)
		cmd.Env = append(os.Environ(), "CICDLLM_TEST_MAIN=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(400)) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		got, err := os.ReadFile(target)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err == nil && !bytes.Equal(got, old) && !bytes.Equal(got, newer) {
			t.Fatalf("kill %d left a partial export (%d bytes; old %d, new %d)", i+1, len(got), len(old), len(newer))
		}
		if bytes.Equal(got, newer) {
			old = newer // the new export landed; later kills keep it or replace it with itself
		}
	}
	if r := runCLI(t, nil, "export", "--workdir", dir, "--force", "--template", "alpaca-jsonl", "--output-file", target); r.code != 0 {
		t.Fatal(r.stderr)
	}
	entries, _ := os.ReadDir(filepath.Dir(target))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"ATTRIBUTION.md", filepath.Base(target)}; !slices.Equal(names, want) {
		t.Errorf("after a normal run the directory holds %v, want %v", names, want)
	}
	if r := runCLI(t, nil, "export", "--workdir", dir, "--template", "alpaca-jsonl", "--output-file", target); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("overwrite without --force: %d %s", r.code, r.stderr)
	}
}

func TestProgressLine(t *testing.T) {
	var s pipeline.Snapshot
	s.FilesPlanned.Store(40)
	s.FilesDone.Store(9)
	s.FilesFailed.Store(1)
	s.Answers.Store(120)
	s.InFlight.Store(4)
	s.CompletionTokens.Store(12000)
	got := progressLine(&s, 4, 100*time.Second)
	want := "files 10/40 (1 failed) · 120 answers · 4/4 in flight · 120 tok/s · 1m40s · ETA 5m0s"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	s.FilesDone.Store(0)
	s.FilesFailed.Store(0)
	if got := progressLine(&s, 4, time.Second); !strings.HasSuffix(got, "ETA …") {
		t.Errorf("no estimate before the first file: %q", got)
	}
}

// ttyOutput collects what a program writes to its terminal.
type ttyOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *ttyOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *ttyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitOutput waits until out contains want; the deadline only guards
// against a hang.
func waitOutput(t *testing.T, out *ttyOutput, want string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			tail := out.String()
			if len(tail) > 3000 {
				tail = tail[len(tail)-3000:]
			}
			t.Fatalf("the terminal never showed %q; last output:\n%q", want, tail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDemoInATerminalShowsTheDashboardStreaming runs `cicdllm demo` on a
// pseudo-terminal, as a user would: the dashboard appears labelled as
// simulated, text streams in, q asks to confirm and y stops gracefully,
// restoring the terminal.
func TestDemoInATerminalShowsTheDashboardStreaming(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(os.Args[0], "demo", "--dir", dir)
	cmd.Env = urEnv("TERM=xterm-256color")
	master, err := ptytest.Start(cmd, 120, 40)
	if errors.Is(err, ptytest.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	out := &ttyOutput{}
	go func() { _, _ = io.Copy(out, master) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()

	waitOutput(t, out, "SIMULATED LLM")
	waitOutput(t, out, "answering")
	// Streaming: the screen keeps changing while answers are generated.
	before := len(out.String())
	waitOutput(t, out, "tok/s")
	deadline := time.Now().Add(30 * time.Second)
	for len(out.String()) < before+4096 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(out.String()) < before+4096 {
		t.Fatal("the dashboard stopped updating while the demo generates")
	}
	if _, err := master.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "Stop it gracefully and quit?")
	if _, err := master.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo exited with %v; output tail %q", err, out.String()[max(0, len(out.String())-2000):])
		}
	case <-time.After(90 * time.Second):
		t.Fatal("demo did not exit after q, y")
	}
	if !strings.Contains(out.String(), "\x1b[?1049l") {
		t.Error("the alternate screen was not left: terminal not restored")
	}
	// What was answered is in the database and nothing is left half-done
	// beyond what the next run resumes.
	st := openIntact(t, dir, "after the demo")
	if n, err := st.CountSamples(context.Background(), store.SampleQuery{Statuses: []string{store.StatusActive}}); err != nil || n == 0 {
		t.Errorf("active samples after the demo: %d, %v", n, err)
	}
}

// fakeHub serves one model the way the Hugging Face Hub does: model info
// with blob ids, and resolve URLs answering HEAD and GET with the commit
// and the ETag (git SHA-1 for small files, SHA-256 for LFS files).
func fakeHub(t *testing.T, id string) *httptest.Server {
	t.Helper()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	header := []byte(`{"model.embed.weight":{"dtype":"F16","shape":[16,8],"data_offsets":[0,256]}}`)
	st := make([]byte, 8, 8+len(header)+256)
	binary.LittleEndian.PutUint64(st, uint64(len(header)))
	st = append(append(st, header...), make([]byte, 256)...)
	files := map[string][]byte{
		"config.json":           []byte(`{"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","max_position_embeddings":32768}`),
		"tokenizer_config.json": []byte(`{"model_max_length":32768}`),
		"model.safetensors":     st,
	}
	etag := func(name string) string {
		if strings.HasSuffix(name, ".safetensors") {
			return fmt.Sprintf("%x", sha256.Sum256(files[name]))
		}
		h := sha1.New()
		fmt.Fprintf(h, "blob %d\x00", len(files[name]))
		h.Write(files[name])
		return fmt.Sprintf("%x", h.Sum(nil))
	}
	mux := http.NewServeMux()
	info := func(w http.ResponseWriter, r *http.Request) {
		var sib []map[string]any
		for name, data := range files {
			s := map[string]any{"rfilename": name, "size": len(data), "blobId": etag(name)}
			if strings.HasSuffix(name, ".safetensors") {
				s["lfs"] = map[string]any{"sha256": etag(name), "size": len(data), "pointerSize": 130}
			}
			sib = append(sib, s)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "sha": commit, "siblings": sib})
	}
	mux.HandleFunc("/api/models/"+id, info)
	mux.HandleFunc("/api/models/"+id+"/revision/main", info)
	mux.HandleFunc("/"+id+"/resolve/", func(w http.ResponseWriter, r *http.Request) {
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"+id+"/resolve/"), "/", 2)
		data, ok := files[parts[len(parts)-1]]
		if len(parts) != 2 || !ok {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("X-Repo-Commit", commit)
		w.Header().Set("ETag", `"`+etag(parts[1])+`"`)
		http.ServeContent(w, r, parts[1], time.Time{}, bytes.NewReader(data))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestMLXCommandsOnACache downloads a model from a fake Hub into a cache
// folder, then lists, inspects and removes it, as a user would.
func TestMLXCommandsOnACache(t *testing.T) {
	id := "mlx-community/Tiny-Coder-4bit"
	hub := fakeHub(t, id)
	cache := filepath.Join(t.TempDir(), "hub")
	env := map[string]string{"HF_HUB_CACHE": cache, "HF_ENDPOINT": hub.URL, "HOME": t.TempDir()}

	if r := runCLI(t, env, "mlx", "list"); r.code != 0 || !strings.Contains(r.stdout, "no MLX models in "+cache) {
		t.Fatalf("list on an empty cache: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r := runCLI(t, env, "mlx", "download", id)
	if r.code != 0 || !strings.Contains(r.stdout, "downloaded "+id+" at 0123456789ab: 3 files") {
		t.Fatalf("download: %d %q %q", r.code, r.stdout, r.stderr)
	}
	dir := filepath.Join(cache, "models--mlx-community--Tiny-Coder-4bit")
	if ref, err := os.ReadFile(filepath.Join(dir, "refs", "main")); err != nil || string(ref) != "0123456789abcdef0123456789abcdef01234567" {
		t.Errorf("refs/main = %q, %v", ref, err)
	}
	r = runCLI(t, env, "mlx", "list", "--json")
	var listed struct {
		Models []struct {
			ID    string `json:"id"`
			Files int    `json:"files"`
			MLX   bool   `json:"mlx"`
		} `json:"models"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || len(listed.Models) != 1 || listed.Models[0].ID != id ||
		listed.Models[0].Files != 3 || !listed.Models[0].MLX {
		t.Fatalf("list --json: %v %s", err, r.stdout)
	}
	r = runCLI(t, env, "mlx", "info", id)
	for _, want := range []string{"Cached", "yes", "Qwen2ForCausalLM", "32768 tokens", "Parameters"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("info lacks %q:\n%s", want, r.stdout)
		}
	}
	// Without a terminal remove needs --yes, and deletes nothing without it.
	if r := runCLI(t, env, "mlx", "remove", id); r.code != 2 || !strings.Contains(r.stderr, "pass --yes") {
		t.Errorf("remove without --yes: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal("remove without --yes deleted the model")
	}
	if r := runCLI(t, env, "mlx", "remove", id, "--yes"); r.code != 0 || !strings.Contains(r.stdout, "removed "+id) {
		t.Errorf("remove --yes: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the model folder is still there: %v", err)
	}
	if r := runCLI(t, env, "mlx", "info", "../etc"); r.code != 2 {
		t.Errorf("a bad model id: %d %q", r.code, r.stderr)
	}
}

func TestDownloadLineRateCountsOnlyFetchedBytes(t *testing.T) {
	line := downloadLine(hfhub.Progress{Done: 600 << 20, Total: 1000 << 20, Fetched: 100 << 20, FilesDone: 1, FilesTotal: 3}, 10*time.Second)
	for _, want := range []string{"600.0 MiB / 1000.0 MiB (60%)", "10.0 MiB/s", "ETA 40s", "1/3 files"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
}

// simWorkspace makes the demo workspace (the embedded sample repository)
// against a simulator with cfg and runs the given commands in it.
func simWorkspace(t *testing.T, cfg sim.Config, commands ...string) string {
	t.Helper()
	s := sim.New(cfg)
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	dir := filepath.Join(t.TempDir(), "ws")
	if err := demo.Create(dir, url); err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		if r := runCLI(t, nil, "--workdir", dir, c); r.code != 0 {
			t.Fatalf("%s: %d %s", c, r.code, r.stderr)
		}
	}
	return dir
}

// TestScoreThenExportByScore: score fills a judge score for every active
// sample (keeping a human rating), a second run has nothing left, and
// export --min-score picks exactly the samples at or above it.
func TestScoreThenExportByScore(t *testing.T) {
	dir := simWorkspace(t, sim.Config{Slots: 2}, "scrape", "prepare")
	st, err := store.Open(context.Background(), filepath.Join(dir, "data", "pipeline.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	page, err := st.ListSamples(ctx, store.SampleQuery{Statuses: []string{store.StatusActive}, Limit: 1000})
	if err != nil || len(page.Samples) == 0 {
		t.Fatal(err, len(page.Samples))
	}
	rated := page.Samples[0].ID
	if err := st.RateSample(ctx, rated, 2); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "--workdir", dir, "score")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("scored %d samples", len(page.Samples))) {
		t.Fatalf("score: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, nil, "--workdir", dir, "score"); r.code != 0 || !strings.Contains(r.stdout, "scored 0 samples") {
		t.Fatalf("second score: %d %q %q", r.code, r.stdout, r.stderr)
	}
	threshold := 3.5
	want := 0
	for _, sm := range page.Samples {
		full, err := st.Sample(ctx, sm.ID)
		if err != nil || full.Score == nil || *full.Score < 1 || *full.Score > 5 {
			t.Fatalf("sample %d: score %v, %v", sm.ID, full.Score, err)
		}
		if sm.ID == rated && full.HumanRating != 2 {
			t.Errorf("the human rating changed to %d", full.HumanRating)
		}
		// A human rating counts before the judge's score.
		effective := *full.Score
		if full.HumanRating > 0 {
			effective = float64(full.HumanRating)
		}
		if effective >= threshold {
			want++
		}
	}
	out := filepath.Join(t.TempDir(), "scored.jsonl")
	r = runCLI(t, nil, "--workdir", dir, "export", "--min-score", "3.5", "--dedup", "off", "--output-file", out)
	if r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(out)
	if got := len(strings.Split(strings.TrimSpace(string(data)), "\n")); strings.TrimSpace(string(data)) == "" && want != 0 || got != want && want > 0 {
		t.Errorf("export --min-score 3.5 wrote %d records, want %d", got, want)
	}
}

func TestPrepareWithGenerationScoreScoresNewSamples(t *testing.T) {
	dir := simWorkspace(t, sim.Config{Slots: 2}, "scrape")
	r := runCLI(t, map[string]string{"CICDLLM_GENERATION_SCORE": "true"}, "--workdir", dir, "prepare")
	if r.code != 0 || !strings.Contains(r.stdout, "scored ") {
		t.Fatalf("prepare with generation.score: %d %q %q", r.code, r.stdout, r.stderr)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "data", "pipeline.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids, err := st.UnscoredSamples(context.Background(), 0, 100, false)
	if err != nil || len(ids) != 0 {
		t.Errorf("%d samples left unscored after prepare with generation.score (%v)", len(ids), err)
	}
}

// TestScoreSurvivesKills: `score` killed at random moments loses at most
// the judgements in flight; re-runs finish the rest, and every active
// sample ends with one score and consistent metadata.
func TestScoreSurvivesKills(t *testing.T) {
	dir := simWorkspace(t, sim.Config{Slots: 2, TokensPerSecond: 300}, "scrape", "prepare")
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5 {
		cmd := exec.Command(os.Args[0], "--workdir", dir, "score")
		cmd.Env = append(os.Environ(), "CICDLLM_TEST_MAIN=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	if r := runCLI(t, nil, "--workdir", dir, "score"); r.code != 0 {
		t.Fatalf("final score: %d %s %s", r.code, r.stdout, r.stderr)
	}
	st := openIntact(t, dir, "after the score kills and a final run")
	if ids, err := st.UnscoredSamples(context.Background(), 0, 1000, false); err != nil || len(ids) != 0 {
		t.Errorf("%d samples unscored after the kills and a final run (%v)", len(ids), err)
	}
}

// TestVersionStampsAndBuildInfo: -ldflags stamps win over the build info,
// and without them `go install module@version` and a build in a clone
// still say which version, commit and date they are.
func TestVersionStampsAndBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "cicdllm", Version: "v0.3.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-11-20T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		name                 string
		version, commit, day string
		bi                   *debug.BuildInfo
		want                 []string
	}{
		{"build info", "", "", "", bi, []string{"cicdllm v0.3.0, commit 0123456789ab-dirty, committed 2026-11-20T10:00:00Z, go"}},
		{"stamps", "v1.0.0", "fedcba9876543210", "2026-11-25T01:00:00Z", bi, []string{"cicdllm v1.0.0, commit fedcba987654, built 2026-11-25T01:00:00Z, go"}},
		{"nothing known", "", "", "", nil, []string{"cicdllm (devel), go"}},
	} {
		got := describeBuild(c.version, c.commit, c.day, c.bi)
		for _, w := range c.want {
			if !strings.HasPrefix(got, w) || !strings.HasSuffix(got, runtime.GOOS+"/"+runtime.GOARCH) {
				t.Errorf("%s: %q, want prefix %q", c.name, got, w)
			}
		}
	}
	// The real binary built by `go build -ldflags -X` prints the stamps.
	if testing.Short() {
		return
	}
	bin := filepath.Join(t.TempDir(), "cicdllm")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X main.version=v9.9.9 -X main.commit=abcdef1234567890 -X main.date=2026-11-25T00:00:00Z", ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "cicdllm v9.9.9, commit abcdef123456, built 2026-11-25T00:00:00Z, go") {
		t.Errorf("stamped binary: %q %v", out, err)
	}
}

// TestStatusExpandsTildeLikeScrape: status reads repos.txt with the same
// HOME as scrape, so a ~/ line is counted the same way by both.
func TestStatusExpandsTildeLikeScrape(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	localRepo(t, filepath.Join(home, "src", "infra"))
	mustWrite(t, filepath.Join(dir, "repos.txt"), "~/src/infra\n")
	vars := map[string]string{"HOME": home}
	if r := runCLI(t, vars, "status", "--workdir", dir); r.code != 0 || !strings.Contains(r.stdout, "1 listed in repos.txt, 0 cloned") {
		t.Errorf("status: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, vars, "scrape", "--workdir", dir); r.code != 0 || !strings.Contains(r.stdout, "1 repository ready") {
		t.Errorf("scrape: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestPrepareSummarySaysWhySkipped: the summary names each skip reason
// with its count, most frequent first.
func TestPrepareSummarySaysWhySkipped(t *testing.T) {
	s := sim.New(sim.Config{Slots: 2})
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src := filepath.Join(t.TempDir(), "svc")
	localRepo(t, src)
	repo, _ := git.PlainOpen(src)
	wt, _ := repo.Worktree()
	for name, body := range map[string]string{"package-lock.json": "{}\n", "yarn.lock": "# lock\n", "empty.txt": "", "logo.png": "\x89PNG\r\n\x1a\n\x00\x00"} {
		mustWrite(t, filepath.Join(src, name), body)
		_, _ = wt.Add(name)
	}
	_, _ = wt.Commit("more", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}})
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "repos.txt"), src+"\n")
	mustWrite(t, filepath.Join(dir, "cicdllm.toml"), "[llm]\nbase_url = \""+url+"\"\n[battery]\nenabled = false\n")
	if r := runCLI(t, nil, "scrape", "--workdir", dir); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCLI(t, nil, "prepare", "--workdir", dir)
	if r.code != 0 || !regexp.MustCompile(`(?m)^skipped: lock_file 2, \w+ 1, \w+ 1$`).MatchString(r.stdout) {
		t.Errorf("prepare: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// openIntact opens the workspace's database, as the product does, and
// reports it if the integrity check (tables, foreign keys, FTS) fails. The
// store closes when the test ends; closing it earlier is fine.
func openIntact(t testing.TB, dir, when string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dir, "data", "pipeline.db"), store.Options{})
	if err != nil {
		t.Fatalf("%s: open the database: %v", when, err)
	}
	t.Cleanup(func() { st.Close() })
	if msg, err := st.IntegrityCheck(context.Background()); msg != "ok" || err != nil {
		t.Errorf("%s: integrity: %q %v", when, msg, err)
	}
	return st
}

// uniqueSamples walks every sample and reports any that is not active or
// repeats a question for the same file chunk; it returns how many it saw.
func uniqueSamples(t testing.TB, st *store.Store) int {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	q := store.SampleQuery{Limit: 1000}
	for {
		page, err := st.ListSamples(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range page.Samples {
			full, err := st.Sample(ctx, sm.ID)
			if err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("%d|%s|%d|%s", full.RepoID, full.FilePath, full.ChunkIndex, store.QuestionHash(sm.Question))
			if seen[key] {
				t.Errorf("duplicate sample: %s", key)
			}
			seen[key] = true
			if sm.Status != store.StatusActive {
				t.Errorf("sample %d is %s", sm.ID, sm.Status)
			}
		}
		if page.Next == 0 {
			return len(seen)
		}
		q.After = page.Next
	}
}
