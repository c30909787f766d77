package pipeline

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"cicdllm/llm"
)

func samplePromptData() PromptData {
	return PromptData{
		Code:     "func Add(a, b int) int {\n\treturn a + b\n}\n",
		Path:     "mathx/add.go",
		Repo:     "github.com/acme/mathx",
		Language: "Go",
		Lines:    "12-14",
		Question: "What does `Add` return for negative inputs?",
		Count:    7,
	}
}

func TestThemeBuiltinsLoadAndRender(t *testing.T) {
	if got := BuiltinThemes(); !reflect.DeepEqual(got, []string{"code", "devops"}) {
		t.Fatalf("BuiltinThemes() = %v", got)
	}
	hashes := map[string]string{}
	for _, name := range BuiltinThemes() {
		th, err := LoadTheme("", name)
		if err != nil {
			t.Fatalf("LoadTheme(%q): %v", name, err)
		}
		if th.Name != name || th.Dir != "" || len(th.Hash) != 16 {
			t.Errorf("%s: Name %q Dir %q Hash %q", name, th.Name, th.Dir, th.Hash)
		}
		again, err := LoadTheme(t.TempDir(), name) // a prompts dir without the theme
		if err != nil || again.Hash != th.Hash {
			t.Errorf("%s: hash not stable: %q vs %q (%v)", name, th.Hash, again.Hash, err)
		}
		hashes[th.Hash] = name

		d := samplePromptData()
		q, err := th.QuestionMessages(d)
		if err != nil {
			t.Fatalf("%s QuestionMessages: %v", name, err)
		}
		a, err := th.AnswerMessages(d)
		if err != nil {
			t.Fatalf("%s AnswerMessages: %v", name, err)
		}
		for _, msgs := range [][]llm.Message{q, a} {
			if len(msgs) != 2 || msgs[0].Role != "system" || msgs[1].Role != "user" {
				t.Fatalf("%s: messages %+v", name, msgs)
			}
			for _, m := range msgs {
				if strings.TrimSpace(m.Content) != m.Content || m.Content == "" {
					t.Errorf("%s: %s message is empty or untrimmed", name, m.Role)
				}
				if strings.Contains(m.Content, "{{") || strings.Contains(m.Content, "<no value>") || strings.Contains(m.Content, "cicdllm theme") {
					t.Errorf("%s: %s message has template leftovers:\n%s", name, m.Role, m.Content)
				}
			}
			u := msgs[1].Content
			for _, want := range []string{d.Code, d.Path, d.Repo, "Language: Go", "Lines: 12-14", "```\n" + d.Code} {
				if !strings.Contains(u, want) {
					t.Errorf("%s: user message lacks %q:\n%s", name, want, u)
				}
			}
		}
		if !strings.Contains(q[1].Content, "Write 7 distinct questions") || !strings.Contains(q[1].Content, `{"questions"`) {
			t.Errorf("%s: question prompt does not ask for 7 questions as JSON:\n%s", name, q[1].Content)
		}
		if strings.Contains(q[1].Content, d.Question) {
			t.Errorf("%s: the question prompt shows a question", name)
		}
		if !strings.HasSuffix(a[1].Content, "Question: "+d.Question) {
			t.Errorf("%s: the answer prompt does not end with the question:\n%s", name, a[1].Content)
		}
		// Without a repository the header line is left out.
		d.Repo = ""
		q, _ = th.QuestionMessages(d)
		if strings.Contains(q[1].Content, "Repository:") {
			t.Errorf("%s: empty Repository line rendered", name)
		}
	}
	if len(hashes) != 2 {
		t.Errorf("the built-in themes share a hash: %v", hashes)
	}
}

func TestThemeAnswerPromptsSharePrefix(t *testing.T) {
	for _, name := range BuiltinThemes() {
		th, err := LoadTheme("", name)
		if err != nil {
			t.Fatal(err)
		}
		d1, d2 := samplePromptData(), samplePromptData()
		d1.Question = "How does `Add` handle integer overflow?"
		d2.Question = "Write a function like `Add` that sums a slice of ints."
		m1, _ := th.AnswerMessages(d1)
		m2, _ := th.AnswerMessages(d2)
		if m1[0].Content != m2[0].Content {
			t.Errorf("%s: system messages differ between questions", name)
		}
		u1, u2 := m1[1].Content, m2[1].Content
		p1, ok1 := strings.CutSuffix(u1, d1.Question)
		p2, ok2 := strings.CutSuffix(u2, d2.Question)
		if !ok1 || !ok2 {
			t.Fatalf("%s: the user message does not end with the question", name)
		}
		if p1 != p2 {
			t.Errorf("%s: the prefixes before the question differ:\n%q\n%q", name, p1, p2)
		}
		if !strings.Contains(p1, d1.Code) {
			t.Errorf("%s: the code is not in the shared prefix", name)
		}
		if i := strings.Index(u1, d1.Code); i < 0 || i > 200 {
			t.Errorf("%s: the code starts at byte %d of the user message; only a short header may precede it", name, i)
		}
	}
}

