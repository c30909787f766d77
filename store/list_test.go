package store

import (
	"fmt"
	"slices"
	"testing"
)

func searchIDs(t *testing.T, s *Store, text string) []int64 {
	t.Helper()
	page, err := s.ListSamples(t.Context(), SampleQuery{Search: text, Statuses: sampleStatuses(), Limit: MaxPageSize})
	if err != nil {
		t.Fatalf("search %q: %v", text, err)
	}
	var ids []int64
	for _, sm := range page.Samples {
		ids = append(ids, sm.ID)
	}
	return ids
}

func ftsIntegrity(t *testing.T, s *Store) {
	t.Helper()
	rawExec(t, s, "INSERT INTO TurnsFTS (TurnsFTS, rank) VALUES ('integrity-check', 1);", nil)
	if got, err := s.IntegrityCheck(t.Context()); err != nil || got != "ok" {
		t.Errorf("IntegrityCheck = %q, %v", got, err)
	}
}

func TestSearch(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	repo := mustRepo(t, s, "github.com/o/r")
	ids, err := s.InsertPendingQuestions(ctx, []NewQuestion{
		question(repo, "a.go", 0, "How is the pool sized?"),
		question(repo, "b.go", 0, "What does Café mean?"),
		question(repo, "c.go", 0, "Unanswered question"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreAnswers(ctx, []Answer{
		{SampleID: ids[0], Content: "It uses a fixed zebra-sized pool of connections."},
		{SampleID: ids[1], Content: "A coffee house."},
	}); err != nil {
		t.Fatal(err)
	}

	for text, want := range map[string][]int64{
		"zebra":            {ids[0]},
		"ZEBRA conn":       {ids[0]}, // case-insensitive, prefix
		"zebra coffee":     nil,      // all words must match
		"cafe":             {ids[1]}, // diacritics removed
		"question":         {ids[2]}, // user turns are searched too
		"pool":             {ids[0]},
		"nothing-like-it":  nil,
		`"zebra"`:          {ids[0]},
		`foo" OR (`:        nil,
		`zebra" OR (`:      nil, // OR is a word here, and nothing starts with it
		`zebra" pool (`:    {ids[0]},
		`NEAR( AND * ^ -:`: nil,
		`)(`:               nil,
	} {
		if got := searchIDs(t, s, text); !slices.Equal(got, want) {
			t.Errorf("search %q = %v, want %v", text, got, want)
		}
	}
	if n, err := s.CountSamples(ctx, SampleQuery{Search: "zebra"}); err != nil || n != 1 {
		t.Errorf("CountSamples(search) = %d, %v", n, err)
	}
	if n, err := s.CountSamples(ctx, SampleQuery{Search: `" * (`}); err != nil || n != 0 {
		t.Errorf("CountSamples(search with only operators) = %d, %v", n, err)
	}

	// Edits move the index with them; undo moves it back.
	if err := s.EditTurn(ctx, ids[0], 1, "It uses a giraffe."); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, s, "giraffe"); !slices.Equal(got, []int64{ids[0]}) {
		t.Errorf("after edit, new text: %v", got)
	}
	if got := searchIDs(t, s, "zebra"); got != nil {
		t.Errorf("after edit, old text still found: %v", got)
	}
	ftsIntegrity(t, s)
	if _, err := s.UndoEdit(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, s, "zebra"); !slices.Equal(got, []int64{ids[0]}) {
		t.Errorf("after undo, old text: %v", got)
	}
	if got := searchIDs(t, s, "giraffe"); got != nil {
		t.Errorf("after undo, edited text still found: %v", got)
	}
	ftsIntegrity(t, s)

	// Soft delete hides from the default listing but not from search
	// across all statuses.
	if err := s.DeleteSample(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.ListSamples(ctx, SampleQuery{Search: "zebra"}); len(p.Samples) != 0 {
		t.Errorf("deleted sample listed by default: %+v", p.Samples)
	}
	if got := searchIDs(t, s, "zebra"); !slices.Equal(got, []int64{ids[0]}) {
		t.Errorf("deleted sample not found with all statuses: %v", got)
	}

	// Hard delete (as removing a repository would) cascades to turns and
	// must take their index entries along.
	rawExec(t, s, "DELETE FROM TrainingSamples WHERE sample_id = ?;", nil, ids[0])
	if n := rawInt(t, s, "SELECT count(*) FROM ConversationTurns WHERE sample_id = ?;", ids[0]); n != 0 {
		t.Errorf("turns left after cascade: %d", n)
	}
	if got := searchIDs(t, s, "zebra"); got != nil {
		t.Errorf("hard-deleted sample still found: %v", got)
	}
	ftsIntegrity(t, s)
	rawExec(t, s, "DELETE FROM Repos;", nil)
	ftsIntegrity(t, s)

	// The check itself must be able to fail.
	rawExec(t, s, "INSERT INTO TurnsFTS (rowid, content) VALUES (999999, 'ghost');", nil)
	if got, err := s.IntegrityCheck(ctx); err != nil || got == "ok" {
		t.Errorf("IntegrityCheck on a corrupted index = %q, %v; want a problem report", got, err)
	}
}

func TestFTSQuery(t *testing.T) {
	for in, want := range map[string]string{
		"foo":           `"foo"*`,
		"  foo   bar ":  `"foo"* "bar"*`,
		`foo" OR (`:     `"foo"""* "OR"*`,
		`a"b`:           `"a""b"*`,
		"( ) * ^ NEAR(": `"NEAR("*`,
		"":              "",
	} {
		if got := ftsQuery(in); got != want {
			t.Errorf("ftsQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestListFiltersAndSummary(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	a := mustRepo(t, s, "github.com/a/a")
	b := mustRepo(t, s, "github.com/b/b")
	q := question(a, "x.go", 0, "first?")
	q.System = "sys"
	ids, err := s.InsertPendingQuestions(ctx, []NewQuestion{
		q, question(a, "y.go", 0, "second?"), question(b, "x.go", 0, "third?"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreAnswer(ctx, Answer{SampleID: ids[0], Content: "answer one", Truncated: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.EditTurn(ctx, ids[0], 2, "answer one, edited"); err != nil {
		t.Fatal(err)
	}
	s.SetScore(ctx, ids[0], 4.5)
	s.SetScore(ctx, ids[1], 2)
	s.RateSample(ctx, ids[0], 3)

	page, err := s.ListSamples(ctx, SampleQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Samples) != 3 || page.Next != 0 {
		t.Fatalf("ListSamples = %+v", page)
	}
	first := page.Samples[0]
	if first.ID != ids[0] || first.RepoName != "github.com/a/a" || first.FilePath != "x.go" || first.LineStart != 1 ||
		first.LineEnd != 10 || first.Status != StatusActive || first.Score == nil || *first.Score != 4.5 ||
		first.HumanRating != 3 || !first.Edited || !first.Truncated || first.Question != "first?" ||
		first.Answer != "answer one, edited" || first.CreatedAt.IsZero() {
		t.Errorf("summary = %+v", first)
	}
	if p := page.Samples[1]; p.Answer != "" || p.Status != StatusPending || p.Score == nil || p.Edited {
		t.Errorf("pending summary = %+v", p)
	}

	lo, hi := 3.0, 5.0
	for name, tt := range map[string]struct {
		q    SampleQuery
		want []int64
	}{
		"repo":        {SampleQuery{RepoID: b}, []int64{ids[2]}},
		"repo+path":   {SampleQuery{RepoID: a, FilePath: "y.go"}, []int64{ids[1]}},
		"path":        {SampleQuery{FilePath: "x.go"}, []int64{ids[0], ids[2]}},
		"pending":     {SampleQuery{Statuses: []string{StatusPending}}, []int64{ids[1], ids[2]}},
		"dup status":  {SampleQuery{Statuses: []string{StatusActive, StatusActive}}, []int64{ids[0]}},
		"min score":   {SampleQuery{MinScore: &lo}, []int64{ids[0]}},
		"max score":   {SampleQuery{MaxScore: &lo}, []int64{ids[1]}},
		"score range": {SampleQuery{MinScore: &lo, MaxScore: &hi}, []int64{ids[0]}},
		"desc":        {SampleQuery{Desc: true}, []int64{ids[2], ids[1], ids[0]}},
	} {
		page, err := s.ListSamples(ctx, tt.q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []int64
		for _, sm := range page.Samples {
			got = append(got, sm.ID)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", name, got, tt.want)
		}
		if n, err := s.CountSamples(ctx, tt.q); err != nil || n != int64(len(tt.want)) {
			t.Errorf("%s: CountSamples = %d, %v; want %d", name, n, err, len(tt.want))
		}
	}
	if _, err := s.ListSamples(ctx, SampleQuery{Statuses: []string{"bogus"}}); err == nil {
		t.Error("unknown status accepted")
	}
}

// TestKeysetPagination walks 10,000 samples page by page and checks that
// every id comes back exactly once and in order, with and without filters.
func TestKeysetPagination(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 10,000 samples")
	}
	s := openTest(t, Options{})
	ctx := t.Context()
	repo := mustRepo(t, s, "github.com/o/r")

	const total = 10000
	// Only every fifth sample gets an answer: under -race each indexed
	// turn is expensive, and pagination does not care about turn count.
	var all, deleted, needles, active []int64
	for batch := 0; batch < total; batch += 1000 {
		qs := make([]NewQuestion, 1000)
		for i := range qs {
			n := batch + i
			text := fmt.Sprintf("question %d", n)
			if n%7 == 0 {
				text += " needle"
			}
			qs[i] = question(repo, fmt.Sprintf("f%03d.go", n/100), n%100, text)
		}
		ids, err := s.InsertPendingQuestions(ctx, qs)
		if err != nil {
			t.Fatal(err)
		}
		var answers []Answer
		for i, id := range ids {
			if (batch+i)%5 == 0 {
				answers = append(answers, Answer{SampleID: id, Content: fmt.Sprintf("answer %d", batch+i)})
			}
		}
		if err := s.StoreAnswers(ctx, answers); err != nil {
			t.Fatal(err)
		}
		all = append(all, ids...)
	}
	for i, id := range all {
		switch {
		case i%3 == 0:
			if err := s.DeleteSample(ctx, id); err != nil {
				t.Fatal(err)
			}
			deleted = append(deleted, id)
		case i%7 == 0:
			needles = append(needles, id)
			fallthrough
		case i%5 == 0:
			if i%5 == 0 {
				active = append(active, id)
			}
		}
	}
	notDeleted := slices.DeleteFunc(slices.Clone(all), func(id int64) bool { return slices.Contains(deleted, id) })

	walk := func(q SampleQuery) []int64 {
		t.Helper()
		var got []int64
		for pages := 0; ; pages++ {
			if pages > total {
				t.Fatal("pagination does not terminate")
			}
			page, err := s.ListSamples(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, sm := range page.Samples {
				got = append(got, sm.ID)
			}
			if page.Next == 0 {
				return got
			}
			if len(page.Samples) != q.Limit {
				t.Fatalf("short page (%d) with a next cursor", len(page.Samples))
			}
			q.After = page.Next
		}
	}
	reversed := func(ids []int64) []int64 {
		r := slices.Clone(ids)
		slices.Reverse(r)
		return r
	}

	for name, tt := range map[string]struct {
		q    SampleQuery
		want []int64
	}{
		"all asc":      {SampleQuery{Statuses: sampleStatuses(), Limit: 97}, all},
		"all desc":     {SampleQuery{Statuses: sampleStatuses(), Limit: 97, Desc: true}, reversed(all)},
		"default asc":  {SampleQuery{Limit: 250}, notDeleted},
		"deleted asc":  {SampleQuery{Statuses: []string{StatusDeleted}, Limit: 100}, deleted},
		"deleted desc": {SampleQuery{Statuses: []string{StatusDeleted}, Limit: 100, Desc: true}, reversed(deleted)},
		"active asc":   {SampleQuery{Statuses: []string{StatusActive}, Limit: 100}, active},
		"active+deleted desc": {SampleQuery{Statuses: []string{StatusActive, StatusDeleted}, Limit: 100, Desc: true},
			reversed(slices.Sorted(slices.Values(append(slices.Clone(active), deleted...))))},
		"search asc":         {SampleQuery{Search: "needle", Limit: 33}, needles},
		"search desc":        {SampleQuery{Search: "needle", Limit: 33, Desc: true}, reversed(needles)},
		"exact multiple":     {SampleQuery{Statuses: sampleStatuses(), Limit: 1000}, all},
		"max page is capped": {SampleQuery{Statuses: sampleStatuses(), Limit: 5000}, all},
	} {
		t.Run(name, func(t *testing.T) {
			if tt.q.Limit > MaxPageSize {
				page, err := s.ListSamples(ctx, tt.q)
				if err != nil || len(page.Samples) != MaxPageSize {
					t.Fatalf("page size %d, %v; want %d", len(page.Samples), err, MaxPageSize)
				}
				return
			}
			got := walk(tt.q)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %d ids, want %d (first difference matters: order or duplicates)", len(got), len(tt.want))
			}
			if n, err := s.CountSamples(ctx, tt.q); err != nil || n != int64(len(tt.want)) {
				t.Errorf("CountSamples = %d, %v; want %d", n, err, len(tt.want))
			}
		})
	}
	if p, err := s.ListSamples(ctx, SampleQuery{}); err != nil || len(p.Samples) != DefaultPageSize {
		t.Errorf("default page size = %d, %v", len(p.Samples), err)
	}
}
