package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden from the encoders (never testdata/reference)")

// goldenCase is one golden file per format.
type goldenCase struct {
	name string
	recs []Record
	opts Options
}

func fmtUser(s string) Turn      { return Turn{Role: "user", Content: s} }
func fmtAssistant(s string) Turn { return Turn{Role: "assistant", Content: s} }
func fmtSystem(s string) Turn    { return Turn{Role: "system", Content: s} }

const (
	caseQ = "How does deploy.sh handle a failed rollout?"
	caseA = "It runs kubectl rollout status.\nSee \"set -e\"."
)

// unicodeQ/unicodeA: non-ASCII, quotes, backslashes, tabs, CRLF, special-token-like text, surrounding whitespace.
const (
	unicodeQ = "  Pourquoi «café» échoue-t-il ? 中文路径 /srv/数据 😀\r\nIt prints \"C:\\Temp\\x\" and\ta tab; what does </s> or <|eot_id|> mean here?\n"
	unicodeA = "\nBecause the path is quoted twice: \"\\\"C:\\\\Temp\\\"\".\r\nUse `printf '%s\\n'` — résumé: ✓ <end_of_turn> [INST] <|im_end|>\u2028end  "
)

var caseScore = 0.875

var caseMeta = Metadata{SampleID: 42, Repo: "acme/deploy", RepoURL: "https://github.com/acme/deploy", Path: "scripts/deploy.sh",
	Commit: "0123456789abcdef0123456789abcdef01234567", License: "MIT", LineStart: 10, LineEnd: 57,
	Model: "qwen2.5-coder-7b-instruct", Theme: "devops", Language: "Shell", Score: &caseScore, HumanRating: 1}

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "single", recs: []Record{{Turns: []Turn{fmtUser(caseQ), fmtAssistant(caseA)}, Meta: caseMeta}}},
		{name: "system", recs: []Record{{Turns: []Turn{fmtSystem("You are a senior DevOps engineer."), fmtUser(caseQ), fmtAssistant(caseA)}, Meta: caseMeta}},
			// The record's own system turn wins over --system.
			opts: Options{System: "ignored because the record has its own"}},
		{name: "optsystem", recs: []Record{{Turns: []Turn{fmtUser(caseQ), fmtAssistant(caseA)}, Meta: caseMeta}},
			opts: Options{System: "Answer briefly and cite the file."}},
		{name: "multiturn", recs: []Record{{Turns: []Turn{fmtUser(caseQ), fmtAssistant(caseA),
			fmtUser("And when the rollout times out?"), fmtAssistant("It exits with status 1 after 300s.")}, Meta: caseMeta}},
			opts: Options{System: "You are a senior DevOps engineer."}},
		{name: "unicode", recs: []Record{{Turns: []Turn{fmtUser(unicodeQ), fmtAssistant(unicodeA)}, Meta: caseMeta}}},
		{name: "metadata", recs: []Record{
			{Turns: []Turn{fmtUser(caseQ), fmtAssistant(caseA)}, Meta: caseMeta},
			{Turns: []Turn{fmtUser("What does line 3 do?"), fmtAssistant("It sets -euo pipefail.")},
				Meta: Metadata{SampleID: 43, Repo: "acme/deploy", Path: "a,b \"c\".sh"}},
		}, opts: Options{WithMetadata: true}},
	}
}

// render writes a case as the engine would: the header once, then every record.
func render(t *testing.T, f *Format, gc goldenCase) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.Write(f.Header(gc.opts))
	for _, r := range gc.recs {
		b, err := f.Encode(r, gc.opts)
		if err != nil {
			t.Fatalf("%s/%s: %v", f.Name, gc.name, err)
		}
		if len(b) == 0 || b[len(b)-1] != '\n' {
			t.Fatalf("%s/%s: record does not end with a newline: %q", f.Name, gc.name, b)
		}
		buf.Write(b)
	}
	return buf.Bytes()
}

