package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cicdllm/llm"
	"cicdllm/llm/sim"
	"cicdllm/store"
)

// newScorer builds a Scorer with a fresh, probed client, as a new process
// would.
func (f *prepFixture) newScorer(mode string) *Scorer {
	f.t.Helper()
	cfg := f.cfg
	cfg.LLM.StructuredOutput = mode
	opts, err := cfg.LLMOptions(func(string) (string, bool) { return "", false }, nil, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	opts.RetryBaseDelay, opts.RetryMaxDelay = 5*time.Millisecond, 50*time.Millisecond
	client, err := llm.New(opts)
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := client.Probe(context.Background(), llm.ProbeOptions{ContextSize: cfg.LLM.ContextSize})
	if err != nil {
		f.t.Fatal(err)
	}
	return &Scorer{WS: f.ws, Config: cfg, Store: f.st, Client: client, Slots: info.Slots, Model: info.Model, Logger: slogDiscard()}
}

// scoredRecorder collects OnScored calls.
type scoredRecorder struct {
	mu  sync.Mutex
	ids map[int64]int
}

func (r *scoredRecorder) hook(then func(n int)) func(int64, float64) {
	return func(id int64, _ float64) {
		r.mu.Lock()
		if r.ids == nil {
			r.ids = map[int64]int{}
		}
		r.ids[id]++
		n := len(r.ids)
		r.mu.Unlock()
		if then != nil {
			then(n)
		}
	}
}

func checkJudged(t *testing.T, f *prepFixture, ids []int64) {
	t.Helper()
	for _, id := range ids {
		sm, err := f.st.Sample(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if sm.Score == nil || *sm.Score < 1 || *sm.Score > 5 {
			t.Fatalf("sample %d score = %v, want 1..5", id, sm.Score)
		}
		var meta struct {
			FinishReason string         `json:"finish_reason"`
			Judge        map[string]any `json:"judge"`
		}
		if err := json.Unmarshal([]byte(sm.Turns[len(sm.Turns)-1].MetadataJSON), &meta); err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, k := range store.JudgeParts {
			v, ok := meta.Judge[k].(float64)
			if !ok || v < 1 || v > 5 {
				t.Fatalf("sample %d judge %s = %v", id, k, meta.Judge[k])
			}
			sum += v
		}
		if d := sum/3 - *sm.Score; d > 1e-9 || d < -1e-9 {
			t.Errorf("sample %d score %v is not the mean of %v", id, *sm.Score, meta.Judge)
		}
		if _, ok := meta.Judge["reason"].(string); !ok || meta.Judge["model"] == "" || meta.FinishReason == "" {
			t.Errorf("sample %d metadata incomplete: %s", id, sm.Turns[len(sm.Turns)-1].MetadataJSON)
		}
	}
}

func activeIDs(f *prepFixture) []int64 {
	var ids []int64
	for _, s := range f.samples(store.StatusActive) {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestScoreEndToEnd(t *testing.T) {
	f := newPrepFixture(t, fixtureFiles(), sim.Config{Slots: 4})
	f.run(nil)
	ctx := context.Background()
	ids := activeIDs(f)
	if len(ids) < 6 {
		t.Fatalf("only %d samples", len(ids))
	}
	rated, deleted := ids[0], ids[1]
	if err := f.st.RateSample(ctx, rated, 2); err != nil {
		t.Fatal(err)
	}
	if err := f.st.DeleteSample(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	ids = activeIDs(f)

	sc := f.newScorer(llm.ModeAuto)
	var rec scoredRecorder
	sc.OnScored = rec.hook(nil)
	rep, err := sc.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report %+v, mode %s", rep, sc.Client.StructuredMode())
	if rep.Scored != len(ids) || rep.Failed != 0 || rep.Mean < 1 || rep.Mean > 5 || len(rec.ids) != len(ids) {
		t.Fatalf("report %+v, %d OnScored; want %d scored", rep, len(rec.ids), len(ids))
	}
	checkJudged(t, f, ids)
	// The prompts carried the source lines, read from the clone.
	repos, _ := f.st.Repos(ctx)
	sm, _ := f.st.Sample(ctx, ids[0])
	if p := sc.judgePrompt(sm, repos[0], "q", "a"); !strings.Contains(p, "Source lines:\n```") || strings.Contains(p, "not available") {
		t.Errorf("prompt without the source:\n%s", p)
	}
	if sm, _ := f.st.Sample(ctx, rated); sm.HumanRating != 2 || sm.Score == nil {
		t.Errorf("rated sample: human %d, judge %v", sm.HumanRating, sm.Score)
	}
	if sm, _ := f.st.Sample(ctx, deleted); sm.Score != nil {
		t.Errorf("a deleted sample was scored")
	}

	// Resume: nothing is left.
	sc2 := f.newScorer(llm.ModeAuto)
	if rep, err := sc2.Run(ctx); err != nil || rep.Scored != 0 || rep.Failed != 0 {
		t.Errorf("second run: %+v %v; want nothing to do", rep, err)
	}
	// Rescore judges everything again, human rating still untouched.
	sc3 := f.newScorer(llm.ModeAuto)
	sc3.Rescore = true
	var rec3 scoredRecorder
	sc3.OnScored = rec3.hook(nil)
	if rep, err := sc3.Run(ctx); err != nil || rep.Scored != len(ids) || len(rec3.ids) != len(ids) {
		t.Errorf("rescore: %+v %v, %d OnScored; want %d", rep, err, len(rec3.ids), len(ids))
	}
	checkJudged(t, f, ids)
	if sm, _ := f.st.Sample(ctx, rated); sm.HumanRating != 2 {
		t.Errorf("rescore changed the human rating to %d", sm.HumanRating)
	}
}

func TestScoreCancelThenResume(t *testing.T) {
	f := newPrepFixture(t, fixtureFiles(), sim.Config{Slots: 4})
	f.run(nil)
	ids := activeIDs(f)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc := f.newScorer(llm.ModeAuto)
	var first scoredRecorder
	sc.OnScored = first.hook(func(n int) {
		if n >= 3 {
			cancel()
		}
	})
	rep, err := sc.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %+v %v", rep, err)
	}
	if rep.Failed != 0 || rep.Scored != len(first.ids) || len(first.ids) >= len(ids) {
		t.Fatalf("cancelled run: %+v, %d OnScored of %d samples", rep, len(first.ids), len(ids))
	}

	sc2 := f.newScorer(llm.ModeAuto)
	var second scoredRecorder
	sc2.OnScored = second.hook(nil)
	rep, err = sc2.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range second.ids {
		if first.ids[id] > 0 || n != 1 {
			t.Errorf("sample %d scored again (first run %d, second run %d)", id, first.ids[id], n)
		}
	}
	if len(first.ids)+len(second.ids) != len(ids) || rep.Scored != len(second.ids) {
		t.Errorf("first %d + second %d (report %+v), want %d", len(first.ids), len(second.ids), rep, len(ids))
	}
	checkJudged(t, f, ids)
}

// Without structured output the simulator answers prose: every judgement
// fails after one retry, which is counted and not fatal.
func TestScoreUnparsableIsFailedNotFatal(t *testing.T) {
	f := newPrepFixture(t, map[string]string{"main.go": goSource("main", 2)}, sim.Config{Slots: 2})
	f.run(nil)
	ids := activeIDs(f)
	sc := f.newScorer(llm.ModeOff)
	rep, err := sc.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scored+rep.Failed != len(ids) {
		t.Fatalf("report %+v for %d samples", rep, len(ids))
	}
	t.Logf("text mode: %+v", rep)
	// Whatever failed stays unscored, for the next run.
	left, err := f.st.UnscoredSamples(context.Background(), 0, 1000, false)
	if err != nil || len(left) != rep.Failed {
		t.Errorf("unscored %d (%v), failed %d", len(left), err, rep.Failed)
	}
}

func TestScorePromptWithoutSource(t *testing.T) {
	sc := &Scorer{Logger: slogDiscard(), sources: map[string]sourceText{}}
	sm := store.Sample{ID: 1, RepoName: "example.com/o/r", FilePath: "a.go", LineStart: 3, LineEnd: 9, BlobOID: "abc"}
	p := sc.judgePrompt(sm, store.Repo{ID: 1}, "What does a do?", "It does b.")
	for _, want := range []string{"example.com/o/r", "a.go", "3-9", "not available", "What does a do?", "It does b."} {
		if !strings.Contains(p, want) {
			t.Errorf("prompt lacks %q:\n%s", want, p)
		}
	}
}

func TestScoreParseJudgement(t *testing.T) {
	good := []struct {
		text  string
		parts [3]int
	}{
		{`{"groundedness":5,"correctness":4,"usefulness":3,"reason":"Fine."}`, [3]int{5, 4, 3}},
		{"<think>{\"x\":1} hmm</think>Here:\n```json\n{\"groundedness\": \"4\", \"correctness\": 4.6, \"usefulness\": 9, \"reason\": \"ok\"}\n```", [3]int{4, 5, 5}},
		{`{"groundedness":0,"correctness":-3,"usefulness":1}`, [3]int{1, 1, 1}},
	}
	for _, g := range good {
		j, err := ParseJudgement(g.text)
		if err != nil {
			t.Errorf("%q: %v", g.text, err)
			continue
		}
		got := [3]int{j.Parts["groundedness"], j.Parts["correctness"], j.Parts["usefulness"]}
		if got != g.parts {
			t.Errorf("%q: parts %v, want %v", g.text, got, g.parts)
		}
	}
	if j, _ := ParseJudgement(good[0].text); j.Score() != 4 || j.Reason != "Fine." {
		t.Errorf("score %v reason %q", j.Score(), j.Reason)
	}
	for _, bad := range []string{
		`{"groundedness":5,"correctness":4,"reason":"no usefulness"}`,
		`{"groundedness":5,"correctness":"high","usefulness":3}`,
		`{"groundedness":null,"correctness":4,"usefulness":3}`,
		`The answer is good.`,
		`<think>{"groundedness":5,"correctness":5,"usefulness":5}`,
	} {
		if _, err := ParseJudgement(bad); !errors.Is(err, ErrBadJudgement) {
			t.Errorf("%q: err %v, want ErrBadJudgement", bad, err)
		}
	}
}
