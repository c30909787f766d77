package samples

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"cicdllm/store"
	"cicdllm/ui/common"
)

// listed returns every id the store lists for q, in order.
func listed(t *testing.T, st *store.Store, q store.SampleQuery) []int64 {
	t.Helper()
	var ids []int64
	q.Limit = store.MaxPageSize
	for {
		page, err := st.ListSamples(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range page.Samples {
			ids = append(ids, sm.ID)
		}
		if page.Next == 0 {
			return ids
		}
		q.AfterKey = page.NextKey
	}
}

func selectedID(t *testing.T, b Browser) int64 {
	t.Helper()
	sel, ok := b.win.selected()
	if !ok {
		t.Fatal("no row selected")
	}
	return sel.ID
}

func position(b Browser) int64 {
	pos, _ := b.win.position(b.total, b.totalKnown)
	return pos
}

// TestBrowserWalksEveryRowOnce moves the cursor through more rows than the
// window holds, down and back up, one row at a time and a page at a time:
// every sample must come up exactly once, in order, while the window
// stays bounded.
func TestBrowserWalksEveryRowOnce(t *testing.T) {
	f := newFixture(t, 450)
	for _, sort := range []sortMode{sortNewest, sortOldest, sortScore, sortFile} {
		t.Run(sort.String(), func(t *testing.T) {
			d := f.browser(t, 80, 12)
			for d.m.sort != sort {
				d.press("o")
			}
			want := listed(t, f.st, d.m.query())
			if len(want) != 450 {
				t.Fatalf("fixture lists %d samples", len(want))
			}
			var down []int64
			for i := range want {
				if i > 0 {
					d.press([]string{"j", "down"}[i%2])
				}
				down = append(down, selectedID(t, d.m))
				if got := position(d.m); got != int64(i+1) {
					t.Fatalf("at row %d the status line says row %d", i+1, got)
				}
				if len(d.m.win.rows) > d.m.maxRows() {
					t.Fatalf("window holds %d rows, more than %d", len(d.m.win.rows), d.m.maxRows())
				}
			}
			if !slices.Equal(down, want) {
				t.Fatalf("walking down visited %v…, want %v…", down[:10], want[:10])
			}
			d.press("j") // past the end: stays
			if selectedID(t, d.m) != want[len(want)-1] {
				t.Error("moved past the last row")
			}
			var up []int64
			for i := len(want) - 1; i >= 0; i-- {
				up = append(up, selectedID(t, d.m))
				d.press([]string{"k", "up"}[i%2])
			}
			slices.Reverse(up)
			if !slices.Equal(up, want) {
				t.Fatal("walking up did not visit every row in order")
			}

			// Page by page: pgdown and ctrl+d move a screen (9 rows here).
			d.press("g")
			rows := d.m.listHeight()
			for i := 1; i*rows < len(want); i++ {
				d.press([]string{"pgdown", "ctrl+d"}[i%2])
				if got := selectedID(t, d.m); got != want[i*rows] {
					t.Fatalf("page %d: on %d, want %d", i, got, want[i*rows])
				}
			}
			d.press("pgup", "ctrl+u")
			if got, wantPos := position(d.m), int64((len(want)-1)/rows*rows-2*rows+1); got != wantPos {
				t.Errorf("after two pages up: row %d, want %d", got, wantPos)
			}
			d.noErrors()
		})
	}
}

func TestBrowserJumpsToEnds(t *testing.T) {
	f := newFixture(t, 450)
	d := f.browser(t, 80, 24)
	d.press("G")
	if got := selectedID(t, d.m); got != f.ids[0] {
		t.Errorf("G selected %d, want the oldest sample %d", got, f.ids[0])
	}
	if len(d.m.win.rows) > d.m.pageSize()*2 {
		t.Errorf("G loaded %d rows; it must load the last page, not walk to it", len(d.m.win.rows))
	}
	if !strings.Contains(d.m.View(), "row 450 of 450") {
		t.Errorf("status line after G:\n%s", d.m.View())
	}
	d.press("k")
	if got := selectedID(t, d.m); got != f.ids[1] {
		t.Errorf("k after G selected %d, want %d", got, f.ids[1])
	}
	d.press("end") // already at the end: stays
	if got := selectedID(t, d.m); got != f.ids[0] {
		t.Errorf("end selected %d", got)
	}
	// Walking up from the end loads earlier pages.
	for range 150 {
		d.press("k")
	}
	if got := selectedID(t, d.m); got != f.ids[150] {
		t.Errorf("150 rows up from the end: %d, want %d", got, f.ids[150])
	}
	if pos := position(d.m); pos != 300 {
		t.Errorf("position %d, want 300", pos)
	}
	d.press("g")
	if got := selectedID(t, d.m); got != f.ids[len(f.ids)-1] {
		t.Errorf("g selected %d, want the newest %d", got, f.ids[len(f.ids)-1])
	}
	if !strings.Contains(d.m.View(), "row 1 of 450") {
		t.Errorf("status line after g:\n%s", d.m.View())
	}
	d.press("home")
	d.noErrors()
}

func TestBrowserEnterOpensTheSample(t *testing.T) {
	f := newFixture(t, 10)
	d := f.browser(t, 80, 24)
	d.press("j", "enter")
	var open common.OpenSampleMsg
	for _, msg := range d.take() {
		if o, ok := msg.(common.OpenSampleMsg); ok {
			open = o
		}
	}
	if open.ID != f.ids[8] || !open.Query.Desc || open.Query.Order != store.OrderID {
		t.Errorf("enter sent %+v, want sample %d in newest-first order", open, f.ids[8])
	}
}

func TestBrowserSearch(t *testing.T) {
	f := newFixture(t, 30)
	d := f.browser(t, 100, 20)
	d.press("/")
	if !d.m.Capturing() {
		t.Fatal("the search box does not capture keys")
	}
	d.typeText("zebra q?:") // global keys are text while typing
	d.press("backspace", "backspace", "backspace", "backspace")
	if got := d.m.input.Value(); got != "zebra" {
		t.Fatalf("search box holds %q", got)
	}
	d.press("enter")
	d.noErrors()
	if d.m.Capturing() || d.m.search != "zebra" {
		t.Fatalf("after enter: capturing %v, search %q", d.m.Capturing(), d.m.search)
	}
	want := listed(t, f.st, store.SampleQuery{Search: "zebra", Desc: true})
	if len(want) == 0 || len(d.m.win.rows) != len(want) || d.m.total != int64(len(want)) {
		t.Fatalf("search shows %d rows (total %d), want %d", len(d.m.win.rows), d.m.total, len(want))
	}
	for _, r := range d.m.win.rows {
		if !strings.Contains(r.Question, "zebra") {
			t.Errorf("row %d does not match: %q", r.ID, r.Question)
		}
	}
	if !strings.Contains(d.m.View(), "search “zebra”") {
		t.Error("the title does not show the search")
	}

	// esc in the box cancels the edit, not the search.
	d.press("/")
	d.typeText("other")
	d.press("esc")
	if d.m.search != "zebra" || d.m.Capturing() {
		t.Errorf("esc in the search box: search %q", d.m.search)
	}
	// esc in the list clears search and filter.
	d.press("esc")
	if d.m.search != "" || len(d.m.win.rows) != 30 {
		t.Errorf("esc did not clear the search: %q, %d rows", d.m.search, len(d.m.win.rows))
	}

	// FocusSearch, as the root calls it for / on another screen.
	m, cmd := d.m.FocusSearch()
	d.m = m
	d.run(cmd)
	if !d.m.Capturing() {
		t.Error("FocusSearch did not open the search box")
	}
	d.typeText("nothing-matches-this")
	d.press("enter")
	if !strings.Contains(d.m.View(), "No samples match") {
		t.Errorf("empty search result:\n%s", d.m.View())
	}
}

func TestBrowserFilterForm(t *testing.T) {
	f := newFixture(t, 40)
	d := f.browser(t, 100, 30)
	d.press("f")
	if !d.m.Capturing() {
		t.Fatal("the filter form does not capture keys")
	}
	d.typeText("infra")                  // repository: substring of acme/infra
	d.press("tab", "tab")                // file → status
	d.press("right")                     // all → active
	d.press("tab")                       // min score
	d.typeText("1")                      //
	d.press("tab", "tab")                // max → only edited
	d.press("tab", "space", "shift+tab") // only unrated on, back to only edited
	d.press("down", "up", "enter")       // apply
	d.noErrors()
	if d.m.Capturing() {
		t.Fatalf("form still open: %s", d.m.form.err)
	}
	one := 1.0
	want := store.SampleQuery{RepoID: f.repoB, Statuses: []string{store.StatusActive}, MinScore: &one, OnlyUnrated: true, Desc: true}
	wantIDs := listed(t, f.st, want)
	var got []int64
	for _, r := range d.m.win.rows {
		got = append(got, r.ID)
	}
	if len(wantIDs) == 0 || !slices.Equal(got, wantIDs) {
		t.Errorf("filtered rows %v, want %v", got, wantIDs)
	}
	if q := d.m.query(); q.RepoID != f.repoB || !q.OnlyUnrated || q.OnlyEdited || q.MinScore == nil || *q.MinScore != 1 || q.MaxScore != nil {
		t.Errorf("query %+v", q)
	}
	if v := d.m.View(); !strings.Contains(v, "repo acme/infra") || !strings.Contains(v, "unrated") {
		t.Errorf("title does not describe the filter:\n%s", v)
	}

	// Only edited, through the same form.
	d.press("f")
	for d.m.form.focus != fieldEdited {
		d.press("tab")
	}
	d.press("space", "enter")
	for _, r := range d.m.win.rows {
		if !r.Edited {
			t.Errorf("row %d is not edited", r.ID)
		}
	}

	// Invalid input keeps the form open with the reason.
	d.press("f", "tab", "tab", "tab")
	d.typeText("abc")
	d.press("enter")
	if !d.m.Capturing() || !strings.Contains(d.m.form.err, "not a number") {
		t.Errorf("bad score accepted: %q", d.m.form.err)
	}
	d.press("esc") // cancel keeps the previous filter
	if d.m.Capturing() || !d.m.filter.edited {
		t.Error("esc did not cancel the form")
	}
	d.press("f")
	d.typeText("no-such-repo")
	d.press("enter")
	if !strings.Contains(d.m.form.err, "no repository") {
		t.Errorf("unknown repository: %q", d.m.form.err)
	}
	d.press("esc")

	// ctrl+n picks among several matches.
	d.press("f")
	for range len(d.m.form.repo.Value()) {
		d.press("backspace")
	}
	d.typeText("acme")
	d.press("ctrl+n", "enter")
	if d.m.filter.repoID != f.repoB {
		t.Errorf("ctrl+n picked repository %d, want %d", d.m.filter.repoID, f.repoB)
	}
	// Deleted status shows deleted samples only.
	d.press("esc") // clear everything
	if d.m.filter.active() {
		t.Fatal("esc did not clear the filter")
	}
	if err := f.st.DeleteSample(context.Background(), f.ids[3]); err != nil {
		t.Fatal(err)
	}
	d.press("f", "tab", "tab", "left", "enter")
	if len(d.m.win.rows) != 1 || d.m.win.rows[0].ID != f.ids[3] {
		t.Errorf("deleted filter shows %d rows", len(d.m.win.rows))
	}
	d.noErrors()
}

func TestBrowserSortCycles(t *testing.T) {
	f := newFixture(t, 30)
	d := f.browser(t, 80, 24)
	for _, tt := range []struct {
		name  string
		order store.SampleOrder
		desc  bool
	}{{"oldest first", store.OrderID, false}, {"best score first", store.OrderScore, true},
		{"by file", store.OrderFile, false}, {"newest first", store.OrderID, true}} {
		d.press("o")
		want := listed(t, f.st, store.SampleQuery{Order: tt.order, Desc: tt.desc})
		if d.m.sort.String() != tt.name || selectedID(t, d.m) != want[0] {
			t.Errorf("after o: %s on %d, want %s on %d", d.m.sort, selectedID(t, d.m), tt.name, want[0])
		}
		if !strings.Contains(d.m.View(), tt.name) {
			t.Errorf("title does not name the sort %q", tt.name)
		}
	}
	d.noErrors()
}

func TestBrowserDeleteAndUndo(t *testing.T) {
	f := newFixture(t, 30)
	d := f.browser(t, 80, 24)
	d.press("j", "j")
	id := selectedID(t, d.m)
	d.press("d")
	d.noErrors()
	if st := f.sample(t, id).Status; st != store.StatusDeleted {
		t.Fatalf("after d: status %s", st)
	}
	if !slices.Contains(d.flashes(), "deleted #"+itoa(id)+" — u to undo") {
		t.Errorf("flashes %v", d.flashes())
	}
	changed := false
	for _, msg := range d.take() {
		if c, ok := msg.(common.SampleChangedMsg); ok && c.ID == id {
			changed = true
		}
	}
	if !changed {
		t.Error("no SampleChangedMsg for the deletion")
	}
	// The row left the listing; the cursor is on the one that took its place.
	for _, r := range d.m.win.rows {
		if r.ID == id {
			t.Error("deleted sample still listed")
		}
	}
	if got := selectedID(t, d.m); got != id-1 || d.m.total != 29 {
		t.Errorf("cursor on %d (want %d), total %d", got, id-1, d.m.total)
	}
	d.press("u")
	d.noErrors()
	if st := f.sample(t, id).Status; st != store.StatusActive {
		t.Errorf("after u: status %s", st)
	}
	if d.m.total != 30 {
		t.Errorf("total after undo %d", d.m.total)
	}
	d.take()
	d.press("u")
	if !slices.Contains(d.flashes(), "nothing to undo") {
		t.Errorf("second u: %v", d.flashes())
	}
}

func TestBrowserRates(t *testing.T) {
	f := newFixture(t, 30)
	d := f.browser(t, 80, 24)
	id := selectedID(t, d.m)
	before := f.sample(t, id).HumanRating
	for _, k := range []string{"4", "1", "5", "0", "3"} {
		d.press(k)
		r, _ := rating(k)
		if got := f.sample(t, id).HumanRating; got != r {
			t.Errorf("after %s: rating %d", k, got)
		}
		if got := d.m.win.rows[d.m.win.cursor].HumanRating; got != r {
			t.Errorf("after %s: the row shows %d", k, got)
		}
	}
	d.noErrors()
	if fl := d.flashes(); !slices.Contains(fl, "rated 4") || !slices.Contains(fl, "rating cleared") {
		t.Errorf("flashes %v", fl)
	}
	for range 5 {
		d.press("u")
	}
	if got := f.sample(t, id).HumanRating; got != before {
		t.Errorf("after undoing every rating: %d, want %d", got, before)
	}
}

func TestBrowserBulkDelete(t *testing.T) {
	f := newFixture(t, 30)
	d := f.browser(t, 80, 24)
	d.press("/")
	d.typeText("zebra")
	d.press("enter")
	matching := listed(t, f.st, store.SampleQuery{Search: "zebra"})

	d.press("D")
	if !d.m.Capturing() || !strings.Contains(d.m.View(), "Delete "+itoa(int64(len(matching)))+" samples matching this view? y/n") {
		t.Fatalf("no confirmation:\n%s", d.m.View())
	}
	d.press("n")
	if f.sample(t, matching[0]).Status == store.StatusDeleted || !slices.Contains(d.flashes(), "nothing deleted") {
		t.Fatal("n deleted")
	}
	d.press("D", "y")
	d.noErrors()
	for _, id := range matching {
		if f.sample(t, id).Status != store.StatusDeleted {
			t.Errorf("sample %d not deleted", id)
		}
	}
	if n, _ := f.st.CountSamples(context.Background(), store.SampleQuery{}); n != int64(30-len(matching)) {
		t.Errorf("%d samples left, want %d", n, 30-len(matching))
	}
	if len(d.m.win.rows) != 0 || !strings.Contains(d.m.View(), "No samples match") {
		t.Errorf("view after bulk delete:\n%s", d.m.View())
	}
	d.press("u")
	d.noErrors()
	for _, id := range matching {
		if st := f.sample(t, id).Status; st == store.StatusDeleted {
			t.Errorf("sample %d still deleted after undo", id)
		}
	}
	if len(d.m.win.rows) != len(matching) {
		t.Errorf("%d rows after undo, want %d", len(d.m.win.rows), len(matching))
	}
	// Nothing matches: nothing to confirm.
	d.press("/")
	d.typeText("no-such-word")
	d.press("enter", "D")
	if d.m.Capturing() {
		t.Error("confirmation for zero samples")
	}
}

func TestBrowserBulkRate(t *testing.T) {
	f := newFixture(t, 30)
	d := f.browser(t, 80, 24)
	d.press("/")
	d.typeText("header")
	d.press("enter")
	matching := listed(t, f.st, store.SampleQuery{Search: "header"})
	before := map[int64]int{}
	for _, id := range f.ids {
		before[id] = f.sample(t, id).HumanRating
	}
	d.press("R")
	if !d.m.Capturing() || !strings.Contains(d.m.View(), "Rate all") {
		t.Fatalf("no prompt after R:\n%s", d.m.View())
	}
	d.press("2")
	d.noErrors()
	for _, id := range f.ids {
		got := f.sample(t, id).HumanRating
		switch {
		case slices.Contains(matching, id) && got != 2:
			t.Errorf("sample %d rated %d, want 2", id, got)
		case !slices.Contains(matching, id) && got != before[id]:
			t.Errorf("sample %d outside the search changed", id)
		}
	}
	d.press("u")
	for _, id := range f.ids {
		if got := f.sample(t, id).HumanRating; got != before[id] {
			t.Errorf("after undo sample %d rated %d, want %d", id, got, before[id])
		}
	}
	d.press("R", "x") // anything but a digit cancels
	if d.m.Capturing() || !slices.Contains(d.flashes(), "nothing rated") {
		t.Error("R x did not cancel")
	}
	d.press("R", "0")
	for _, id := range matching {
		if got := f.sample(t, id).HumanRating; got != 0 {
			t.Errorf("R 0 left sample %d rated %d", id, got)
		}
	}
}

// TestBrowserLeavesGlobalKeys: the root handles q ? : tab ctrl+c ctrl+p.
func TestBrowserLeavesGlobalKeys(t *testing.T) {
	f := newFixture(t, 5)
	d := f.browser(t, 80, 24)
	before := d.m
	for _, k := range []string{"q", "?", ":", "tab", "shift+tab", "ctrl+c", "ctrl+p"} {
		m, cmd := d.m.Update(keyMsg(k))
		if cmd != nil || m.mode != before.mode || m.win.cursor != before.win.cursor || m.Capturing() {
			t.Errorf("%s is global but the Browser acted on it", k)
		}
	}
	if len(d.m.KeyHelp()) == 0 {
		t.Error("no key help")
	}
}

// TestBrowserFollowsChanges: a change made elsewhere (the sample view)
// reloads the window and keeps the cursor on its sample.
func TestBrowserFollowsChanges(t *testing.T) {
	f := newFixture(t, 300)
	d := f.browser(t, 80, 12)
	for range 150 {
		d.press("j")
	}
	id := selectedID(t, d.m)
	if err := f.st.RateSample(context.Background(), id, 5); err != nil {
		t.Fatal(err)
	}
	if err := f.st.DeleteSample(context.Background(), id+1); err != nil {
		t.Fatal(err)
	}
	d.send(common.SampleChangedMsg{ID: id})
	d.noErrors()
	if got := selectedID(t, d.m); got != id || d.m.win.rows[d.m.win.cursor].HumanRating != 5 {
		t.Errorf("after the change: on %d, rating %d", got, d.m.win.rows[d.m.win.cursor].HumanRating)
	}
	if pos := position(d.m); pos != 150 {
		t.Errorf("position %d, want 150 (one row above was deleted)", pos)
	}
	if d.m.total != 299 {
		t.Errorf("total %d", d.m.total)
	}
	// Walking on from there still visits every remaining row.
	want := listed(t, f.st, d.m.query())
	i := slices.Index(want, id)
	for j := i + 1; j < len(want); j++ {
		d.press("j")
		if got := selectedID(t, d.m); got != want[j] {
			t.Fatalf("row %d: %d, want %d", j, got, want[j])
		}
	}
	// A finished job reloads too.
	d.send(common.SessionEventMsg{})
	d.noErrors()
}

func TestBrowserReportsLoadErrors(t *testing.T) {
	f := newFixture(t, 5)
	b := NewBrowser(f.ctx)
	b.SetSize(80, 24)
	f.st.Close()
	d := newDriver(t, b, Browser.Update)
	d.run(b.Init())
	var errs int
	for _, msg := range d.take() {
		if e, ok := msg.(common.ErrMsg); ok && strings.Contains(e.Err.Error(), "could not") {
			errs++
		}
	}
	if errs == 0 {
		t.Error("a failed load sent no ErrMsg")
	}
	if !strings.Contains(d.m.View(), "Could not load samples") {
		t.Errorf("view:\n%s", d.m.View())
	}
	// A failed change puts its undo back.
	d.m.undo = []undoAction{{restore: []int64{1}}}
	d.press("u")
	if len(d.m.undo) != 1 {
		t.Error("a failed undo was forgotten")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
