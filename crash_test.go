package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"cicdllm/llm/sim"
	"cicdllm/store"
)

// TestCrashSuite SIGKILLs `prepare`, `retry`, `score` and `export`
// subprocesses at random moments against the simulator, and after every
// kill checks what reliability.md §4.5 promises: the database passes
// integrity_check (tables, foreign keys and the FTS index), no answered
// sample or judge score that was committed is lost or changed, nothing is
// duplicated or orphaned, and an export target is the old file or the new
// one, never part of one. After the kills each command runs to completion:
// nothing is left pending and every file is done or failed with a reason.
// Two variants fill the database (PRAGMA max_page_count) in the middle of
// retry and of score: one clear error, no corruption, and the next run
// resumes.
//
// It makes 20 kills; CICDLLM_CRASH_N=200 makes 200 (the nightly mode in
// docs/BENCHMARKS.md).
func TestCrashSuite(t *testing.T) {
	t.Parallel() // mostly waiting on subprocesses and the simulator
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	kills := 20
	if v := os.Getenv("CICDLLM_CRASH_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 4 {
			t.Fatalf("CICDLLM_CRASH_N=%q: want a number of kills, at least 4", v)
		}
		kills = n
	}
	perPrepare, perRetry, perScore := kills*3/10, kills/5, kills/4
	perExport := kills - perPrepare - perRetry - perScore
	seed := uint64(time.Now().UnixNano())
	t.Logf("%d kills (prepare %d, retry %d, score %d, export %d), seed %d", kills, perPrepare, perRetry, perScore, perExport, seed)
	rng := rand.New(rand.NewPCG(seed, 11))

	s := sim.New(sim.Config{Slots: 4, TokensPerSecond: 400, AnswerTokens: 40, Seed: int64(seed % 1000)})
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	dir := t.TempDir()
	served := goFilesRepo(t, "served", 4*perPrepare+8)
	flaky := goFilesRepo(t, "flaky", 3*perRetry+6)
	mustWrite(t, filepath.Join(dir, "repos.txt"), served+"\n"+flaky+"\n")
	mustWrite(t, filepath.Join(dir, "cicdllm.toml"), "[llm]\nbase_url = \""+url+"\"\n"+
		"[generation]\nquestions_per_chunk = 3\nmax_tokens = 96\nnear_duplicate_threshold = 0\n[battery]\nenabled = false\n")
	if r := runCLI(t, nil, "scrape", "--workdir", dir); r.code != 0 {
		t.Fatalf("scrape: %s %s", r.stdout, r.stderr)
	}
	db := filepath.Join(dir, "data", "pipeline.db")
	state := crashState{}

	// Kill, check, repeat; then run to the end and check again.
	phase := func(name string, n int, maxDelay time.Duration, args ...string) {
		t.Helper()
		for i := range n {
			out := crashKill(t, dir, time.Duration(20+rng.IntN(int(maxDelay/time.Millisecond)))*time.Millisecond, nil, args...)
			state = crashCheck(t, db, state, fmt.Sprintf("%s kill %d/%d", name, i+1, n), out)
		}
		code, out := crashRun(t, dir, nil, args...)
		if code != 0 {
			t.Fatalf("%s to completion: exit %d\n%s", name, code, out)
		}
		state = crashCheck(t, db, state, name+" to completion", out)
	}

	// prepare, killed while it answers the served repository.
	phase("prepare", perPrepare, 900*time.Millisecond, "prepare", "--repo", "served")

	// The flaky repository fails every file (the server answers nothing),
	// so retry has work.
	s.SetFaults(sim.FaultConfig{Rate: 1, Kinds: []sim.Fault{sim.FaultEmpty}})
	if code, out := crashRun(t, dir, nil, "prepare", "--repo", "flaky"); code != 1 || !strings.Contains(out, "failed") {
		t.Fatalf("prepare against an empty-answering server: exit %d, want 1\n%s", code, out)
	}
	s.SetFaults(sim.FaultConfig{})
	state = crashCheck(t, db, state, "flaky prepare", "")
	if state.failed == 0 {
		t.Fatal("no file failed against an empty-answering server; retry would have nothing to do")
	}

	// Database full in the middle of retry: a clean error, nothing broken.
	pages := crashPageCount(t, db)
	code, out := crashRun(t, dir, []string{"CICDLLM_TEST_MAX_PAGES=" + strconv.Itoa(pages+6)}, "retry")
	if code != 1 || !strings.Contains(out, "database is full") {
		t.Fatalf("retry with a full database: exit %d, want 1 with \"database is full\"\n%s", code, out)
	}
	state = crashCheck(t, db, state, "retry with a full database", out)
	t.Logf("retry with a full database, exit %d:\n%s", code, tailLines(out, 3))

	phase("retry", perRetry, 900*time.Millisecond, "retry")
	if state.failed != 0 || state.pending != 0 {
		t.Fatalf("after retry: %d failed files, %d pending samples", state.failed, state.pending)
	}

	// Database full in the middle of score: it stops at the first verdict
	// it cannot keep, says so, and breaks nothing.
	pages = crashPageCount(t, db)
	code, out = crashRun(t, dir, []string{"CICDLLM_TEST_MAX_PAGES=" + strconv.Itoa(pages+2)}, "score")
	if code != 1 || !strings.Contains(out, "database is full") {
		t.Fatalf("score with a full database: exit %d, want 1 with \"database is full\"\n%s", code, out)
	}
	state = crashCheck(t, db, state, "score with a full database", out)
	t.Logf("score with a full database, exit %d:\n%s", code, tailLines(out, 2))

	phase("score", perScore, 700*time.Millisecond, "score")
	if state.unscored != 0 {
		t.Fatalf("after score: %d active samples without a score", state.unscored)
	}

	// export: bulk it up so that killing it can land while it writes.
	fillAnswered(t, db, "github.com/bulk/export", 20_000)
	target := filepath.Join(dir, "out", "dataset.jsonl")
	if code, out := crashRun(t, dir, nil, "export", "--template", "chatml-jsonl", "--dedup", "off", "--output-file", target); code != 0 {
		t.Fatalf("first export: %d %s", code, out)
	}
	ref := filepath.Join(dir, "ref", "dataset.jsonl")
	if code, out := crashRun(t, dir, nil, "export", "--template", "alpaca-jsonl", "--dedup", "off", "--output-file", ref); code != 0 {
		t.Fatalf("reference export: %d %s", code, out)
	}
	old, _ := os.ReadFile(target)
	newer, _ := os.ReadFile(ref)
	if bytes.Equal(old, newer) || len(newer) == 0 {
		t.Fatal("the old and new exports must differ for the check to mean anything")
	}
	for i := range perExport {
		crashKill(t, dir, time.Duration(20+rng.IntN(500))*time.Millisecond, nil,
			"export", "--force", "--template", "alpaca-jsonl", "--dedup", "off", "--output-file", target)
		got, err := os.ReadFile(target)
		if err != nil {
			t.Fatalf("export kill %d/%d: the target is gone: %v", i+1, perExport, err)
		}
		switch {
		case bytes.Equal(got, newer):
			old = newer
		case !bytes.Equal(got, old):
			t.Fatalf("export kill %d/%d left a partial file (%d bytes; old %d, new %d)", i+1, perExport, len(got), len(old), len(newer))
		}
		state = crashCheck(t, db, state, fmt.Sprintf("export kill %d/%d", i+1, perExport), "")
	}
	if code, out := crashRun(t, dir, nil, "export", "--force", "--template", "alpaca-jsonl", "--dedup", "off", "--output-file", target); code != 0 {
		t.Fatalf("export to completion: %d %s", code, out)
	}
	if got, _ := os.ReadFile(target); !bytes.Equal(got, newer) {
		t.Error("the completed export differs from a never-killed export with the same flags")
	}
	entries, _ := os.ReadDir(filepath.Dir(target))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left beside the export: %s", e.Name())
		}
	}
	t.Logf("final: %d answered samples, %d scored, %d files done; %d simulator requests", len(state.answers), len(state.scores), state.done, s.Stats().Requests)
}