func mustLookup(t *testing.T, name string) *Format {
	t.Helper()
	f, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestGolden(t *testing.T) {
	for _, name := range Names() {
		f := mustLookup(t, name)
		for _, gc := range goldenCases() {
			t.Run(name+"/"+gc.name, func(t *testing.T) {
				got := render(t, f, gc)
				checkGoldenFile(t, filepath.Join("testdata", "golden", name, gc.name+".golden"), got)
				if name == "csv" {
					checkCSV(t, got, gc)
				} else {
					checkJSONL(t, f, got, gc)
				}
			})
		}
	}
}

// expected is what every format must carry for a record: the resolved system prompt and the turns.
func expected(r Record, o Options) (system string, turns []Turn) {
	ts := r.Turns
	if len(ts) > 0 && ts[0].Role == "system" {
		system, ts = ts[0].Content, ts[1:]
	}
	if system == "" {
		system = o.System
	}
	return system, ts
}

func expectedMeta(m Metadata) map[string]any {
	score := ""
	if m.Score != nil {
		score = strconv.FormatFloat(*m.Score, 'f', -1, 64)
	}
	itoa := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	return map[string]any{"sample_id": strconv.FormatInt(m.SampleID, 10), "repo": m.Repo, "repo_url": m.RepoURL,
		"path": m.Path, "commit": m.Commit, "license": m.License, "line_start": itoa(m.LineStart),
		"line_end": itoa(m.LineEnd), "model": m.Model, "theme": m.Theme, "language": m.Language, "score": score,
		"human_rating": itoa(m.HumanRating)}
}

func msgs(system string, turns []Turn) []any {
	var out []any
	if system != "" {
		out = append(out, map[string]any{"role": "system", "content": system})
	}
	for _, t := range turns {
		out = append(out, map[string]any{"role": t.Role, "content": t.Content})
	}
	return out
}

// checkJSONL parses every line and checks that it carries the record's conversation and metadata.
func checkJSONL(t *testing.T, f *Format, out []byte, gc goldenCase) {
	t.Helper()
	if bytes.Contains(out, []byte("\r\n")) {
		t.Errorf("JSONL output has a CRLF line ending")
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(gc.recs) {
		t.Fatalf("%d lines for %d records", len(lines), len(gc.recs))
	}
	for i, line := range lines {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("line %d does not parse: %v\n%s", i+1, err, line)
		}
		r := gc.recs[i]
		system, turns := expected(r, gc.opts)
		if gc.opts.WithMetadata {
			if !reflect.DeepEqual(row["metadata"], expectedMeta(r.Meta)) {
				t.Errorf("metadata = %v, want %v", row["metadata"], expectedMeta(r.Meta))
			}
		} else if _, ok := row["metadata"]; ok {
			t.Errorf("metadata written without WithMetadata")
		}
		switch f.Name {
		case "chatml-jsonl", "openai-jsonl", "mlx-lm", "hf", "llamafactory":
			if !reflect.DeepEqual(row["messages"], msgs(system, turns)) {
				t.Errorf("messages = %v, want %v", row["messages"], msgs(system, turns))
			}
		case "prompt-completion-jsonl":
			all := append(append([]any{}, row["prompt"].([]any)...), row["completion"].([]any)...)
			if !reflect.DeepEqual(all, msgs(system, turns)) || len(row["completion"].([]any)) != 1 {
				t.Errorf("prompt+completion = %v, want %v", all, msgs(system, turns))
			}
		case "sharegpt-jsonl":
			var want []any
			if system != "" {
				want = append(want, map[string]any{"from": "system", "value": system})
			}
			for _, tu := range turns {
				from := map[string]string{"user": "human", "assistant": "gpt"}[tu.Role]
				want = append(want, map[string]any{"from": from, "value": tu.Content})
			}
			if !reflect.DeepEqual(row["conversations"], want) {
				t.Errorf("conversations = %v, want %v", row["conversations"], want)
			}
		case "alpaca-jsonl":
			n := len(turns)
			if row["instruction"] != turns[n-2].Content || row["output"] != turns[n-1].Content || row["input"] != "" {
				t.Errorf("alpaca row %v", row)
			}
			if s, _ := row["system"].(string); s != system {
				t.Errorf("alpaca system %q, want %q", s, system)
			}
			var hist []any
			for j := 0; j+2 < n; j += 2 {
				hist = append(hist, []any{turns[j].Content, turns[j+1].Content})
			}
			if h, _ := row["history"].([]any); !reflect.DeepEqual(h, hist) {
				t.Errorf("alpaca history %v, want %v", h, hist)
			}
		default: // text templates
			text, ok := row["text"].(string)
			if !ok {
				t.Fatalf("no text field: %v", row)
			}
			for _, tu := range turns {
				if !strings.Contains(text, pyTrim(tu.Content)) {
					t.Errorf("text does not contain the turn %q", tu.Content)
				}
			}
		}
	}
	// Real UTF-8, no ASCII escaping, no HTML escaping.
	if gc.name == "unicode" {
		for _, s := range []string{"中文", "😀", "«café»", "résumé", "</s>", "<|eot_id|>"} {
			if !bytes.Contains(out, []byte(s)) && (f.Name != "csv") {
				t.Errorf("output does not contain %q verbatim", s)
			}
		}
	}
}

// checkCSV reads the CSV back with encoding/csv and compares it with the records.
func checkCSV(t *testing.T, out []byte, gc goldenCase) {
	t.Helper()
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Errorf("CSV rows must end with CRLF")
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not read back: %v", err)
	}
	header := []string{"user_content", "assistant_content"}
	if gc.opts.WithMetadata {
		header = append(header, "sample_id", "repo", "path", "commit", "line_start", "line_end", "model", "theme", "score")
	}
	if !reflect.DeepEqual(rows[0], header) {
		t.Errorf("header %q, want %q", rows[0], header)
	}
	if len(rows) != len(gc.recs)+1 {
		t.Fatalf("%d rows for %d records", len(rows)-1, len(gc.recs))
	}
	crlf := strings.NewReplacer("\r\n", "\n")
	for i, r := range gc.recs {
		_, turns := expected(r, gc.opts)
		var us, as []string
		for _, tu := range turns {
			if tu.Role == "user" {
				us = append(us, crlf.Replace(tu.Content))
			} else {
				as = append(as, crlf.Replace(tu.Content))
			}
		}
		want := []string{strings.Join(us, "\n"), strings.Join(as, "\n")}
		if gc.opts.WithMetadata {
			m := expectedMeta(r.Meta)
			for _, k := range header[2:] {
				want = append(want, m[k].(string))
			}
		}
		if !reflect.DeepEqual(rows[i+1], want) {
			t.Errorf("row %d = %q, want %q", i+1, rows[i+1], want)
		}
	}
}

