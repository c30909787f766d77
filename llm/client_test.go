package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// step answers one request of a scripted server.
type step func(w http.ResponseWriter, r *http.Request)

// script is an httptest server that answers request i with steps[i] (the
// last step repeats) and records what it received.
type script struct {
	*httptest.Server
	mu     sync.Mutex
	steps  []step
	times  []time.Time
	bodies []map[string]any
}

func newScript(t *testing.T, steps ...step) *script {
	t.Helper()
	s := &script{steps: steps}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		i := len(s.times)
		s.times = append(s.times, time.Now())
		s.bodies = append(s.bodies, body)
		st := s.steps[min(i, len(s.steps)-1)]
		s.mu.Unlock()
		st(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.times)
}

// sseOK streams text word by word the way llama-server does: a role-only
// first chunk, one chunk per token, a final chunk with the finish reason,
// a usage chunk and [DONE].
func sseOK(text, finish string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		send := func(v string) { fmt.Fprintf(w, "data: %s\n\n", v); fl.Flush() }
		send(`{"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"object":"chat.completion.chunk","model":"tiny"}`)
		for _, tok := range tokens(text) {
			b, _ := json.Marshal(tok)
			send(`{"choices":[{"finish_reason":null,"index":0,"delta":{"content":` + string(b) + `}}],"object":"chat.completion.chunk","model":"tiny"}`)
		}
		send(`{"choices":[{"finish_reason":"` + finish + `","index":0,"delta":{}}],"object":"chat.completion.chunk","model":"tiny","timings":{"cache_n":3,"prompt_n":9,"predicted_n":2}}`)
		send(`{"choices":[],"object":"chat.completion.chunk","model":"tiny","usage":{"completion_tokens":2,"prompt_tokens":12,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":3}}}`)
		send("[DONE]")
	}
}

func tokens(text string) []string {
	var out []string
	for i, w := range strings.SplitAfter(text, " ") {
		if w != "" || i == 0 {
			out = append(out, w)
		}
	}
	return out
}

func jsonOK(text, finish string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		b, _ := json.Marshal(text)
		fmt.Fprintf(w, `{"choices":[{"finish_reason":%q,"index":0,"message":{"role":"assistant","content":%s}}],"object":"chat.completion","model":"tiny","usage":{"completion_tokens":5,"prompt_tokens":10,"total_tokens":15}}`, finish, b)
	}
}

func status(code int, body string, header ...string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func refuse(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func hang(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

// partial sends two tokens, then ends the way end says: "stall" waits for
// the client to leave, "eof" closes cleanly, "malformed" sends broken JSON,
// "error" sends an error event.
func partial(end string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for _, tok := range []string{"Half", " an"} {
			fmt.Fprintf(w, "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", tok)
			fl.Flush()
		}
		switch end {
		case "stall":
			<-r.Context().Done()
		case "malformed":
			io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"\n\n")
		case "error":
			io.WriteString(w, "data: {\"error\":{\"code\":500,\"message\":\"simulated failure\",\"type\":\"server_error\"}}\n\ndata: [DONE]\n\n")
		}
	}
}

func replay(t *testing.T, file string) step {
	code, h, body := capture(t, file)
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range h {
			if k != "Content-Length" && k != "Transfer-Encoding" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(code)
		w.Write(body)
	}
}

func testClient(t *testing.T, url string, mut ...func(*Options)) *Client {
	t.Helper()
	o := Options{
		BaseURL: url, FirstTokenTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond,
		RequestTimeout: 5 * time.Second, RetryBaseDelay: 5 * time.Millisecond, RetryMaxDelay: 20 * time.Millisecond,
		MaxRetries: 3, BreakerThreshold: 1000,
	}
	for _, m := range mut {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.http.CloseIdleConnections() })
	return c
}

// checkNoLeak fails the test if goroutines started during it are still
// running once it ends (servers closed, idle connections dropped).
func checkNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}

