package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cicdllm/llm/sim"
	"cicdllm/pipeline/export"
	"cicdllm/store"
)

// Questions planted in the database as paraphrases of what the model
// will ask (learned from a first run against a fresh database) are caught:
// the model's questions that repeat them are dropped before they are
// answered, every other question is kept, and the server gets exactly that
// many fewer requests.
func TestNearDuplicateQuestionsAreDroppedBeforeAnswering(t *testing.T) {
	files := map[string]string{"a.go": goSource("a", 3), "c.go": goSource("c", 5)}
	learn := newPrepFixture(t, files, sim.Config{Slots: 1})
	learn.cfg.Generation.NearDuplicateThreshold = 0
	base := learn.run(nil)
	var asked []string
	for _, s := range learn.samples(store.StatusActive) {
		if s.FilePath == "a.go" {
			asked = append(asked, s.Question)
		}
	}
	if len(asked) == 0 {
		t.Fatal("the first run asked nothing about a.go")
	}

	f := newPrepFixture(t, files, sim.Config{Slots: 1})
	repos, err := f.st.Repos(context.Background())
	if err != nil || len(repos) != 1 {
		t.Fatal(repos, err)
	}
	// Paraphrases: one word changed, and different punctuation.
	var planted []store.NewQuestion
	for i, q := range asked {
		p := strings.Replace(q, " when ", " if ", 1)
		if p == q {
			p = strings.TrimSuffix(q, "?") + " exactly?"
		}
		planted = append(planted, store.NewQuestion{RepoID: repos[0].ID, FilePath: "old/a.go", CommitSHA: "old", BlobOID: "old",
			ChunkIndex: i, LineStart: 1, LineEnd: 2, Question: p})
	}
	ids, err := f.st.InsertPendingQuestions(context.Background(), planted)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := f.st.StoreAnswer(context.Background(), store.Answer{SampleID: id, Content: "An old answer."}); err != nil {
			t.Fatal(err)
		}
	}
	f.cfg.Generation.NearDuplicateThreshold = 0.6
	on := f.run(nil)

	dropped := on.Progress().QuestionsDropped.Load()
	t.Logf("near-duplicate questions dropped: %d of %d planted paraphrases; answers %d → %d; server requests %d → %d",
		dropped, len(asked), base.Progress().Answers.Load(), on.Progress().Answers.Load(), learn.sim.Stats().Requests, f.sim.Stats().Requests)
	if dropped < int64(len(asked))*8/10 {
		t.Errorf("dropped %d of %d paraphrased questions", dropped, len(asked))
	}
	if got, want := on.Progress().Answers.Load(), base.Progress().Answers.Load()-dropped; got != want {
		t.Errorf("answers = %d, want %d", got, want)
	}
	if reqOn, reqOff := f.sim.Stats().Requests, learn.sim.Stats().Requests; reqOn != reqOff-dropped {
		t.Errorf("server requests %d with planted paraphrases, %d without; want %d fewer", reqOn, reqOff, dropped)
	}
	count := func(f *prepFixture, path string) int {
		n := 0
		for _, s := range f.samples(store.StatusActive) {
			if s.FilePath == path {
				n++
			}
		}
		return n
	}
	if a, b := count(f, "c.go"), count(learn, "c.go"); a != b || a == 0 {
		t.Errorf("c.go (nothing planted) samples: %d, want %d", a, b)
	}
	if n, err := f.st.Counter(context.Background(), store.CounterNearDuplicateQuestions); err != nil || n != dropped {
		t.Errorf("stored counter = %d, %v; want %d", n, err, dropped)
	}
}