func TestThemeFence(t *testing.T) {
	th, err := LoadTheme("", "code")
	if err != nil {
		t.Fatal(err)
	}
	d := samplePromptData()
	d.Code = "# Title\n\n```go\nx := 1\n```\n\n`````\n"
	if got := d.Fence(); got != "``````" {
		t.Errorf("Fence() = %q, want six backticks", got)
	}
	m, _ := th.AnswerMessages(d)
	if !strings.Contains(m[1].Content, "``````\n"+d.Code+"\n``````") {
		t.Errorf("the code is not fenced with the long fence:\n%s", m[1].Content)
	}
	if got := (PromptData{Code: "no ticks"}).Fence(); got != "```" {
		t.Errorf("Fence() = %q", got)
	}
}

// writeTheme creates promptsDir/name with the given files.
func writeTheme(t *testing.T, promptsDir, name string, files map[string]string) {
	t.Helper()
	dir := filepath.Join(promptsDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, text := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func customThemeFiles() map[string]string {
	return map[string]string{
		"question_system.txt": "You write questions about {{.Language}}.",
		"question_user.txt":   "{{.Path}} lines {{.Lines}}:\n{{.Code}}\nGive {{.Count}} questions.",
		"answer_system.txt":   "You answer.",
		"answer_user.txt":     "{{.Code}}\nQ: {{.Question}}",
	}
}

func TestThemeCustomLoadsAndWins(t *testing.T) {
	dir := t.TempDir()
	writeTheme(t, dir, "code", customThemeFiles()) // shadows the built-in
	writeTheme(t, dir, "mine", customThemeFiles())
	builtin, _ := LoadTheme("", "code")
	for _, name := range []string{"code", "mine"} {
		th, err := LoadTheme(dir, name)
		if err != nil {
			t.Fatalf("LoadTheme(%q): %v", name, err)
		}
		if th.Name != name || th.Dir != filepath.Join(dir, name) {
			t.Errorf("Name %q Dir %q", th.Name, th.Dir)
		}
		if th.Hash == builtin.Hash {
			t.Error("the custom theme has the built-in's hash")
		}
		d := samplePromptData()
		q, err := th.QuestionMessages(d)
		if err != nil {
			t.Fatal(err)
		}
		if q[0].Content != "You write questions about Go." || q[1].Content != "mathx/add.go lines 12-14:\n"+d.Code+"\nGive 7 questions." {
			t.Errorf("custom question messages: %+v", q)
		}
		a, _ := th.AnswerMessages(d)
		if a[1].Content != d.Code+"\nQ: "+d.Question {
			t.Errorf("custom answer message: %q", a[1].Content)
		}
	}
	// Same texts, same hash, whatever the folder's name; CRLF does not count.
	a, _ := LoadTheme(dir, "code")
	b, _ := LoadTheme(dir, "mine")
	crlf := customThemeFiles()
	for k, v := range crlf {
		crlf[k] = strings.ReplaceAll(v, "\n", "\r\n")
	}
	writeTheme(t, dir, "windows", crlf)
	c, err := LoadTheme(dir, "windows")
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash != b.Hash || a.Hash != c.Hash {
		t.Errorf("hashes of identical texts differ: %s %s %s", a.Hash, b.Hash, c.Hash)
	}
	// Changing one character changes the hash.
	changed := customThemeFiles()
	changed["answer_system.txt"] = "You answer!"
	writeTheme(t, dir, "changed", changed)
	d, _ := LoadTheme(dir, "changed")
	if d.Hash == a.Hash {
		t.Error("an edit did not change the hash")
	}
}

func TestThemeRejectsMissingCode(t *testing.T) {
	cases := map[string]struct {
		file, text string
	}{
		"no code":          {"question_user.txt", "Ask {{.Count}} questions about {{.Path}}."},
		"only in comment":  {"answer_user.txt", "{{/* {{.Code}} goes here */}}Question: {{.Question}}"},
		"only as text":     {"answer_user.txt", "Code: .Code Question: {{.Question}}"},
		"never rendered":   {"question_user.txt", "{{if false}}{{.Code}}{{end}}Ask {{.Count}}."},
		"only as argument": {"question_user.txt", "{{len .Code}} bytes. Ask {{.Count}}."},
		"whole struct":     {"answer_user.txt", "{{.}} Question: {{.Question}}"}, // shows the code, but not as {{.Code}}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			files := customThemeFiles()
			files[c.file] = c.text
			writeTheme(t, dir, "bad", files)
			_, err := LoadTheme(dir, "bad")
			if err == nil {
				t.Fatal("a theme that never shows the code loaded")
			}
			want := "theme bad: " + filepath.Join(dir, "bad", c.file) + " never uses {{.Code}}, so the model would never see the code; add it"
			if err.Error() != want {
				t.Errorf("error %q\nwant    %q", err, want)
			}
		})
	}
	// Other ways of using the code are fine.
	for _, text := range []string{"{{$.Code}} {{.Question}}", "{{with .}}{{.Code}}{{end}} {{.Question}}", "{{if .Code}}{{.Code}}{{end}}{{.Question}}", `{{define "c"}}{{.Code}}{{end}}{{template "c" .}}{{.Question}}`} {
		dir := t.TempDir()
		files := customThemeFiles()
		files["answer_user.txt"] = text
		writeTheme(t, dir, "ok", files)
		if _, err := LoadTheme(dir, "ok"); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
}

func TestThemeErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	files := customThemeFiles()
	files["answer_user.txt"] = "{{.Code}}\n\nQuestion: {{.Question}\n"
	writeTheme(t, dir, "syntax", files)
	_, err := LoadTheme(dir, "syntax")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "syntax", "answer_user.txt")+":3") {
		t.Errorf("syntax error: %v; want the file and line 3", err)
	}

	files = customThemeFiles()
	files["question_system.txt"] = "Line one\nYou write about {{.Langauge}}."
	writeTheme(t, dir, "field", files)
	_, err = LoadTheme(dir, "field")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "field", "question_system.txt")+":2") || !strings.Contains(err.Error(), "Langauge") {
		t.Errorf("unknown field: %v; want the file, line 2 and the field", err)
	}

	files = customThemeFiles()
	delete(files, "answer_system.txt")
	writeTheme(t, dir, "partial", files)
	_, err = LoadTheme(dir, "partial")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "partial", "answer_system.txt")+" is missing") {
		t.Errorf("missing file: %v", err)
	}

	// A file where the theme folder should be.
	if err := os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTheme(dir, "plain"); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("file as theme: %v", err)
	}
}

