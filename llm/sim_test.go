package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cicdllm/llm/sim"
)

func startSim(t testing.TB, cfg sim.Config) *sim.Server {
	t.Helper()
	s := sim.New(cfg)
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func codeMessages(question string) []Message {
	return []Message{
		{Role: "system", Content: "You answer questions about source code precisely."},
		{Role: "user", Content: "Code:\n```go\nfunc ParseConfig(path string) (*Config, error) { return loadTOML(path) }\n```\n\nQuestion: " + question},
	}
}

// TestClientSurvivesEverySimFault runs each simulated fault once, then lets
// the request through: retryable faults end in success, the others in the
// documented typed error.
func TestClientSurvivesEverySimFault(t *testing.T) {
	checkNoLeak(t)
	cases := []struct {
		fault    sim.Fault
		check    func(Response, error) bool
		requests int64
	}{
		{sim.FaultRefuse, okResp, 2},
		{sim.FaultRateLimit, okResp, 2},
		{sim.FaultServerError, okResp, 2},
		{sim.FaultUnavailable, okResp, 2},
		{sim.FaultHang, okResp, 2},
		{sim.FaultStall, okResp, 2},
		{sim.FaultTruncate, okResp, 2},
		{sim.FaultMalformed, okResp, 2},
		{sim.FaultStreamError, okResp, 2},
		{sim.FaultContextOverflow, func(_ Response, err error) bool {
			var ce *ContextOverflowError
			return errors.As(err, &ce) && ce.ContextTokens > 0
		}, 1},
		{sim.FaultEmpty, func(_ Response, err error) bool { return errors.Is(err, ErrEmptyCompletion) }, 1},
		{sim.FaultLength, func(r Response, err error) bool { return err == nil && r.Truncated() }, 1},
	}
	for _, tc := range cases {
		t.Run(string(tc.fault), func(t *testing.T) {
			s := startSim(t, sim.Config{Slots: 2, Faults: sim.FaultConfig{Script: []sim.Fault{tc.fault}, RetryAfter: 200 * time.Millisecond}})
			c := testClient(t, s.URL())
			var got strings.Builder
			resp, err := c.Chat(context.Background(), Request{Messages: codeMessages("What does ParseConfig return?"), MaxTokens: 256, Stream: true,
				OnDelta: func(d string) { got.WriteString(d) }, OnRestart: func(int, error) { got.Reset() }})
			if !tc.check(resp, err) {
				t.Errorf("outcome %+v, %v", resp, err)
			}
			if err == nil && got.String() != resp.Text {
				t.Errorf("streamed %q, final %q", got.String(), resp.Text)
			}
			if n := s.Stats().Requests; n != tc.requests {
				t.Errorf("sim saw %d requests, want %d", n, tc.requests)
			}
		})
	}
}

func okResp(r Response, err error) bool {
	return err == nil && r.Text != "" && r.FinishReason == "stop"
}

func TestStructuredQuestionsFromSim(t *testing.T) {
	s := startSim(t, sim.Config{})
	c := testClient(t, s.URL())
	if _, err := c.Probe(context.Background(), ProbeOptions{}); err != nil {
		t.Fatal(err)
	}
	schema := &Schema{Name: "questions", Strict: true, Schema: json.RawMessage(`{"type":"object","properties":{"questions":{"type":"array","items":{"type":"string"},"minItems":5,"maxItems":5}},"required":["questions"],"additionalProperties":false}`)}
	resp, err := c.Chat(context.Background(), Request{Messages: codeMessages("Write 5 questions about this code."), MaxTokens: 512, Schema: schema, Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Questions []string }
	if err := ParseJSON(resp.Text, &out); err != nil || len(out.Questions) != 5 || resp.Mode != ModeJSONSchema {
		t.Fatalf("%q -> %+v, %v (mode %s)", resp.Text, out, err, resp.Mode)
	}
	for _, q := range out.Questions {
		if !strings.HasSuffix(q, "?") {
			t.Errorf("question %q", q)
		}
	}
}

func TestProbeAgainstSim(t *testing.T) {
	s := startSim(t, sim.Config{Slots: 3, ContextSize: 1024, Model: "sim-coder"})
	c := testClient(t, s.URL())
	info, err := c.Probe(context.Background(), ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != KindLlamaCpp || info.Model != "sim-coder" || info.ContextSize != 1024 || info.Slots != 3 || info.StructuredOutput != ModeJSONSchema {
		t.Errorf("%+v", info)
	}
	// Prefix cache: the second answer about the same code reuses the prompt.
	// The simulator releases a slot just after the response ends; waiting
	// until no slot is held keeps a loaded machine from sending the second
	// request to another slot (which would rightly miss the cache).
	waitIdle := func() {
		for range 400 {
			before := s.Stats().BusySlotSeconds
			time.Sleep(5 * time.Millisecond)
			if s.Stats().BusySlotSeconds == before {
				return
			}
		}
	}
	for _, q := range []string{"What does ParseConfig do?", "What does ParseConfig return on error?"} {
		waitIdle()
		if _, err := c.Chat(context.Background(), Request{Messages: codeMessages(q), MaxTokens: 32, Stream: true}); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.CachedPromptTokens == 0 {
		t.Errorf("no cached prompt tokens: %+v", st)
	}
}

// TestOutageInTheMiddleOfARun takes the server down for 60 seconds while
// 200 requests are under way: every request completes and none is
// reported failed to its caller.
func TestOutageInTheMiddleOfARun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 60-second outage")
	}
	t.Parallel()
	s := startSim(t, sim.Config{Slots: 4, TokensPerSecond: 400, AnswerTokens: 40})
	var opened atomic.Int32
	c := testClient(t, s.URL(), func(o *Options) {
		o.FirstTokenTimeout, o.IdleTimeout = 5*time.Second, 5*time.Second
		o.MaxRetries, o.BreakerThreshold = 5, 5
		o.BreakerCooldown, o.BreakerMaxCooldown = 2*time.Second, 8*time.Second
		o.RetryBaseDelay, o.RetryMaxDelay = 100*time.Millisecond, 2*time.Second
		o.OnBreaker = func(e BreakerEvent) {
			if e.State == BreakerOpen {
				opened.Add(1)
			}
		}
	})
	const total = 200
	var done atomic.Int32
	var failed []error
	var mu sync.Mutex
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				_, err := c.Chat(context.Background(), Request{Messages: codeMessages(fmt.Sprintf("Question %d about ParseConfig?", i)), MaxTokens: 40, Stream: true})
				if err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
				done.Add(1)
			}
		})
	}
	go func() {
		for i := range total {
			work <- i
		}
		close(work)
	}()
	for done.Load() < 50 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.SetDown(true); err != nil {
		t.Fatal(err)
	}
	atDown := done.Load()
	time.Sleep(60 * time.Second)
	if err := s.SetDown(false); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d requests reported failed, first: %v", len(failed), failed[0])
	}
	if done.Load() != total || atDown >= total {
		t.Errorf("completed %d of %d (%d before the outage)", done.Load(), total, atDown)
	}
	if opened.Load() == 0 {
		t.Error("the breaker never opened during a 60s outage")
	}
	// The sim's own Completed count is not checked: a response flushed just
	// as SetDown aborts its handler reaches the client whole but is never
	// counted server-side. What the caller received is what matters.
}

// BenchmarkClientSlotUtilisation drives 16 concurrent streaming requests
// through one client against a 4-slot sim and reports how busy the sim's
// slots were: the client must add no idle gaps.
func BenchmarkClientSlotUtilisation(b *testing.B) {
	s := startSim(b, sim.Config{Slots: 4, TokensPerSecond: 200, PromptTokensPerSecond: 4000, AnswerTokens: 64})
	c, err := New(Options{BaseURL: s.URL()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Probe(context.Background(), ProbeOptions{}); err != nil {
		b.Fatal(err)
	}
	var util, sum float64
	for b.Loop() {
		s.ResetStats()
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				_, err := c.Chat(context.Background(), Request{Messages: codeMessages(fmt.Sprintf("What does line %d do?", i)), MaxTokens: 64, Stream: true})
				if err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		st := s.Stats()
		util = st.Utilisation
		sum += util
	}
	b.ReportMetric(sum/float64(b.N), "utilisation")
	b.ReportMetric(util, "last-utilisation")
}
