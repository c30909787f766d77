package pipeline

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

var update = flag.Bool("update", false, "rewrite ../config.example.toml from ExampleTOML")

// env returns LoadOptions lookups backed by a map instead of the process
// environment, so tests run in parallel without touching os.Setenv.
func env(vars map[string]string) (func(string) (string, bool), func() []string) {
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	environ := func() []string {
		var out []string
		for k, v := range vars {
			out = append(out, k+"="+v)
		}
		return out
	}
	return lookup, environ
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, ConfigFileName)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, dir string, vars map[string]string, overrides ...Override) (*Loaded, error) {
	t.Helper()
	lookup, environ := env(vars)
	return LoadConfig(LoadOptions{Workdir: dir, LookupEnv: lookup, Environ: environ, Overrides: overrides})
}

func TestPrecedenceDefaultFileEnvFlag(t *testing.T) {
	dir := t.TempDir()
	key := "generation.max_tokens"
	flagOverride := Override{Key: key, Value: "4096", Flag: "--max-tokens"}

	cases := []struct {
		name       string
		file       string
		vars       map[string]string
		overrides  []Override
		want       int
		wantSource Source
		wantOrigin string
	}{
		{"default", "", nil, nil, 1024, SourceDefault, ""},
		{"file over default", "[generation]\nmax_tokens = 2048\n", nil, nil, 2048, SourceFile, ConfigFileName + ":2"},
		{"env over file", "[generation]\nmax_tokens = 2048\n", map[string]string{"CICDLLM_GENERATION_MAX_TOKENS": "3000"}, nil, 3000, SourceEnv, "CICDLLM_GENERATION_MAX_TOKENS"},
		{"flag over env", "[generation]\nmax_tokens = 2048\n", map[string]string{"CICDLLM_GENERATION_MAX_TOKENS": "3000"}, []Override{flagOverride}, 4096, SourceFlag, "--max-tokens"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.file != "" {
				writeConfig(t, d, tc.file)
			}
			l, err := load(t, d, tc.vars, tc.overrides...)
			if err != nil {
				t.Fatal(err)
			}
			if l.Config.Generation.MaxTokens != tc.want {
				t.Errorf("max_tokens = %d, want %d", l.Config.Generation.MaxTokens, tc.want)
			}
			s, _ := l.Setting(key)
			if s.Source != tc.wantSource || s.Origin != tc.wantOrigin {
				t.Errorf("source = %s %q, want %s %q", s.Source, s.Origin, tc.wantSource, tc.wantOrigin)
			}
			if s.Value != strconv.Itoa(tc.want) {
				t.Errorf("shown value = %q, want %d", s.Value, tc.want)
			}
		})
	}
}

func TestEveryTypeFromFileEnvAndFlags(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, `
[llm]
base_url = "http://10.0.0.5:9000"   # trailing comment
idle_timeout = "90s"
concurrency = 8

[files]
max_file_size = "2MB"
include = ["Dockerfile", "*.tf"]

[generation]
temperature = 1   # an integer is a fine float
`)
	l, err := load(t, dir, map[string]string{
		"CICDLLM_FILES_EXCLUDE":   "vendor/*, *.min.js",
		"CICDLLM_BATTERY_ENABLED": "false",
		"CICDLLM_SCRAPE_TIMEOUT":  "15m",
	}, Override{Key: "logging.max_log_files", Value: "9", Flag: "--max-log-files"})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.LLM.BaseURL != "http://10.0.0.5:9000" || c.LLM.IdleTimeout.Std() != 90*time.Second || c.LLM.Concurrency != 8 {
		t.Errorf("llm = %+v", c.LLM)
	}
	if c.Files.MaxFileSize != 2*MiB {
		t.Errorf("max_file_size = %d, want %d", c.Files.MaxFileSize, 2*MiB)
	}
	if strings.Join(c.Files.Include, "|") != "Dockerfile|*.tf" || strings.Join(c.Files.Exclude, "|") != "vendor/*|*.min.js" {
		t.Errorf("include %q exclude %q", c.Files.Include, c.Files.Exclude)
	}
	if c.Generation.Temperature != 1 || c.Battery.Enabled || c.Scrape.Timeout.Std() != 15*time.Minute || c.Logging.MaxLogFiles != 9 {
		t.Errorf("temperature %v battery %v timeout %v logs %d", c.Generation.Temperature, c.Battery.Enabled, c.Scrape.Timeout, c.Logging.MaxLogFiles)
	}
	// Untouched keys keep their defaults.
	if c.LLM.Backend != "openai" || c.Generation.QuestionsPerChunk != 5 {
		t.Errorf("defaults lost: %+v", c)
	}
}