func TestThemeUnknownListsOptions(t *testing.T) {
	dir := t.TempDir()
	writeTheme(t, dir, "mine", customThemeFiles())
	writeTheme(t, dir, "other", map[string]string{"answer_user.txt": "{{.Code}}"})
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTheme(dir, "nope")
	if err == nil {
		t.Fatal("an unknown theme loaded")
	}
	for _, want := range []string{`unknown theme "nope"`, `"code"`, `"devops"`, `"mine"`, `"other"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %s", err, want)
		}
	}
	if strings.Contains(err.Error(), `"empty"`) {
		t.Errorf("error %q lists a folder without theme files", err)
	}
	if _, err := LoadTheme("", "nope"); err == nil || !strings.Contains(err.Error(), `"code", "devops"`) {
		t.Errorf("no prompts dir: %v", err)
	}
	for _, bad := range []string{"../code", "a/b", "", ".hidden"} {
		if _, err := LoadTheme(dir, bad); err == nil {
			t.Errorf("LoadTheme(%q) accepted a path", bad)
		}
	}
}

func TestThemeExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "prompts")
	paths, err := ExportTheme(dir, "devops", false)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range []string{"question_system.txt", "question_user.txt", "answer_system.txt", "answer_user.txt"} {
		want = append(want, filepath.Join(dir, "devops", f))
	}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("ExportTheme wrote %v, want %v", paths, want)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 50 {
			t.Errorf("%s: %d bytes, %v", p, len(b), err)
		}
	}
	// The exported copy is the built-in theme, hash included.
	builtin, _ := LoadTheme("", "devops")
	exported, err := LoadTheme(dir, "devops")
	if err != nil || exported.Hash != builtin.Hash || exported.Dir == "" {
		t.Errorf("exported theme: %+v, %v; built-in hash %s", exported, err, builtin.Hash)
	}

	// No overwriting without force, and nothing written at all.
	edited := "{{.Code}} edited {{.Question}}"
	if err := os.WriteFile(paths[3], []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(paths[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := ExportTheme(dir, "devops", false); err == nil || !strings.Contains(err.Error(), paths[3]) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("overwrite without force: %v", err)
	}
	if b, _ := os.ReadFile(paths[3]); string(b) != edited {
		t.Error("the edited file was overwritten without force")
	}
	if _, err := os.Stat(paths[0]); err == nil {
		t.Error("a refused export still wrote files")
	}
	if _, err := ExportTheme(dir, "devops", true); err != nil {
		t.Fatalf("force: %v", err)
	}
	if b, _ := os.ReadFile(paths[3]); string(b) == edited {
		t.Error("force did not overwrite")
	}
	if _, err := ExportTheme(dir, "mine", false); err == nil || !strings.Contains(err.Error(), `"code", "devops"`) {
		t.Errorf("export of a non-built-in theme: %v", err)
	}
}

func TestPromptOverhead(t *testing.T) {
	for _, name := range BuiltinThemes() {
		th, _ := LoadTheme("", name)
		o := th.PromptOverhead()
		d := samplePromptData()
		d.Code, d.Question = "", ""
		q, _ := th.QuestionMessages(d)
		a, _ := th.AnswerMessages(d)
		for _, msgs := range [][]llm.Message{q, a} {
			if n := EstimateTokens(msgs[0].Content) + EstimateTokens(msgs[1].Content); n >= o {
				t.Errorf("%s: overhead %d does not cover a rendered prompt of %d tokens", name, o, n)
			}
		}
		if o > 2000 {
			t.Errorf("%s: overhead %d tokens is implausibly large", name, o)
		}
	}
	dir := t.TempDir()
	files := customThemeFiles()
	small := mustTheme(t, dir, "small", files)
	files["answer_system.txt"] = strings.Repeat("Be precise. ", 300) // 3600 bytes
	big := mustTheme(t, dir, "big", files)
	if d := big.PromptOverhead() - small.PromptOverhead(); d < 1100 || d > 1300 {
		t.Errorf("3600 more bytes of answer system prompt added %d tokens of overhead, want ~1200", d)
	}
}

func mustTheme(t *testing.T, dir, name string, files map[string]string) *Theme {
	t.Helper()
	writeTheme(t, dir, name, files)
	th, err := LoadTheme(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestQuestionSchema(t *testing.T) {
	s := QuestionSchema(5)
	if s.Name != "questions" || !s.Strict {
		t.Errorf("Name %q Strict %v", s.Name, s.Strict)
	}
	var v struct {
		Type       string `json:"type"`
		Properties struct {
			Questions struct {
				Type     string         `json:"type"`
				Items    map[string]any `json:"items"`
				MinItems int            `json:"minItems"`
				MaxItems int            `json:"maxItems"`
			} `json:"questions"`
		} `json:"properties"`
		Required             []string `json:"required"`
		AdditionalProperties *bool    `json:"additionalProperties"`
	}
	if err := json.Unmarshal(s.Schema, &v); err != nil {
		t.Fatalf("schema is not JSON: %v\n%s", err, s.Schema)
	}
	q := v.Properties.Questions
	if v.Type != "object" || q.Type != "array" || q.Items["type"] != "string" || q.MinItems != 1 || q.MaxItems != 5 ||
		!reflect.DeepEqual(v.Required, []string{"questions"}) || v.AdditionalProperties == nil || *v.AdditionalProperties {
		t.Errorf("schema %s", s.Schema)
	}
	if !strings.Contains(string(QuestionSchema(12).Schema), `"maxItems":12`) {
		t.Errorf("QuestionSchema(12) = %s", QuestionSchema(12).Schema)
	}
	if !strings.Contains(string(QuestionSchema(0).Schema), `"maxItems":1`) {
		t.Errorf("QuestionSchema(0) = %s", QuestionSchema(0).Schema)
	}
}

func TestParseQuestions(t *testing.T) {
	a := "What does `parseConfig` return when the file is empty?"
	b := "How would you extend `Server.Run` to support TLS?"
	c := "Why does `retry` sleep before the first attempt?"
	cases := []struct {
		name       string
		text       string
		structured bool
		want       int
		out        []string
	}{
		{"json object", `{"questions": ["` + a + `", "` + b + `"]}`, true, 5, []string{a, b}},
		{"json object in text mode", `{"questions": ["` + a + `", "` + b + `"]}`, false, 5, []string{a, b}},
		{"bare array", `["` + a + `", "` + b + `", "` + c + `"]`, true, 5, []string{a, b, c}},
		{"fenced json with chatter", "Here you go:\n```json\n{\"questions\": [\"" + a + "\"]}\n```\nHope this helps!", false, 5, []string{a}},
		{"json escapes", `{"questions": ["What does the \"quiet\" flag of ` + "`run`" + ` change?"]}`, true, 5, []string{"What does the \"quiet\" flag of `run` change?"}},
		{"json tasks need no question mark", `{"questions": ["Write a function that retries an HTTP call with backoff.", "` + a + `"]}`, true, 5,
			[]string{"Write a function that retries an HTTP call with backoff.", a}},
		{"json objects in array", `[{"question": "` + a + `"}, {"question": "` + b + `"}]`, true, 5, []string{a, b}},
		{"json numbering stripped", `{"questions": ["1. ` + a + `", "Q2: ` + b + `"]}`, true, 5, []string{a, b}},
		{"numbered", "1. " + a + "\n2) " + b + "\n(3) " + c, false, 5, []string{a, b, c}},
		{"q prefixes", "Q1: " + a + "\nQ2. " + b + "\nQ: " + c, false, 5, []string{a, b, c}},
		{"question prefixes", "Question 1: " + a + "\nQuestion: " + b + "\nquestion 12: " + c, false, 5, []string{a, b, c}},
		{"bullets", "- " + a + "\n* " + b + "\n• " + c, false, 5, []string{a, b, c}},
		{"markdown", "**1.** " + a + "\n**Q2:** " + b + "\n### 3. " + c + "\n- **" + a + "**", false, 5, []string{a, b, c}},
		{"inner bold pairs kept", `{"questions": ["**Up** versus **down**: how do the two modes of ` + "`migrate`" + ` differ in **what** they undo**"]}`, true, 5,
			[]string{"**Up** versus **down**: how do the two modes of `migrate` differ in **what** they undo**"}},
		{"bold inside kept intact", "1. **Which** value does `limit` take by default?\n**2. " + b + "**", false, 5, []string{"**Which** value does `limit` take by default?", b}},
		{"quotes", `"` + a + `"` + "\n“" + b + "”\n" + `- "` + c + `"`, false, 5, []string{a, b, c}},
		{"duplicates", a + "\n  " + strings.ToUpper(a) + "\n2. " + strings.ReplaceAll(a, " ", "   ") + "\n" + b, false, 5, []string{a, b}},
		{"statements dropped", "Here are some questions about the code:\n" + a + "\nThis function is important.\nWrite a test for it.\n" + b, false, 5, []string{a, b}},
		{"near-empty dropped", "Why?\n1. How so?\n-  ?\n" + a, false, 5, []string{a}},
		{"over-long dropped", strings.Repeat("very ", 101) + "long?\n" + b, false, 5, []string{b}},
		{"capped at want", "1. " + a + "\n2. " + b + "\n3. " + c, false, 2, []string{a, b}},
		{"want 0 keeps all", "1. " + a + "\n2. " + b + "\n3. " + c, false, 0, []string{a, b, c}},
		{"think block ignored", "<think>\nWhat should I ask here? Maybe about parsing?\n</think>\n" + a, false, 5, []string{a}},
		{"crlf", "1. " + a + "\r\n2. " + b + "\r\n", false, 5, []string{a, b}},
		{"truncated structured json salvaged", "{\n  \"questions\": [\n    \"" + a + "\",\n    \"" + b + "\",\n    \"How does the cache", true, 5, []string{a, b}},
		{"inline code in a line question", "1. What does `m[\"k\"]` hold after `Load` runs?", false, 5, []string{"What does `m[\"k\"]` hold after `Load` runs?"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseQuestions(tc.text, tc.structured, tc.want)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !reflect.DeepEqual(got, tc.out) {
				t.Errorf("got  %q\nwant %q", got, tc.out)
			}
		})
	}
}

func TestParseQuestionsNothingUsable(t *testing.T) {
	for _, tc := range []struct {
		text       string
		structured bool
	}{
		{"", false},
		{"", true},
		{"I cannot help with that.", false},
		{"I cannot help with that.", true},
		{`{"questions": []}`, true},
		{`{"questions": ["short?", ""]}`, true},
		{`{"answer": 42}`, true},
		{"Why?\nHow?\nThis is a statement.", false},
		{"<think>What is this? Is it Go code?", false},
	} {
		got, err := ParseQuestions(tc.text, tc.structured, 5)
		if !errors.Is(err, ErrNoQuestions) {
			t.Errorf("ParseQuestions(%q, %v) = %q, %v; want ErrNoQuestions", tc.text, tc.structured, got, err)
		}
		if got != nil {
			t.Errorf("ParseQuestions(%q) returned %q with its error", tc.text, got)
		}
	}
}
