package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// faultResult is what a client observed for one faulted request.
type faultResult struct {
	err     error // transport or body-read error
	status  int
	header  http.Header
	close   bool // the server announced Connection: close
	body    string
	sse     streamed
	timeout bool // the client gave up (hang/stall)
}

// faultCall sends one request and observes it with a short client-side
// deadline (hang/stall never end otherwise).
func faultCall(t *testing.T, c *http.Client, url string, stream bool, wait time.Duration) faultResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	b, _ := json.Marshal(chatReq(userMsgs("Explain parseConfig.\n"+goCode), map[string]any{"stream": stream, "stream_options": map[string]any{"include_usage": true}}))
	resp, err := postRaw(ctx, c, url, b)
	if err != nil {
		return faultResult{err: err, timeout: ctx.Err() != nil}
	}
	defer resp.Body.Close()
	r := faultResult{status: resp.StatusCode, header: resp.Header, close: resp.Close}
	if stream && resp.StatusCode == 200 {
		st, err := readSSE(resp.Body)
		r.err, r.body = err, st.raw
		r.timeout = ctx.Err() != nil
		// Decode what can be decoded.
		for _, d := range st.data {
			if d == "[DONE]" {
				r.sse.done = true
				continue
			}
			var ch wireChunk
			if json.Unmarshal([]byte(d), &ch) != nil {
				r.sse.data = append(r.sse.data, d) // undecodable
				continue
			}
			r.sse.chunks = append(r.sse.chunks, ch)
			for _, c := range ch.Choices {
				if c.Delta.Content != nil {
					r.sse.content += *c.Delta.Content
				}
				if c.FinishReason != nil {
					r.sse.finish = *c.FinishReason
				}
			}
		}
		return r
	}
	body, err := io.ReadAll(resp.Body)
	r.body, r.err = string(body), err
	r.timeout = ctx.Err() != nil
	return r
}

