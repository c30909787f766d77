package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
)

func mustRepo(t testing.TB, s *Store, name string) int64 {
	t.Helper()
	id, err := s.UpsertRepo(t.Context(), Repo{URL: "https://" + name + ".git", Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRepos(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	scraped := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := Repo{
		URL: "https://github.com/b/b.git", Name: "github.com/b/b", LocalPath: "/tmp/b",
		HeadCommit: "abc", DefaultBranch: "main", License: "MIT", LastScraped: scraped,
	}
	id, err := s.UpsertRepo(ctx, r)
	if err != nil || id == 0 {
		t.Fatalf("UpsertRepo = %d, %v", id, err)
	}
	idA := mustRepo(t, s, "github.com/a/a")

	// Same URL: same id, fields replaced.
	r.HeadCommit, r.License, r.LastScraped = "def", "Apache-2.0", time.Time{}
	id2, err := s.UpsertRepo(ctx, r)
	if err != nil || id2 != id {
		t.Fatalf("second UpsertRepo = %d, %v; want %d", id2, err, id)
	}
	got, err := s.RepoByName(ctx, "github.com/b/b")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.URL != r.URL || got.LocalPath != "/tmp/b" || got.HeadCommit != "def" ||
		got.DefaultBranch != "main" || got.License != "Apache-2.0" || !got.LastScraped.IsZero() {
		t.Errorf("RepoByName = %+v", got)
	}
	if got.CreatedAt.IsZero() || time.Since(got.CreatedAt) > time.Hour || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want about now in UTC", got.CreatedAt)
	}

	r.LastScraped = scraped
	if _, err := s.UpsertRepo(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.RepoByName(ctx, r.Name); !got.LastScraped.Equal(scraped) {
		t.Errorf("LastScraped = %v, want %v", got.LastScraped, scraped)
	}

	if err := s.SetRepoError(ctx, id, "clone failed: 404"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.RepoByName(ctx, r.Name); got.LastError != "clone failed: 404" {
		t.Errorf("LastError = %q", got.LastError)
	}
	if err := s.SetRepoError(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.RepoByName(ctx, r.Name); got.LastError != "" {
		t.Errorf("LastError not cleared: %q", got.LastError)
	}
	if err := s.SetRepoError(ctx, 9999, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetRepoError on a missing repo = %v, want ErrNotFound", err)
	}

	repos, err := s.Repos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 2 || repos[0].ID != idA || repos[1].ID != id {
		t.Errorf("Repos not ordered by name: %+v", repos)
	}
	if _, err := s.RepoByName(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RepoByName(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.UpsertRepo(ctx, Repo{URL: "https://other", Name: "github.com/a/a"}); err == nil ||
		!strings.Contains(err.Error(), "already named") {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := s.UpsertRepo(ctx, Repo{URL: "", Name: "x"}); err == nil {
		t.Error("UpsertRepo without URL succeeded")
	}
}

func question(repo int64, path string, chunk int, q string) NewQuestion {
	return NewQuestion{
		RepoID: repo, FilePath: path, CommitSHA: "c1", BlobOID: "blob1", ChunkIndex: chunk,
		LineStart: chunk*10 + 1, LineEnd: chunk*10 + 10, Question: q,
		Model: "qwen", Theme: "api", PromptHash: "ph", ParamsJSON: `{"t":0.2}`,
	}
}

func TestQuestionsAndAnswers(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	repo := mustRepo(t, s, "github.com/o/r")

	q1 := question(repo, "main.go", 0, "What does main do?")
	q1.System = "You are a Go expert."
	q2 := question(repo, "main.go", 1, "Why is init avoided?")
	ids, err := s.InsertPendingQuestions(ctx, []NewQuestion{q1, q2})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] == 0 || ids[1] == 0 || ids[0] == ids[1] {
		t.Fatalf("ids = %v", ids)
	}

	// Same question (modulo case and whitespace) again, plus a new one.
	dup := q1
	dup.Question = "  what   DOES main do? "
	q3 := question(repo, "util.go", 0, "What is util for?")
	ids2, err := s.InsertPendingQuestions(ctx, []NewQuestion{dup, q3, dup})
	if err != nil {
		t.Fatal(err)
	}
	if ids2[0] != ids[0] || ids2[2] != ids[0] || ids2[1] == 0 || ids2[1] == ids[0] {
		t.Fatalf("re-insert ids = %v, want [%d new %d]", ids2, ids[0], ids[0])
	}
	if n := rawInt(t, s, "SELECT count(*) FROM TrainingSamples;"); n != 3 {
		t.Errorf("samples = %d, want 3 (duplicates must not be inserted)", n)
	}

	if n, err := s.CountPending(ctx); err != nil || n != 3 {
		t.Errorf("CountPending = %d, %v; want 3", n, err)
	}
	pending, err := s.PendingQuestions(ctx, repo, "main.go")
	if err != nil {
		t.Fatal(err)
	}
	want := []PendingQuestion{
		{SampleID: ids[0], RepoID: repo, FilePath: "main.go", CommitSHA: "c1", BlobOID: "blob1",
			ChunkIndex: 0, LineStart: 1, LineEnd: 10, System: "You are a Go expert.",
			Question: "What does main do?", Model: "qwen", Theme: "api", PromptHash: "ph", ParamsJSON: `{"t":0.2}`},
		{SampleID: ids[1], RepoID: repo, FilePath: "main.go", CommitSHA: "c1", BlobOID: "blob1",
			ChunkIndex: 1, LineStart: 11, LineEnd: 20,
			Question: "Why is init avoided?", Model: "qwen", Theme: "api", PromptHash: "ph", ParamsJSON: `{"t":0.2}`},
	}
	if !reflect.DeepEqual(pending, want) {
		t.Errorf("PendingQuestions =\n%+v\nwant\n%+v", pending, want)
	}
	if all, _ := s.PendingQuestions(ctx, 0, ""); len(all) != 3 {
		t.Errorf("PendingQuestions(all) = %d, want 3", len(all))
	}
	if all, _ := s.PendingQuestions(ctx, repo, ""); len(all) != 3 {
		t.Errorf("PendingQuestions(repo) = %d, want 3", len(all))
	}

	sm, err := s.Sample(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if sm.Status != StatusPending || sm.DatasetSource != "repo_file:github.com/o/r/main.go" ||
		sm.RepoName != "github.com/o/r" || len(sm.Turns) != 2 ||
		sm.Turns[0].Role != "system" || sm.Turns[1].Role != "user" || sm.Turns[1].Index != 1 {
		t.Errorf("pending sample = %+v", sm)
	}
	var qhash, modelType string
	rawExec(t, s, "SELECT question_hash, model_type_intended FROM TrainingSamples WHERE sample_id = ?;",
		func(stmt *sqlite.Stmt) error {
			qhash, modelType = stmt.ColumnText(0), stmt.ColumnText(1)
			return nil
		}, ids[0])
	if qhash != QuestionHash("what does main do?") || len(qhash) != 64 || modelType != "Instruct" {
		t.Errorf("question_hash = %q, model_type_intended = %q", qhash, modelType)
	}

	// Answers: empty is an error, twice is a no-op.
	if err := s.StoreAnswer(ctx, Answer{SampleID: ids[0], Content: "  "}); err == nil {
		t.Error("empty answer accepted")
	}
	a := Answer{SampleID: ids[0], Content: "It starts the program.", Truncated: true, MetadataJSON: `{"finish":"length"}`}
	if err := s.StoreAnswer(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.Content = "A different second answer."
	if err := s.StoreAnswer(ctx, a); err != nil {
		t.Fatalf("second StoreAnswer: %v", err)
	}
	sm, _ = s.Sample(ctx, ids[0])
	if sm.Status != StatusActive || !sm.Truncated || len(sm.Turns) != 3 {
		t.Fatalf("answered sample = %+v", sm)
	}
	if last := sm.Turns[2]; last.Role != "assistant" || !last.IsLabel || last.Index != 2 ||
		last.Content != "It starts the program." || last.MetadataJSON != `{"finish":"length"}` {
		t.Errorf("assistant turn = %+v", last)
	}
	if n := rawInt(t, s, "SELECT count(*) FROM ConversationTurns WHERE sample_id = ? AND role = 'assistant';", ids[0]); n != 1 {
		t.Errorf("assistant turns = %d, want 1", n)
	}
	if err := s.StoreAnswers(ctx, []Answer{
		{SampleID: ids[1], Content: "Because globals hurt tests."},
		{SampleID: ids2[1], Content: "Helpers."},
		{SampleID: ids[1], Content: "duplicate in batch"},
	}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountPending(ctx); n != 0 {
		t.Errorf("CountPending after answers = %d", n)
	}
	if n := rawInt(t, s, "SELECT count(*) FROM ConversationTurns WHERE sample_id = ? AND role = 'assistant';", ids[1]); n != 1 {
		t.Errorf("assistant turns for a sample answered twice in one batch = %d, want 1", n)
	}
	if err := s.StoreAnswer(ctx, Answer{SampleID: 424242, Content: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("answer for a missing sample = %v, want ErrNotFound", err)
	}

	if _, err := s.InsertPendingQuestions(ctx, []NewQuestion{question(999, "x.go", 0, "q")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("question for a missing repo = %v, want ErrNotFound", err)
	}
	if _, err := s.InsertPendingQuestions(ctx, []NewQuestion{question(repo, "x.go", 0, " ")}); err == nil {
		t.Error("empty question accepted")
	}
	if _, err := s.Sample(ctx, 424242); !errors.Is(err, ErrNotFound) {
		t.Errorf("Sample(missing) = %v, want ErrNotFound", err)
	}
	// A failed batch must leave nothing behind.
	before := rawInt(t, s, "SELECT count(*) FROM TrainingSamples;")
	if _, err := s.InsertPendingQuestions(ctx, []NewQuestion{question(repo, "y.go", 0, "ok"), question(999, "y.go", 1, "bad")}); err == nil {
		t.Fatal("batch with a missing repo succeeded")
	}
	if after := rawInt(t, s, "SELECT count(*) FROM TrainingSamples;"); after != before {
		t.Errorf("failed batch left %d rows", after-before)
	}
}

func TestFilesAndFailures(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	repo := mustRepo(t, s, "github.com/o/r")

	ids, err := s.InsertPendingQuestions(ctx, []NewQuestion{question(repo, "a.go", 0, "q?")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordFailure(ctx, repo, "a.go", "timeout"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordFailure(ctx, repo, "a.go", "model crashed"); err != nil {
		t.Fatal(err)
	}
	fails, err := s.Failures(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(fails) != 1 || fails[0].Attempts != 2 || fails[0].Reason != "model crashed" ||
		fails[0].RepoName != "github.com/o/r" || fails[0].FilePath != "a.go" || fails[0].FailedAt.IsZero() {
		t.Fatalf("Failures = %+v", fails)
	}
	if err := s.RecordFailure(ctx, 999, "a.go", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordFailure for a missing repo = %v, want ErrNotFound", err)
	}

	done := FileDone{RepoID: repo, FilePath: "a.go", ContentHash: "sha", BlobOID: "blob1"}
	if err := s.MarkFileDone(ctx, done); !errors.Is(err, ErrPendingRemain) {
		t.Fatalf("MarkFileDone with pending = %v, want ErrPendingRemain", err)
	}
	if _, ok, _ := s.FileState(ctx, repo, "a.go"); ok {
		t.Error("MarkFileDone with pending recorded the file")
	}
	if f, _ := s.Failures(ctx, 0); len(f) != 1 {
		t.Error("MarkFileDone with pending cleared the failure")
	}

	if err := s.StoreAnswer(ctx, Answer{SampleID: ids[0], Content: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFileDone(ctx, done); err != nil {
		t.Fatal(err)
	}
	fh, ok, err := s.FileState(ctx, repo, "a.go")
	if err != nil || !ok {
		t.Fatalf("FileState = %v, %v", ok, err)
	}
	if fh.Status != FileStatusDone || fh.ContentHash != "sha" || fh.BlobOID != "blob1" || fh.LastProcessed.IsZero() || fh.RepoID != repo {
		t.Errorf("FileState = %+v", fh)
	}
	if f, _ := s.Failures(ctx, 0); len(f) != 0 {
		t.Errorf("failure not cleared by MarkFileDone: %+v", f)
	}
	if _, ok, _ := s.FileState(ctx, repo, "missing.go"); ok {
		t.Error("FileState reports an unknown file")
	}

	if err := s.MarkFileSkipped(ctx, repo, "big.bin", "blob9", "binary"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFileGone(ctx, repo, "old.go"); err != nil {
		t.Fatal(err)
	}
	files, err := s.FileHashes(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 || files[0].FilePath != "a.go" || files[1].FilePath != "big.bin" ||
		files[1].Status != FileStatusSkipped || files[1].SkipReason != "binary" || files[1].BlobOID != "blob9" ||
		files[2].Status != FileStatusGone {
		t.Errorf("FileHashes = %+v", files)
	}
	// Done again with a new version replaces the row.
	done.BlobOID, done.ContentHash = "blob2", "sha2"
	if err := s.MarkFileDone(ctx, done); err != nil {
		t.Fatal(err)
	}
	if fh, _, _ := s.FileState(ctx, repo, "a.go"); fh.BlobOID != "blob2" || fh.ContentHash != "sha2" {
		t.Errorf("FileState after second done = %+v", fh)
	}

	for _, p := range []string{"b.go", "c.go", "d.go"} {
		if err := s.RecordFailure(ctx, repo, p, "boom "+p); err != nil {
			t.Fatal(err)
		}
	}
	fails, _ = s.Failures(ctx, 2)
	if len(fails) != 2 || fails[0].FilePath != "d.go" || fails[1].FilePath != "c.go" {
		t.Errorf("Failures(2) not newest first: %+v", fails)
	}
	if err := s.ClearFailure(ctx, repo, "d.go"); err != nil {
		t.Fatal(err)
	}
	if fails, _ := s.Failures(ctx, -1); len(fails) != 2 {
		t.Errorf("Failures after clear = %+v", fails)
	}
}

func TestMarkStaleSparesCuratedWork(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	repo := mustRepo(t, s, "github.com/o/r")

	var qs []NewQuestion
	for i := range 6 {
		qs = append(qs, question(repo, "f.go", i, "question "+string(rune('a'+i))))
	}
	keep := question(repo, "f.go", 0, "current version")
	keep.BlobOID = "blob2"
	other := question(repo, "g.go", 0, "other file")
	ids, err := s.InsertPendingQuestions(ctx, append(qs, keep, other))
	if err != nil {
		t.Fatal(err)
	}
	// 0 pending, 1 active, 2 edited, 3 rated, 4 deleted (was active), 5 scored.
	for _, id := range ids[1:6] {
		if err := s.StoreAnswer(ctx, Answer{SampleID: id, Content: "answer"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.EditTurn(ctx, ids[2], 1, "better answer"); err != nil {
		t.Fatal(err)
	}
	if err := s.RateSample(ctx, ids[3], 4); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSample(ctx, ids[4]); err != nil {
		t.Fatal(err)
	}
	if err := s.SetScore(ctx, ids[5], 3.5); err != nil {
		t.Fatal(err)
	}

	n, err := s.MarkStale(ctx, repo, "f.go", "blob2")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("MarkStale = %d, want 3 (pending, active, scored)", n)
	}
	wantStatus := []string{StatusStale, StatusStale, StatusActive, StatusActive, StatusDeleted, StatusStale, StatusPending, StatusPending}
	for i, id := range ids {
		sm, err := s.Sample(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sm.Status != wantStatus[i] {
			t.Errorf("sample %d (#%d) status = %s, want %s", id, i, sm.Status, wantStatus[i])
		}
	}
	// The deleted sample was not current either: restoring gives stale.
	if err := s.RestoreSample(ctx, ids[4]); err != nil {
		t.Fatal(err)
	}
	if sm, _ := s.Sample(ctx, ids[4]); sm.Status != StatusStale {
		t.Errorf("restored old-version sample status = %s, want stale", sm.Status)
	}

	// A stale question no longer blocks regenerating the same one.
	again, err := s.InsertPendingQuestions(ctx, []NewQuestion{qs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if again[0] == ids[0] {
		t.Error("re-inserting a stale question returned the stale sample")
	}

	// File gone: every uncurated current sample goes stale.
	n, err = s.MarkStale(ctx, repo, "f.go", "")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 { // keep (blob2) and the regenerated one
		t.Errorf("MarkStale(gone) = %d, want 2", n)
	}
	if sm, _ := s.Sample(ctx, ids[7]); sm.Status != StatusPending {
		t.Errorf("other file's sample touched: %s", sm.Status)
	}
}

func TestCuration(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	repo := mustRepo(t, s, "github.com/o/r")
	ids, err := s.InsertPendingQuestions(ctx, []NewQuestion{question(repo, "a.go", 0, "Q one")})
	if err != nil {
		t.Fatal(err)
	}
	id := ids[0]
	if err := s.StoreAnswer(ctx, Answer{SampleID: id, Content: "A one"}); err != nil {
		t.Fatal(err)
	}
	// updated_at has one-second resolution; backdate it so a change shows.
	backdate := func() {
		rawExec(t, s, "UPDATE TrainingSamples SET updated_at = '2000-01-01 00:00:00' WHERE sample_id = ?;", nil, id)
	}
	touched := func(what string) {
		t.Helper()
		sm, err := s.Sample(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sm.UpdatedAt.Year() == 2000 {
			t.Errorf("%s did not update updated_at", what)
		}
		backdate()
	}
	backdate()

	// Edit twice, undo twice.
	if err := s.EditTurn(ctx, id, 1, "A two"); err != nil {
		t.Fatal(err)
	}
	touched("EditTurn")
	if err := s.EditTurn(ctx, id, 0, "Q two"); err != nil {
		t.Fatal(err)
	}
	sm, _ := s.Sample(ctx, id)
	if sm.Turns[0].Content != "Q two" || sm.Turns[1].Content != "A two" || sm.EditedAt.IsZero() {
		t.Fatalf("after edits: %+v", sm)
	}
	if n := rawInt(t, s, "SELECT count(*) FROM TurnEdits;"); n != 2 {
		t.Errorf("TurnEdits rows = %d, want 2", n)
	}
	var oldC, newC string
	rawExec(t, s, "SELECT old_content, new_content FROM TurnEdits ORDER BY edit_id LIMIT 1;", func(stmt *sqlite.Stmt) error {
		oldC, newC = stmt.ColumnText(0), stmt.ColumnText(1)
		return nil
	})
	if oldC != "A one" || newC != "A two" {
		t.Errorf("first edit recorded %q -> %q", oldC, newC)
	}
	if err := s.EditTurn(ctx, id, 9, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("EditTurn on a missing turn = %v, want ErrNotFound", err)
	}
	if err := s.EditTurn(ctx, 999, 0, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("EditTurn on a missing sample = %v, want ErrNotFound", err)
	}
	if err := s.EditTurn(ctx, id, 0, ""); err == nil {
		t.Error("EditTurn accepted empty text")
	}

	backdate()
	if ok, err := s.UndoEdit(ctx, id); !ok || err != nil {
		t.Fatalf("UndoEdit = %v, %v", ok, err)
	}
	touched("UndoEdit")
	sm, _ = s.Sample(ctx, id)
	if sm.Turns[0].Content != "Q one" || sm.Turns[1].Content != "A two" || sm.EditedAt.IsZero() {
		t.Errorf("after one undo: %+v", sm)
	}
	if ok, err := s.UndoEdit(ctx, id); !ok || err != nil {
		t.Fatalf("second UndoEdit = %v, %v", ok, err)
	}
	sm, _ = s.Sample(ctx, id)
	if sm.Turns[1].Content != "A one" || !sm.EditedAt.IsZero() {
		t.Errorf("after undoing everything: %+v (EditedAt must be cleared)", sm)
	}
	if ok, err := s.UndoEdit(ctx, id); ok || err != nil {
		t.Errorf("UndoEdit with no history = %v, %v; want false, nil", ok, err)
	}
	if _, err := s.UndoEdit(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("UndoEdit(missing) = %v", err)
	}

	// Rating.
	if err := s.RateSample(ctx, id, 5); err != nil {
		t.Fatal(err)
	}
	touched("RateSample")
	if sm, _ := s.Sample(ctx, id); sm.HumanRating != 5 {
		t.Errorf("HumanRating = %d", sm.HumanRating)
	}
	err = s.RateSample(ctx, id, 6)
	if err == nil || !strings.Contains(err.Error(), "1 to 5") {
		t.Errorf("RateSample(6) = %v, want an error naming the range", err)
	}
	if err := s.RateSample(ctx, id, -1); err == nil {
		t.Error("RateSample(-1) accepted")
	}
	if err := s.RateSample(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	if sm, _ := s.Sample(ctx, id); sm.HumanRating != 0 {
		t.Errorf("rating not cleared: %d", sm.HumanRating)
	}
	if err := s.RateSample(ctx, 999, 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("RateSample(missing) = %v", err)
	}

	// Score.
	if sm, _ := s.Sample(ctx, id); sm.Score != nil {
		t.Errorf("unscored sample has score %v", *sm.Score)
	}
	if err := s.SetScore(ctx, id, 4.25); err != nil {
		t.Fatal(err)
	}
	touched("SetScore")
	if sm, _ := s.Sample(ctx, id); sm.Score == nil || *sm.Score != 4.25 {
		t.Errorf("Score = %v", sm.Score)
	}
	if err := s.SetScore(ctx, 999, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetScore(missing) = %v", err)
	}

	// Delete and restore, for an active and a pending sample.
	if err := s.DeleteSample(ctx, id); err != nil {
		t.Fatal(err)
	}
	touched("DeleteSample")
	if err := s.DeleteSample(ctx, id); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if sm, _ := s.Sample(ctx, id); sm.Status != StatusDeleted {
		t.Errorf("status after delete = %s", sm.Status)
	}
	if err := s.RestoreSample(ctx, id); err != nil {
		t.Fatal(err)
	}
	touched("RestoreSample")
	if sm, _ := s.Sample(ctx, id); sm.Status != StatusActive {
		t.Errorf("status after restore = %s, want active", sm.Status)
	}
	if err := s.RestoreSample(ctx, id); err != nil {
		t.Errorf("restore of a live sample: %v", err)
	}
	pend, _ := s.InsertPendingQuestions(ctx, []NewQuestion{question(repo, "a.go", 1, "pending one")})
	if err := s.DeleteSample(ctx, pend[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.RestoreSample(ctx, pend[0]); err != nil {
		t.Fatal(err)
	}
	if sm, _ := s.Sample(ctx, pend[0]); sm.Status != StatusPending {
		t.Errorf("restored pending sample status = %s", sm.Status)
	}
	// Restoring into a slot that was regenerated meanwhile is refused.
	if err := s.DeleteSample(ctx, pend[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertPendingQuestions(ctx, []NewQuestion{question(repo, "a.go", 1, "pending one")}); err != nil {
		t.Fatal(err)
	}
	if err := s.RestoreSample(ctx, pend[0]); err == nil {
		t.Error("restore over a regenerated duplicate succeeded")
	}
	if err := s.DeleteSample(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteSample(missing) = %v", err)
	}
	if err := s.RestoreSample(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("RestoreSample(missing) = %v", err)
	}
}

func TestStats(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()

	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Repos != 0 || !st.LastActivity.IsZero() || len(st.SamplesByStatus) != 4 {
		t.Errorf("empty Stats = %+v", st)
	}

	a := mustRepo(t, s, "github.com/a/a")
	b, err := s.UpsertRepo(ctx, Repo{URL: "https://b", Name: "github.com/b/b", HeadCommit: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	mustRepo(t, s, "github.com/c/c")
	ids, err := s.InsertPendingQuestions(ctx, []NewQuestion{
		question(b, "x.go", 0, "one"), question(b, "x.go", 1, "two"), question(b, "x.go", 2, "three"),
		question(a, "y.go", 0, "four"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreAnswers(ctx, []Answer{{SampleID: ids[0], Content: "1"}, {SampleID: ids[1], Content: "2"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSample(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	for id, score := range map[int64]float64{ids[0]: 4.04, ids[1]: 1, ids[2]: 4.0, ids[3]: 2.26} {
		if err := s.SetScore(ctx, id, score); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MarkFileDone(ctx, FileDone{RepoID: a, FilePath: "z.go"}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFileSkipped(ctx, b, "big", "", "too big"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordFailure(ctx, b, "bad.go", "x"); err != nil {
		t.Fatal(err)
	}

	st, err = s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantByStatus := map[string]int64{StatusPending: 2, StatusActive: 1, StatusDeleted: 1, StatusStale: 0}
	if st.Repos != 3 || st.ReposCloned != 1 || st.FilesDone != 1 || st.FilesSkipped != 1 || st.FilesFailed != 1 ||
		st.Turns != 6 || !reflect.DeepEqual(st.SamplesByStatus, wantByStatus) {
		t.Errorf("Stats = %+v", st)
	}
	if st.LastActivity.IsZero() || time.Since(st.LastActivity) > time.Hour {
		t.Errorf("LastActivity = %v", st.LastActivity)
	}

	rs, err := s.RepoStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []RepoStat{
		{RepoID: b, Name: "github.com/b/b", Samples: 2, Active: 1, Turns: 3, FilesDone: 0, Failed: 1},
		{RepoID: a, Name: "github.com/a/a", Samples: 1, Active: 0, Turns: 1, FilesDone: 1},
		{RepoID: 3, Name: "github.com/c/c"},
	}
	if !reflect.DeepEqual(rs, want) {
		t.Errorf("RepoStats =\n%+v\nwant\n%+v", rs, want)
	}

	h, err := s.ScoreHistogram(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantH := []ScoreBucket{{Score: 2.3, Count: 1}, {Score: 4.0, Count: 2}}
	if !reflect.DeepEqual(h, wantH) {
		t.Errorf("ScoreHistogram = %+v, want %+v", h, wantH)
	}
}

func TestInvalidUTF8IsRefusedNotMangled(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	repo := mustRepo(t, s, "github.com/u/u")
	bad := "caf\xe9?"
	if _, err := s.InsertPendingQuestions(ctx, []NewQuestion{{RepoID: repo, FilePath: "a.go", Question: bad}}); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("question: err = %v", err)
	}
	if n, _ := s.CountSamples(ctx, SampleQuery{}); n != 0 {
		t.Fatalf("a refused question left %d samples", n)
	}
	ids, err := s.InsertPendingQuestions(ctx, []NewQuestion{{RepoID: repo, FilePath: "a.go", Question: "What is café?"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreAnswer(ctx, Answer{SampleID: ids[0], Content: bad}); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("answer: err = %v", err)
	}
	if err := s.StoreAnswer(ctx, Answer{SampleID: ids[0], Content: "A drink."}); err != nil {
		t.Fatal(err)
	}
	if err := s.EditTurn(ctx, ids[0], 1, bad); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("edit: err = %v", err)
	}
	got, err := s.Sample(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.Turns[1].Content != "A drink." || !got.EditedAt.IsZero() {
		t.Errorf("after refused edit: %+v", got)
	}
}

func TestAskedChunks(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	repo := mustRepo(t, s, "github.com/c/c")
	ids, err := s.InsertPendingQuestions(ctx, []NewQuestion{
		{RepoID: repo, FilePath: "a.go", BlobOID: "b1", ChunkIndex: 0, Question: "q0?"},
		{RepoID: repo, FilePath: "a.go", BlobOID: "b1", ChunkIndex: 2, Question: "q2?"},
		{RepoID: repo, FilePath: "a.go", BlobOID: "old", ChunkIndex: 1, Question: "q1?"},
		{RepoID: repo, FilePath: "b.go", BlobOID: "b1", ChunkIndex: 1, Question: "other file?"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreAnswer(ctx, Answer{SampleID: ids[0], Content: "answered"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSample(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	got, err := s.AskedChunks(ctx, repo, "a.go", "b1")
	if err != nil || len(got) != 1 || !got[0] {
		t.Errorf("AskedChunks = %v, %v; want {0} (answered counts, deleted and other versions do not)", got, err)
	}
}