func TestFaultMatrix(t *testing.T) {
	checkNoLeak(t)
	req := Request{Messages: []Message{{Role: "user", Content: "Why?"}}, MaxTokens: 64, Stream: true}
	overflow := `{"error":{"code":400,"message":"the request exceeds the available context size. try increasing the context size or enable context shift","type":"exceed_context_size_error","n_prompt_tokens":6009,"n_ctx":2048}}`
	cases := []struct {
		name     string
		steps    []step
		nonstrm  bool
		requests int                          // requests the server must see
		check    func(Response, error) string // "" when the outcome is right
	}{
		{"ok", []step{sseOK("All good", "stop")}, false, 1, wantText("All good")},
		{"connection dropped then ok", []step{refuse, sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"500 then ok", []step{status(500, `{"error":{"code":500,"message":"boom","type":"server_error"}}`), sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"503 loading then ok", []step{status(503, `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`), sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"408 then ok", []step{status(408, `{}`), sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"hang before first token then ok", []step{hang, sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"stall mid-stream then ok", []step{partial("stall"), sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"truncated then ok", []step{partial("eof"), sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"malformed then ok", []step{partial("malformed"), sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"error event then ok", []step{partial("error"), sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"vllm abort then ok", []step{replay(t, "streams/vllm_abort.txt"), sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"html proxy page then ok", []step{func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>upstream</html>")
		}, sseOK("All good", "stop")}, false, 2, wantText("All good")},
		{"always truncated", []step{partial("eof")}, false, 4, wantErr(func(err error) bool {
			return errors.Is(err, ErrTruncated) && strings.Contains(err.Error(), "gave up after 4 attempts")
		})},
		{"context overflow 400", []step{status(400, overflow)}, false, 1, wantErr(func(err error) bool {
			var ce *ContextOverflowError
			return errors.As(err, &ce) && ce.PromptTokens == 6009 && ce.ContextTokens == 2048
		})},
		{"context overflow in 200 stream", []step{replay(t, "llamacpp/error_ctx_exceeded_stream.txt")}, false, 1, wantErr(func(err error) bool { return errors.Is(err, ErrContextOverflow) })},
		{"empty completion", []step{sseOK("", "stop")}, false, 1, wantErr(func(err error) bool { return errors.Is(err, ErrEmptyCompletion) })},
		{"length finish is reported", []step{sseOK("Cut sh", "length")}, false, 1, func(r Response, err error) string {
			if err != nil || !r.Truncated() || r.Text != "Cut sh" {
				return fmt.Sprintf("got %+v, %v; want a length-truncated response", r, err)
			}
			return ""
		}},
		{"401 is final", []step{status(401, `{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}`)}, false, 1, wantErr(func(err error) bool {
			var api *APIError
			return errors.As(err, &api) && api.StatusCode == 401 && strings.Contains(err.Error(), "llm.api_key_env")
		})},
		{"llama.cpp 500 bad request is final", []step{status(500, `{"error":{"code":500,"message":"'messages' is required","type":"server_error"}}`)}, false, 1, wantErr(func(err error) bool {
			var api *APIError
			return errors.As(err, &api) && !api.Retryable
		})},
		{"quota 429 is final", []step{status(429, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`)}, false, 1, wantErr(func(err error) bool { return err != nil })},
		{"retry-after beyond the limit", []step{status(429, `{}`, "Retry-After", "3600")}, false, 1, wantErr(func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "longer than llm.max_retry_after")
		})},
		{"non-stream ok", []step{jsonOK("Whole answer", "stop")}, true, 1, wantText("Whole answer")},
		{"non-stream 500 then ok", []step{status(500, `{}`), jsonOK("Whole answer", "stop")}, true, 2, wantText("Whole answer")},
		{"non-stream truncated body", []step{func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"choices":[{"message":{"content":"x`)
		}, jsonOK("Whole answer", "stop")}, true, 2, wantText("Whole answer")},
		{"llama.cpp captured non-stream", []step{replay(t, "llamacpp/chat_nonstream.json")}, true, 1, func(r Response, err error) string {
			if err != nil || r.Text == "" || r.FinishReason == "" || r.Timings == nil {
				return fmt.Sprintf("got %+v, %v", r, err)
			}
			return ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScript(t, tc.steps...)
			c := testClient(t, srv.URL, func(o *Options) { o.MaxRetryAfter = time.Minute })
			r := req
			r.Stream = !tc.nonstrm
			var streamed strings.Builder
			restarts := 0
			r.OnDelta = func(s string) { streamed.WriteString(s) }
			r.OnRestart = func(int, error) { restarts++; streamed.Reset() }
			resp, err := c.Chat(context.Background(), r)
			if msg := tc.check(resp, err); msg != "" {
				t.Error(msg)
			}
			if n := srv.count(); n != tc.requests {
				t.Errorf("server saw %d requests, want %d", n, tc.requests)
			}
			if err == nil && r.Stream && streamed.String() != resp.Text {
				t.Errorf("streamed text %q != final %q (restarts %d): partial text leaked into the retry", streamed.String(), resp.Text, restarts)
			}
		})
	}
}

func wantText(text string) func(Response, error) string {
	return func(r Response, err error) string {
		if err != nil || r.Text != text || r.FinishReason != "stop" {
			return fmt.Sprintf("got %q finish %q err %v; want %q", r.Text, r.FinishReason, err, text)
		}
		return ""
	}
}

func wantErr(ok func(error) bool) func(Response, error) string {
	return func(r Response, err error) string {
		if !ok(err) {
			return fmt.Sprintf("unexpected outcome: %+v, %v", r, err)
		}
		return ""
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	srv := newScript(t, status(429, `{"error":{"code":429,"message":"rate limited"}}`, "Retry-After", "1"), sseOK("Later", "stop"))
	c := testClient(t, srv.URL)
	resp, err := c.Chat(context.Background(), Request{Messages: []Message{{Role: "user", Content: "q"}}, Stream: true})
	if err != nil || resp.Text != "Later" {
		t.Fatalf("%+v %v", resp, err)
	}
	if gap := srv.times[1].Sub(srv.times[0]); gap < time.Second {
		t.Errorf("retried after %v, before the server's Retry-After of 1s", gap)
	}
}

func TestUsageTimingsAndRequestBody(t *testing.T) {
	srv := newScript(t, replay(t, "llamacpp/sse_include_usage.txt"))
	c := testClient(t, srv.URL, func(o *Options) { o.APIKey = "sk-test"; o.Model = "tiny" })
	c.kind = KindLlamaCpp
	resp, err := c.Chat(context.Background(), Request{Messages: []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "q"}}, MaxTokens: 77, Temperature: 0, Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.PromptTokens != 12 || resp.Usage.CompletionTokens != 5 || resp.Timings == nil || resp.Timings.CacheN != 11 {
		t.Errorf("usage %+v timings %+v", resp.Usage, resp.Timings)
	}
	b := srv.bodies[0]
	if b["model"] != "tiny" || b["max_tokens"] != 77.0 || b["temperature"] != 0.0 || b["stream"] != true || b["cache_prompt"] != true {
		t.Errorf("request body %v", b)
	}
	if so, _ := b["stream_options"].(map[string]any); so["include_usage"] != true {
		t.Errorf("stream_options %v", b["stream_options"])
	}
	if _, ok := b["response_format"]; ok {
		t.Errorf("free-text request sent response_format")
	}
}

func TestStructuredOutputFallsBackAndRemembers(t *testing.T) {
	refused := status(500, `{"error":{"code":500,"message":"response_format type must be one of \"text\" or \"json_object\", but got: json_schema","type":"server_error"}}`)
	srv := newScript(t, refused, jsonOK(`{"questions":["a?"]}`, "stop"), jsonOK(`{"questions":["b?"]}`, "stop"))
	c := testClient(t, srv.URL)
	schema := &Schema{Name: "questions", Schema: json.RawMessage(`{"type":"object"}`), Strict: true}
	resp, err := c.Chat(context.Background(), Request{Messages: []Message{{Role: "user", Content: "q"}}, Schema: schema})
	if err != nil || resp.Mode != ModeJSONObject {
		t.Fatalf("first: %+v %v", resp, err)
	}
	if _, err := c.Chat(context.Background(), Request{Messages: []Message{{Role: "user", Content: "q"}}, Schema: schema}); err != nil {
		t.Fatal(err)
	}
	if srv.count() != 3 {
		t.Fatalf("want 3 requests (refused, fallback, remembered), got %d", srv.count())
	}
	rf := func(i int) string {
		m, _ := srv.bodies[i]["response_format"].(map[string]any)
		return fmt.Sprint(m["type"])
	}
	if rf(0) != "json_schema" || rf(1) != "json_object" || rf(2) != "json_object" {
		t.Errorf("response_format types: %s, %s, %s", rf(0), rf(1), rf(2))
	}
	js := srv.bodies[0]["response_format"].(map[string]any)["json_schema"].(map[string]any)
	if js["name"] != "questions" || js["strict"] != true || js["schema"] == nil {
		t.Errorf("json_schema payload %v", js)
	}

	// A mode the user chose explicitly is not abandoned.
	srv2 := newScript(t, refused)
	c2 := testClient(t, srv2.URL, func(o *Options) { o.StructuredOutput = ModeJSONSchema })
	_, err = c2.Chat(context.Background(), Request{Messages: []Message{{Role: "user", Content: "q"}}, Schema: schema})
	var api *APIError
	if !errors.As(err, &api) || srv2.count() != 1 {
		t.Errorf("explicit json_schema refused: %v after %d requests", err, srv2.count())
	}
}

func TestBreakerMakesCallersWaitNotFail(t *testing.T) {
	checkNoLeak(t)
	var down sync.Mutex
	isDown := true
	srv := newScript(t, func(w http.ResponseWriter, r *http.Request) {
		down.Lock()
		d := isDown
		down.Unlock()
		if d {
			refuse(w, r)
			return
		}
		sseOK("Back", "stop")(w, r)
	})
	var evMu sync.Mutex
	var events []BreakerState
	c := testClient(t, srv.URL, func(o *Options) {
		o.BreakerThreshold, o.BreakerCooldown, o.BreakerMaxCooldown, o.MaxRetries = 3, 50*time.Millisecond, 200*time.Millisecond, 2
		o.OnBreaker = func(e BreakerEvent) { evMu.Lock(); events = append(events, e.State); evMu.Unlock() }
	})
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for range 12 {
		wg.Go(func() {
			_, err := c.Chat(context.Background(), Request{Messages: []Message{{Role: "user", Content: "q"}}, Stream: true})
			errs <- err
		})
	}
	time.Sleep(600 * time.Millisecond) // an outage much longer than MaxRetries backoffs
	down.Lock()
	isDown = false
	down.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a request failed during the outage: %v", err)
		}
	}
	evMu.Lock()
	defer evMu.Unlock()
	if len(events) < 3 || events[0] != BreakerOpen || events[len(events)-1] != BreakerClosed {
		t.Errorf("breaker events %v: want open ... closed", events)
	}
	// While open, probes went out one at a time: the server saw far fewer
	// requests than 12 callers retrying on their own would send.
	if n := srv.count(); n > 12+3+20 {
		t.Errorf("server saw %d requests during the outage", n)
	}
	// The run report's counters agree with what the server saw.
	st := c.Stats()
	opened := 0
	for _, e := range events {
		if e == BreakerOpen {
			opened++
		}
	}
	if st.Attempts != int64(srv.count()) || st.Retries != st.Attempts-12 || st.BreakerOpenings != int64(opened) || st.Busy <= 0 {
		t.Errorf("Stats() = %+v; server saw %d requests from 12 calls, breaker opened %d times", st, srv.count(), opened)
	}
}

func TestCancelledContextStopsPromptly(t *testing.T) {
	checkNoLeak(t)
	srv := newScript(t, hang)
	c := testClient(t, srv.URL, func(o *Options) { o.FirstTokenTimeout = time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Chat(ctx, Request{Messages: []Message{{Role: "user", Content: "q"}}, Stream: true})
		done <- err
	}()
	for srv.count() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Chat did not return after cancel")
	}
}

func TestTimeoutErrorsNameTheTimer(t *testing.T) {
	srv := newScript(t, hang)
	c := testClient(t, srv.URL, func(o *Options) { o.MaxRetries = 0 })
	_, err := c.Chat(context.Background(), Request{Messages: []Message{{Role: "user", Content: "q"}}, Stream: true})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Phase != "first token" || !strings.Contains(err.Error(), "llm.first_token_timeout") {
		t.Errorf("hang: %v", err)
	}
	srv2 := newScript(t, partial("stall"))
	c2 := testClient(t, srv2.URL, func(o *Options) { o.MaxRetries = 0 })
	_, err = c2.Chat(context.Background(), Request{Messages: []Message{{Role: "user", Content: "q"}}, Stream: true})
	if !errors.As(err, &te) || te.Phase != "idle" {
		t.Errorf("stall: %v", err)
	}
}