func TestFaults(t *testing.T) {
	const quick = 400 * time.Millisecond
	type check func(t *testing.T, r faultResult)
	expectError := func(code int, msg, typ string) check {
		return func(t *testing.T, r faultResult) {
			want := fmt.Sprintf(`{"error":{"code":%d,"message":%q,"type":%q}}`, code, msg, typ)
			if r.err != nil || r.status != code || r.body != want {
				t.Fatalf("got %d %q %v, want %d %s", r.status, r.body, r.err, code, want)
			}
		}
	}
	ctxErr := `{"error":{"code":400,"message":"the request exceeds the available context size. try increasing the context size or enable context shift","type":"exceed_context_size_error","n_prompt_tokens":4097,"n_ctx":4096}}`
	cases := []struct {
		fault     Fault
		stream    bool
		check     check
		completes bool // counts as Completed
	}{
		{FaultRefuse, false, func(t *testing.T, r faultResult) {
			if r.err == nil || r.timeout {
				t.Fatalf("want a connection error, got %d %v", r.status, r.err)
			}
		}, false},
		{FaultRefuse, true, func(t *testing.T, r faultResult) {
			if r.err == nil || r.timeout {
				t.Fatalf("want a connection error, got %d %v", r.status, r.err)
			}
		}, false},
		{FaultRateLimit, false, func(t *testing.T, r faultResult) {
			expectError(429, "rate limited", "rate_limit_error")(t, r)
			if ra := r.header.Get("Retry-After"); ra != "2" {
				t.Fatalf("Retry-After %q", ra)
			}
		}, false},
		{FaultRateLimit, true, expectError(429, "rate limited", "rate_limit_error"), false},
		{FaultServerError, true, expectError(500, "simulated internal error", "server_error"), false},
		{FaultUnavailable, false, expectError(503, "Loading model", "unavailable_error"), false},
		{FaultHang, true, func(t *testing.T, r faultResult) {
			if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" || !r.timeout || r.body != "" {
				t.Fatalf("hang: %d %q timeout=%v", r.status, r.body, r.timeout)
			}
		}, false},
		{FaultHang, false, func(t *testing.T, r faultResult) {
			if !r.timeout || r.status != 0 {
				t.Fatalf("hang: %d %v", r.status, r.err)
			}
		}, false},
		{FaultStall, true, func(t *testing.T, r faultResult) {
			if r.status != 200 || !r.timeout || len(r.sse.chunks) < 2 || r.sse.content == "" || r.sse.finish != "" || r.sse.done {
				t.Fatalf("stall: %d timeout=%v %q", r.status, r.timeout, r.body)
			}
		}, false},
		{FaultStall, false, func(t *testing.T, r faultResult) {
			if !r.timeout || r.status != 0 {
				t.Fatalf("stall: %d %v", r.status, r.err)
			}
		}, false},
		{FaultTruncate, true, func(t *testing.T, r faultResult) {
			if r.status != 200 || r.err != nil || r.timeout || r.sse.content == "" || r.sse.finish != "" || r.sse.done || strings.Contains(r.body, "[DONE]") {
				t.Fatalf("truncate: %d %v %q", r.status, r.err, r.body)
			}
			if !r.close {
				t.Fatal("truncate: no Connection: close")
			}
		}, false},
		{FaultTruncate, false, func(t *testing.T, r faultResult) {
			if r.status != 200 || !errors.Is(r.err, io.ErrUnexpectedEOF) || json.Valid([]byte(r.body)) {
				t.Fatalf("truncate: %d %v %q", r.status, r.err, r.body)
			}
		}, false},
		{FaultMalformed, true, func(t *testing.T, r faultResult) {
			if r.status != 200 || r.err != nil || r.body != `data: {"choices":[{"delta":{"content":"x"`+"\n\n" || len(r.sse.data) != 1 {
				t.Fatalf("malformed: %d %v %q", r.status, r.err, r.body)
			}
		}, false},
		{FaultMalformed, false, func(t *testing.T, r faultResult) {
			if r.status != 200 || r.err != nil || json.Valid([]byte(r.body)) || !strings.HasPrefix(r.body, `{"choices":[`) {
				t.Fatalf("malformed: %d %v %q", r.status, r.err, r.body)
			}
		}, false},
		{FaultContextOverflow, false, func(t *testing.T, r faultResult) {
			if r.status != 400 || r.body != ctxErr {
				t.Fatalf("ctx: %d %q", r.status, r.body)
			}
		}, false},
		{FaultContextOverflow, true, func(t *testing.T, r faultResult) {
			if r.status != 200 || r.body != "data: "+ctxErr+"\n\ndata: [DONE]\n\n" {
				t.Fatalf("ctx: %d %q", r.status, r.body)
			}
		}, false},
		{FaultEmpty, true, func(t *testing.T, r faultResult) {
			if r.status != 200 || r.sse.content != "" || r.sse.finish != "stop" || !r.sse.done {
				t.Fatalf("empty: %q", r.body)
			}
			if u := r.sse.chunks[len(r.sse.chunks)-1].Usage; u == nil || u.CompletionTokens != 0 {
				t.Fatalf("empty usage: %q", r.body)
			}
		}, false},
		{FaultEmpty, false, func(t *testing.T, r faultResult) {
			var out wireCompletion
			if r.status != 200 || json.Unmarshal([]byte(r.body), &out) != nil || out.Choices[0].Message.Content != "" || out.Choices[0].FinishReason != "stop" {
				t.Fatalf("empty: %q", r.body)
			}
		}, false},
		{FaultLength, true, func(t *testing.T, r faultResult) {
			if r.status != 200 || r.sse.content == "" || r.sse.finish != "length" || !r.sse.done {
				t.Fatalf("length: %q", r.body)
			}
		}, false},
		{FaultLength, false, func(t *testing.T, r faultResult) {
			var out wireCompletion
			if r.status != 200 || json.Unmarshal([]byte(r.body), &out) != nil || out.Choices[0].Message.Content == "" || out.Choices[0].FinishReason != "length" {
				t.Fatalf("length: %q", r.body)
			}
		}, false},
		{FaultStreamError, true, func(t *testing.T, r faultResult) {
			want := "data: {\"error\":{\"code\":500,\"message\":\"simulated failure\",\"type\":\"server_error\"}}\n\ndata: [DONE]\n\n"
			if r.status != 200 || r.sse.content == "" || r.sse.finish != "" || !strings.HasSuffix(r.body, want) {
				t.Fatalf("stream_error: %q", r.body)
			}
		}, false},
		{FaultStreamError, false, expectError(500, "simulated failure", "server_error"), false},
		{FaultNone, true, func(t *testing.T, r faultResult) {
			if r.status != 200 || r.sse.finish != "stop" || !r.sse.done {
				t.Fatalf("none: %q", r.body)
			}
		}, true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/stream=%v", tc.fault, tc.stream), func(t *testing.T) {
			s, url := startSim(t, Config{Slots: 1, Faults: FaultConfig{Script: []Fault{tc.fault}, RetryAfter: 1500 * time.Millisecond}})
			c := newClient(t)
			r := faultCall(t, c, url, tc.stream, quick)
			tc.check(t, r)
			st := s.Stats()
			wantFaults := int64(1)
			if tc.fault == FaultNone {
				wantFaults = 0
			}
			if st.Requests != 1 || st.Faults[tc.fault] != wantFaults || (st.Completed == 1) != tc.completes {
				t.Fatalf("stats %+v", st)
			}
			// The slot is free again (hang/stall ended when the client left)
			// and the next request is served normally.
			out := nonStream(t, c, url, chatReq(userMsgs("hi"), map[string]any{"max_tokens": 4}))
			if out.Choices[0].FinishReason != "length" {
				t.Fatalf("follow-up %+v", out.Choices[0])
			}
		})
	}
}

