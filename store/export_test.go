package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
)

func TestExportBatchAndGroups(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	repoA := mustRepo(t, s, "github.com/x/a")
	repoB := mustRepo(t, s, "github.com/x/b")
	var qs []NewQuestion
	for i := range 10 {
		repo, path := repoA, fmt.Sprintf("f%d.go", i%3)
		if i >= 7 {
			repo, path = repoB, "b.go"
		}
		qs = append(qs, NewQuestion{RepoID: repo, FilePath: path, BlobOID: "b", ChunkIndex: i, System: "sys", Question: fmt.Sprintf("q%d?", i)})
	}
	ids, err := s.InsertPendingQuestions(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[:9] { // the last stays pending
		if err := s.StoreAnswer(ctx, Answer{SampleID: id, Content: fmt.Sprintf("a%d", i), Truncated: i == 4}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteSample(ctx, ids[5]); err != nil {
		t.Fatal(err)
	}
	if err := s.SetScore(ctx, ids[0], 4.5); err != nil {
		t.Fatal(err)
	}
	if err := s.SetScore(ctx, ids[1], 2); err != nil {
		t.Fatal(err)
	}
	if err := s.RateSample(ctx, ids[1], 5); err != nil { // the human overrides the judge
		t.Fatal(err)
	}

	collect := func(q ExportQuery) []int64 {
		t.Helper()
		var got []int64
		after := int64(0)
		for {
			batch, err := s.ExportBatch(ctx, q, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) == 0 {
				return got
			}
			for _, sm := range batch {
				if len(sm.Turns) != 3 || sm.Turns[0].Role != "system" || sm.Turns[2].Role != "assistant" || sm.RepoURL == "" {
					t.Fatalf("sample %d exported as %+v", sm.ID, sm)
				}
				got = append(got, sm.ID)
			}
			after = batch[len(batch)-1].ID
		}
	}
	ids6 := func(idx ...int) []int64 {
		var out []int64
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return out
	}
	check := func(name string, got, want []int64) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("default: active, not truncated", collect(ExportQuery{}), ids6(0, 1, 2, 3, 6, 7, 8))
	check("with truncated", collect(ExportQuery{IncludeTruncated: true}), ids6(0, 1, 2, 3, 4, 6, 7, 8))
	check("repo b", collect(ExportQuery{RepoIDs: []int64{repoB}}), ids6(7, 8))
	min := 4.0
	check("min score (human rating counts first)", collect(ExportQuery{MinScore: &min}), ids6(0, 1))
	check("deleted", collect(ExportQuery{Statuses: []string{StatusDeleted}}), ids6(5))
	check("since the future", collect(ExportQuery{Since: time.Now().Add(time.Hour)}), nil)
	if _, err := s.ExportBatch(ctx, ExportQuery{Statuses: []string{"gone"}}, 0, 10); err == nil {
		t.Error("an unknown status was accepted")
	}

	all, err := s.ExportIDs(ctx, ExportQuery{})
	if err != nil || fmt.Sprint(all) != fmt.Sprint(ids6(0, 1, 2, 3, 6, 7, 8)) {
		t.Errorf("ExportIDs = %v, %v", all, err)
	}
	picked, err := s.ExportByIDs(ctx, []int64{ids[8], ids[0], 999999})
	if err != nil || len(picked) != 2 || picked[0].ID != ids[8] || picked[1].ID != ids[0] || len(picked[0].Turns) != 3 {
		t.Errorf("ExportByIDs kept order %+v, %v", picked, err)
	}

	groups, err := s.ExportGroups(ctx, ExportQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// f0: samples 0, 3, 6; f1: 1 (4 is truncated); f2: 2 (5 is deleted).
	want := map[string]int{GroupKey(repoA, "f0.go"): 3, GroupKey(repoA, "f1.go"): 1, GroupKey(repoA, "f2.go"): 1, GroupKey(repoB, "b.go"): 2}
	if fmt.Sprint(groups) != fmt.Sprint(want) {
		t.Errorf("groups %v, want %v", groups, want)
	}
}

// TestExportBatchPlanHasNoSort guards the keyset walk: a sort step would
// make every batch cost the whole remaining table.
func TestExportBatchPlanHasNoSort(t *testing.T) {
	s := openTest(t, Options{})
	args, err := exportArgs(ExportQuery{Statuses: []string{StatusActive, StatusStale}, MinScore: new(float64)})
	if err != nil {
		t.Fatal(err)
	}
	args[":after"], args[":limit"] = int64(0), 500
	var plan []string
	err = s.read(t.Context(), func(conn *sqlite.Conn) error {
		return execSQL(conn, "EXPLAIN QUERY PLAN "+exportBatchSQL, args, func(stmt *sqlite.Stmt) error {
			plan = append(plan, stmt.ColumnText(3))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, "\n")
	if strings.Contains(joined, "TEMP B-TREE") || !strings.Contains(joined, "INTEGER PRIMARY KEY (rowid>?)") {
		t.Errorf("the export batch query does not walk the rowid range:\n%s", joined)
	}
}
