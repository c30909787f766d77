package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cicdllm/store"
)

// fillStore makes a real database with n answered samples spread over
// files of two repositories, plus a few that exports must leave out.
func fillStore(t testing.TB, n, perFile int) (*store.Store, []int64) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pipeline.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var repos [2]int64
	for i, name := range []string{"github.com/acme/api", "github.com/acme/infra"} {
		repos[i], err = st.UpsertRepo(ctx, store.Repo{URL: "https://" + name, Name: name, HeadCommit: "c0ffee", License: "MIT"})
		if err != nil {
			t.Fatal(err)
		}
	}
	var ids []int64
	for start := 0; start < n; start += 500 {
		var qs []store.NewQuestion
		for i := start; i < min(start+500, n); i++ {
			file := i / perFile
			qs = append(qs, store.NewQuestion{RepoID: repos[file%2], FilePath: fmt.Sprintf("pkg/f%05d.go", file), CommitSHA: "c0ffee", BlobOID: "b",
				ChunkIndex: i % perFile, LineStart: 1, LineEnd: 20, Question: fmt.Sprintf("What does handler %d do with \"quoted\" input?", i),
				Model: "qwen2.5-coder", Theme: "code"})
		}
		got, err := st.InsertPendingQuestions(ctx, qs)
		if err != nil {
			t.Fatal(err)
		}
		answers := make([]store.Answer, len(got))
		for k, id := range got {
			answers[k] = store.Answer{SampleID: id, Content: fmt.Sprintf("Handler %d validates it,\nthen calls `process` — café ✓.", start+k)}
		}
		if err := st.StoreAnswers(ctx, answers); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	return st, ids
}

func readJSONL(t testing.TB, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: line %d is not JSON: %v", path, len(out)+1, err)
		}
		out = append(out, v)
	}
	return out
}

func job(t testing.TB, st *store.Store, format, output string) Job {
	t.Helper()
	ft, err := Lookup(format)
	if err != nil {
		t.Fatal(err)
	}
	return Job{Store: st, Format: ft, Output: output, Dedup: "exact", Threshold: 0.8, Seed: 42}
}

func TestExportJSONLAndCSVRoundTrip(t *testing.T) {
	st, ids := fillStore(t, 40, 4)
	ctx := context.Background()
	// Left out by default: deleted, truncated, pending.
	_ = st.DeleteSample(ctx, ids[0])
	dir := t.TempDir()
	for _, format := range []string{"chatml-jsonl", "alpaca-jsonl", "sharegpt-jsonl", "openai-jsonl", "prompt-completion-jsonl", "llama3", "mistral", "gemma", "qwen"} {
		out := filepath.Join(dir, format+".jsonl")
		res, err := Run(ctx, job(t, st, format, out))
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		lines := readJSONL(t, out)
		if len(lines) != 39 || res.Total() != 39 {
			t.Errorf("%s: %d lines, %d records, want 39", format, len(lines), res.Total())
		}
		if data, _ := os.ReadFile(out); bytes.Contains(data, []byte(`\u00e9`)) || !bytes.Contains(data, []byte("café")) {
			t.Errorf("%s: not real UTF-8", format)
		}
	}
	out := filepath.Join(dir, "data.csv")
	j := job(t, st, "csv", out)
	j.Options.WithMetadata = true
	if _, err := Run(ctx, j); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 40 || rows[0][0] != "user_content" || rows[0][1] != "assistant_content" {
		t.Fatalf("csv: %d rows, header %v, %v", len(rows), rows[0], err)
	}
	if !strings.Contains(rows[1][1], "\n") || !strings.Contains(rows[1][0], `"quoted"`) {
		t.Errorf("csv lost newlines or quotes: %q", rows[1])
	}
}

