package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const goCode = "```go\npackage config\n\n// parseConfig reads the file at path and returns a Config.\nfunc parseConfig(path string) (*Config, error) {\n\tdata, err := os.ReadFile(path)\n\tif err != nil {\n\t\treturn nil, fmt.Errorf(\"read config: %w\", err)\n\t}\n\tvar cfg Config\n\tif err := toml.Unmarshal(data, &cfg); err != nil {\n\t\treturn nil, err\n\t}\n\treturn &cfg, validateConfig(&cfg)\n}\n```"

func TestStreamShape(t *testing.T) {
	_, url := startSim(t, Config{Model: "tiny"})
	c := newClient(t)
	st := doStream(t, c, url, chatReq(userMsgs("Explain this code:\n"+goCode), nil))

	// Exact framing: every event is "data: <json>\n\n", ending with [DONE].
	if !strings.HasSuffix(st.raw, "data: [DONE]\n\n") {
		t.Fatalf("stream does not end with [DONE]: %q", st.raw[max(0, len(st.raw)-80):])
	}
	for i, ev := range strings.Split(strings.TrimSuffix(st.raw, "\n\n"), "\n\n") {
		if !strings.HasPrefix(ev, "data: ") || strings.Contains(ev, "\n") {
			t.Fatalf("event %d badly framed: %q", i, ev)
		}
	}
	if len(st.comments) != 0 {
		t.Fatalf("unexpected comments %q", st.comments)
	}
	first := st.data[0]
	if !strings.HasPrefix(first, `{"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":`) {
		t.Fatalf("first chunk %s", first)
	}
	if !st.done || st.finish != "stop" {
		t.Fatalf("done=%v finish=%q", st.done, st.finish)
	}
	n := len(st.chunks)
	id := st.chunks[0].ID
	for i, ch := range st.chunks {
		if ch.Object != "chat.completion.chunk" || ch.Model != "tiny" || ch.ID != id || !strings.HasPrefix(ch.ID, "chatcmpl-") || ch.SystemFingerprint == "" || ch.Created == 0 {
			t.Fatalf("chunk %d header fields: %+v", i, ch)
		}
		if len(ch.Choices) != 1 {
			t.Fatalf("chunk %d choices %d", i, len(ch.Choices))
		}
		if ch.Usage != nil {
			t.Fatalf("usage without include_usage")
		}
		if i > 0 && i < n-1 {
			c := ch.Choices[0]
			if c.Delta.Content == nil || *c.Delta.Content == "" || c.FinishReason != nil || c.Delta.Role != "" || ch.Timings != nil {
				t.Fatalf("content chunk %d: %s", i, st.data[i])
			}
		}
	}
	last := st.chunks[n-1]
	if !strings.Contains(st.data[n-1], `"delta":{}`) || last.Choices[0].FinishReason == nil {
		t.Fatalf("final chunk %s", st.data[n-1])
	}
	if err := last.Timings.complete(); err != nil {
		t.Fatal(err)
	}
	if *last.Timings.PredictedN != n-2 {
		t.Fatalf("predicted_n %d, content chunks %d", *last.Timings.PredictedN, n-2)
	}
	if !strings.Contains(st.content, "`") {
		t.Fatalf("answer mentions no identifier: %q", st.content)
	}
}

func TestStreamIncludeUsage(t *testing.T) {
	_, url := startSim(t, Config{})
	c := newClient(t)
	msgs := userMsgs("What does parseConfig do?\n" + goCode)
	st := doStream(t, c, url, chatReq(msgs, map[string]any{"stream_options": map[string]any{"include_usage": true}, "max_tokens": 7}))
	n := len(st.chunks)
	fin, uc := st.chunks[n-2], st.chunks[n-1]
	if fin.Choices[0].FinishReason == nil || *fin.Choices[0].FinishReason != "length" || fin.Timings != nil {
		t.Fatalf("finish chunk %s", st.data[n-2])
	}
	if !strings.HasPrefix(st.data[n-1], `{"choices":[],`) || uc.Usage == nil || uc.Usage.PromptTokensDetails == nil {
		t.Fatalf("usage chunk %s", st.data[n-1])
	}
	if err := uc.Timings.complete(); err != nil {
		t.Fatal(err)
	}
	u := uc.Usage
	var pm []Message
	for _, m := range msgs {
		pm = append(pm, Message{Role: m["role"].(string), Content: m["content"].(string)})
	}
	if u.CompletionTokens != 7 || u.PromptTokens != PromptTokens(pm) || u.TotalTokens != u.CompletionTokens+u.PromptTokens {
		t.Fatalf("usage %+v, want prompt %d", u, PromptTokens(pm))
	}
	if n-3 != 7 {
		t.Fatalf("%d content chunks, want 7", n-3)
	}
}

