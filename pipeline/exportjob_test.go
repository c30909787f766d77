package pipeline

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cicdllm/pipeline/export"
	"cicdllm/store"
)

// exportJobStore is a store with two repositories: a has three answered
// samples (scores 4.5, 2 and none), b one answered and one pending.
func exportJobStore(t *testing.T) (*store.Store, int64, int64) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "data", "pipeline.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	repo := func(name string) int64 {
		id, err := st.UpsertRepo(ctx, store.Repo{URL: "https://" + name + ".git", Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, b := repo("github.com/acme/alpha"), repo("github.com/acme/beta")
	var qs []store.NewQuestion
	for i, r := range []int64{a, a, a, b, b} {
		qs = append(qs, store.NewQuestion{RepoID: r, FilePath: fmt.Sprintf("f%d.go", i), BlobOID: "b",
			Question: fmt.Sprintf("What does f%d do?", i)})
	}
	ids, err := st.InsertPendingQuestions(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[:4] {
		if err := st.StoreAnswer(ctx, store.Answer{SampleID: id, Content: fmt.Sprintf("It does thing %d.", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, score := range []float64{4.5, 2} {
		if err := st.SetScore(ctx, ids[i], score); err != nil {
			t.Fatal(err)
		}
	}
	return st, a, b
}

func TestNewExportJobDefaults(t *testing.T) {
	st, _, _ := exportJobStore(t)
	cfg := DefaultConfig()
	cfg.Export.SystemPrompt = "Be brief."
	cfg.Export.MinScore = 3
	cfg.Generation.Temperature = 0.25
	j, err := NewExportJob(cfg, st, ExportSpec{Output: "out.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if j.Format.Name != "chatml-jsonl" || j.Output != filepath.Join(wd, "out.jsonl") || j.Dedup != "exact" ||
		j.Threshold != 0.8 || j.Seed != 42 || j.Splits != nil || j.Options.System != "Be brief." || j.Store != st {
		t.Errorf("job = %+v", j)
	}
	if !slices.Equal(j.Query.Statuses, []string{store.StatusActive}) || j.Query.MinScore == nil || *j.Query.MinScore != 3 ||
		j.Query.RepoIDs != nil || !j.Query.Since.IsZero() || j.Query.IncludeTruncated {
		t.Errorf("query = %+v", j.Query)
	}
	if j.Params["temperature"] != "0.25" || j.Params["theme"] != "code" || j.Params["max_tokens"] != "1024" ||
		j.Params["questions_per_chunk"] != "5" {
		t.Errorf("params = %v", j.Params)
	}

	// The spec wins over the configuration; a negative minimum turns the
	// configured one off.
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
	j, err = NewExportJob(cfg, st, ExportSpec{Template: "llama3", Output: "/tmp/x.jsonl", Force: true, MinScore: -1,
		Dedup: "near", Split: "valid=0.1,train=0.9", Statuses: []string{store.StatusActive, store.StatusStale},
		IncludeTruncated: true, Languages: []string{"Go, YAML", " ", "Python"}, Since: since, Limit: 7, Shuffle: true,
		LlamaDate: "26 Jul 2024", RepoIDs: []int64{2}})
	if err != nil {
		t.Fatal(err)
	}
	if j.Format.Name != "llama3" || !j.Force || j.Query.MinScore != nil || j.Dedup != "near" || len(j.Splits) != 2 ||
		j.Splits[0].Name != "train" || !slices.Equal(j.Languages, []string{"Go", "YAML", "Python"}) ||
		!j.Query.Since.Equal(since) || j.Query.Since.Location() != time.UTC || j.Limit != 7 || !j.Shuffle ||
		j.Options.LlamaDate != "26 Jul 2024" || !slices.Equal(j.Query.RepoIDs, []int64{2}) || !j.Query.IncludeTruncated {
		t.Errorf("job = %+v, query = %+v", j, j.Query)
	}
}

func TestNewExportJobSplits(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		cfgSplit, template, split string
		want                      []string
	}{
		{"", "chatml-jsonl", "", nil},
		{"", "mlx-lm", "", []string{"train", "valid", "test"}},
		{"", "mlx-lm", "none", nil},
		{"train=0.8,test=0.2", "chatml-jsonl", "", []string{"train", "test"}},
		{"train=0.8,test=0.2", "mlx-lm", "", []string{"train", "test"}},
		{"train=0.8,test=0.2", "csv", "NONE", nil},
		{"train=0.8,test=0.2", "csv", "train=0.5,valid=0.5", []string{"train", "valid"}},
	} {
		cfg.Export.Split = tc.cfgSplit
		j, err := NewExportJob(cfg, nil, ExportSpec{Output: "x", Template: tc.template, Split: tc.split})
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		var got []string
		for _, s := range j.Splits {
			got = append(got, s.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: splits %v", tc, got)
		}
	}
}

func TestNewExportJobMistakes(t *testing.T) {
	st, _, _ := exportJobStore(t)
	for _, tc := range []struct {
		spec ExportSpec
		want string
	}{
		{ExportSpec{}, "no output path"},
		{ExportSpec{Output: "x", Template: "parquet"}, `unknown export format "parquet"`},
		{ExportSpec{Output: "x", Split: "train=0.9"}, "invalid split"},
		{ExportSpec{Output: "x", Dedup: "fuzzy"}, `duplicate removal "fuzzy"`},
		{ExportSpec{Output: "x", Limit: -1}, "negative"},
		{ExportSpec{Output: "x", Statuses: []string{"gone"}}, `unknown sample status "gone"`},
		{ExportSpec{Output: "x", MinScore: 6}, "out of range"},
		{ExportSpec{Output: "x", RepoMatch: "gamma"}, `no repository name contains "gamma"`},
	} {
		_, err := NewExportJob(DefaultConfig(), st, tc.spec)
		var se *ExportSpecError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want an ExportSpecError containing %q", tc.spec, err, tc.want)
		}
	}
}

func TestNewExportJobRepoMatch(t *testing.T) {
	st, a, b := exportJobStore(t)
	j, err := NewExportJob(DefaultConfig(), st, ExportSpec{Output: "x", RepoMatch: "acme/"})
	if err != nil || !slices.Equal(j.Query.RepoIDs, []int64{a, b}) {
		t.Errorf("acme/: %v %v", j.Query.RepoIDs, err)
	}
	j, err = NewExportJob(DefaultConfig(), st, ExportSpec{Output: "x", RepoMatch: "acme/", RepoIDs: []int64{b}})
	if err != nil || !slices.Equal(j.Query.RepoIDs, []int64{b}) {
		t.Errorf("acme/ within b: %v %v", j.Query.RepoIDs, err)
	}
	if _, err := NewExportJob(DefaultConfig(), st, ExportSpec{Output: "x", RepoMatch: "alpha", RepoIDs: []int64{b}}); err == nil {
		t.Error("alpha within b matched")
	}
}

// TestNewExportJobRuns exports through the built job, and checks that
// CountExport counts what the export reads.
func TestNewExportJobRuns(t *testing.T) {
	st, a, _ := exportJobStore(t)
	ctx := t.Context()
	out := filepath.Join(t.TempDir(), "set.jsonl")
	for _, tc := range []struct {
		spec ExportSpec
		want int
	}{
		{ExportSpec{}, 4},
		{ExportSpec{MinScore: 3}, 1},
		{ExportSpec{RepoIDs: []int64{a}}, 3},
		{ExportSpec{Statuses: []string{store.StatusActive, store.StatusPending}}, 4}, // the pending one has no answer
	} {
		tc.spec.Output, tc.spec.Force = out, true
		j, err := NewExportJob(DefaultConfig(), st, tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		res, err := export.Run(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		n, err := CountExport(ctx, st, j.Query)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total() != tc.want || n != tc.want+res.Skipped["empty answer"] {
			t.Errorf("%+v: wrote %d (skipped %v), counted %d; want %d", tc.spec, res.Total(), res.Skipped, n, tc.want)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		lines := 0
		for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
			if !json.Valid(sc.Bytes()) {
				t.Errorf("line %d is not JSON: %s", lines+1, sc.Text())
			}
		}
		_ = f.Close()
		if lines != tc.want {
			t.Errorf("%+v: %d lines", tc.spec, lines)
		}
	}
}
