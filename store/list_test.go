package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
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

// curationFixture is a small store with every kind of row the listing
// filters and orders tell apart: two repositories, several files, tied and
// missing scores, edited, rated, deleted and pending samples.
type curationFixture struct {
	s      *Store
	repoA  int64
	repoB  int64
	ids    []int64
	all    []SampleSummary // every sample, by id
	marked map[int64]bool  // samples whose question holds "walrus"
}

func newCurationFixture(t *testing.T, n int) *curationFixture {
	t.Helper()
	s := openTest(t, Options{})
	ctx := t.Context()
	f := &curationFixture{s: s, marked: map[int64]bool{}}
	f.repoA = mustRepo(t, s, "github.com/acme/api")
	f.repoB = mustRepo(t, s, "github.com/acme/infra")
	var qs []NewQuestion
	for i := range n {
		repo := f.repoA
		if i%3 == 2 {
			repo = f.repoB
		}
		text := fmt.Sprintf("question %d", i)
		if i%4 == 1 {
			text += " about the walrus"
		}
		// Files in an order unrelated to ids, so OrderFile really sorts.
		qs = append(qs, question(repo, fmt.Sprintf("pkg/f%d.go", (i*7)%5), i, text))
	}
	ids, err := s.InsertPendingQuestions(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	f.ids = ids
	for i, id := range ids {
		if i%4 == 1 {
			f.marked[id] = true
		}
		if i%9 != 8 { // every ninth stays pending
			if err := s.StoreAnswer(ctx, Answer{SampleID: id, Content: fmt.Sprintf("answer %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		if i%5 != 0 { // every fifth is unscored; scores tie a lot
			if err := s.SetScore(ctx, id, float64(i%4)+0.5*float64(i%2)); err != nil {
				t.Fatal(err)
			}
		}
		if i%6 == 0 {
			if err := s.RateSample(ctx, id, 1+i%5); err != nil {
				t.Fatal(err)
			}
		}
		if i%7 == 3 && i%9 != 8 {
			if err := s.EditTurn(ctx, id, 1, fmt.Sprintf("edited answer %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if i%10 == 4 {
			if err := s.DeleteSample(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	page, err := s.ListSamples(ctx, SampleQuery{Statuses: sampleStatuses(), Limit: MaxPageSize})
	if err != nil || len(page.Samples) != n {
		t.Fatalf("fixture listing: %d rows, %v", len(page.Samples), err)
	}
	f.all = page.Samples
	return f
}

// expected filters and sorts the fixture in Go, the reference the SQL
// must agree with.
func (f *curationFixture) expected(q SampleQuery) []int64 {
	var rows []SampleSummary
	for _, sm := range f.all {
		switch {
		case len(q.Statuses) == 0 && sm.Status == StatusDeleted,
			len(q.Statuses) > 0 && !slices.Contains(q.Statuses, sm.Status),
			q.RepoID != 0 && sm.RepoID != q.RepoID,
			q.FilePath != "" && sm.FilePath != q.FilePath,
			q.OnlyEdited && !sm.Edited,
			q.OnlyUnrated && sm.HumanRating != 0,
			q.MinScore != nil && (sm.Score == nil || *sm.Score < *q.MinScore),
			q.MaxScore != nil && (sm.Score == nil || *sm.Score > *q.MaxScore),
			q.Search != "" && !f.marked[sm.ID],
			q.Search != "" && !strings.EqualFold(q.Search, "walrus"): // the only word the fixture searches for

			continue
		}
		rows = append(rows, sm)
	}
	slices.SortStableFunc(rows, func(a, b SampleSummary) int {
		ca, cb := a.Cursor(), b.Cursor()
		c := 0
		switch q.Order {
		case OrderScore:
			c = cmpFloat(ca.Score, cb.Score)
		case OrderFile:
			c = strings.Compare(ca.File, cb.File)
		}
		if c == 0 {
			c = cmpInt(ca.ID, cb.ID)
		}
		if q.Desc {
			c = -c
		}
		return c
	})
	ids := []int64{}
	for _, sm := range rows {
		ids = append(ids, sm.ID)
	}
	return ids
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// walkPages pages through q with its Limit, following NextKey (or Next,
// when useNext is set), and fails on a page that repeats or skips.
func walkPages(t *testing.T, s *Store, q SampleQuery, useNext bool) []int64 {
	t.Helper()
	ids := []int64{}
	seen := map[int64]bool{}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("pagination does not terminate")
		}
		page, err := s.ListSamples(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range page.Samples {
			if seen[sm.ID] {
				t.Fatalf("sample %d listed twice", sm.ID)
			}
			seen[sm.ID] = true
			ids = append(ids, sm.ID)
		}
		if page.Next == 0 {
			if !page.NextKey.IsZero() {
				t.Fatalf("last page has NextKey %+v", page.NextKey)
			}
			return ids
		}
		if len(page.Samples) != q.Limit {
			t.Fatalf("short page (%d) with a next cursor", len(page.Samples))
		}
		if page.NextKey.ID != page.Next || page.NextKey != page.Samples[len(page.Samples)-1].Cursor() {
			t.Fatalf("NextKey %+v does not name the last row (Next %d)", page.NextKey, page.Next)
		}
		if useNext {
			q.After = page.Next
		} else {
			q.AfterKey = page.NextKey
		}
	}
}

func TestListOrdersFiltersAndPaging(t *testing.T) {
	f := newCurationFixture(t, 90)
	one, three := 1.0, 3.0
	filters := map[string]SampleQuery{
		"default":         {},
		"every status":    {Statuses: sampleStatuses()},
		"deleted":         {Statuses: []string{StatusDeleted}},
		"pending":         {Statuses: []string{StatusPending}},
		"active+stale":    {Statuses: []string{StatusActive, StatusStale}},
		"only edited":     {OnlyEdited: true},
		"only unrated":    {OnlyUnrated: true},
		"edited+unrated":  {OnlyEdited: true, OnlyUnrated: true},
		"repo":            {RepoID: f.repoB},
		"repo+file":       {RepoID: f.repoA, FilePath: "pkg/f2.go"},
		"file":            {FilePath: "pkg/f3.go"},
		"min score":       {MinScore: &three},
		"score range":     {MinScore: &one, MaxScore: &three},
		"search":          {Search: "walrus"},
		"search+unrated":  {Search: "walrus", OnlyUnrated: true},
		"search+edited":   {Search: "walrus", OnlyEdited: true, Statuses: sampleStatuses()},
		"search+repo":     {Search: "WALRUS", RepoID: f.repoA},
		"unrated+deleted": {OnlyUnrated: true, Statuses: []string{StatusDeleted}},
	}
	orders := []SampleOrder{OrderID, OrderScore, OrderFile}
	for name, base := range filters {
		for _, order := range orders {
			for _, desc := range []bool{false, true} {
				for _, limit := range []int{1, 4, 7, 1000} {
					q := base
					q.Order, q.Desc, q.Limit = order, desc, limit
					t.Run(fmt.Sprintf("%s/%s/desc=%v/limit=%d", name, order, desc, limit), func(t *testing.T) {
						want := f.expected(q)
						if got := walkPages(t, f.s, q, false); !slices.Equal(got, want) {
							t.Errorf("got  %v\nwant %v", got, want)
						}
						if order == OrderID {
							if got := walkPages(t, f.s, q, true); !slices.Equal(got, want) {
								t.Errorf("with After: got %v\nwant %v", got, want)
							}
						}
						if n, err := f.s.CountSamples(t.Context(), q); err != nil || n != int64(len(want)) {
							t.Errorf("CountSamples = %d, %v; want %d", n, err, len(want))
						}
					})
				}
			}
		}
	}
	// The fixture must exercise what the filters claim to tell apart.
	for name, q := range map[string]SampleQuery{"edited": {OnlyEdited: true}, "deleted": {Statuses: []string{StatusDeleted}}} {
		if len(f.expected(q)) == 0 {
			t.Errorf("fixture has no %s samples", name)
		}
	}
}

// TestListCursorFromAnyRow resumes every order from every row in both
// directions: what the UI does to load the rows before its window and to
// step to the next or previous sample.
func TestListCursorFromAnyRow(t *testing.T) {
	f := newCurationFixture(t, 40)
	for _, order := range []SampleOrder{OrderID, OrderScore, OrderFile} {
		asc := f.expected(SampleQuery{Order: order, Statuses: sampleStatuses()})
		byID := map[int64]SampleSummary{}
		for _, sm := range f.all {
			byID[sm.ID] = sm
		}
		for i, id := range asc {
			for _, desc := range []bool{false, true} {
				q := SampleQuery{Order: order, Desc: desc, Statuses: sampleStatuses(), Limit: 3, AfterKey: byID[id].Cursor()}
				page, err := f.s.ListSamples(t.Context(), q)
				if err != nil {
					t.Fatal(err)
				}
				var want []int64
				if desc {
					for j := i - 1; j >= 0 && len(want) < 3; j-- {
						want = append(want, asc[j])
					}
				} else {
					for j := i + 1; j < len(asc) && len(want) < 3; j++ {
						want = append(want, asc[j])
					}
				}
				var got []int64
				for _, sm := range page.Samples {
					got = append(got, sm.ID)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s desc=%v after %d: got %v, want %v", order, desc, id, got, want)
				}
			}
		}
	}
}

func TestListUnknownOrder(t *testing.T) {
	s := openTest(t, Options{})
	if _, err := s.ListSamples(t.Context(), SampleQuery{Order: SampleOrder(9)}); err == nil ||
		!strings.Contains(err.Error(), "sort order") {
		t.Errorf("unknown order: %v", err)
	}
}

func TestCursorOfUnscoredSample(t *testing.T) {
	score := 2.5
	for _, tt := range []struct {
		sm   SampleSummary
		want SampleCursor
	}{
		{SampleSummary{ID: 3, FilePath: "a.go"}, SampleCursor{ID: 3, Score: -1, File: "a.go"}},
		{SampleSummary{ID: 4, FilePath: "b.go", Score: &score}, SampleCursor{ID: 4, Score: 2.5, File: "b.go"}},
	} {
		if got := tt.sm.Cursor(); got != tt.want {
			t.Errorf("Cursor() = %+v, want %+v", got, tt.want)
		}
		full := Sample{ID: tt.sm.ID, FilePath: tt.sm.FilePath, Score: tt.sm.Score}
		if got := full.Cursor(); got != tt.want {
			t.Errorf("Sample.Cursor() = %+v, want %+v", got, tt.want)
		}
	}
	if !(SampleCursor{}).IsZero() || (SampleCursor{ID: 1}).IsZero() {
		t.Error("IsZero")
	}
}

// TestListPlansWalkAnIndex guards the cost of deep pages: each order, with
// and without a status filter and a cursor, must read its rows from an
// index already in that order. A plan that sorts the matching rows would
// make every page cost the whole table.
func TestListPlansWalkAnIndex(t *testing.T) {
	s := openTest(t, Options{})
	wantIndex := map[SampleOrder]string{
		OrderID:    "PRIMARY KEY",
		OrderScore: "score_key",
		OrderFile:  "file_key",
	}
	for _, order := range []SampleOrder{OrderID, OrderScore, OrderFile} {
		for _, statuses := range [][]string{nil, {StatusActive}, {StatusDeleted}} {
			for _, after := range []SampleCursor{{}, {ID: 5, Score: 2, File: "x.go"}} {
				for _, desc := range []bool{false, true} {
					q := SampleQuery{Order: order, Statuses: statuses, AfterKey: after, Desc: desc}
					query, args, _, _, err := listSQL(q)
					if err != nil {
						t.Fatal(err)
					}
					var plan []string
					err = s.read(t.Context(), func(conn *sqlite.Conn) error {
						return execSQL(conn, "EXPLAIN QUERY PLAN "+query, args, func(stmt *sqlite.Stmt) error {
							plan = append(plan, stmt.ColumnText(3))
							return nil
						})
					})
					if err != nil {
						t.Fatal(err)
					}
					for _, line := range plan {
						reads := strings.HasPrefix(line, "SCAN s") || strings.HasPrefix(line, "SEARCH s ")
						if !reads || strings.Contains(line, "(rowid=?)") {
							continue // the page's rows, fetched by id afterwards
						}
						if order == OrderID && (line == "SCAN s" || strings.Contains(line, "TrainingSamples_status (status=?")) {
							continue // the table itself, and (status, sample_id), are in id order
						}
						if !strings.Contains(line, wantIndex[order]) {
							t.Errorf("%s statuses=%v after=%v desc=%v reads %q, not the %s index:\n%s",
								order, statuses, after, desc, line, wantIndex[order], strings.Join(plan, "\n"))
						}
					}
				}
			}
		}
	}
}