func TestCSVReadsBackExactly(t *testing.T) {
	f := mustLookup(t, "csv")
	for _, s := range []string{"plain", "a,b", `say "hi"`, "line1\nline2", "bare\rcr", " leading space", "trailing\n",
		`back\slash`, "tab\there", "中文 😀", "", "\"", "\n", `\.`} {
		b, err := f.Encode(Record{Turns: []Turn{fmtUser("q " + s), fmtAssistant("a" + s)}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(append(f.Header(Options{}), b...))).ReadAll()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if want := []string{"q " + s, "a" + s}; !reflect.DeepEqual(rows[1], want) {
			t.Errorf("%q read back as %q", want, rows[1])
		}
	}
}

// The reference renderings (formats-and-apis.md §1.2) of the §1.0 sample conversations.
var (
	refSystem    = []Turn{fmtSystem("You are a helpful assistant."), fmtUser("What is the capital of France?"), fmtAssistant("The capital of France is Paris.")}
	refMulti     = []Turn{fmtSystem("You are a helpful assistant."), fmtUser("What is the capital of France?"), fmtAssistant("Paris."), fmtUser("And of Germany?"), fmtAssistant("Berlin.")}
	refNoSystem  = refSystem[1:]
	refMultiNoSy = refMulti[1:]
)

func readReference(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference", file))
	if err != nil {
		t.Fatal(err)
	}
	s, err := strconv.Unquote(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return s
}

func renderText(t *testing.T, format string, turns []Turn, o Options) string {
	t.Helper()
	b, err := mustLookup(t, format).Encode(Record{Turns: turns}, o)
	if err != nil {
		t.Fatal(err)
	}
	var row struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &row); err != nil {
		t.Fatal(err)
	}
	return row.Text
}

func TestTextTemplatesMatchReferenceRenderings(t *testing.T) {
	date := Options{LlamaDate: "26 Jul 2024"}
	cases := []struct {
		format, file string
		turns        []Turn
		opts         Options
	}{
		{"llama3", "llama3-system.json", refSystem, Options{}},
		{"llama3", "llama3-multiturn.json", refMulti, Options{}},
		{"llama3", "llama3-nosystem.json", refNoSystem, Options{}},
		{"llama3", "llama3.1-date-system.json", refSystem, date},
		{"llama3", "llama3.1-date-multiturn.json", refMulti, date},
		{"llama3", "llama3.1-date-nosystem.json", refNoSystem, date},
		// mistral-common V3: the system prompt goes into the last user turn.
		{"mistral", "mistral-v3-common-multiturn.json", refMulti, Options{}},
		{"mistral", "mistral-v3-hf-nosystem.json", refNoSystem, Options{}},
		{"mistral", "mistral-v3-hf-multiturn-nosystem.json", refMultiNoSy, Options{}},
		{"gemma", "gemma3-system.json", refSystem, Options{}},
		{"gemma", "gemma3-multiturn.json", refMulti, Options{}},
		{"gemma", "gemma3-nosystem.json", refNoSystem, Options{}},
		{"qwen", "qwen2.5-system.json", refSystem, Options{}},
		{"qwen", "qwen2.5-multiturn.json", refMulti, Options{}},
		{"qwen", "qwen2.5-nosystem.json", refNoSystem, Options{}},
	}
	bos := map[string]string{"llama3": "<|begin_of_text|>", "mistral": "<s>", "gemma": "<bos>", "qwen": ""}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			want := readReference(t, c.file)
			if !strings.HasPrefix(want, bos[c.format]) {
				t.Fatalf("reference does not start with %q", bos[c.format])
			}
			o := c.opts
			o.BOS = true
			if got := renderText(t, c.format, c.turns, o); got != want {
				t.Errorf("with BOS:\n got %q\nwant %q", got, want)
			}
			o.BOS = false
			if got := renderText(t, c.format, c.turns, o); got != strings.TrimPrefix(want, bos[c.format]) {
				t.Errorf("without BOS:\n got %q\nwant %q", got, strings.TrimPrefix(want, bos[c.format]))
			}
			// --system gives the same text as a system turn.
			if c.turns[0].Role == "system" {
				o.System = c.turns[0].Content
				if got := renderText(t, c.format, c.turns[1:], o); got != strings.TrimPrefix(want, bos[c.format]) {
					t.Errorf("with Options.System:\n got %q\nwant %q", got, strings.TrimPrefix(want, bos[c.format]))
				}
			}
		})
	}
	// The inference prompts (add_generation_prompt=true) are prefixes of the training rows with a system prompt.
	for _, c := range []struct {
		format, file string
		opts         Options
	}{
		{"llama3", "llama3-prompt.json", Options{}}, {"llama3", "llama3.1-date-prompt.json", date},
		{"mistral", "mistral-v3-hf-prompt.json", Options{}}, {"gemma", "gemma3-prompt.json", Options{}},
		{"qwen", "qwen2.5-prompt.json", Options{}},
	} {
		o := c.opts
		o.BOS = true
		got, prompt := renderText(t, c.format, refSystem, o), readReference(t, c.file)
		if !strings.HasPrefix(got, prompt) {
			t.Errorf("%s: %q does not start with the reference prompt %q", c.file, got, prompt)
		}
	}
	// Mistral single turn with a system prompt: mistral-common V3 = the v3 inference prompt (system in the last
	// user turn) + " " + answer + "</s>".
	if got, want := renderText(t, "mistral", refSystem, Options{BOS: true}),
		readReference(t, "mistral-v3-hf-prompt.json")+" The capital of France is Paris.</s>"; got != want {
		t.Errorf("mistral single turn with system:\n got %q\nwant %q", got, want)
	}
}