// goFilesRepo commits n small, distinct Go files under pkg/ to a new
// repository called name and returns its path.
func goFilesRepo(t testing.TB, name string, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		mustWrite(t, filepath.Join(dir, fmt.Sprintf("pkg/%s%04d.go", name, i)), fmt.Sprintf(
			"package pkg\n\n// %sWorker%d counts the jobs of batch %d that are not empty.\nfunc %sWorker%d(jobs []string) int {\n\tn := 0\n\tfor _, j := range jobs {\n\t\tif j != \"\" {\n\t\t\tn++\n\t\t}\n\t}\n\treturn n + %d\n}\n",
			name, i, i, name, i, i))
	}
	wt, _ := repo.Worktree()
	if err := wt.AddGlob("pkg"); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Commit("init", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func crashCommand(dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"--workdir", dir}, args...)...)
	cmd.Env = append(append(os.Environ(), "CICDLLM_TEST_MAIN=1"), env...)
	return cmd
}

// crashRun runs one command to its end and returns its exit code and output.
func crashRun(t *testing.T, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	out, err := crashCommand(dir, env, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	default:
		t.Fatalf("%v: %v", args, err)
		return 0, ""
	}
}

// crashKill starts a command, SIGKILLs it after delay (if it is still
// running) and returns what it printed.
func crashKill(t *testing.T, dir string, delay time.Duration, env []string, args ...string) string {
	t.Helper()
	cmd := crashCommand(dir, env, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return out.String()
}

// crashState is what one check saw; the next check must see all of it
// again (committed work is never lost or rewritten).
type crashState struct {
	answers  map[int64][32]byte // active sample → hash of its turns
	scores   map[int64]float64
	pending  int
	unscored int
	done     int
	failed   int
}

// crashCheck opens the database the way the product does (integrity,
// foreign keys and FTS through store.IntegrityCheck), then reads it
// directly to compare with the previous state.
func crashCheck(t *testing.T, db string, prev crashState, when, output string) crashState {
	t.Helper()
	ctx := context.Background()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("after %s: %s\ncommand output:\n%s", when, fmt.Sprintf(format, args...), output)
	}
	st, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		fail("open: %v", err)
	}
	ok, err := st.IntegrityCheck(ctx)
	st.Close()
	if err != nil || ok != "ok" {
		fail("integrity check: %s %v", ok, err)
	}

	conn, err := sqlite.OpenConn(db, sqlite.OpenReadOnly)
	if err != nil {
		fail("open read-only: %v", err)
	}
	defer conn.Close()
	count := func(query string) int {
		n := 0
		err := sqlitex.ExecuteTransient(conn, query, &sqlitex.ExecOptions{ResultFunc: func(stmt *sqlite.Stmt) error {
			n = stmt.ColumnInt(0)
			return nil
		}})
		if err != nil {
			fail("%s: %v", query, err)
		}
		return n
	}
	for what, query := range map[string]string{
		"duplicate questions": `SELECT count(*) FROM (SELECT 1 FROM TrainingSamples WHERE status IN ('pending','active')
			GROUP BY repo_id, file_path, blob_oid, question_hash HAVING count(*) > 1)`,
		"answered samples without an answer": `SELECT count(*) FROM TrainingSamples s WHERE status = 'active'
			AND NOT EXISTS (SELECT 1 FROM ConversationTurns WHERE sample_id = s.sample_id AND role = 'assistant')`,
		"pending samples with an answer": `SELECT count(*) FROM TrainingSamples s WHERE status = 'pending'
			AND EXISTS (SELECT 1 FROM ConversationTurns WHERE sample_id = s.sample_id AND role = 'assistant')`,
		"samples without their question": `SELECT count(*) FROM TrainingSamples s WHERE status IN ('pending','active')
			AND NOT EXISTS (SELECT 1 FROM ConversationTurns WHERE sample_id = s.sample_id AND role = 'user')`,
		"files marked done with questions pending": `SELECT count(*) FROM FileHashes f JOIN TrainingSamples s
			ON s.repo_id = f.repo_id AND s.file_path = f.file_path AND s.blob_oid = f.blob_oid
			WHERE f.status = 'done' AND s.status = 'pending'`,
		"failures without a reason":        `SELECT count(*) FROM FailedFiles WHERE trim(COALESCE(reason, '')) = ''`,
		"files failed for a full database": `SELECT count(*) FROM FailedFiles WHERE reason LIKE '%full%'`,
	} {
		if n := count(query); n != 0 {
			fail("%d %s", n, what)
		}
	}

	cur := crashState{answers: map[int64][32]byte{}, scores: map[int64]float64{}}
	turns := map[int64]*bytes.Buffer{}
	err = sqlitex.ExecuteTransient(conn, `SELECT t.sample_id, t.turn_index, t.role, t.content FROM ConversationTurns t
		JOIN TrainingSamples s USING (sample_id) WHERE s.status = 'active' ORDER BY t.sample_id, t.turn_index`,
		&sqlitex.ExecOptions{ResultFunc: func(stmt *sqlite.Stmt) error {
			id := stmt.ColumnInt64(0)
			if turns[id] == nil {
				turns[id] = &bytes.Buffer{}
			}
			fmt.Fprintf(turns[id], "%d|%s|%s\x00", stmt.ColumnInt(1), stmt.ColumnText(2), stmt.ColumnText(3))
			return nil
		}})
	if err != nil {
		fail("read turns: %v", err)
	}
	for id, b := range turns {
		cur.answers[id] = sha256.Sum256(b.Bytes())
	}
	err = sqlitex.ExecuteTransient(conn, `SELECT sample_id, sample_quality_score FROM TrainingSamples
		WHERE status = 'active' AND sample_quality_score IS NOT NULL`, &sqlitex.ExecOptions{ResultFunc: func(stmt *sqlite.Stmt) error {
		cur.scores[stmt.ColumnInt64(0)] = stmt.ColumnFloat(1)
		return nil
	}})
	if err != nil {
		fail("read scores: %v", err)
	}
	for id, h := range prev.answers {
		got, ok := cur.answers[id]
		switch {
		case !ok:
			fail("answered sample %d is gone", id)
		case got != h:
			fail("answered sample %d changed", id)
		}
	}
	for id, sc := range prev.scores {
		if got, ok := cur.scores[id]; !ok || got != sc {
			fail("sample %d had judge score %v, now %v (present %v)", id, sc, got, ok)
		}
	}
	cur.pending = count(`SELECT count(*) FROM TrainingSamples WHERE status = 'pending'`)
	cur.unscored = count(`SELECT count(*) FROM TrainingSamples WHERE status = 'active' AND sample_quality_score IS NULL`)
	cur.done = count(`SELECT count(*) FROM FileHashes WHERE status = 'done'`)
	cur.failed = count(`SELECT count(*) FROM FailedFiles`)
	return cur
}

