package store

import (
	"testing"
)

func TestAppendExchangeKeepsOrder(t *testing.T) {
	s := openTest(t, Options{Lock: true})
	ctx := t.Context()
	repo, err := s.UpsertRepo(ctx, Repo{URL: "https://example.com/a/b", Name: "example.com/a/b"})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := s.InsertPendingQuestions(ctx, []NewQuestion{{RepoID: repo, FilePath: "a.go", BlobOID: "b", LineStart: 1, LineEnd: 2, Question: "Q1?"}})
	if err != nil {
		t.Fatal(err)
	}
	// Pending: nothing is appended (a conversation needs its first answer).
	if err := s.AppendExchange(ctx, ids[0], "Q2?", "A2.", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreAnswer(ctx, Answer{SampleID: ids[0], Content: "A1."}); err != nil {
		t.Fatal(err)
	}
	for _, qa := range [][2]string{{"Q2?", "A2."}, {"Q3?", "A3."}} {
		if err := s.AppendExchange(ctx, ids[0], qa[0], qa[1], `{"turn":2}`); err != nil {
			t.Fatal(err)
		}
	}
	sm, err := s.Sample(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, turn := range sm.Turns {
		got = append(got, turn.Role+":"+turn.Content)
	}
	want := []string{"user:Q1?", "assistant:A1.", "user:Q2?", "assistant:A2.", "user:Q3?", "assistant:A3."}
	if len(got) != len(want) || !sm.IsMultiturn {
		t.Fatalf("turns %v (multi-turn %v), want %v", got, sm.IsMultiturn, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("turn %d = %q, want %q", i, got[i], want[i])
		}
	}
	// Full-text search finds a follow-up.
	if p, err := s.ListSamples(ctx, SampleQuery{Search: "Q3"}); err != nil || len(p.Samples) != 1 {
		t.Errorf("search for a follow-up: %v %v", p.Samples, err)
	}
}
