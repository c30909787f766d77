package llm

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// capture splits a recorded response into status, headers and body. Files
// without a status line are a bare SSE body.
func capture(t *testing.T, name string) (int, http.Header, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("HTTP/1.1 ")) {
		ct := "text/event-stream"
		if strings.HasSuffix(name, ".json") {
			ct = "application/json; charset=utf-8"
		}
		return 200, http.Header{"Content-Type": {ct}}, raw
	}
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	head, body, _ := bytes.Cut(raw, []byte("\n\n"))
	lines := strings.Split(string(head), "\n")
	status := 0
	if f := strings.Fields(lines[0]); len(f) > 1 {
		status = atoi(f[1])
	}
	h := http.Header{}
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return status, h, body
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestReadStreamGoldens(t *testing.T) {
	cases := []struct {
		file     string
		text     string
		finish   string
		usage    Usage
		timings  bool
		tokens   int
		wantDone bool
	}{
		{"llamacpp/sse_stream_basic.txt", "\" ruined CHAR Heller\",\"}\"}acas\", guesses", "length", Usage{}, true, 10, true},
		{"llamacpp/sse_include_usage.txt", "\" ruined CHAR Heller\",", "length", Usage{PromptTokens: 12, CompletionTokens: 5}, true, 5, true},
		{"llamacpp/sse_stop_by_eos.txt", "minster\", ComedTransaction result\"} contrast", "stop", Usage{}, true, 7, true},
		{"streams/ollama.txt", "The answer", "stop", Usage{PromptTokens: 26, CompletionTokens: 2}, false, 2, true},
		{"streams/vllm.txt", "The answer", "stop", Usage{PromptTokens: 26, CompletionTokens: 2, CachedTokens: 16}, false, 2, true},
		{"streams/openai.txt", "The answer", "stop", Usage{PromptTokens: 26, CompletionTokens: 2}, false, 2, true},
		{"streams/mlx.txt", "The answer", "stop", Usage{}, false, 2, true},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			_, _, body := capture(t, tc.file)
			var deltas []string
			res, err := readStream(bytes.NewReader(body), func(bool) {}, func(d string) { deltas = append(deltas, d) })
			if err != nil {
				t.Fatal(err)
			}
			if string(res.text) != tc.text || strings.Join(deltas, "") != tc.text {
				t.Errorf("text %q (deltas %q), want %q", res.text, deltas, tc.text)
			}
			if res.finishReason != tc.finish || res.usage != tc.usage || (res.timings != nil) != tc.timings || res.tokens != tc.tokens || res.sawDone != tc.wantDone {
				t.Errorf("got finish %q usage %+v timings %v tokens %d done %v", res.finishReason, res.usage, res.timings != nil, res.tokens, res.sawDone)
			}
		})
	}
}

func TestReadStreamJSONSchemaCapture(t *testing.T) {
	_, _, body := capture(t, "llamacpp/sse_json_schema.txt")
	res, err := readStream(bytes.NewReader(body), func(bool) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Pairs []struct{ Question, Answer string } `json:"pairs"`
	}
	if err := ParseJSON(string(res.text), &got); err != nil || len(got.Pairs) == 0 {
		t.Fatalf("parse %q: %v", res.text, err)
	}
}

func TestReadStreamFailures(t *testing.T) {
	cases := []struct {
		file  string
		check func(error) bool
		desc  string
	}{
		{"llamacpp/error_ctx_exceeded_stream.txt", func(err error) bool {
			var ce *ContextOverflowError
			return errors.As(err, &ce) && ce.PromptTokens == 6009 && ce.ContextTokens == 2048 && errors.Is(err, ErrContextOverflow)
		}, "context overflow with counts inside a 200 stream"},
		{"streams/llamacpp_legacy_error.txt", func(err error) bool {
			var api *APIError
			return errors.As(err, &api) && api.Retryable && api.Message == "slot unavailable"
		}, "legacy error: field is classified, not a JSON error"},
		{"streams/truncated_no_finish.txt", func(err error) bool { return errors.Is(err, ErrTruncated) }, "EOF without finish_reason"},
		{"streams/done_without_finish.txt", func(err error) bool { return errors.Is(err, ErrTruncated) }, "[DONE] without finish_reason"},
	}
	for _, tc := range cases {
		_, _, body := capture(t, tc.file)
		_, err := readStream(bytes.NewReader(body), func(bool) {}, nil)
		if !tc.check(err) {
			t.Errorf("%s: %s: got %v", tc.file, tc.desc, err)
		}
		if err != nil && !retryable(err) != !shouldRetry(tc.file) {
			t.Errorf("%s: retryable(%v) = %v", tc.file, err, retryable(err))
		}
	}
	// A line longer than bufio's default 64 KiB is read, not an error.
	long := "data: {\"choices\":[{\"delta\":{\"content\":\"" + strings.Repeat("x", 200<<10) + "\"},\"finish_reason\":\"stop\"}]}\n\n"
	res, err := readStream(strings.NewReader(long), func(bool) {}, nil)
	if err != nil || len(res.text) != 200<<10 {
		t.Errorf("long line: %d bytes, %v", len(res.text), err)
	}
	// Malformed JSON in an event is a truncated (retryable) stream.
	_, err = readStream(strings.NewReader("data: {\"choices\":[{\"delta\":{\"content\":\"x\"\n\n"), func(bool) {}, nil)
	if !errors.Is(err, ErrTruncated) {
		t.Errorf("malformed event: %v", err)
	}
}