// Jaccard over word bigrams: case, punctuation and backticks do not
// count; a reworded question is similar to the degree its word pairs are
// shared, so the threshold trades paraphrases caught against distinct
// questions that differ in one word.
func TestBigramSimilarity(t *testing.T) {
	const (
		base      = "What does `ParseToken` return when the token is empty?"
		reworded  = "What does ParseToken return if the token is empty?"       // J = 6/10
		restated  = "what does parsetoken return when the token is EMPTY"      // J = 1
		lastWord  = "What does `ParseToken` return when the token is expired?" // J = 7/9
		distinct  = "Why does Refresh compare the issued-at time?"
		shareWord = "How is ParseToken tested?"
	)
	for _, c := range []struct {
		threshold float64
		q         string
		dup       bool
	}{
		{0.8, restated, true}, {0.8, reworded, false}, {0.8, lastWord, false}, {0.8, distinct, false}, {0.8, shareWord, false},
		{0.6, restated, true}, {0.6, reworded, true}, {0.6, lastWord, true}, {0.6, distinct, false}, {0.6, shareWord, false},
	} {
		ix := &bigramIndex{postings: map[uint64][]int32{}}
		ix.addUnlessSimilar(base, c.threshold)
		if got := ix.addUnlessSimilar(c.q, c.threshold); got != c.dup {
			t.Errorf("threshold %.1f, %q: duplicate = %v, want %v", c.threshold, c.q, got, c.dup)
		}
	}
}

// Every new answer carries the deterministic quality checks in its
// metadata, and flag counts reach the Counters table.
func TestAnswersCarryQualityChecks(t *testing.T) {
	f := newPrepFixture(t, map[string]string{"a.go": goSource("a", 3)}, sim.Config{Slots: 1})
	f.run(nil)
	samples := f.samples(store.StatusActive)
	if len(samples) == 0 {
		t.Fatal("no samples")
	}
	full, err := f.st.Sample(context.Background(), samples[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	for _, turn := range full.Turns {
		if turn.Role == "assistant" {
			if err := json.Unmarshal([]byte(turn.MetadataJSON), &meta); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, ok := meta["quality_flags"]; !ok {
		t.Fatalf("answer metadata lacks quality_flags: %v", meta)
	}
	if _, ok := meta["code_blocks"]; !ok {
		t.Fatalf("answer metadata lacks code_blocks: %v", meta)
	}
	counts, err := f.st.Counters(context.Background(), store.CounterFlagPrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quality flags over %d answers: %v", len(samples), counts)
}

// generation.turns = 3: every sample becomes a conversation of three
// question/answer exchanges about its chunk, stored in order, marked
// multi-turn, and exported with every turn.
func TestMultiTurnConversations(t *testing.T) {
	f := newPrepFixture(t, map[string]string{"a.go": goSource("a", 3)}, sim.Config{Slots: 2})
	f.cfg.Generation.Turns = 3
	f.cfg.Generation.NearDuplicateThreshold = 0
	r := f.run(nil)
	samples := f.samples(store.StatusActive)
	if len(samples) == 0 || r.Progress().FollowUps.Load() != int64(2*len(samples)) {
		t.Fatalf("%d samples, %d follow-ups; want 2 per sample", len(samples), r.Progress().FollowUps.Load())
	}
	for _, s := range samples {
		full, err := f.st.Sample(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		var roles []string
		for i, turn := range full.Turns {
			if turn.Index != i || strings.TrimSpace(turn.Content) == "" {
				t.Fatalf("sample %d turn %d: index %d, content %q", s.ID, i, turn.Index, turn.Content)
			}
			roles = append(roles, turn.Role)
		}
		if strings.Join(roles, ",") != "user,assistant,user,assistant,user,assistant" || !full.IsMultiturn {
			t.Fatalf("sample %d: roles %v, multi-turn %v", s.ID, roles, full.IsMultiturn)
		}
	}
	out := filepath.Join(t.TempDir(), "conv.jsonl")
	job, err := NewExportJob(f.cfg, f.st, ExportSpec{Template: "chatml-jsonl", Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Messages []struct{ Role string } `json:"messages"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || len(rec.Messages) != 6 {
			t.Fatalf("exported conversation has %d messages (%v): %s", len(rec.Messages), err, line)
		}
	}
}