func TestNonStreamShape(t *testing.T) {
	s, url := startSim(t, Config{Model: "m1", AnswerTokens: 40})
	c := newClient(t)
	resp := post(t, c, url, chatReq(userMsgs("Explain validateConfig and parseConfig.\n"+goCode), nil))
	raw := readAll(t, resp)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	for _, key := range []string{`"choices":[{"finish_reason":"stop","index":0,"message":{"role":"assistant","content":`, `"object":"chat.completion"`, `"prompt_tokens_details":{"cached_tokens":`, `"timings":{"cache_n":`} {
		if !strings.Contains(string(raw), key) {
			t.Fatalf("body lacks %s: %s", key, raw)
		}
	}
	var out wireCompletion
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if out.Model != "m1" || !strings.HasPrefix(out.ID, "chatcmpl-") || out.Created == 0 || out.SystemFingerprint == "" {
		t.Fatalf("header fields %+v", out)
	}
	if err := out.Timings.complete(); err != nil {
		t.Fatal(err)
	}
	u := out.Usage
	if u.CompletionTokens != len(tokenize(out.Choices[0].Message.Content)) || u.CompletionTokens < 40 || *out.Timings.PredictedN != u.CompletionTokens {
		t.Fatalf("usage %+v, content %q", u, out.Choices[0].Message.Content)
	}
	if *out.Timings.CacheN+*out.Timings.PromptN != u.PromptTokens {
		t.Fatalf("timings %+v vs usage %+v", out.Timings, u)
	}
	st := s.Stats()
	if st.Requests != 1 || st.Completed != 1 || st.CompletionTokens != int64(u.CompletionTokens) || st.PromptTokens != int64(u.PromptTokens) {
		t.Fatalf("stats %+v", st)
	}
}

func TestFreeTextQuestions(t *testing.T) {
	_, url := startSim(t, Config{})
	c := newClient(t)
	msgs := []map[string]any{
		{"role": "system", "content": "You are a senior engineer who reviews code."},
		{"role": "user", "content": []map[string]any{{"type": "text", "text": "Write 4 questions a new contributor might ask about this code.\n"}, {"type": "text", "text": goCode}}},
	}
	out := nonStream(t, c, url, chatReq(msgs, nil))
	lines := strings.Split(out.Choices[0].Message.Content, "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 questions, got %q", out.Choices[0].Message.Content)
	}
	re := regexp.MustCompile(`^\d+\. .*\?$`)
	for i, l := range lines {
		if !re.MatchString(l) || !strings.HasPrefix(l, fmt.Sprintf("%d. ", i+1)) {
			t.Fatalf("line %q", l)
		}
	}
	// Default count is 5; the ask can sit in the system prompt.
	msgs = []map[string]any{
		{"role": "system", "content": "Generate questions about the code the user sends. One per line."},
		{"role": "user", "content": goCode},
	}
	out = nonStream(t, c, url, chatReq(msgs, nil))
	if n := len(strings.Split(out.Choices[0].Message.Content, "\n")); n != 5 {
		t.Fatalf("want 5 lines, got %q", out.Choices[0].Message.Content)
	}
	if !strings.Contains(out.Choices[0].Message.Content, "parseConfig") {
		t.Fatalf("questions do not mention identifiers: %q", out.Choices[0].Message.Content)
	}
}

func TestJSONSchemaQuestions(t *testing.T) {
	_, url := startSim(t, Config{})
	c := newClient(t)
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"questions": map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "minItems": 1, "maxItems": 20},
		},
		"required": []any{"questions"},
	}
	rf := map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "qs", "strict": true, "schema": schema}}
	for _, stream := range []bool{false, true} {
		body := chatReq(userMsgs("Generate 7 questions about this code.\n"+goCode), map[string]any{"response_format": rf})
		var content string
		if stream {
			st := doStream(t, c, url, body)
			content = st.content
			if len(st.chunks) < 10 {
				t.Fatalf("JSON not split into token chunks: %d chunks", len(st.chunks))
			}
		} else {
			content = nonStream(t, c, url, body).Choices[0].Message.Content
		}
		var v struct {
			Questions []string `json:"questions"`
		}
		if err := json.Unmarshal([]byte(content), &v); err != nil {
			t.Fatalf("stream=%v: %q: %v", stream, content, err)
		}
		if len(v.Questions) != 7 {
			t.Fatalf("stream=%v: %d questions: %q", stream, len(v.Questions), content)
		}
		seen := map[string]bool{}
		for _, q := range v.Questions {
			if !strings.HasSuffix(q, "?") || seen[q] {
				t.Fatalf("bad or repeated question %q", q)
			}
			seen[q] = true
		}
	}
}

