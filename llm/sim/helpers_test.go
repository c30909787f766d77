package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hangGuard bounds every wait in these tests; it is never a timing assertion.
const hangGuard = 20 * time.Second

func startSim(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s := New(cfg)
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, url
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: hangGuard}
}

func userMsgs(content string) []map[string]any {
	return []map[string]any{{"role": "user", "content": content}}
}

func chatReq(msgs []map[string]any, extra map[string]any) map[string]any {
	r := map[string]any{"model": "whatever", "messages": msgs}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

func postRaw(ctx context.Context, c *http.Client, url string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.Do(req)
}

func post(t *testing.T, c *http.Client, url string, body any) *http.Response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := postRaw(context.Background(), c, url, b)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

// sseStream is what the tiny SSE reader saw: data payloads in order,
// comment lines, and the raw body.
type sseStream struct {
	data     []string
	comments []string
	raw      string
}

// readSSE parses server-sent events: "data: " lines joined per event, events
// ended by a blank line, comment lines (":...") collected apart.
func readSSE(r io.Reader) (sseStream, error) {
	var st sseStream
	var raw strings.Builder
	br := bufio.NewReader(io.TeeReader(r, &raw))
	var cur []string
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimRight(line, "\r\n")
			switch {
			case line == "":
				if cur != nil {
					st.data = append(st.data, strings.Join(cur, "\n"))
					cur = nil
				}
			case strings.HasPrefix(line, ":"):
				st.comments = append(st.comments, line)
			case strings.HasPrefix(line, "data:"):
				cur = append(cur, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			}
		}
		if err != nil {
			if cur != nil {
				st.data = append(st.data, strings.Join(cur, "\n"))
			}
			st.raw = raw.String()
			if err == io.EOF {
				return st, nil
			}
			return st, err
		}
	}
}

