package samples

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"cicdllm/store"
	"cicdllm/ui/common"
)

// fillBench inserts n answered samples through the public API, in large
// transactions, the way the generator writes them. Every thousandth
// question holds the word "needle" for the search step.
func fillBench(b *testing.B, st *store.Store, n int) {
	ctx := context.Background()
	repos := make([]int64, 3)
	for i := range repos {
		name := fmt.Sprintf("github.com/bench/repo%d", i)
		id, err := st.UpsertRepo(ctx, store.Repo{URL: "https://" + name + ".git", Name: name})
		if err != nil {
			b.Fatal(err)
		}
		repos[i] = id
	}
	const batch = 5000
	qs := make([]store.NewQuestion, 0, batch)
	as := make([]store.Answer, 0, batch)
	for start := 0; start < n; start += batch {
		qs = qs[:0]
		for i := start; i < min(start+batch, n); i++ {
			q := fmt.Sprintf("What does handler %d do with its input, and why?", i)
			if i%1000 == 7 {
				q += " Look for the needle."
			}
			qs = append(qs, store.NewQuestion{
				RepoID: repos[i%3], FilePath: fmt.Sprintf("pkg/mod%03d/file%05d.go", i/20000, i/20), CommitSHA: "c0ffee",
				BlobOID: fmt.Sprintf("%040d", i/20), ChunkIndex: i % 20, LineStart: (i % 20) * 30, LineEnd: (i%20)*30 + 29,
				Question: q, Model: "qwen2.5-coder", Theme: "behaviour",
			})
		}
		ids, err := st.InsertPendingQuestions(ctx, qs)
		if err != nil {
			b.Fatal(err)
		}
		as = as[:0]
		for k, id := range ids {
			as = append(as, store.Answer{SampleID: id, Content: fmt.Sprintf("Handler %d validates the input, then calls `process` and wraps its error.", start+k)})
		}
		if err := st.StoreAnswers(ctx, as); err != nil {
			b.Fatal(err)
		}
	}
}