func TestJSONSchemaCapturedRequest(t *testing.T) {
	_, url := startSim(t, Config{})
	c := newClient(t)
	// req_json_schema.json from the llama-server captures.
	raw := `{"model":"tiny","messages":[{"role":"user","content":"Give me 1-3 question/answer pairs about the sea."}],"max_tokens":1000,
 "response_format": {"type":"json_schema","json_schema":{"name":"qa","schema":{"type":"object","properties":{"pairs":{"type":"array","items":{"type":"object","properties":{"question":{"type":"string"},"answer":{"type":"string"}},"required":["question","answer"]},"minItems":1,"maxItems":3}},"required":["pairs"]}}}}`
	var body map[string]any
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatal(err)
	}
	out := nonStream(t, c, url, body)
	content := out.Choices[0].Message.Content
	var v any
	if err := json.Unmarshal([]byte(content), &v); err != nil {
		t.Fatalf("%q: %v", content, err)
	}
	schema := body["response_format"].(map[string]any)["json_schema"].(map[string]any)["schema"]
	if err := validate(schema, schema, v, "$"); err != nil {
		t.Fatalf("%v in %s", err, content)
	}
	pairs := v.(map[string]any)["pairs"].([]any)
	if len(pairs) != 3 {
		t.Fatalf("want 3 pairs (asked 1-3): %s", content)
	}
	for _, p := range pairs {
		if q := p.(map[string]any)["question"].(string); !strings.HasSuffix(q, "?") {
			t.Fatalf("question %q", q)
		}
	}
	if out.Choices[0].FinishReason != "stop" {
		t.Fatalf("finish %q", out.Choices[0].FinishReason)
	}
}

func TestJSONSchemaComplex(t *testing.T) {
	_, url := startSim(t, Config{Seed: 3})
	c := newClient(t)
	schemaJSON := `{
	  "$defs": {"ref": {"type": "object", "properties": {"file": {"type": "string"}, "line": {"type": "integer", "minimum": 1, "maximum": 500}}, "required": ["file", "line"]}},
	  "type": "object",
	  "properties": {
	    "title": {"type": "string", "maxLength": 12},
	    "difficulty": {"enum": ["easy", "medium", "hard"]},
	    "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
	    "count": {"type": "integer", "minimum": 10, "exclusiveMaximum": 13},
	    "even": {"type": "integer", "minimum": 3, "maximum": 9, "multipleOf": 2},
	    "ok": {"type": "boolean"},
	    "kind": {"const": "qa"},
	    "nothing": {"type": "null"},
	    "maybe": {"anyOf": [{"type": "null"}, {"type": "string", "minLength": 30}]},
	    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
	    "refs": {"type": "array", "items": {"$ref": "#/$defs/ref"}, "minItems": 1},
	    "nested": {"type": "object", "properties": {"deeper": {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}}, "required": ["deeper"]},
	    "union": {"type": ["integer", "null"], "minimum": 5, "maximum": 5},
	    "merged": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]}
	  },
	  "required": ["title", "difficulty", "score", "refs", "nested"]
	}`
	var schema any
	if err := json.Unmarshal([]byte(schemaJSON), &schema); err != nil {
		t.Fatal(err)
	}
	raw := json.RawMessage(schemaJSON) // keeps the property order on the wire
	for _, rf := range []map[string]any{
		{"type": "json_schema", "json_schema": map[string]any{"schema": raw}},
		{"type": "json_object", "schema": raw},
	} {
		out := nonStream(t, c, url, chatReq(userMsgs("Describe parseConfig.\n"+goCode), map[string]any{"response_format": rf}))
		content := out.Choices[0].Message.Content
		var v any
		if err := json.Unmarshal([]byte(content), &v); err != nil {
			t.Fatalf("%q: %v", content, err)
		}
		if err := validate(schema, schema, v, "$"); err != nil {
			t.Fatalf("%v in %s", err, content)
		}
		// Properties come out in schema order.
		if !strings.HasPrefix(content, `{"title":`) || !strings.Contains(content, `"merged":{"a":`) {
			t.Fatalf("property order: %s", content)
		}
		if q := v.(map[string]any)["nested"].(map[string]any)["deeper"].(map[string]any)["question"].(string); !strings.HasSuffix(q, "?") {
			t.Fatalf("nested question %q", q)
		}
	}
	// Top-level json_schema field (llama.cpp extension) works too.
	out := nonStream(t, c, url, chatReq(userMsgs("hi"), map[string]any{"json_schema": map[string]any{"type": "object", "properties": map[string]any{"n": map[string]any{"type": "integer"}}, "required": []any{"n"}}}))
	var v struct{ N *int }
	if err := json.Unmarshal([]byte(out.Choices[0].Message.Content), &v); err != nil || v.N == nil {
		t.Fatalf("top-level json_schema: %q %v", out.Choices[0].Message.Content, err)
	}
}

