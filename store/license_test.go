package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
)

func TestLicenseIDs(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{"", nil},
		{"MIT", []string{"MIT"}},
		{"Apache-2.0 AND MIT", []string{"Apache-2.0", "MIT"}},
		{"(MIT OR Apache-2.0) AND BSD-3-Clause", []string{"MIT", "Apache-2.0", "BSD-3-Clause"}},
		{"mit or mit", []string{"mit"}},
		{"GPL-2.0-only with Classpath-exception-2.0", []string{"GPL-2.0-only WITH Classpath-exception-2.0"}},
		{"  MIT   and\tISC ", []string{"MIT", "ISC"}},
		{"SEE LICENSE IN LICENSE.txt", []string{"SEE LICENSE IN LICENSE.txt"}},
	} {
		if got := LicenseIDs(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("LicenseIDs(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// TestExportLicenseFilter fills repositories under different licences and
// checks every export query honours ExportQuery.Licenses the same way.
func TestExportLicenseFilter(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	licences := []string{"MIT", "Apache-2.0", "GPL-3.0", "Apache-2.0 AND MIT", "MIT AND GPL-3.0", "NOASSERTION", "",
		"(MIT OR Apache-2.0)", "mit", "BSD-3-Clause"}
	repoOf := map[int64]string{}
	var qs []NewQuestion
	for i, lic := range licences {
		name := fmt.Sprintf("github.com/x/r%d", i)
		id, err := s.UpsertRepo(ctx, Repo{URL: "https://" + name, Name: name, License: lic})
		if err != nil {
			t.Fatal(err)
		}
		repoOf[id] = lic
		for k := range 2 {
			qs = append(qs, NewQuestion{RepoID: id, FilePath: fmt.Sprintf("f%d.go", k), BlobOID: "b", Question: fmt.Sprintf("q%d-%d?", i, k)})
		}
	}
	ids, err := s.InsertPendingQuestions(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := s.StoreAnswer(ctx, Answer{SampleID: id, Content: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		filter []string
		want   []string // licences of the repositories selected
	}{
		{nil, licences},
		{[]string{"MIT", "Apache-2.0"}, []string{"MIT", "Apache-2.0", "Apache-2.0 AND MIT", "(MIT OR Apache-2.0)", "mit"}},
		{[]string{"mit"}, []string{"MIT", "mit"}},
		{[]string{" APACHE-2.0 "}, []string{"Apache-2.0"}},
		{[]string{"MIT AND Apache-2.0"}, []string{"MIT", "Apache-2.0", "Apache-2.0 AND MIT", "(MIT OR Apache-2.0)", "mit"}},
		{[]string{"GPL-3.0"}, []string{"GPL-3.0"}},
		{[]string{"GPL-3.0", "MIT"}, []string{"MIT", "GPL-3.0", "MIT AND GPL-3.0", "mit"}},
		{[]string{"NOASSERTION"}, []string{"NOASSERTION", ""}},
		{[]string{"ISC"}, nil},
	} {
		t.Run(strings.Join(tc.filter, ","), func(t *testing.T) {
			q := ExportQuery{Licenses: tc.filter}
			var got []string
			after := int64(0)
			for {
				batch, err := s.ExportBatch(ctx, q, after, 4)
				if err != nil {
					t.Fatal(err)
				}
				if len(batch) == 0 {
					break
				}
				for _, sm := range batch {
					if sm.License != repoOf[sm.RepoID] {
						t.Errorf("sample %d carries licence %q, its repository %q", sm.ID, sm.License, repoOf[sm.RepoID])
					}
					if len(got) == 0 || got[len(got)-1] != sm.License {
						got = append(got, sm.License)
					}
				}
				after = batch[len(batch)-1].ID
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("licences exported %q, want %q", got, tc.want)
			}
			n, err := s.ExportCount(ctx, q)
			if err != nil || n != 2*len(tc.want) {
				t.Errorf("ExportCount = %d, %v; want %d", n, err, 2*len(tc.want))
			}
			listed, err := s.ExportIDs(ctx, q)
			if err != nil || len(listed) != n {
				t.Errorf("ExportIDs = %d ids, %v; want %d", len(listed), err, n)
			}
			groups, err := s.ExportGroups(ctx, q)
			if err != nil || len(groups) != 2*len(tc.want) {
				t.Errorf("ExportGroups = %v, %v", groups, err)
			}
		})
	}
	if _, err := s.ExportCount(ctx, ExportQuery{Licenses: []string{" ", "()"}}); err == nil {
		t.Error("a licence filter naming no licence was accepted")
	}
}

// TestExportLicensePlanHasNoSort: the licence filter is a subquery run once
// and keeps the batch query's rowid walk.
func TestExportLicensePlanHasNoSort(t *testing.T) {
	s := openTest(t, Options{})
	args, err := exportArgs(ExportQuery{Licenses: []string{"MIT", "Apache-2.0"}, RepoIDs: []int64{1, 2}})
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