// benchStore opens a store holding n samples. CICDLLM_BENCH_DB names a
// file to keep between runs (filled once), since filling a million
// samples takes minutes; otherwise the store is built in a temp dir.
func benchStore(b *testing.B, n int) *store.Store {
	ctx := context.Background()
	path := os.Getenv("CICDLLM_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	} else {
		path = fmt.Sprintf("%s.%d", path, n)
	}
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	have, err := st.CountSamples(ctx, store.SampleQuery{Statuses: []string{store.StatusActive, store.StatusPending, store.StatusStale, store.StatusDeleted}})
	if err != nil {
		b.Fatal(err)
	}
	if have != int64(n) {
		if have != 0 {
			b.Fatalf("%s holds %d samples, not %d; remove it", path, have, n)
		}
		start := time.Now()
		fillBench(b, st, n)
		b.Logf("filled %d samples in %v", n, time.Since(start).Round(time.Second))
		if err := st.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// stepTimer runs a Browser's commands synchronously, like the driver, but
// times them: the count (which the UI shows whenever it arrives) apart
// from the step the user waits for.
type stepTimer struct {
	b *testing.B
	m Browser
}

// do feeds msg, runs every resulting command, draws the view, and returns
// the time of all that but the counting.
func (s *stepTimer) do(msg tea.Msg) (step, count time.Duration) {
	start := time.Now()
	var cmd tea.Cmd
	s.m, cmd = s.m.Update(msg)
	step = time.Since(start)
	st, ct := s.run(cmd)
	step += st
	start = time.Now()
	_ = s.m.View()
	return step + time.Since(start), ct
}

// open is Init and what it loads, then the first view.
func (s *stepTimer) open() (step, count time.Duration) {
	start := time.Now()
	cmd := s.m.Init()
	step = time.Since(start)
	st, ct := s.run(cmd)
	step += st
	start = time.Now()
	_ = s.m.View()
	return step + time.Since(start), ct
}

func (s *stepTimer) run(cmd tea.Cmd) (step, count time.Duration) {
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		start := time.Now()
		msg := c()
		d := time.Since(start)
		switch msg := msg.(type) {
		case nil:
			step += d
			continue
		case tea.BatchMsg:
			queue = append(queue, msg...)
			continue
		case common.ErrMsg:
			s.b.Fatal(msg.Err)
		case common.FlashMsg, common.SampleChangedMsg:
			continue
		}
		start = time.Now()
		var next tea.Cmd
		s.m, next = s.m.Update(msg)
		d += time.Since(start)
		if _, ok := msg.(countMsg); ok {
			count += d
		} else {
			step += d
		}
		queue = append(queue, next)
	}
	return step, count
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkBrowseMillion measures what a curator waits for in the sample
// list over a million samples: opening it, paging down, jumping to the
// end, changing the sort and searching. Run it once:
//
//	go test -run '^$' -bench BenchmarkBrowseMillion -benchtime 1x -timeout 60m ./ui/samples/
//
// -short uses 20,000 samples.
func BenchmarkBrowseMillion(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 20_000
	}
	st := benchStore(b, n)
	ctx := &common.Context{Store: st, Styles: common.DefaultStyles(), Keys: common.DefaultKeys(), Now: func() time.Time { return fixedNow }}
	const w, h = 120, 40
	b.ResetTimer()
	for range b.N {
		s := &stepTimer{b: b, m: NewBrowser(ctx)}
		s.m.SetSize(w, h)

		// Open: Init, the first page, the first view.
		open, count := s.open()
		if !s.m.totalKnown || s.m.total != int64(n) || len(s.m.win.rows) == 0 {
			b.Fatalf("after opening: total %d (known %v), %d rows", s.m.total, s.m.totalKnown, len(s.m.win.rows))
		}

		// Page down 100 times.
		var worst, sum time.Duration
		for range 100 {
			d, _ := s.do(keyMsg("pgdown"))
			worst, sum = max(worst, d), sum+d
		}
		if pos := position(s.m); pos != int64(100*s.m.listHeight()+1) {
			b.Fatalf("after 100 pages: row %d", pos)
		}

		// G: the last row, through the reversed order.
		end, _ := s.do(keyMsg("G"))
		if sel, _ := s.m.win.selected(); sel.ID != 1 {
			b.Fatalf("G selected %d, want 1", sel.ID)
		}

		// Sort by score, then by file: the first page of each.
		s.do(keyMsg("o")) // oldest first
		byScore, _ := s.do(keyMsg("o"))
		byFile, _ := s.do(keyMsg("o"))
		fileEnd, _ := s.do(keyMsg("G"))
		s.do(keyMsg("o")) // back to newest first

		// Search: the words typed, then enter runs the query; the count
		// arrives on its own.
		s.do(keyMsg("/"))
		for _, r := range "needle" {
			s.do(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
		}
		search, searchCount := s.do(keyMsg("enter"))
		if s.m.total != int64(n/1000) || len(s.m.win.rows) == 0 {
			b.Fatalf("search found %d (%d rows)", s.m.total, len(s.m.win.rows))
		}

		b.ReportMetric(ms(open), "open-ms")
		b.ReportMetric(ms(count), "count-ms")
		b.ReportMetric(ms(worst), "pgdn-worst-ms")
		b.ReportMetric(ms(sum)/100, "pgdn-mean-ms")
		b.ReportMetric(ms(end), "G-ms")
		b.ReportMetric(ms(byScore), "sort-score-ms")
		b.ReportMetric(ms(byFile), "sort-file-ms")
		b.ReportMetric(ms(fileEnd), "file-G-ms")
		b.ReportMetric(ms(search), "search-ms")
		b.ReportMetric(ms(searchCount), "search-count-ms")
	}
}