// TestConfigErrors covers every kind of configuration error: each must say
// what is wrong, where it is, and what is allowed.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name      string
		file      string
		vars      map[string]string
		overrides []Override
		want      []string // substrings of the single problem line
	}{
		{"syntax", "[llm]\nbase_url = \"http://x\n", nil, nil,
			[]string{ConfigFileName + ":2:", "invalid TOML", "fix the syntax"}},
		{"unknown key with suggestion", "[llm]\n\nbase_ur = \"http://x:1\"\n", nil, nil,
			[]string{ConfigFileName + ":3:", "llm.base_ur", "unknown key", `did you mean "base_url"`}},
		{"unknown section", "[lmm]\nmodel = \"x\"\n", nil, nil,
			[]string{ConfigFileName + ":1:", "unknown section", `did you mean "llm"`, "known sections:"}},
		{"top-level key", "model = \"x\"\n", nil, nil,
			[]string{ConfigFileName + ":1:", "belongs in a [section]"}},
		{"section not a table", "llm = 3\n", nil, nil,
			[]string{ConfigFileName + ":1:", "must be a table"}},
		{"wrong type string for int", "[llm]\nconcurrency = \"four\"\n", nil, nil,
			[]string{ConfigFileName + ":2:", "llm.concurrency", "expected a whole number", "string"}},
		{"wrong type int for string", "[llm]\nmodel = 7\n", nil, nil,
			[]string{ConfigFileName + ":2:", "llm.model", "expected a string"}},
		{"wrong type list item", "[files]\ninclude = [\"a\", 3]\n", nil, nil,
			[]string{ConfigFileName + ":2:", "files.include", "item 2", "expected a string"}},
		{"duration without quotes", "[llm]\nidle_timeout = 30\n", nil, nil,
			[]string{ConfigFileName + ":2:", "llm.idle_timeout", "duration", "unit"}},
		{"bad duration", "[llm]\nidle_timeout = \"30 parsecs\"\n", nil, nil,
			[]string{ConfigFileName + ":2:", "not a duration", `"30s"`}},
		{"bad size", "[files]\nmax_file_size = \"5 potatoes\"\n", nil, nil,
			[]string{ConfigFileName + ":2:", "files.max_file_size", "not a size"}},
		{"out of range", "[llm]\nconcurrency = 999\n", nil, nil,
			[]string{ConfigFileName + ":2:", "llm.concurrency", "999 is out of range; allowed 0 to 256"}},
		{"size out of range", "[files]\nmax_file_size = 10\n", nil, nil,
			[]string{ConfigFileName + ":2:", "files.max_file_size", "allowed 1KiB to 1GiB"}},
		{"float out of range", "[generation]\ntemperature = 2.5\n", nil, nil,
			[]string{ConfigFileName + ":2:", "generation.temperature", "allowed 0 to 2"}},
		{"bad enum", "[llm]\nbackend = \"ollama\"\n", nil, nil,
			[]string{ConfigFileName + ":2:", "llm.backend", `"ollama" is not allowed`, `"openai", "mlx"`}},
		{"bad url", "[llm]\nbase_url = \"localhost:8080\"\n", nil, nil,
			[]string{ConfigFileName + ":2:", "llm.base_url", "http:// or https://"}},
		{"credentials in url", "[llm]\nbase_url = \"https://me:pw@api.example.com\"\n", nil, nil,
			[]string{"llm.base_url", "environment variable"}},
		{"secret pasted into env key", "[llm]\napi_key_env = \"sk-proj-abcdef0123456789\"\n", nil, nil,
			[]string{ConfigFileName + ":2:", "llm.api_key_env", "must name an environment variable"}},
		{"cross-key battery", "[battery]\nlow = 95\n", nil, nil,
			[]string{ConfigFileName + ":2:", "battery.low", "below battery.high (90)"}},
		{"bad split", "[export]\nsplit = \"train=0.9,valid=0.2\"\n", nil, nil,
			[]string{ConfigFileName + ":2:", "export.split", "sum to 1.1"}},
		{"bad glob", "[files]\nexclude = [\"[a-\"]\n", nil, nil,
			[]string{"files.exclude", "not a valid glob"}},
		{"env bad value", "", map[string]string{"CICDLLM_LLM_CONCURRENCY": "lots"}, nil,
			[]string{"environment variable CICDLLM_LLM_CONCURRENCY", "not a whole number"}},
		{"env out of range", "", map[string]string{"CICDLLM_GENERATION_TEMPERATURE": "9"}, nil,
			[]string{"environment variable CICDLLM_GENERATION_TEMPERATURE", "generation.temperature", "allowed 0 to 2"}},
		{"env misspelt", "", map[string]string{"CICDLLM_LLM_BASEURL": "http://x:1"}, nil,
			[]string{"environment variable CICDLLM_LLM_BASEURL", "does not match any config key", "CICDLLM_LLM_BASE_URL"}},
		{"flag bad value", "", nil, []Override{{Key: "logging.max_log_files", Value: "x", Flag: "--max-log-files"}},
			[]string{"flag --max-log-files", "not a whole number"}},
		{"flag out of range", "", nil, []Override{{Key: "logging.max_log_files", Value: "0", Flag: "--max-log-files"}},
			[]string{"flag --max-log-files", "logging.max_log_files", "allowed 1 to 1000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				writeConfig(t, dir, tc.file)
			}
			_, err := load(t, dir, tc.vars, tc.overrides...)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConfigError", err)
			}
			if len(ce.Problems) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ce.Problems), err)
			}
			msg := ce.Problems[0].String()
			if strings.Contains(msg, "\n") {
				t.Errorf("problem spans several lines: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, "[llm]\nconcurrency = -1\nbackend = \"x\"\n[battery]\ncheck_interval = \"10ms\"\n")
	_, err := load(t, dir, nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	if got := strings.Count(err.Error(), "\n"); got != 2 {
		t.Errorf("want one line per problem, got:\n%s", err)
	}
}

func TestSearchOrder(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	xdg := filepath.Join(root, "xdg")
	explicit := filepath.Join(root, "explicit.toml")
	fromEnv := filepath.Join(root, "env.toml")
	for _, d := range []string{work, filepath.Join(xdg, "cicdllm")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, model string) {
		if err := os.WriteFile(p, []byte("[llm]\nmodel = \""+model+"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(explicit, "explicit")
	write(fromEnv, "env")
	write(filepath.Join(work, ConfigFileName), "workdir")
	write(filepath.Join(xdg, "cicdllm", "config.toml"), "xdg")

	vars := map[string]string{"CICDLLM_CONFIG": fromEnv, "XDG_CONFIG_HOME": xdg}
	check := func(explicitPath, want string) {
		t.Helper()
		lookup, environ := env(vars)
		l, err := LoadConfig(LoadOptions{Workdir: work, Path: explicitPath, LookupEnv: lookup, Environ: environ})
		if err != nil {
			t.Fatal(err)
		}
		if l.Config.LLM.Model != want {
			t.Errorf("model = %q, want %q (file %s)", l.Config.LLM.Model, want, l.File)
		}
	}
	check(explicit, "explicit")
	check("", "env")
	delete(vars, "CICDLLM_CONFIG")
	check("", "workdir")
	if err := os.Remove(filepath.Join(work, ConfigFileName)); err != nil {
		t.Fatal(err)
	}
	check("", "xdg")
	delete(vars, "XDG_CONFIG_HOME")
	vars["HOME"] = filepath.Join(root, "nohome")
	check("", "")

	// A file the user named explicitly must exist.
	lookup, environ := env(map[string]string{"CICDLLM_CONFIG": filepath.Join(root, "missing.toml")})
	_, err := LoadConfig(LoadOptions{Workdir: work, LookupEnv: lookup, Environ: environ})
	if err == nil || !strings.Contains(err.Error(), "missing.toml (from CICDLLM_CONFIG) does not exist") {
		t.Errorf("err = %v", err)
	}
}

func TestExampleFileIsCurrentAndLoadsToDefaults(t *testing.T) {
	want := ExampleTOML()
	path := filepath.Join("..", "config.example.toml")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("config.example.toml is out of date; run: go test ./pipeline -run TestExampleFile -update")
	}
	// Every key is present and documented, and the file decodes to exactly
	// the defaults.
	var raw map[string]map[string]any
	md, err := toml.Decode(string(got), &raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range configFields() {
		if !md.IsDefined(f.Section, f.Name) {
			t.Errorf("%s missing from config.example.toml", f.Key)
		}
		if f.Doc == "" {
			t.Errorf("%s has no doc tag", f.Key)
		}
	}
	dir := t.TempDir()
	writeConfig(t, dir, string(got))
	l, err := load(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	for _, f := range configFields() {
		if a, b := f.format(&l.Config), f.format(&def); a != b {
			t.Errorf("%s: example gives %s, default is %s", f.Key, a, b)
		}
	}
}

func TestShowTOMLIsValidTOMLWithSources(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, "[llm]\nmodel = \"qwen \\\"coder\\\"\"\n")
	l, err := load(t, dir, map[string]string{"CICDLLM_LLM_BASE_URL": "http://127.0.0.1:9999"})
	if err != nil {
		t.Fatal(err)
	}
	out := l.ShowTOML()
	var back Config
	if _, err := toml.Decode(out, &back); err != nil {
		t.Fatalf("show output is not TOML: %v\n%s", err, out)
	}
	if back.LLM.Model != `qwen "coder"` || back.LLM.BaseURL != "http://127.0.0.1:9999" {
		t.Errorf("round trip: %+v", back.LLM)
	}
	for _, want := range []string{"# file " + ConfigFileName + ":2", "# env CICDLLM_LLM_BASE_URL", "# default"} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
}

func TestSizeAndDurationParsing(t *testing.T) {
	sizes := map[string]Size{"5MB": 5 * MiB, "5 MiB": 5 * MiB, "512kb": 512 * KiB, "2GB": 2 * GiB, "1.5MiB": 1536 * KiB, "100": 100, "100B": 100}
	for in, want := range sizes {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "5XB", "-1MB", "1e3"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
	for d, want := range map[Duration]string{Duration(90 * time.Second): "90s", Duration(10 * time.Minute): "10m", Duration(2 * time.Hour): "2h", Duration(1500 * time.Millisecond): "1500ms"} {
		if d.String() != want {
			t.Errorf("%d formats as %q, want %q", d, d.String(), want)
		}
	}
	for s, want := range map[Size]string{5 * MiB: "5MiB", 2 * GiB: "2GiB", 1536 * KiB: "1536KiB", 100: "100B"} {
		if s.String() != want {
			t.Errorf("%d formats as %q, want %q", s, s.String(), want)
		}
	}
}

func TestKeyLinesSkipsMultilineStrings(t *testing.T) {
	lines := tomlKeyLines([]byte("[export]\nsystem_prompt = \"\"\"\nfake = 1\n\"\"\"\nseed = 3\n[\"llm\"]\n\"model\" = \"x\"\n"))
	if lines["export.system_prompt"] != 2 || lines["export.seed"] != 5 || lines["llm.model"] != 7 {
		t.Errorf("lines = %v", lines)
	}
	if _, ok := lines["export.fake"]; ok {
		t.Errorf("a line inside a multi-line string was taken for a key: %v", lines)
	}
}

func TestLLMOptionsFromConfig(t *testing.T) {
	c := DefaultConfig()
	c.LLM.BaseURL, c.LLM.Model, c.LLM.APIKeyEnv = "http://127.0.0.1:11434", "qwen", "MY_KEY"
	c.LLM.IdleTimeout = Duration(7 * time.Second)
	lookup := func(k string) (string, bool) { v, ok := map[string]string{"MY_KEY": "sk-local"}[k]; return v, ok }
	o, err := c.LLMOptions(lookup, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.BaseURL != "http://127.0.0.1:11434" || o.Model != "qwen" || o.APIKey != "sk-local" || o.IdleTimeout != 7*time.Second ||
		o.MaxRetries != 5 || o.BreakerThreshold != 5 || o.StructuredOutput != "auto" {
		t.Errorf("options %+v", o)
	}
	c.LLM.APIKeyEnv = "UNSET_KEY"
	if _, err := c.LLMOptions(lookup, nil, nil); err == nil || !strings.Contains(err.Error(), "UNSET_KEY") {
		t.Errorf("unset key variable: %v", err)
	}
}
