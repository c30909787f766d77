package setup

import (
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"cicdllm/pipeline"
)

func TestSetLLMKeys(t *testing.T) {
	const (
		backend = "openai"
		url     = "http://10.0.0.2:8000"
		model   = "qwen2.5-coder"
	)
	for _, tc := range []struct{ name, src, want string }{
		{"empty", "", `[llm]
backend = "openai"
base_url = "http://10.0.0.2:8000"
model = "qwen2.5-coder"
`},
		{"no llm table", "# mine\n[generation]\ntheme = \"devops\"\n", `# mine
[generation]
theme = "devops"

[llm]
backend = "openai"
base_url = "http://10.0.0.2:8000"
model = "qwen2.5-coder"
`},
		{"no final newline", "[generation]\ntheme = \"devops\"", `[generation]
theme = "devops"

[llm]
backend = "openai"
base_url = "http://10.0.0.2:8000"
model = "qwen2.5-coder"
`},
		{"every key, comments kept", `# The server.
[llm]
# which kind
backend = "mlx"   # inline
base_url   =   'http://old:1'# tight
model = ""
concurrency = 2

[mlx]
model = "mlx-community/x"
`, `# The server.
[llm]
# which kind
backend = "openai"   # inline
base_url   =   "http://10.0.0.2:8000"# tight
model = "qwen2.5-coder"
concurrency = 2

[mlx]
model = "mlx-community/x"
`},
		{"missing keys go after the header", `[llm] # server
concurrency = 2
model = "old"
[mlx]
model = "keep"
`, `[llm] # server
backend = "openai"
base_url = "http://10.0.0.2:8000"
concurrency = 2
model = "qwen2.5-coder"
[mlx]
model = "keep"
`},
		{"llm after other tables, spaced header", `[mlx]
model = "keep"

[ llm ]
base_url = "http://old"
`, `[mlx]
model = "keep"

[ llm ]
backend = "openai"
model = "qwen2.5-coder"
base_url = "http://10.0.0.2:8000"
`},
		{"crlf", "# c\r\n[llm]\r\nmodel = \"x\"\r\n", "# c\r\n[llm]\r\nbackend = \"openai\"\r\nbase_url = \"http://10.0.0.2:8000\"\r\nmodel = \"qwen2.5-coder\"\r\n"},
		{"quoted keys", `[llm]
"backend" = "mlx"
'base_url' = "x"
model = "m"
`, `[llm]
"backend" = "openai"
'base_url' = "http://10.0.0.2:8000"
model = "qwen2.5-coder"
`},
		{"root dotted keys", `llm.base_url = "http://old" # here
[generation]
theme = "code"
`, `llm.base_url = "http://10.0.0.2:8000" # here
llm.backend = "openai"
llm.model = "qwen2.5-coder"
[generation]
theme = "code"
`},
		{"a header inside a multi-line string is text", `[generation]
note = """
[llm]
model = "not a key"
"""
[mlx]
extra_args = [
  "--x",
  ["model"],
]
`, `[generation]
note = """
[llm]
model = "not a key"
"""
[mlx]
extra_args = [
  "--x",
  ["model"],
]

[llm]
backend = "openai"
base_url = "http://10.0.0.2:8000"
model = "qwen2.5-coder"
`},
		{"multi-line old value", `[llm]
model = """
old
"""  # was long
backend = "openai"
base_url = "http://10.0.0.2:8000"
`, `[llm]
model = "qwen2.5-coder"  # was long
backend = "openai"
base_url = "http://10.0.0.2:8000"
`},
		{"escaped quote in old value", `[llm]
model = "a \" # b" # real comment
backend = "x"
base_url = "y"
`, `[llm]
model = "qwen2.5-coder" # real comment
backend = "openai"
base_url = "http://10.0.0.2:8000"
`},
		{"subtable is not llm", `[llm.extra]
model = "keep"
`, `[llm.extra]
model = "keep"

[llm]
backend = "openai"
base_url = "http://10.0.0.2:8000"
model = "qwen2.5-coder"
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(setLLMKeys([]byte(tc.src), backend, url, model))
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			checkTOMLEdit(t, tc.src, got, backend, url, model)
		})
	}
}

// checkTOMLEdit decodes both documents: the llm keys hold the new values
// and every other value is unchanged.
func checkTOMLEdit(t *testing.T, src, got, backend, url, model string) {
	t.Helper()
	var before, after map[string]any
	if _, err := toml.Decode(src, &before); err != nil {
		return // the case starts from a document TOML rejects; the text comparison covers it
	}
	if _, err := toml.Decode(got, &after); err != nil {
		t.Fatalf("the result is not TOML: %v\n%s", err, got)
	}
	llm, _ := after["llm"].(map[string]any)
	if llm["backend"] != backend || llm["base_url"] != url || llm["model"] != model {
		t.Errorf("[llm] = %v", llm)
	}
	old, _ := before["llm"].(map[string]any)
	old = maps.Clone(old)
	if old == nil {
		old = map[string]any{}
	}
	old["backend"], old["base_url"], old["model"] = backend, url, model
	if !reflect.DeepEqual(old, llm) {
		t.Errorf("other llm keys changed: %v, want %v", llm, old)
	}
	delete(before, "llm")
	delete(after, "llm")
	if !reflect.DeepEqual(before, after) {
		t.Errorf("other tables changed: %v, want %v", after, before)
	}
}

// TestSetLLMKeysValues: any string survives the round trip, and the
// generated example config takes the edit in place.
func TestSetLLMKeysValues(t *testing.T) {
	for _, v := range []string{"", `a"b\c`, "tab\there", "new\nline", "ünï €", "ctl\x01\x7f", "# not a comment", "'single'"} {
		got := setLLMKeys([]byte("[llm]\nmodel = \"x\"\n"), "mlx", v, v)
		var raw map[string]map[string]string
		if _, err := toml.Decode(string(got), &raw); err != nil {
			t.Fatalf("%q: %v\n%s", v, err, got)
		}
		if l := raw["llm"]; l["backend"] != "mlx" || l["base_url"] != v || l["model"] != v {
			t.Errorf("%q: %v", v, l)
		}
	}

	example := pipeline.ExampleTOML()
	got := setLLMKeys(example, "openai", "http://127.0.0.1:11434", "llama3")
	if len(strings.Split(string(got), "\n")) != len(strings.Split(string(example), "\n")) {
		t.Error("the example config grew lines: keys were added instead of edited")
	}
	if !strings.Contains(string(got), "\nbase_url = \"http://127.0.0.1:11434\"\n") || !strings.Contains(string(got), "\nmodel = \"llama3\"\n") {
		t.Errorf("not edited in place:\n%s", got)
	}
	checkTOMLEdit(t, string(example), string(got), "openai", "http://127.0.0.1:11434", "llama3")
}
