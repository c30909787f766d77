package sim

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokenizeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("aZ _-.,;:!?`\"'(){}[]\n\t0123456789éß漢字🙂camelCaseHTTPServer")
	for i := 0; i < 2000; i++ {
		n := rng.IntN(60)
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		toks := tokenize(s)
		if strings.Join(toks, "") != s {
			t.Fatalf("round trip %q -> %q", s, toks)
		}
		for _, tok := range toks {
			if tok == "" || !utf8.ValidString(tok) {
				t.Fatalf("bad token %q in %q", tok, s)
			}
		}
	}
	got := tokenize("Call `parseConfig` now, 12345 times.\n\n  ok")
	want := []string{"Call", " `", "parse", "Config", "`", " now", ",", " 123", "45", " times", ".", "\n\n ", " ok"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("tokenize: %q", got)
	}
}

func TestCountTokens(t *testing.T) {
	msgs := []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}}
	if r := RenderPrompt(msgs); r != "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n" {
		t.Fatalf("render %q", r)
	}
	if n := PromptTokens(msgs); n != (len(RenderPrompt(msgs))+3)/4 {
		t.Fatalf("tokens %d", n)
	}
	if CountTokens("") != 0 || CountTokens("abcde") != 2 {
		t.Fatal("CountTokens")
	}
}

func TestDetectQuestions(t *testing.T) {
	lx := newLexicon()
	cases := []struct {
		text string
		ask  bool
		n    int
	}{
		{"Generate 7 questions about this code.", true, 7},
		{"Please write five questions a reviewer would ask.", true, 5},
		{"Give me 1-3 question/answer pairs about the sea.", true, 3},
		{"You are an assistant that generates questions about source code.", true, 0},
		{"Your task is to list the questions a newcomer might have.", true, 0},
		{"Write a concise answer to the question below.", false, 0},
		{"Answer the user's question about the code.", false, 0},
		{"Question: why does the handler write the questions list to disk?", false, 0},
		{"Explain parseConfig.", false, 0},
	}
	for _, tc := range cases {
		ask, n := lx.detectQuestions(tc.text)
		if ask != tc.ask || n != tc.n {
			t.Errorf("%q: ask=%v n=%d, want %v %d", tc.text, ask, n, tc.ask, tc.n)
		}
	}
	if n := lx.countQuestions("The system prompt says: produce 12 short questions."); n != 12 {
		t.Errorf("countQuestions %d", n)
	}
}

func TestExtractIdents(t *testing.T) {
	lx := newLexicon()
	got := lx.extractIdents("What does parseConfig do? It calls os.ReadFile and validateConfig(cfg), then returns the Config.\n" + goCode)
	if len(got) == 0 || len(got) > 8 {
		t.Fatalf("idents %q", got)
	}
	joined := " " + strings.Join(got, " ") + " "
	for _, want := range []string{" parseConfig ", " validateConfig ", " ReadFile "} {
		if !strings.Contains(joined, want) {
			t.Fatalf("idents %q lack %q", got, want)
		}
	}
	for _, bad := range []string{" the ", " func ", " return ", " What "} {
		if strings.Contains(joined, bad) {
			t.Fatalf("idents %q contain %q", got, bad)
		}
	}
}

func TestParseChatFormats(t *testing.T) {
	cases := []struct {
		body     string
		jsonMode bool
		empty    bool
	}{
		{`{"messages":[]}`, false, false},
		{`{"messages":[],"response_format":{"type":"text"}}`, false, false},
		{`{"messages":[],"response_format":{"type":"json_object"}}`, true, true},
		{`{"messages":[],"response_format":{"type":"json_object","schema":{"type":"object"}}}`, true, false},
		{`{"messages":[],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`, true, false},
		{`{"messages":[],"response_format":{"type":"json_schema","schema":{"type":"object"}}}`, true, true}, // README shape: schema not read
		{`{"messages":[],"json_schema":{"type":"string"}}`, true, false},
		{`{"messages":[],"json_schema":{"type":"string"},"response_format":{"type":"json_object"}}`, true, false},
	}
	for _, tc := range cases {
		rq, err := parseChat([]byte(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err.msg)
		}
		if rq.jsonMode != tc.jsonMode || (rq.jsonMode && rq.schema.isEmpty() != tc.empty) {
			t.Fatalf("%s: jsonMode=%v schema=%+v", tc.body, rq.jsonMode, rq.schema)
		}
	}
	rq, _ := parseChat([]byte(`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]},{"role":"assistant","content":null}],"max_completion_tokens":9,"stop":"END"}`))
	if rq.messages[0].Content != "ab" || rq.messages[1].Content != "" || rq.maxTokens != 9 || len(rq.stop) != 1 {
		t.Fatalf("%+v", rq)
	}
}

func TestSchemaRecursionTerminates(t *testing.T) {
	schema := `{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}},"required":["name","children"]}`
	n, err := parseOrdered([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(newLexicon(), 1, "p", nil, 96)
	out := g.json(n)
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if len(out) > 200000 {
		t.Fatalf("recursive schema produced %d bytes", len(out))
	}
}