func TestTextTemplatesTrimLikeTheirTemplates(t *testing.T) {
	turns := []Turn{fmtSystem(" sys \n"), fmtUser("\n q \t"), fmtAssistant("  a\x1f\n")}
	cases := map[string]string{
		"llama3":  "<|start_header_id|>system<|end_header_id|>\n\nsys<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nq<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\na<|eot_id|>",
		"mistral": "[INST]  sys \n\n\n\n q \t[/INST] a</s>",
		"gemma":   "<start_of_turn>user\n sys \n\n\nq<end_of_turn>\n<start_of_turn>model\na<end_of_turn>\n",
		"qwen":    "<|im_start|>system\n sys \n<|im_end|>\n<|im_start|>user\n\n q \t<|im_end|>\n<|im_start|>assistant\n  a\x1f\n<|im_end|>\n",
	}
	for format, want := range cases {
		if got := renderText(t, format, turns, Options{}); got != want {
			t.Errorf("%s:\n got %q\nwant %q", format, got, want)
		}
	}
}

func TestQwenDefaultSystemOnlyWithoutSystem(t *testing.T) {
	got := renderText(t, "qwen", []Turn{fmtUser("q"), fmtAssistant("a")}, Options{})
	if !strings.HasPrefix(got, "<|im_start|>system\n"+QwenDefaultSystem+"<|im_end|>\n") {
		t.Errorf("no default system prompt: %q", got)
	}
	got = renderText(t, "qwen", []Turn{fmtUser("q"), fmtAssistant("a")}, Options{System: "S"})
	if strings.Contains(got, QwenDefaultSystem) || !strings.HasPrefix(got, "<|im_start|>system\nS<|im_end|>\n") {
		t.Errorf("default system prompt with --system: %q", got)
	}
}

