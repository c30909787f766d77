package export

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func cardSummary() Summary {
	return Summary{
		Name:      "devops-qa",
		Template:  "hf",
		Splits:    map[string]int{"train": 80, "valid": 10, "test": 10},
		Repos:     map[string]int{"acme/deploy": 60, "acme/infra|tools": 40},
		Languages: map[string]int{"Shell": 55, "YAML": 30, "Dockerfile": 15},
		Models:    map[string]int{"qwen2.5-coder-7b-instruct": 70, "llama-3.1-8b-instruct": 30},
		Licenses:  map[string]int{"MIT": 100},
		Sources: []Source{
			{Name: "acme/infra|tools", URL: "https://gitlab.com/acme/infra-tools", Commit: "fedcba9876543210fedcba9876543210fedcba98", License: "MIT"},
			{Name: "acme/deploy", URL: "https://github.com/acme/deploy", Commit: "0123456789abcdef0123456789abcdef01234567", License: "MIT"},
		},
		Params:  map[string]string{"temperature": "0.7", "max_tokens": "2048", "theme": "devops", "questions_per_chunk": "3"},
		Created: time.Date(2026, 3, 5, 14, 30, 0, 0, time.FixedZone("CET", 3600)),
	}
}

func checkGoldenFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pipeline/export -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestHFCard(t *testing.T) {
	f := mustLookup(t, "hf")
	files, err := f.Aux(cardSummary(), Options{WithMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	card := files["README.md"]
	if len(files) != 1 || card == nil {
		t.Fatalf("hf Aux files: %v", files)
	}
	checkGoldenFile(t, filepath.Join("testdata", "golden", "hf", "README.md.golden"), card)

	// Deterministic: the same summary gives the same bytes.
	again, _ := f.Aux(cardSummary(), Options{WithMetadata: true})
	if !bytes.Equal(card, again["README.md"]) {
		t.Error("the card is not deterministic")
	}

	s := string(card)
	if !strings.HasPrefix(s, "---\n") {
		t.Fatal("the card does not start with YAML front matter")
	}
	end := strings.Index(s[4:], "\n---\n")
	if end < 0 {
		t.Fatal("the YAML front matter is not closed")
	}
	yaml := s[4 : 4+end+1]
	for _, want := range []string{"license: mit\n", "task_categories:\n- text-generation\n", "language:\n- en\n",
		"size_categories:\n- n<1K\n", "tags:\n- code\n- synthetic\n", "configs:\n- config_name: default\n  data_files:\n",
		"pretty_name: \"devops-qa\"\n"} {
		if !strings.Contains(yaml, want) {
			t.Errorf("front matter lacks %q:\n%s", want, yaml)
		}
	}
	for _, split := range []string{"train", "valid", "test"} {
		entry := "  - split: " + hfSplit(split) + "\n    path: " + f.DataFile(split) + "\n"
		if !strings.Contains(yaml, entry) {
			t.Errorf("front matter lacks the data_files entry %q", entry)
		}
	}
	// Simple YAML sanity: every line is a key, a list item or an indented continuation; no tabs.
	for _, line := range strings.Split(strings.TrimSuffix(yaml, "\n"), "\n") {
		if strings.Contains(line, "\t") || !(strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "  ") || strings.Contains(line, ": ") || strings.HasSuffix(line, ":")) {
			t.Errorf("odd YAML line %q", line)
		}
	}
	body := s[4+end+5:]
	for _, want := range []string{"# devops-qa", "| acme/deploy | 60 |", `| acme/infra\|tools | 40 |`, "| Shell | 55 |",
		"| qwen2.5-coder-7b-instruct | 70 |", "| temperature | 0.7 |", "https://gitlab.com/acme/infra-tools",
		"`0123456789abcdef0123456789abcdef01234567`", "| MIT |", "2026-03-05 13:30:00 UTC", "## Licences and attribution"} {
		if !strings.Contains(body, want) {
			t.Errorf("card body lacks %q", want)
		}
	}
}

func TestCardLicense(t *testing.T) {
	cases := []struct {
		lic        map[string]int
		want, name string
	}{
		{map[string]int{"MIT": 3}, "mit", ""},
		{map[string]int{"Apache-2.0": 3}, "apache-2.0", ""},
		{map[string]int{"GPL-3.0-or-later": 3}, "gpl-3.0", ""},
		{map[string]int{"LGPL-2.1-only": 1}, "lgpl-2.1", ""},
		{map[string]int{"BSD-3-Clause": 1}, "bsd-3-clause", ""},
		{map[string]int{"0BSD": 1}, "other", "0bsd"},
		{map[string]int{"MIT": 2, "Apache-2.0": 1}, "other", "mixed"},
		{map[string]int{"MIT": 2, "NOASSERTION": 1}, "other", "mixed"},
		{map[string]int{"NOASSERTION": 4}, "unknown", ""},
		{nil, "unknown", ""},
	}
	for _, c := range cases {
		got, name := cardLicense(c.lic)
		if got != c.want || name != c.name {
			t.Errorf("cardLicense(%v) = %q, %q; want %q, %q", c.lic, got, name, c.want, c.name)
		}
	}
	if sizeCategory(999) != "n<1K" || sizeCategory(1000) != "1K<n<10K" || sizeCategory(250000) != "100K<n<1M" {
		t.Error("size categories")
	}
}

func TestLlamaFactoryDatasetInfo(t *testing.T) {
	f := mustLookup(t, "llamafactory")
	s := cardSummary()
	files, err := f.Aux(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw := files["dataset_info.json"]
	if len(files) != 1 || raw == nil {
		t.Fatalf("llamafactory Aux files: %v", files)
	}
	checkGoldenFile(t, filepath.Join("testdata", "golden", "llamafactory", "dataset_info.json.golden"), raw)
	var info map[string]struct {
		FileName   string            `json:"file_name"`
		Formatting string            `json:"formatting"`
		Columns    map[string]string `json:"columns"`
		Tags       map[string]string `json:"tags"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatalf("dataset_info.json does not parse: %v", err)
	}
	if len(info) != len(s.Splits) {
		t.Fatalf("%d entries for %d splits", len(info), len(s.Splits))
	}
	for split := range s.Splits {
		e, ok := info["devops-qa_"+split]
		if !ok {
			t.Fatalf("no entry for %s: %v", split, info)
		}
		if e.FileName != f.DataFile(split) || e.Formatting != "sharegpt" || e.Columns["messages"] != "messages" ||
			e.Tags["role_tag"] != "role" || e.Tags["content_tag"] != "content" || e.Tags["user_tag"] != "user" ||
			e.Tags["assistant_tag"] != "assistant" || e.Tags["system_tag"] != "system" {
			t.Errorf("entry %s = %+v", split, e)
		}
	}
	if LlamaFactoryDataset("", "train") != "cicdllm_train" || LlamaFactoryDataset("my data/x", "test") != "my_data_x_test" {
		t.Error("dataset names")
	}
}

func TestMLXHasNoAuxFiles(t *testing.T) {
	files, err := mustLookup(t, "mlx-lm").Aux(cardSummary(), Options{})
	if err != nil || len(files) != 0 {
		t.Errorf("mlx-lm Aux = %v, %v", files, err)
	}
}
