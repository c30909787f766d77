package redact

import (
	"testing"

	"cicdllm/pipeline/redact/redacttest"
)

// benchSource is about 10 MB of ordinary Go, Python, JavaScript, YAML,
// TOML, Dockerfiles, shell and Markdown (files of 4–16 KB, a secret in
// one file in fifty), as prepare redacts them: one call per file.
func benchSource(b *testing.B) (texts []string, size int) {
	b.Helper()
	files, _ := redacttest.Source(1, 10<<20)
	for _, p := range redacttest.Files(files) {
		texts = append(texts, files[p])
		size += len(files[p])
	}
	return texts, size
}

// BenchmarkRedact: single-goroutine throughput.
//
//	go test -run '^$' -bench BenchmarkRedact -benchtime 10x ./pipeline/redact/
func BenchmarkRedact(b *testing.B) {
	s := newScanner(b, Options{})
	texts, size := benchSource(b)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		for _, t := range texts {
			s.Redact(t)
		}
	}
	b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// BenchmarkRedactEmails: with e-mail redaction on.
func BenchmarkRedactEmails(b *testing.B) {
	s := newScanner(b, Options{Emails: true})
	texts, size := benchSource(b)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		for _, t := range texts {
			s.Redact(t)
		}
	}
	b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// BenchmarkRedactParallel: one Scanner shared by GOMAXPROCS goroutines,
// as prepare's workers share it; each iteration is a pass over the whole
// source.
func BenchmarkRedactParallel(b *testing.B) {
	s := newScanner(b, Options{})
	texts, size := benchSource(b)
	b.SetBytes(int64(size))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for _, t := range texts {
				s.Redact(t)
			}
		}
	})
	b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// BenchmarkNew: compiling the rules, once per run.
func BenchmarkNew(b *testing.B) {
	for range b.N {
		if _, err := New(Options{Emails: true}); err != nil {
			b.Fatal(err)
		}
	}
}