func crashPageCount(t *testing.T, db string) int {
	t.Helper()
	conn, err := sqlite.OpenConn(db, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := 0
	err = sqlitex.ExecuteTransient(conn, "PRAGMA page_count;", &sqlitex.ExecOptions{ResultFunc: func(stmt *sqlite.Stmt) error {
		n = stmt.ColumnInt(0)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fillAnswered adds n answered samples of the repository named name to the
// database at db, so an export takes long enough to be killed while it
// writes.
func fillAnswered(t *testing.T, db, name string, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repo, err := st.UpsertRepo(ctx, store.Repo{URL: "https://" + name, Name: name, HeadCommit: "c0ffee"})
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < n; start += 1000 {
		var qs []store.NewQuestion
		for i := start; i < min(start+1000, n); i++ {
			qs = append(qs, store.NewQuestion{RepoID: repo, FilePath: fmt.Sprintf("f%d.go", i/10), BlobOID: "b", ChunkIndex: i % 10,
				Question: fmt.Sprintf("What does function %d return when its input is empty?", i)})
		}
		ids, err := st.InsertPendingQuestions(ctx, qs)
		if err != nil {
			t.Fatal(err)
		}
		var as []store.Answer
		for _, id := range ids {
			as = append(as, store.Answer{SampleID: id, Content: strings.Repeat("It returns an empty slice and a nil error. ", 6)})
		}
		if err := st.StoreAnswers(ctx, as); err != nil {
			t.Fatal(err)
		}
	}
}