type wireChunk struct {
	Choices []struct {
		FinishReason *string `json:"finish_reason"`
		Index        int     `json:"index"`
		Delta        struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Created           int64        `json:"created"`
	ID                string       `json:"id"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Object            string       `json:"object"`
	Usage             *wireUsage   `json:"usage"`
	Timings           *wireTimings `json:"timings"`
	Error             *wireError   `json:"error"`
}

type wireUsage struct {
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokens        int `json:"prompt_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

type wireTimings struct {
	CacheN              *int     `json:"cache_n"`
	PromptN             *int     `json:"prompt_n"`
	PromptMS            *float64 `json:"prompt_ms"`
	PromptPerTokenMS    *float64 `json:"prompt_per_token_ms"`
	PromptPerSecond     *float64 `json:"prompt_per_second"`
	PredictedN          *int     `json:"predicted_n"`
	PredictedMS         *float64 `json:"predicted_ms"`
	PredictedPerTokenMS *float64 `json:"predicted_per_token_ms"`
	PredictedPerSecond  *float64 `json:"predicted_per_second"`
}

func (tm *wireTimings) complete() error {
	if tm == nil {
		return fmt.Errorf("no timings")
	}
	if tm.CacheN == nil || tm.PromptN == nil || tm.PromptMS == nil || tm.PromptPerTokenMS == nil || tm.PromptPerSecond == nil ||
		tm.PredictedN == nil || tm.PredictedMS == nil || tm.PredictedPerTokenMS == nil || tm.PredictedPerSecond == nil {
		return fmt.Errorf("timings miss a field: %+v", tm)
	}
	return nil
}

type wireError struct {
	Code          int    `json:"code"`
	Message       string `json:"message"`
	Type          string `json:"type"`
	NPromptTokens *int   `json:"n_prompt_tokens"`
	NCtx          *int   `json:"n_ctx"`
}

type wireCompletion struct {
	Choices []struct {
		FinishReason string `json:"finish_reason"`
		Index        int    `json:"index"`
		Message      struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Object            string       `json:"object"`
	Usage             *wireUsage   `json:"usage"`
	ID                string       `json:"id"`
	Timings           *wireTimings `json:"timings"`
}

type errorEnvelope struct {
	Error *wireError `json:"error"`
}

// nonStream posts body and decodes a 200 chat.completion.
func nonStream(t *testing.T, c *http.Client, url string, body map[string]any) wireCompletion {
	t.Helper()
	resp := post(t, c, url, body)
	raw := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	var out wireCompletion
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	if len(out.Choices) != 1 {
		t.Fatalf("choices: %s", raw)
	}
	return out
}

// streamed is a decoded stream: content, finish reason, chunks.
type streamed struct {
	sseStream
	chunks  []wireChunk
	content string
	finish  string
	done    bool
}

func doStream(t *testing.T, c *http.Client, url string, body map[string]any) streamed {
	t.Helper()
	body["stream"] = true
	resp := post(t, c, url, body)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	st, err := readSSE(resp.Body)
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	return decodeStream(t, st)
}

func decodeStream(t *testing.T, st sseStream) streamed {
	t.Helper()
	out := streamed{sseStream: st}
	for _, d := range st.data {
		if d == "[DONE]" {
			out.done = true
			continue
		}
		var ch wireChunk
		if err := json.Unmarshal([]byte(d), &ch); err != nil {
			t.Fatalf("chunk %q: %v", d, err)
		}
		out.chunks = append(out.chunks, ch)
		for _, c := range ch.Choices {
			if c.Delta.Content != nil {
				out.content += *c.Delta.Content
			}
			if c.FinishReason != nil {
				out.finish = *c.FinishReason
			}
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// --- a small JSON-schema validator for the keywords the simulator supports ---

func validate(schema, root, v any, path string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return nil
	}
	if ref, ok := s["$ref"].(string); ok {
		target := root
		for _, p := range strings.Split(strings.TrimPrefix(ref, "#"), "/") {
			if p == "" {
				continue
			}
			target = target.(map[string]any)[p]
		}
		return validate(target, root, v, path)
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		return fmt.Errorf("%s: %v != const %v", path, v, c)
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, x := range e {
			if fmt.Sprint(x) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: %v not in enum", path, v)
		}
	}
	if alts, ok := s["anyOf"].([]any); ok {
		var errs []string
		for _, a := range alts {
			if err := validate(a, root, v, path); err == nil {
				errs = nil
				break
			} else {
				errs = append(errs, err.Error())
			}
		}
		if errs != nil {
			return fmt.Errorf("%s: no anyOf matched: %v", path, errs)
		}
	}
	types := []string{}
	switch tt := s["type"].(type) {
	case string:
		types = append(types, tt)
	case []any:
		for _, x := range tt {
			types = append(types, x.(string))
		}
	}
	if len(types) > 0 {
		okType := false
		for _, ty := range types {
			switch ty {
			case "object":
				_, okType = v.(map[string]any)
			case "array":
				_, okType = v.([]any)
			case "string":
				_, okType = v.(string)
			case "boolean":
				_, okType = v.(bool)
			case "null":
				okType = v == nil
			case "number":
				_, okType = v.(float64)
			case "integer":
				f, isNum := v.(float64)
				okType = isNum && f == math.Trunc(f)
			}
			if okType {
				break
			}
		}
		if !okType {
			return fmt.Errorf("%s: %v (%T) is not %v", path, v, v, types)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asSlice(s["required"]) {
			if _, ok := x[r.(string)]; !ok {
				return fmt.Errorf("%s: missing required %q", path, r)
			}
		}
		for k, pv := range x {
			if ps, ok := props[k]; ok {
				if err := validate(ps, root, pv, path+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		if m, ok := s["minItems"].(float64); ok && float64(len(x)) < m {
			return fmt.Errorf("%s: %d items < minItems %v", path, len(x), m)
		}
		if m, ok := s["maxItems"].(float64); ok && float64(len(x)) > m {
			return fmt.Errorf("%s: %d items > maxItems %v", path, len(x), m)
		}
		for i, it := range x {
			if err := validate(s["items"], root, it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case string:
		n := float64(len([]rune(x)))
		if m, ok := s["minLength"].(float64); ok && n < m {
			return fmt.Errorf("%s: %q shorter than %v", path, x, m)
		}
		if m, ok := s["maxLength"].(float64); ok && n > m {
			return fmt.Errorf("%s: %q longer than %v", path, x, m)
		}
	case float64:
		if m, ok := s["minimum"].(float64); ok && x < m {
			return fmt.Errorf("%s: %v < minimum %v", path, x, m)
		}
		if m, ok := s["maximum"].(float64); ok && x > m {
			return fmt.Errorf("%s: %v > maximum %v", path, x, m)
		}
		if m, ok := s["exclusiveMinimum"].(float64); ok && x <= m {
			return fmt.Errorf("%s: %v <= exclusiveMinimum %v", path, x, m)
		}
		if m, ok := s["exclusiveMaximum"].(float64); ok && x >= m {
			return fmt.Errorf("%s: %v >= exclusiveMaximum %v", path, x, m)
		}
	}
	return nil
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
