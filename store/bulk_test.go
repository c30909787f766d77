package store

import (
	"slices"
	"strings"
	"testing"
)

func statusOf(t *testing.T, s *Store, id int64) string {
	t.Helper()
	sm, err := s.Sample(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sm.Status
}

func TestDeleteMatchingAndRestore(t *testing.T) {
	for name, q := range map[string]SampleQuery{
		"search":             {Search: "walrus"},
		"search with cursor": {Search: "walrus", AfterKey: SampleCursor{ID: 30}, After: 30, Limit: 1, Desc: true},
		"repo":               {RepoID: -1}, // the fixture's second repository
		"pending":            {Statuses: []string{StatusPending}},
		"edited":             {OnlyEdited: true},
		"unrated, by score":  {OnlyUnrated: true, Order: OrderScore},
		"every status":       {Statuses: sampleStatuses(), FilePath: "pkg/f1.go"},
		"nothing":            {Search: "no-such-word"},
		"only operators":     {Search: `" * (`},
	} {
		t.Run(name, func(t *testing.T) {
			f := newCurationFixture(t, 60)
			s, ctx := f.s, t.Context()
			if q.RepoID == -1 {
				q.RepoID = f.repoB
			}
			plain := q
			plain.After, plain.AfterKey, plain.Limit = 0, SampleCursor{}, 0
			var want []int64
			for _, id := range f.expected(plain) {
				if statusOf(t, s, id) != StatusDeleted {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			before := map[int64]string{}
			for _, sm := range f.all {
				before[sm.ID] = sm.Status
			}

			ids, err := s.DeleteMatching(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("DeleteMatching = %v, want %v", ids, want)
			}
			for _, sm := range f.all {
				got := statusOf(t, s, sm.ID)
				switch {
				case slices.Contains(ids, sm.ID) && got != StatusDeleted:
					t.Errorf("sample %d: status %s, want deleted", sm.ID, got)
				case !slices.Contains(ids, sm.ID) && got != before[sm.ID]:
					t.Errorf("sample %d was not selected but changed from %s to %s", sm.ID, before[sm.ID], got)
				}
			}
			if again, err := s.DeleteMatching(ctx, q); err != nil || (len(again) != 0 && !slices.Contains(q.Statuses, StatusDeleted)) {
				t.Errorf("second DeleteMatching = %v, %v; want nothing left to delete", again, err)
			}

			if err := s.RestoreSamples(ctx, ids); err != nil {
				t.Fatal(err)
			}
			for _, sm := range f.all {
				if got := statusOf(t, s, sm.ID); got != before[sm.ID] {
					t.Errorf("after restore, sample %d: %s, want %s", sm.ID, got, before[sm.ID])
				}
			}
		})
	}
}

func TestRestoreSamplesIsAllOrNothing(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	repo := mustRepo(t, s, "github.com/o/r")
	ids, err := s.InsertPendingQuestions(ctx, []NewQuestion{
		question(repo, "a.go", 0, "first"), question(repo, "a.go", 1, "second"),
	})
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := s.DeleteMatching(ctx, SampleQuery{})
	if err != nil || len(deleted) != 2 {
		t.Fatalf("DeleteMatching = %v, %v", deleted, err)
	}
	// The second question is generated again: it cannot come back.
	if _, err := s.InsertPendingQuestions(ctx, []NewQuestion{question(repo, "a.go", 1, "second")}); err != nil {
		t.Fatal(err)
	}
	err = s.RestoreSamples(ctx, deleted)
	if err == nil || !strings.Contains(err.Error(), "generated again") {
		t.Fatalf("RestoreSamples over a regenerated question = %v", err)
	}
	if got := statusOf(t, s, ids[0]); got != StatusDeleted {
		t.Errorf("first sample restored although the batch failed: %s", got)
	}
	if err := s.RestoreSamples(ctx, []int64{ids[0], 999}); err != nil {
		t.Errorf("restoring with an unknown id: %v", err)
	}
	if got := statusOf(t, s, ids[0]); got != StatusPending {
		t.Errorf("status after restore = %s, want pending", got)
	}
	if err := s.RestoreSamples(ctx, nil); err != nil {
		t.Error(err)
	}
}

func TestRateMatching(t *testing.T) {
	f := newCurationFixture(t, 60)
	s, ctx := f.s, t.Context()
	ratings := func() map[int64]int {
		out := map[int64]int{}
		for _, sm := range f.all {
			full, err := s.Sample(ctx, sm.ID)
			if err != nil {
				t.Fatal(err)
			}
			out[sm.ID] = full.HumanRating
		}
		return out
	}
	start := ratings()
	q := SampleQuery{Search: "walrus", Order: OrderFile, Limit: 2}
	selected := f.expected(SampleQuery{Search: "walrus"})

	changes, err := s.RateMatchingWithUndo(ctx, q, 4)
	if err != nil {
		t.Fatal(err)
	}
	after := ratings()
	var wantChanges []RatingChange
	for _, sm := range f.all {
		if slices.Contains(selected, sm.ID) {
			if after[sm.ID] != 4 {
				t.Errorf("sample %d rating %d, want 4", sm.ID, after[sm.ID])
			}
			if start[sm.ID] != 4 {
				wantChanges = append(wantChanges, RatingChange{ID: sm.ID, Rating: start[sm.ID]})
			}
		} else if after[sm.ID] != start[sm.ID] {
			t.Errorf("unselected sample %d rating changed %d -> %d", sm.ID, start[sm.ID], after[sm.ID])
		}
	}
	if !slices.Equal(changes, wantChanges) {
		t.Errorf("changes = %v, want %v", changes, wantChanges)
	}
	// Rating again with the same value changes nothing.
	if n, err := s.RateMatching(ctx, q, 4); err != nil || n != 0 {
		t.Errorf("RateMatching again = %d, %v; want 0", n, err)
	}
	if err := s.RestoreRatings(ctx, changes); err != nil {
		t.Fatal(err)
	}
	if got := ratings(); !mapsEqual(got, start) {
		t.Errorf("RestoreRatings did not restore: %v, want %v", got, start)
	}

	// 0 clears; only-unrated then sees them all.
	n, err := s.RateMatching(ctx, SampleQuery{Statuses: sampleStatuses()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	rated := 0
	for _, r := range start {
		if r != 0 {
			rated++
		}
	}
	if n != int64(rated) || rated == 0 {
		t.Errorf("clearing changed %d, want %d", n, rated)
	}
	if c, _ := s.CountSamples(ctx, SampleQuery{Statuses: sampleStatuses(), OnlyUnrated: true}); c != int64(len(f.all)) {
		t.Errorf("unrated after clearing = %d, want %d", c, len(f.all))
	}
	for _, bad := range []int{-1, 6} {
		if _, err := s.RateMatching(ctx, SampleQuery{}, bad); err == nil || !strings.Contains(err.Error(), "1 to 5") {
			t.Errorf("RateMatching(%d) = %v", bad, err)
		}
	}
	if err := s.RestoreRatings(ctx, []RatingChange{{ID: f.ids[0], Rating: 7}}); err == nil {
		t.Error("RestoreRatings accepted rating 7")
	}
	if _, err := s.RateMatching(ctx, SampleQuery{Statuses: []string{"bogus"}}, 1); err == nil {
		t.Error("bad status accepted")
	}
	if _, err := s.DeleteMatching(ctx, SampleQuery{Statuses: []string{"bogus"}}); err == nil {
		t.Error("bad status accepted")
	}
	if err := s.RestoreRatings(ctx, []RatingChange{{ID: 99999, Rating: 2}}); err != nil {
		t.Errorf("RestoreRatings of a vanished sample: %v", err)
	}
}

func mapsEqual(a, b map[int64]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
