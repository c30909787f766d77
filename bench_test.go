package main

import (
	"path/filepath"
	"testing"
	"time"

	"cicdllm/llm/sim"
)

// BenchmarkPrepare200Files runs the real `cicdllm prepare` over 200 files
// against the simulator (4 slots) and compares its wall time with the
// physical limit of that server: every generated token at the slots'
// decode rate plus every uncached prompt token at their prefill rate, all
// four slots busy all the time. The ratio is what the pipeline costs on top
// (start-up, probe, scheduling, commits, the last wave's idle slots).
// Near-duplicate control is off: the simulator's questions are templated,
// so it would drop most of them and leave the server a lighter load than
// real questions do.
func BenchmarkPrepare200Files(b *testing.B) {
	const (
		slots   = 4
		decode  = 400.0  // tokens/s per slot
		prefill = 4000.0 // uncached prompt tokens/s per slot
	)
	for range b.N {
		b.StopTimer()
		s := sim.New(sim.Config{Slots: slots, TokensPerSecond: decode, PromptTokensPerSecond: prefill, AnswerTokens: 48})
		url, err := s.Start("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		src := goFilesRepo(b, "bench", 200)
		mustWrite(b, filepath.Join(dir, "repos.txt"), src+"\n")
		mustWrite(b, filepath.Join(dir, "cicdllm.toml"), "[llm]\nbase_url = \""+url+"\"\n[generation]\nmax_tokens = 128\nnear_duplicate_threshold = 0\n[battery]\nenabled = false\n")
		if r := runCLI(b, nil, "scrape", "--workdir", dir); r.code != 0 {
			b.Fatalf("scrape: %s %s", r.stdout, r.stderr)
		}
		s.ResetStats()
		start := time.Now()
		b.StartTimer()
		r := runCLI(b, nil, "prepare", "--workdir", dir)
		b.StopTimer()
		wall := time.Since(start).Seconds()
		if r.code != 0 {
			b.Fatalf("prepare: %d %s %s", r.code, r.stdout, r.stderr)
		}
		st := s.Stats()
		ideal := float64(st.CompletionTokens)/(slots*decode) + float64(st.PromptTokens-st.CachedPromptTokens)/(slots*prefill)
		b.ReportMetric(wall, "wall-s")
		b.ReportMetric(ideal, "ideal-s")
		b.ReportMetric(wall/ideal, "wall/ideal")
		b.ReportMetric(st.Utilisation, "sim-utilisation")
		b.ReportMetric(float64(st.Requests), "requests")
		b.ReportMetric(float64(st.CompletionTokens), "generated-tokens")
		b.ReportMetric(float64(st.PromptTokens-st.CachedPromptTokens), "uncached-prompt-tokens")
		s.Close()
	}
}
