package store

import (
	"encoding/json"
	"reflect"
	"testing"
)

// judgeFixture stores n answered samples (ids in order) and one pending.
func judgeFixture(t *testing.T, s *Store, n int) (answered []int64, pending int64) {
	t.Helper()
	ctx := t.Context()
	repo := mustRepo(t, s, "github.com/o/judge")
	var qs []NewQuestion
	for i := range n + 1 {
		qs = append(qs, question(repo, "main.go", i, "What does step "+string(rune('a'+i))+" do?"))
	}
	ids, err := s.InsertPendingQuestions(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	var answers []Answer
	for _, id := range ids[:n] {
		answers = append(answers, Answer{SampleID: id, Content: "It does things.", MetadataJSON: `{"finish_reason":"stop","latency_ms":12}`})
	}
	if err := s.StoreAnswers(ctx, answers); err != nil {
		t.Fatal(err)
	}
	return ids[:n], ids[n]
}

func TestJudgeSetJudgement(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	ids, _ := judgeFixture(t, s, 2)
	if err := s.RateSample(ctx, ids[0], 2); err != nil {
		t.Fatal(err)
	}
	parts := map[string]int{"groundedness": 5, "correctness": 4, "usefulness": 3}
	if err := s.SetJudgement(ctx, ids[0], 4, parts, "Accurate and grounded.", "qwen-judge"); err != nil {
		t.Fatal(err)
	}
	sm, err := s.Sample(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if sm.Score == nil || *sm.Score != 4 {
		t.Errorf("score = %v, want 4", sm.Score)
	}
	if sm.HumanRating != 2 {
		t.Errorf("human rating = %d, want 2 (untouched)", sm.HumanRating)
	}
	last := sm.Turns[len(sm.Turns)-1]
	var meta map[string]any
	if err := json.Unmarshal([]byte(last.MetadataJSON), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["finish_reason"] != "stop" || meta["latency_ms"] != float64(12) {
		t.Errorf("existing keys lost: %s", last.MetadataJSON)
	}
	want := map[string]any{"groundedness": 5.0, "correctness": 4.0, "usefulness": 3.0, "reason": "Accurate and grounded.", "model": "qwen-judge"}
	if !reflect.DeepEqual(meta["judge"], want) {
		t.Errorf("judge = %v, want %v", meta["judge"], want)
	}

	// Judging again replaces the verdict, still keeping the other keys.
	parts2 := map[string]int{"groundedness": 1, "correctness": 1, "usefulness": 2}
	if err := s.SetJudgement(ctx, ids[0], 4.0/3, parts2, "Wrong.", "m2"); err != nil {
		t.Fatal(err)
	}
	sm, _ = s.Sample(ctx, ids[0])
	meta = nil
	_ = json.Unmarshal([]byte(sm.Turns[len(sm.Turns)-1].MetadataJSON), &meta)
	if j, _ := meta["judge"].(map[string]any); j["reason"] != "Wrong." || j["usefulness"] != 2.0 || meta["finish_reason"] != "stop" {
		t.Errorf("re-judged metadata = %v", meta)
	}
	if sm.HumanRating != 2 || sm.Score == nil || *sm.Score != 4.0/3 {
		t.Errorf("after re-judge: rating %d score %v", sm.HumanRating, sm.Score)
	}

	// The other sample is untouched; invalid input changes nothing.
	if other, _ := s.Sample(ctx, ids[1]); other.Score != nil {
		t.Errorf("other sample scored: %v", *other.Score)
	}
	bad := []map[string]int{
		{"groundedness": 5, "correctness": 4},
		{"groundedness": 5, "correctness": 4, "usefulness": 6},
		{"groundedness": 0, "correctness": 4, "usefulness": 3},
	}
	for _, p := range bad {
		if err := s.SetJudgement(ctx, ids[1], 3, p, "", ""); err == nil {
			t.Errorf("parts %v accepted", p)
		}
	}
	if other, _ := s.Sample(ctx, ids[1]); other.Score != nil {
		t.Errorf("rejected judgement stored a score")
	}
	if err := s.SetJudgement(ctx, 99999, 3, parts, "", ""); err == nil {
		t.Error("judging a missing sample succeeded")
	}
}

func TestJudgeMetadataNullOrUnreadable(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	ids, pending := judgeFixture(t, s, 2)
	parts := map[string]int{"groundedness": 3, "correctness": 3, "usefulness": 3}
	rawExec(t, s, "UPDATE ConversationTurns SET metadata_json = NULL WHERE sample_id = ?;", nil, ids[0])
	if err := s.SetJudgement(ctx, ids[0], 3, parts, "ok", "m"); err != nil {
		t.Fatal(err)
	}
	sm, _ := s.Sample(ctx, ids[0])
	var meta map[string]map[string]any
	if err := json.Unmarshal([]byte(sm.Turns[len(sm.Turns)-1].MetadataJSON), &meta); err != nil || meta["judge"]["reason"] != "ok" {
		t.Errorf("metadata = %q (%v)", sm.Turns[len(sm.Turns)-1].MetadataJSON, err)
	}
	// Metadata that is not an object is never overwritten, and the score
	// is not set without it (one transaction).
	rawExec(t, s, "UPDATE ConversationTurns SET metadata_json = '[1]' WHERE sample_id = ?;", nil, ids[1])
	if err := s.SetJudgement(ctx, ids[1], 3, parts, "ok", "m"); err == nil {
		t.Error("unreadable metadata was overwritten")
	}
	if sm, _ := s.Sample(ctx, ids[1]); sm.Score != nil {
		t.Error("score set although the metadata write failed")
	}
	// A pending sample has no answer to judge.
	if err := s.SetJudgement(ctx, pending, 3, parts, "ok", "m"); err == nil {
		t.Error("a sample without an answer was judged")
	}
}

func TestJudgeUnscoredSamplesPaging(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	ids, _ := judgeFixture(t, s, 7) // plus one pending, never listed
	parts := map[string]int{"groundedness": 3, "correctness": 3, "usefulness": 3}
	if err := s.SetJudgement(ctx, ids[1], 3, parts, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSample(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	rawExec(t, s, "UPDATE TrainingSamples SET status = 'stale' WHERE sample_id = ?;", nil, ids[3])
	// An active sample without an assistant turn (rows from elsewhere).
	rawExec(t, s, "DELETE FROM ConversationTurns WHERE sample_id = ? AND role = 'assistant';", nil, ids[6])

	all := func(rescore bool, limit int) []int64 {
		var out []int64
		var after int64
		for pages := 0; ; pages++ {
			page, err := s.UnscoredSamples(ctx, after, limit, rescore)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("page of %d, limit %d", len(page), limit)
			}
			if len(page) == 0 {
				return out
			}
			out = append(out, page...)
			after = page[len(page)-1]
			if pages > 20 {
				t.Fatal("paging does not end")
			}
		}
	}
	for _, limit := range []int{1, 2, 100} {
		if got, want := all(false, limit), []int64{ids[0], ids[4], ids[5]}; !reflect.DeepEqual(got, want) {
			t.Errorf("unscored (limit %d) = %v, want %v", limit, got, want)
		}
		if got, want := all(true, limit), []int64{ids[0], ids[1], ids[4], ids[5]}; !reflect.DeepEqual(got, want) {
			t.Errorf("rescore (limit %d) = %v, want %v", limit, got, want)
		}
	}
	// Scoring while paging never returns an id twice (keyset, not OFFSET).
	page, _ := s.UnscoredSamples(ctx, 0, 1, false)
	if err := s.SetJudgement(ctx, page[0], 2, parts, "", ""); err != nil {
		t.Fatal(err)
	}
	next, _ := s.UnscoredSamples(ctx, page[0], 1, false)
	if len(next) != 1 || next[0] != ids[4] {
		t.Errorf("next page = %v, want [%d]", next, ids[4])
	}
}