func TestJSONObjectWithoutSchema(t *testing.T) {
	_, url := startSim(t, Config{})
	c := newClient(t)
	rf := map[string]any{"type": "json_object"}
	out := nonStream(t, c, url, chatReq(userMsgs("Please list 3 questions about this code.\n"+goCode), map[string]any{"response_format": rf}))
	var q struct{ Questions []string }
	if err := json.Unmarshal([]byte(out.Choices[0].Message.Content), &q); err != nil || len(q.Questions) != 3 {
		t.Fatalf("%q: %v", out.Choices[0].Message.Content, err)
	}
	out = nonStream(t, c, url, chatReq(userMsgs("What does parseConfig return?\n"+goCode), map[string]any{"response_format": rf}))
	var a struct{ Answer string }
	if err := json.Unmarshal([]byte(out.Choices[0].Message.Content), &a); err != nil || a.Answer == "" {
		t.Fatalf("%q: %v", out.Choices[0].Message.Content, err)
	}
	// "text" is free text.
	out = nonStream(t, c, url, chatReq(userMsgs("What does parseConfig return?"), map[string]any{"response_format": map[string]any{"type": "text"}}))
	if json.Valid([]byte(out.Choices[0].Message.Content)) {
		t.Fatalf("text format produced JSON: %q", out.Choices[0].Message.Content)
	}
}

