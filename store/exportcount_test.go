package store

import (
	"fmt"
	"testing"
)

// TestExportCount checks the count against the ids the same query lists,
// for every filter the export dialog offers.
func TestExportCount(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	repoA := mustRepo(t, s, "github.com/x/a")
	repoB := mustRepo(t, s, "github.com/x/b")
	var qs []NewQuestion
	for i := range 8 {
		repo := repoA
		if i >= 5 {
			repo = repoB
		}
		qs = append(qs, NewQuestion{RepoID: repo, FilePath: fmt.Sprintf("f%d.go", i), BlobOID: "b", Question: fmt.Sprintf("q%d?", i)})
	}
	ids, err := s.InsertPendingQuestions(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[:7] { // the last stays pending
		if err := s.StoreAnswer(ctx, Answer{SampleID: id, Content: fmt.Sprintf("a%d", i), Truncated: i == 6}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteSample(ctx, ids[4]); err != nil {
		t.Fatal(err)
	}
	if err := s.SetScore(ctx, ids[0], 4.5); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkStale(ctx, repoA, "f1.go", ""); err != nil {
		t.Fatal(err)
	}
	four := 4.0
	for _, tc := range []struct {
		name string
		q    ExportQuery
		want int
	}{
		{"default", ExportQuery{}, 4}, // 0 2 3 5; 1 stale, 4 deleted, 6 truncated, 7 pending
		{"truncated", ExportQuery{IncludeTruncated: true}, 5},
		{"stale", ExportQuery{Statuses: []string{StatusActive, StatusStale}}, 5},
		{"not deleted", ExportQuery{Statuses: []string{StatusActive, StatusStale, StatusPending}}, 6},
		{"repo", ExportQuery{RepoIDs: []int64{repoB}}, 1},
		{"score", ExportQuery{MinScore: &four}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.ExportCount(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			listed, err := s.ExportIDs(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.want || n != len(listed) {
				t.Errorf("ExportCount = %d, want %d (ExportIDs lists %d: %v)", n, tc.want, len(listed), listed)
			}
		})
	}
	if _, err := s.ExportCount(ctx, ExportQuery{Statuses: []string{"gone"}}); err == nil {
		t.Error("an unknown status was accepted")
	}
}