func TestSkips(t *testing.T) {
	cases := []struct {
		reason string
		turns  []Turn
	}{
		{ReasonEmptyAnswer, []Turn{fmtUser("q"), fmtAssistant("")}},
		{ReasonEmptyAnswer, []Turn{fmtSystem("s"), fmtUser("q"), fmtAssistant(" \n\t")}},
		{ReasonEmptyAnswer, []Turn{fmtUser("q"), fmtAssistant(""), fmtUser("q2"), fmtAssistant("a2")}},
		{ReasonNoUser, []Turn{fmtSystem("s"), fmtAssistant("a")}},
		{ReasonNoUser, nil},
		{ReasonEmptyQuestion, []Turn{fmtUser(" "), fmtAssistant("a")}},
		{ReasonNoAnswer, []Turn{fmtUser("q")}},
		{ReasonNoAnswer, []Turn{fmtUser("q"), fmtAssistant("a"), fmtUser("q2")}},
		{ReasonNotAlternate, []Turn{fmtUser("q"), fmtUser("q2"), fmtAssistant("a")}},
		{ReasonNotAlternate, []Turn{fmtAssistant("a0"), fmtUser("q"), fmtAssistant("a")}},
		{ReasonSystemPlace, []Turn{fmtUser("q"), fmtSystem("s"), fmtAssistant("a")}},
		{ReasonUnknownRole, []Turn{fmtUser("q"), {Role: "tool", Content: "x"}, fmtAssistant("a")}},
	}
	for _, name := range Names() {
		f := mustLookup(t, name)
		for _, c := range cases {
			for _, o := range []Options{{}, {WithMetadata: true, BOS: true, System: "S", LlamaDate: "1 Jan 2025"}} {
				b, err := f.Encode(Record{Turns: c.turns}, o)
				if !errors.Is(err, ErrSkip) || b != nil {
					t.Errorf("%s %v: err %v, out %q; want a skip", name, c.turns, err, b)
					continue
				}
				var se *SkipError
				if !errors.As(err, &se) || se.Reason != c.reason {
					t.Errorf("%s %v: reason %v, want %q", name, c.turns, err, c.reason)
				}
				if r, ok := SkipReason(err); !ok || r != c.reason {
					t.Errorf("SkipReason = %q, %v", r, ok)
				}
			}
		}
	}
}

func TestNamesAndLookup(t *testing.T) {
	want := []string{"csv", "alpaca-jsonl", "chatml-jsonl", "openai-jsonl", "sharegpt-jsonl", "prompt-completion-jsonl",
		"llama3", "mistral", "gemma", "qwen", "mlx-lm", "hf", "llamafactory"}
	if !reflect.DeepEqual(Names(), want) {
		t.Fatalf("Names() = %v", Names())
	}
	dirs := map[string]bool{"mlx-lm": true, "hf": true, "llamafactory": true}
	for _, n := range want {
		f := mustLookup(t, n)
		if f.Name != n || f.Summary == "" || f.Dir != dirs[n] || f.Header == nil || f.Encode == nil || f.DataFile == nil || f.Aux == nil {
			t.Errorf("%s: incomplete format %+v", n, f)
		}
		if strings.Contains(f.Summary, "\n") {
			t.Errorf("%s: summary is not one line", n)
		}
	}
	if f, err := Lookup(" LLAMA3 "); err != nil || f.Name != "llama3" {
		t.Errorf("case-insensitive lookup: %v", err)
	}
	_, err := Lookup("parquet")
	if err == nil || !strings.Contains(err.Error(), strings.Join(want, ", ")) {
		t.Errorf("unknown format error %v does not list the formats", err)
	}
	// Lookup returns a copy: changing it does not change the registry.
	f := mustLookup(t, "csv")
	f.Name = "x"
	if mustLookup(t, "csv").Name != "csv" {
		t.Error("Lookup returned the registry's own Format")
	}
}

func TestDataFiles(t *testing.T) {
	cases := []struct{ format, split, want string }{
		{"mlx-lm", "train", "train.jsonl"}, {"mlx-lm", "valid", "valid.jsonl"}, {"mlx-lm", "validation", "valid.jsonl"},
		{"mlx-lm", "test", "test.jsonl"},
		{"hf", "train", "data/train.jsonl"}, {"hf", "valid", "data/validation.jsonl"}, {"hf", "test", "data/test.jsonl"},
		{"llamafactory", "train", "train.jsonl"}, {"llamafactory", "valid", "valid.jsonl"},
	}
	for _, c := range cases {
		if got := mustLookup(t, c.format).DataFile(c.split); got != c.want {
			t.Errorf("%s DataFile(%q) = %q, want %q", c.format, c.split, got, c.want)
		}
	}
}