func TestRequestErrors(t *testing.T) {
	_, url := startSim(t, Config{})
	c := newClient(t)
	cases := []struct {
		name, body string
		code       int
		msg        string
	}{
		{"bad response_format", `{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}}`, 500, `response_format type must be one of "text" or "json_object", but got: xml`},
		{"missing messages", `{"model":"x"}`, 500, `'messages' is required`},
		{"messages not array", `{"messages":"hi"}`, 500, `Expected 'messages' to be an array`},
		{"n=2", `{"messages":[{"role":"user","content":"x"}],"n":2}`, 500, `Only one completion choice is allowed`},
		{"schema and grammar", `{"messages":[{"role":"user","content":"x"}],"json_schema":{},"grammar":"root ::= \"a\""}`, 500, `Cannot use both json_schema and grammar`},
		{"invalid json", `{"messages": `, 500, `[json.exception.parse_error.101] parse error at line 1, column 14: syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal`},
	}
	for _, tc := range cases {
		for _, stream := range []bool{false, true} {
			body := tc.body
			if stream && strings.HasSuffix(body, "}") {
				body = strings.TrimSuffix(body, "}") + `,"stream":true}`
			}
			resp, err := postRaw(context.Background(), c, url, []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			raw := readAll(t, resp)
			var e errorEnvelope
			if err := json.Unmarshal(raw, &e); err != nil || e.Error == nil {
				t.Fatalf("%s: body %s", tc.name, raw)
			}
			if resp.StatusCode != tc.code || e.Error.Code != tc.code || e.Error.Message != tc.msg || e.Error.Type != "server_error" {
				t.Fatalf("%s (stream=%v): %d %s", tc.name, stream, resp.StatusCode, raw)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
		}
	}
	// The exact bytes of the captured error.
	resp, _ := postRaw(context.Background(), c, url, []byte(`{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}}`))
	if raw := string(readAll(t, resp)); raw != `{"error":{"code":500,"message":"response_format type must be one of \"text\" or \"json_object\", but got: xml","type":"server_error"}}` {
		t.Fatalf("raw %s", raw)
	}
	for _, p := range []string{"/nope", "/v1/chat/completions"} {
		resp, err := c.Get(url + p)
		if err != nil {
			t.Fatal(err)
		}
		raw := readAll(t, resp)
		if resp.StatusCode != 404 || string(raw) != `{"error":{"code":404,"message":"File Not Found","type":"not_found_error"}}` {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, raw)
		}
	}
}

func TestContextOverflow(t *testing.T) {
	s, url := startSim(t, Config{ContextSize: 64})
	c := newClient(t)
	long := strings.Repeat("abcd ", 80) // 400 bytes: > 64 tokens
	msgs := userMsgs(long)
	want := PromptTokens([]Message{{Role: "user", Content: long}})

	resp := post(t, c, url, chatReq(msgs, nil))
	raw := readAll(t, resp)
	wantBody := fmt.Sprintf(`{"error":{"code":400,"message":"the request exceeds the available context size. try increasing the context size or enable context shift","type":"exceed_context_size_error","n_prompt_tokens":%d,"n_ctx":64}}`, want)
	if resp.StatusCode != 400 || string(raw) != wantBody {
		t.Fatalf("non-stream: %d %s", resp.StatusCode, raw)
	}

	resp = post(t, c, url, chatReq(msgs, map[string]any{"stream": true}))
	st, err := readSSE(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %v", resp.StatusCode, err)
	}
	if st.raw != "data: "+wantBody+"\n\n"+"data: [DONE]\n\n" {
		t.Fatalf("stream body %q", st.raw)
	}
	if stt := s.Stats(); stt.PromptTokens != 0 || stt.Completed != 0 || stt.Requests != 2 {
		t.Fatalf("stats %+v", stt)
	}
}

func TestFinishLength(t *testing.T) {
	_, url := startSim(t, Config{ContextSize: 128, AnswerTokens: 96})
	c := newClient(t)
	// max_tokens reached.
	out := nonStream(t, c, url, chatReq(userMsgs("Explain parseConfig."), map[string]any{"max_tokens": 5}))
	if out.Choices[0].FinishReason != "length" || out.Usage.CompletionTokens != 5 {
		t.Fatalf("max_tokens: %+v %+v", out.Choices[0], out.Usage)
	}
	// Generation fills the context.
	prompt := strings.Repeat("x", 380)
	out = nonStream(t, c, url, chatReq(userMsgs(prompt), nil))
	if out.Choices[0].FinishReason != "length" || out.Usage.TotalTokens != 128 {
		t.Fatalf("context full: %s %+v", out.Choices[0].FinishReason, out.Usage)
	}
	// Stop strings end the answer with "stop".
	out = nonStream(t, c, url, chatReq(userMsgs("Explain parseConfig."), map[string]any{"stop": []string{"."}}))
	if out.Choices[0].FinishReason != "stop" || strings.Contains(out.Choices[0].Message.Content, ".") || out.Choices[0].Message.Content == "" {
		t.Fatalf("stop: %+v", out.Choices[0])
	}
}

func TestPrefixCache(t *testing.T) {
	s, url := startSim(t, Config{Slots: 2})
	c := newClient(t)
	sys := "You answer questions about the following code.\n" + strings.Repeat(goCode+"\n", 4)
	ask := func(q string) wireCompletion {
		return nonStream(t, c, url, chatReq([]map[string]any{
			{"role": "system", "content": sys},
			{"role": "user", "content": q},
		}, nil))
	}
	first := ask("What does parseConfig return?")
	if first.Usage.PromptTokensDetails.CachedTokens != 0 || *first.Timings.CacheN != 0 {
		t.Fatalf("first request cached: %+v", first.Usage)
	}
	before := s.Stats().CachedPromptTokens
	second := ask("Why does validateConfig run last?")
	cached := second.Usage.PromptTokensDetails.CachedTokens
	if cached < len(sys)/4-8 || cached >= second.Usage.PromptTokens || *second.Timings.CacheN != cached || *second.Timings.PromptN != second.Usage.PromptTokens-cached {
		t.Fatalf("second: usage %+v timings cache_n %d prompt_n %d", second.Usage, *second.Timings.CacheN, *second.Timings.PromptN)
	}
	if got := s.Stats().CachedPromptTokens; got != before+int64(cached) {
		t.Fatalf("CachedPromptTokens %d, want %d", got, before+int64(cached))
	}
	// The same prompt again re-evaluates exactly one token (like llama.cpp).
	third := ask("Why does validateConfig run last?")
	if third.Usage.PromptTokensDetails.CachedTokens != third.Usage.PromptTokens-1 {
		t.Fatalf("identical prompt: %+v", third.Usage)
	}
	// cache_prompt:false disables reuse.
	out := nonStream(t, c, url, chatReq([]map[string]any{{"role": "system", "content": sys}, {"role": "user", "content": "x?"}}, map[string]any{"cache_prompt": false}))
	if out.Usage.PromptTokensDetails.CachedTokens != 0 {
		t.Fatalf("cache_prompt false: %+v", out.Usage)
	}
}

func TestPrefixCacheMultiTurn(t *testing.T) {
	_, url := startSim(t, Config{Slots: 1})
	c := newClient(t)
	msgs := []map[string]any{{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What does parseConfig do?\n" + goCode}}
	first := nonStream(t, c, url, chatReq(msgs, nil))
	// The next turn carries the assistant's answer: it is served from the cache.
	msgs = append(msgs,
		map[string]any{"role": "assistant", "content": first.Choices[0].Message.Content},
		map[string]any{"role": "user", "content": "And validateConfig?"})
	second := nonStream(t, c, url, chatReq(msgs, nil))
	if got, want := second.Usage.PromptTokensDetails.CachedTokens, first.Usage.TotalTokens-2; got < want {
		t.Fatalf("second turn cached %d tokens, want >= %d", got, want)
	}
}

func TestPrefixCacheSlotSelection(t *testing.T) {
	// Two conversations alternate on two slots; each must find its own prefix.
	_, url := startSim(t, Config{Slots: 2})
	c := newClient(t)
	a := "System A.\n" + strings.Repeat("alpha code ", 200)
	b := "System B.\n" + strings.Repeat("beta code ", 200)
	for round := 0; round < 3; round++ {
		for _, sys := range []string{a, b} {
			out := nonStream(t, c, url, chatReq([]map[string]any{{"role": "system", "content": sys}, {"role": "user", "content": fmt.Sprintf("question %d", round)}}, map[string]any{"max_tokens": 3}))
			if round > 0 && out.Usage.PromptTokensDetails.CachedTokens < len(sys)/4-4 {
				t.Fatalf("round %d: cached %d of %d", round, out.Usage.PromptTokensDetails.CachedTokens, out.Usage.PromptTokens)
			}
		}
	}
}

func TestQueueing(t *testing.T) {
	s, url := startSim(t, Config{Slots: 2, TokensPerSecond: 400, AnswerTokens: 20})
	c := newClient(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b, _ := json.Marshal(chatReq(userMsgs(fmt.Sprintf("Explain handler%d.", i)), map[string]any{"stream": i%2 == 0}))
			resp, err := postRaw(context.Background(), c, url, b)
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				errs <- fmt.Errorf("request %d: %d %v %s", i, resp.StatusCode, err, body)
			}
		}(i)
	}
	// While the requests run, /slots shows both slots busy.
	waitFor(t, "both slots busy", func() bool {
		resp, err := c.Get(url + "/slots")
		if err != nil {
			return false
		}
		var slots []map[string]any
		_ = json.Unmarshal(readAll(t, resp), &slots)
		busy := 0
		for _, sl := range slots {
			if sl["is_processing"] == true {
				busy++
			}
		}
		return busy == 2 || s.Stats().Completed == 8
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.MaxConcurrent != 2 || st.MaxQueued < 1 || st.Completed != 8 || st.Requests != 8 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUtilisation(t *testing.T) {
	s, url := startSim(t, Config{Slots: 4, TokensPerSecond: 100})
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: hangGuard}
	// Warm 8 connections so that the 8 requests arrive together.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := c.Get(url + "/health"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	start := make(chan struct{})
	errs := make(chan error, 8)
	body, _ := json.Marshal(chatReq(userMsgs("Explain parseConfig in detail."), map[string]any{"max_tokens": 40, "stream": true}))
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := postRaw(context.Background(), c, url, body)
			if err != nil {
				errs <- err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Completed != 8 || st.MaxConcurrent != 4 || st.Utilisation <= 0.9 || st.Utilisation > 1.0001 {
		t.Fatalf("stats %+v", st)
	}
	if st.BusySlotSeconds < 8*0.4*0.95 {
		t.Fatalf("busy %.3fs for 8 x 40 tokens at 100/s", st.BusySlotSeconds)
	}
	s.ResetStats()
	if st := s.Stats(); st.Requests != 0 || st.Utilisation != 0 || st.WallSeconds != 0 || len(st.Faults) != 0 {
		t.Fatalf("after reset %+v", st)
	}
}

func TestClientDisconnectFreesSlot(t *testing.T) {
	s, url := startSim(t, Config{Slots: 1, TokensPerSecond: 50, AnswerTokens: 500})
	c := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	b, _ := json.Marshal(chatReq(userMsgs("Explain parseConfig."), map[string]any{"stream": true}))
	resp, err := postRaw(ctx, c, url, b)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	// A second request queues behind the first.
	done := make(chan wireCompletion, 1)
	go func() {
		var out wireCompletion
		b, _ := json.Marshal(chatReq(userMsgs("short"), map[string]any{"max_tokens": 2}))
		if resp, err := postRaw(context.Background(), c, url, b); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
		}
		done <- out
	}()
	waitFor(t, "queued request", func() bool { return s.Stats().MaxQueued == 1 })
	cancel()
	resp.Body.Close()
	select {
	case out := <-done:
		if out.Usage == nil || out.Usage.CompletionTokens != 2 {
			t.Fatalf("queued request: %+v", out)
		}
	case <-time.After(hangGuard):
		t.Fatal("slot not released after client disconnect")
	}
	waitFor(t, "slot free", func() bool { return !s.slotViews()[0].IsProcessing })
}

func TestKeepAliveDuringPrefill(t *testing.T) {
	s := New(Config{PromptTokensPerSecond: 500})
	s.keepAlive = 30 * time.Millisecond
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newClient(t)
	st := doStream(t, c, url, chatReq(userMsgs(strings.Repeat("word ", 200)), map[string]any{"max_tokens": 3})) // ~250 tokens = 0.5 s
	if len(st.comments) == 0 || !strings.HasPrefix(st.raw, ": keepalive\n\n") {
		t.Fatalf("no keep-alive before the first token: %q", st.raw[:min(80, len(st.raw))])
	}
	if !st.done || st.finish != "length" {
		t.Fatalf("done=%v finish=%q", st.done, st.finish)
	}
	if pm := *st.chunks[len(st.chunks)-1].Timings.PromptMS; pm < 400 {
		t.Fatalf("prompt_ms %.1f for ~250 uncached tokens at 500/s", pm)
	}
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 42}
	_, url1 := startSim(t, cfg)
	_, url2 := startSim(t, cfg)
	_, url3 := startSim(t, Config{Seed: 43})
	c := newClient(t)
	body := func() map[string]any { return chatReq(userMsgs("What does parseConfig do?\n"+goCode), nil) }
	a := nonStream(t, c, url1, body()).Choices[0].Message.Content
	b := nonStream(t, c, url1, body()).Choices[0].Message.Content
	st := doStream(t, c, url2, body())
	if a != b || a != st.content {
		t.Fatalf("not deterministic:\n%q\n%q\n%q", a, b, st.content)
	}
	if other := nonStream(t, c, url3, body()).Choices[0].Message.Content; other == a {
		t.Fatalf("seed has no effect")
	}
}

func TestInfoEndpoints(t *testing.T) {
	_, url := startSim(t, Config{Slots: 3, ContextSize: 2048, Model: "tiny"})
	c := newClient(t)
	get := func(p string) (int, string, string) {
		resp, err := c.Get(url + p)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(readAll(t, resp))
	}
	for _, p := range []string{"/health", "/v1/health"} {
		if code, ct, body := get(p); code != 200 || body != `{"status":"ok"}` || ct != "application/json; charset=utf-8" {
			t.Fatalf("%s: %d %s %s", p, code, ct, body)
		}
	}
	for _, p := range []string{"/v1/models", "/models"} {
		_, _, body := get(p)
		var m struct {
			Models []struct{ Name, Model string }
			Object string
			Data   []struct {
				ID, Object string
				OwnedBy    string `json:"owned_by"`
				Meta       struct {
					NCtxTrain int `json:"n_ctx_train"`
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Models) != 1 || m.Models[0].Name != "tiny" || m.Object != "list" || len(m.Data) != 1 || m.Data[0].ID != "tiny" || m.Data[0].Object != "model" || m.Data[0].Meta.NCtxTrain != 2048*3 {
			t.Fatalf("%s: %s", p, body)
		}
		if !strings.Contains(body, `"owned_by":"llamacpp"`) {
			t.Fatalf("%s: %s", p, body)
		}
	}
	_, _, body := get("/props")
	var props struct {
		DGS struct {
			NCtx   int            `json:"n_ctx"`
			Params map[string]any `json:"params"`
		} `json:"default_generation_settings"`
		TotalSlots   int    `json:"total_slots"`
		ModelPath    string `json:"model_path"`
		ChatTemplate string `json:"chat_template"`
		BuildInfo    string `json:"build_info"`
	}
	if err := json.Unmarshal([]byte(body), &props); err != nil {
		t.Fatal(err)
	}
	if props.DGS.NCtx != 2048*3 || props.TotalSlots != 3 || props.ModelPath != "tiny" || props.ChatTemplate == "" || props.BuildInfo != "sim" || len(props.DGS.Params) == 0 {
		t.Fatalf("props %s", body)
	}
	// Upstream llama.cpp reports the per-slot value.
	_, url2 := startSim(t, Config{Slots: 3, ContextSize: 2048, PropsNCtxPerSlot: true})
	resp2, err := c.Get(url2 + "/props")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(readAll(t, resp2), &props); err != nil || props.DGS.NCtx != 2048 {
		t.Fatalf("per-slot props: %+v %v", props, err)
	}
	_, _, body = get("/slots")
	if body != `[{"id":0,"is_processing":false,"n_ctx":2048,"id_task":-1},{"id":1,"is_processing":false,"n_ctx":2048,"id_task":-1},{"id":2,"is_processing":false,"n_ctx":2048,"id_task":-1}]` {
		t.Fatalf("slots %s", body)
	}
	if code, _, body := get("/metrics"); code != 501 || !strings.Contains(body, "not_supported_error") {
		t.Fatalf("metrics %d %s", code, body)
	}
	resp, err := c.Post(url+"/tokenize", "application/json", strings.NewReader(`{"content":"hello world!"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tk struct{ Tokens []int }
	if err := json.Unmarshal(readAll(t, resp), &tk); err != nil || len(tk.Tokens) != 3 {
		t.Fatalf("tokenize %v %v", tk, err)
	}
}

func TestHandlerWithHTTPTest(t *testing.T) {
	s := New(Config{Faults: FaultConfig{Script: []Fault{FaultRefuse, FaultNone}}})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	defer s.Close()
	c := newClient(t)
	b, _ := json.Marshal(chatReq(userMsgs("hi"), nil))
	if resp, err := postRaw(context.Background(), c, ts.URL, b); err == nil {
		resp.Body.Close()
		t.Fatalf("refuse: got HTTP %d", resp.StatusCode)
	}
	out := nonStream(t, c, ts.URL, chatReq(userMsgs("hi"), nil))
	if out.Choices[0].Message.Content == "" {
		t.Fatal("empty answer")
	}
}

func TestSetDown(t *testing.T) {
	s, url := startSim(t, Config{Faults: FaultConfig{Script: []Fault{FaultNone, FaultHang}}})
	c := newClient(t)
	nonStream(t, c, url, chatReq(userMsgs("hi"), nil))

	// An in-flight (hung) request is aborted by the outage.
	hung := make(chan error, 1)
	go func() {
		b, _ := json.Marshal(chatReq(userMsgs("hi"), nil))
		resp, err := postRaw(context.Background(), c, url, b)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		hung <- err
	}()
	waitFor(t, "hung request", func() bool { return s.Stats().Faults[FaultHang] == 1 })
	if err := s.SetDown(true); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-hung:
		if err == nil {
			t.Fatal("hung request completed without error")
		}
	case <-time.After(hangGuard):
		t.Fatal("in-flight request not aborted by SetDown(true)")
	}
	if _, err := c.Get(url + "/health"); err == nil {
		t.Fatal("request succeeded while down")
	} else if !strings.Contains(err.Error(), "refused") {
		t.Logf("error while down (expected connection refused): %v", err)
	}
	if err := s.SetDown(true); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := s.SetDown(false); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url {
		t.Fatalf("URL changed: %s -> %s", url, s.URL())
	}
	nonStream(t, c, url, chatReq(userMsgs("hi again"), nil))
	if err := New(Config{}).SetDown(true); err == nil {
		t.Fatal("SetDown before Start should fail")
	}
}

func TestCloseWithHungRequestsLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	s := New(Config{Slots: 1, Faults: FaultConfig{Script: []Fault{FaultHang, FaultHang, FaultStall, FaultNone}}})
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b, _ := json.Marshal(chatReq(userMsgs("Explain parseConfig."), map[string]any{"stream": i%2 == 0}))
			resp, err := postRaw(context.Background(), c, url, b)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}(i)
		// Keep arrival order so that the last request queues behind the stall.
		waitFor(t, "arrival", func() bool { return s.Stats().Requests == int64(i+1) })
	}
	waitFor(t, "queued behind the stall", func() bool { return s.Stats().MaxQueued == 1 })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(hangGuard):
		t.Fatal("Close did not return")
	}
	wg.Wait()
	tr.CloseIdleConnections()
	deadline := time.Now().Add(hangGuard)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Fatal("Start after Close should fail")
	}
}

func TestUnknownFaultIgnored(t *testing.T) {
	var logs []string
	var mu sync.Mutex
	s, url := startSim(t, Config{Logf: func(f string, a ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); mu.Unlock() }})
	s.SetFaults(FaultConfig{Script: []Fault{"bogus"}})
	nonStream(t, newClient(t), url, chatReq(userMsgs("hi"), nil))
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(logs, "\n"), "bogus") {
		t.Fatalf("unknown fault not logged: %q", logs)
	}
}

func TestClosedHandlerAnswers503(t *testing.T) {
	s := New(Config{})
	_ = s.Close()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != 503 {
		t.Fatalf("%d", rec.Code)
	}
}