func TestFaultRate(t *testing.T) {
	statuses := func(seed int64) []int {
		s, url := startSim(t, Config{Seed: seed, Faults: FaultConfig{Rate: 0.5, Kinds: []Fault{FaultRateLimit}}})
		c := newClient(t)
		var out []int
		for i := 0; i < 24; i++ {
			resp := post(t, c, url, chatReq(userMsgs("hi"), map[string]any{"max_tokens": 1}))
			readAll(t, resp)
			out = append(out, resp.StatusCode)
		}
		st := s.Stats()
		if st.Faults[FaultRateLimit]+st.Completed != 24 {
			t.Fatalf("stats %+v", st)
		}
		return out
	}
	a, b := statuses(7), statuses(7)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("fault draws not deterministic:\n%v\n%v", a, b)
	}
	n429 := strings.Count(fmt.Sprint(a), "429")
	if n429 == 0 || n429 == 24 {
		t.Fatalf("rate 0.5 gave %d/24 faults", n429)
	}

	// Script first, then Rate; FaultNone in the script means no fault.
	s, url := startSim(t, Config{Faults: FaultConfig{Rate: 1, Kinds: []Fault{FaultUnavailable}, Script: []Fault{FaultNone, FaultServerError}}})
	c := newClient(t)
	var got []int
	for i := 0; i < 4; i++ {
		resp := post(t, c, url, chatReq(userMsgs("hi"), map[string]any{"max_tokens": 1}))
		readAll(t, resp)
		got = append(got, resp.StatusCode)
	}
	if fmt.Sprint(got) != "[200 500 503 503]" {
		t.Fatalf("statuses %v", got)
	}
	// Default kinds: every fault kind is reachable.
	s.SetFaults(FaultConfig{Rate: 1})
	seen := map[Fault]bool{}
	for i := 0; i < 400 && len(seen) < len(AllFaults()); i++ {
		s.mu.Lock()
		f := s.drawFaultLocked()
		s.mu.Unlock()
		seen[f] = true
	}
	if len(seen) != len(AllFaults()) {
		t.Fatalf("default kinds drew only %v", seen)
	}
}