func shouldRetry(file string) bool { return !strings.Contains(file, "ctx_exceeded") }

func TestDecodeErrorClassification(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		header     http.Header
		structured bool
		want       string // "overflow", "structured", "retry", "final"
		prompt     int
		ctx        int
	}{
		{"llama.cpp context", 400, `{"error":{"code":400,"message":"the request exceeds the available context size. try increasing the context size or enable context shift","type":"exceed_context_size_error","n_prompt_tokens":6009,"n_ctx":2048}}`, nil, false, "overflow", 6009, 2048},
		{"llama.cpp older wording", 400, `{"error":{"code":400,"message":"request (9412 tokens) exceeds the available context size (8192 tokens), try increasing it","type":"exceed_context_size_error"}}`, nil, false, "overflow", 9412, 8192},
		{"openai context", 400, `{"error":{"message":"This model's maximum context length is 4097 tokens. However, your messages resulted in 4294 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`, nil, false, "overflow", 0, 0},
		{"vllm 0.10 context", 400, `{"object":"error","message":"This model's maximum context length is 16384 tokens. However, you requested 122946 tokens (112946 in the messages, 10000 in the completion).","type":"BadRequestError","param":null,"code":400}`, nil, false, "overflow", 122946, 16384},
		{"vllm 0.15 context", 400, `{"error":{"message":"This model's maximum context length is 3 tokens. However, your request has 8 input tokens. Please reduce the length of the input messages. (parameter=input_tokens, value=8)","type":"BadRequestError","param":"input_tokens","code":400}}`, nil, false, "overflow", 8, 3},
		{"llama.cpp unsupported response_format", 500, `{"error":{"code":500,"message":"response_format type must be one of \"text\" or \"json_object\", but got: json_schema","type":"server_error"}}`, nil, true, "structured", 0, 0},
		{"llama.cpp missing messages", 500, `{"error":{"code":500,"message":"'messages' is required","type":"server_error"}}`, nil, false, "final", 0, 0},
		{"llama.cpp json parse", 500, `{"error":{"code":500,"message":"[json.exception.parse_error.101] parse error at line 1","type":"server_error"}}`, nil, false, "final", 0, 0},
		{"llama.cpp n>1", 500, `{"error":{"code":500,"message":"Only one completion choice is allowed","type":"server_error"}}`, nil, false, "final", 0, 0},
		{"plain 500", 500, `{"error":{"code":500,"message":"simulated internal error","type":"server_error"}}`, nil, false, "retry", 0, 0},
		{"loading 503", 503, `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`, nil, false, "retry", 0, 0},
		{"rate limit", 429, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, http.Header{"Retry-After": {"7"}}, false, "retry", 0, 0},
		{"quota", 429, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`, nil, false, "final", 0, 0},
		{"unauthorized", 401, `{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}`, nil, false, "final", 0, 0},
		{"ollama not found", 404, `{"error":"model \"llama9\" not found, try pulling it first"}`, nil, false, "final", 0, 0},
		{"x-should-retry false", 500, `{"error":{"message":"boom"}}`, http.Header{"X-Should-Retry": {"false"}}, false, "final", 0, 0},
		{"html", 502, `<html><body>Bad gateway</body></html>`, nil, false, "retry", 0, 0},
		{"ollama structured refusal", 400, `{"error":{"message":"invalid response_format: json_schema not supported","type":"invalid_request_error"}}`, nil, true, "structured", 0, 0},
	}
	for _, tc := range cases {
		err := decodeError(tc.status, []byte(tc.body), tc.header, tc.structured)
		var ce *ContextOverflowError
		var su *errStructuredUnsupported
		got := "final"
		switch {
		case errors.As(err, &ce):
			got = "overflow"
			if ce.PromptTokens != tc.prompt || ce.ContextTokens != tc.ctx {
				t.Errorf("%s: tokens %d/%d, want %d/%d", tc.name, ce.PromptTokens, ce.ContextTokens, tc.prompt, tc.ctx)
			}
		case errors.As(err, &su):
			got = "structured"
		case retryable(err):
			got = "retry"
		}
		if got != tc.want {
			t.Errorf("%s: classified %s (%v), want %s", tc.name, got, err, tc.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", tc.name, err)
		}
	}
	api := decodeError(429, []byte(`{}`), http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"9"}}, false).(*APIError)
	if api.RetryAfter.Milliseconds() != 1500 {
		t.Errorf("Retry-After-Ms takes precedence: %v", api.RetryAfter)
	}
}

func TestParseJSONRobust(t *testing.T) {
	type qs struct {
		Questions []string `json:"questions"`
	}
	for _, in := range []string{
		`{"questions":["a?","b?"]}`,
		"  \n{\"questions\": [\"a?\", \"b?\"]}\n\n",
		"```json\n{\"questions\":[\"a?\",\"b?\"]}\n```",
		"Here are the questions:\n```\n{\"questions\":[\"a?\",\"b?\"]}\n```\nHope this helps!",
		"Sure! {\"questions\":[\"a?\",\"b?\"]} Let me know.",
	} {
		var got qs
		if err := ParseJSON(in, &got); err != nil || len(got.Questions) != 2 {
			t.Errorf("ParseJSON(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "no json here", `{"questions": ["a?", `, "```json\n```"} {
		var got qs
		err := ParseJSON(in, &got)
		if !errors.Is(err, ErrUnparsable) {
			t.Errorf("ParseJSON(%q) = %v, want ErrUnparsable", in, err)
		}
	}
}

// scanLines is used by the fault tests to count SSE events.
func scanLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
