package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const benchSamples = 100_000

// fillSamples inserts n answered samples through the public API in
// batches, the way the generator does.
func fillSamples(tb testing.TB, ctx context.Context, s *Store, n, batch int) {
	tb.Helper()
	repo, err := s.UpsertRepo(ctx, Repo{URL: "https://github.com/bench/bench.git", Name: "github.com/bench/bench"})
	if err != nil {
		tb.Fatal(err)
	}
	// Realistically sized turns: a sentence of question, a paragraph of
	// answer.
	answerBody := strings.Repeat("The function validates its input, opens the pool and returns a wrapped error. ", 6)
	qs := make([]NewQuestion, 0, batch)
	answers := make([]Answer, 0, batch)
	for start := 0; start < n; start += batch {
		qs = qs[:0]
		for i := start; i < min(start+batch, n); i++ {
			qs = append(qs, NewQuestion{
				RepoID: repo, FilePath: fmt.Sprintf("pkg/file%05d.go", i/20), CommitSHA: "c0ffee",
				BlobOID: fmt.Sprintf("blob%05d", i/20), ChunkIndex: i % 20, LineStart: (i % 20) * 40, LineEnd: (i%20)*40 + 39,
				Question: fmt.Sprintf("What does chunk %d of this file do, and why is it written that way?", i),
				Model:    "qwen2.5-coder", Theme: "behaviour", PromptHash: "p1", ParamsJSON: `{"temperature":0.2}`,
			})
		}
		ids, err := s.InsertPendingQuestions(ctx, qs)
		if err != nil {
			tb.Fatal(err)
		}
		answers = answers[:0]
		for i, id := range ids {
			answers = append(answers, Answer{
				SampleID: id, Content: fmt.Sprintf("Sample %d. %s", start+i, answerBody),
				MetadataJSON: `{"finish_reason":"stop","tokens":180}`,
			})
		}
		if err := s.StoreAnswers(ctx, answers); err != nil {
			tb.Fatal(err)
		}
	}
}

func BenchmarkInsert100kSamples(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := Open(ctx, filepath.Join(b.TempDir(), fmt.Sprint(i), "cicdllm.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		fillSamples(b, ctx, s, benchSamples, 500)
		total += time.Since(start)
		b.StopTimer()
		if err := s.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
		if size, err := s.DBSize(); err == nil {
			b.ReportMetric(float64(size)/(1<<20), "db-MiB")
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(benchSamples*b.N)/total.Seconds(), "samples/s")
}

func BenchmarkPageSamples(b *testing.B) {
	ctx := context.Background()
	// Setup happens once, before b.Loop starts the timer.
	s, err := Open(ctx, filepath.Join(b.TempDir(), "cicdllm.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fillSamples(b, ctx, s, benchSamples, 1000)
	if err := s.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}

	b.ReportAllocs()
	pages := 0
	for b.Loop() {
		q := SampleQuery{Limit: 200}
		seen := 0
		for {
			page, err := s.ListSamples(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			pages++
			seen += len(page.Samples)
			if page.Next == 0 {
				break
			}
			q.After = page.Next
		}
		if seen != benchSamples {
			b.Fatalf("paged %d samples, want %d", seen, benchSamples)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pages), "ns/page")
	b.ReportMetric(float64(pages)/float64(b.N), "pages/op")
}