func TestExportIsAtomicDeterministicAndRefusesOverwrite(t *testing.T) {
	st, _ := fillStore(t, 30, 3)
	ctx := context.Background()
	dir := t.TempDir()
	out := filepath.Join(dir, "ds.jsonl")
	if _, err := Run(ctx, job(t, st, "chatml-jsonl", out)); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(out)
	if _, err := Run(ctx, job(t, st, "chatml-jsonl", out)); !errors.Is(err, ErrExists) {
		t.Errorf("overwrite without force: %v", err)
	}
	j := job(t, st, "chatml-jsonl", out)
	j.Force = true
	if _, err := Run(ctx, j); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(out)
	if !bytes.Equal(first, second) {
		t.Error("two exports of the same data differ")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 || entries[0].Name() != AttributionFile {
		t.Errorf("left behind: %v", entries)
	}
	// A cancelled export leaves the old file untouched and no temp files.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	j.Format, _ = Lookup("alpaca-jsonl")
	if _, err := Run(cctx, j); err == nil {
		t.Error("a cancelled export succeeded")
	}
	if now, _ := os.ReadFile(out); !bytes.Equal(now, first) {
		t.Error("a cancelled export changed the target")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("a cancelled export left: %v", entries)
	}
}

func TestExportSplitsKeepFilesTogether(t *testing.T) {
	st, _ := fillStore(t, 600, 3)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "ds.jsonl")
	j := job(t, st, "chatml-jsonl", out)
	j.Options.WithMetadata = true
	j.Splits, _ = ParseSplits("train=0.8,valid=0.1,test=0.1")
	res, err := Run(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	where := map[string]string{}
	for _, split := range []string{"train", "valid", "test"} {
		lines := readJSONL(t, strings.TrimSuffix(out, ".jsonl")+"."+split+".jsonl")
		if len(lines) != res.Records[split] {
			t.Errorf("%s: %d lines, %d counted", split, len(lines), res.Records[split])
		}
		for _, l := range lines {
			meta := l["metadata"].(map[string]any)
			key := fmt.Sprint(meta["repo"], "/", meta["path"])
			if prev, ok := where[key]; ok && prev != split {
				t.Fatalf("%s is in %s and %s", key, prev, split)
			}
			where[key] = split
		}
	}
	// 200 files of 3 samples: each split within one file of its share.
	for split, want := range map[string]int{"train": 480, "valid": 60, "test": 60} {
		if d := res.Records[split] - want; d < -3 || d > 3 {
			t.Errorf("%s has %d records, want %d±3", split, res.Records[split], want)
		}
	}
	// Stable across runs.
	j.Force = true
	res2, _ := Run(ctx, j)
	if fmt.Sprint(res.Records) != fmt.Sprint(res2.Records) {
		t.Errorf("split changed between runs: %v vs %v", res.Records, res2.Records)
	}
}

func TestExportDirectoryFormats(t *testing.T) {
	st, _ := fillStore(t, 60, 2)
	ctx := context.Background()
	for _, format := range []string{"mlx-lm", "hf", "llamafactory"} {
		out := filepath.Join(t.TempDir(), format)
		j := job(t, st, format, out)
		j.Splits, _ = ParseSplits("train=0.9,valid=0.05,test=0.05")
		res, err := Run(ctx, j)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if res.Total() != 60 {
			t.Errorf("%s: %d records", format, res.Total())
		}
		var found []string
		_ = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(out, p)
				found = append(found, filepath.ToSlash(rel))
				if strings.HasSuffix(p, ".jsonl") {
					readJSONL(t, p)
				}
			}
			return nil
		})
		sort.Strings(found)
		t.Logf("%s: %v", format, found)
		if len(found) < 2 {
			t.Errorf("%s wrote %v", format, found)
		}
	}
}

// BenchmarkExportMillion exports 1,000,000 samples to chatml-jsonl and hf
// and reports the wall time and the peak memory the Go runtime took from
// the OS.
func BenchmarkExportMillion(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 20_000
	}
	st, _ := fillStore(b, n, 5)
	for _, format := range []string{"chatml-jsonl", "hf"} {
		b.Run(format, func(b *testing.B) {
			for range b.N {
				runtime.GC()
				var peak atomic.Uint64
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() {
					var ms runtime.MemStats
					for {
						runtime.ReadMemStats(&ms)
						if used := ms.Sys - ms.HeapReleased; used > peak.Load() {
							peak.Store(used)
						}
						select {
						case <-stop:
							return
						case <-time.After(20 * time.Millisecond):
						}
					}
				})
				out := filepath.Join(b.TempDir(), "out")
				j := job(b, st, format, out)
				start := time.Now()
				res, err := Run(context.Background(), j)
				took := time.Since(start)
				close(stop)
				wg.Wait()
				if err != nil || res.Total() != n {
					b.Fatalf("%v, %d records", err, res.Total())
				}
				b.ReportMetric(took.Seconds(), "s/export")
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-MB")
				b.ReportMetric(float64(n)/took.Seconds(), "records/s")
			}
		})
	}
}

func TestExportNothingSelectedWritesEmptyFile(t *testing.T) {
	st, _ := fillStore(t, 10, 2)
	out := filepath.Join(t.TempDir(), "none.csv")
	j := job(t, st, "csv", out)
	j.Languages = []string{"COBOL"}
	res, err := Run(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil || res.Total() != 0 || res.Skipped["language"] != 10 || !strings.HasPrefix(string(data), "user_content,assistant_content") || strings.Count(string(data), "\n") != 1 {
		t.Errorf("empty export: %q, %+v, %v", data, res, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 2 || entries[0].Name() != AttributionFile {
		t.Errorf("left behind: %v", entries)
	}
}
