package quality

import (
	"strings"
	"testing"
)

func TestExtractCode(t *testing.T) {
	md := strings.Join([]string{
		"Intro text.",                 // 1
		"```golang",                   // 2
		"x := 1",                      // 3
		"```",                         // 4
		"Then:",                       // 5
		"~~~yml",                      // 6
		"a: 1",                        // 7
		"~~~",                         // 8
		"1. In a list item:",          // 9
		"   ```json",                  // 10
		"   {",                        // 11
		`     "a": 1`,                 // 12
		"   }",                        // 13
		"   ```",                      // 14
		"````bash title=run.sh",       // 15
		"echo ```not a close```",      // 16
		"````",                        // 17
		"Inline ```x``` is no fence.", // 18
		"```",                         // 19
		"untagged, unterminated",      // 20
	}, "\n")
	got := ExtractCode(md)
	want := []CodeBlock{
		{Lang: "go", Code: "x := 1\n", StartLine: 3},
		{Lang: "yaml", Code: "a: 1\n", StartLine: 7},
		{Lang: "json", Code: "{\n  \"a\": 1\n}\n", StartLine: 11},
		{Lang: "sh", Code: "echo ```not a close```\n", StartLine: 16},
		{Lang: "", Code: "untagged, unterminated\n", StartLine: 20},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d blocks %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("block %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestExtractCodeUnterminatedRunsToEnd(t *testing.T) {
	got := ExtractCode("text\n~~~toml\na = 1\nb = 2")
	if len(got) != 1 || got[0].Lang != "toml" || got[0].Code != "a = 1\nb = 2\n" || got[0].StartLine != 3 {
		t.Fatalf("got %+v", got)
	}
	if r := ValidateCode(got[0]); !r.Checked || !r.OK {
		t.Fatalf("unterminated toml block should validate: %+v", r)
	}
}

func TestValidateCode(t *testing.T) {
	tests := []struct {
		name    string
		block   CodeBlock
		ok      bool
		checked bool
		err     string // expected prefix of Err
	}{
		{"go full file", CodeBlock{Lang: "go", Code: "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(1)\n}\n"}, true, true, ""},
		{"go function fragment", CodeBlock{Lang: "go", Code: "// Add sums.\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\ntype T struct{ X int }\n"}, true, true, ""},
		{"go statements fragment", CodeBlock{Lang: "go", Code: "tok, err := s.Refresh(ctx, tok)\nif err != nil {\n\treturn err\n}\n"}, true, true, ""},
		{"go broken file", CodeBlock{Lang: "go", Code: "package main\n\nfunc main() {\n\tx := 1 +\n}\n"}, false, true, "line 5: expected operand"},
		{"go broken statements", CodeBlock{Lang: "go", Code: "x := 1\nif x > 0 {\n\ty := )\n}\n"}, false, true, "line 3: "},
		{"go broken function", CodeBlock{Lang: "go", Code: "func f() {\n\tx := 1\n\ty := x x\n}\n"}, false, true, "line 3: expected ';', found x"},
		{"json valid", CodeBlock{Lang: "json", Code: "{\n  \"a\": [1, 2],\n  \"b\": null\n}\n"}, true, true, ""},
		{"json trailing comma", CodeBlock{Lang: "json", Code: "{\n  \"a\": 1,\n}\n"}, false, true, "line 3: invalid character '}'"},
		{"yaml valid multi-document", CodeBlock{Lang: "yaml", Code: "a: 1\nb:\n  - x\n---\nc: 2\n"}, true, true, ""},
		{"yaml bad indentation", CodeBlock{Lang: "yaml", Code: "a:\n  b: 1\n c: 2\n"}, false, true, "line 2: "},
		{"toml valid", CodeBlock{Lang: "toml", Code: "title = \"x\"\n[server]\nport = 8080\n"}, true, true, ""},
		{"toml duplicate key", CodeBlock{Lang: "toml", Code: "a = 1\nb = 2\na = 3\n"}, false, true, "line 3: Key 'a' has already been defined"},
		{"unknown language", CodeBlock{Lang: "rust", Code: "fn main( {"}, true, false, ""},
		{"untagged", CodeBlock{Lang: "", Code: "whatever {"}, true, false, ""},
		{"empty go", CodeBlock{Lang: "go", Code: "\n"}, true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ValidateCode(tt.block)
			if r.OK != tt.ok || r.Checked != tt.checked || r.Lang != tt.block.Lang {
				t.Fatalf("got %+v, want ok=%v checked=%v", r, tt.ok, tt.checked)
			}
			if !strings.HasPrefix(r.Err, tt.err) || (tt.ok && r.Err != "") {
				t.Fatalf("err %q, want prefix %q", r.Err, tt.err)
			}
		})
	}
}

func TestCodeOK(t *testing.T) {
	ok := CodeResult{Lang: "go", OK: true, Checked: true}
	unchecked := CodeResult{Lang: "rust", OK: true}
	bad := CodeResult{Lang: "json", Checked: true, Err: "line 1: x"}
	if !CodeOK(nil) || !CodeOK([]CodeResult{ok, unchecked}) {
		t.Fatal("valid results reported as not OK")
	}
	if CodeOK([]CodeResult{ok, bad}) {
		t.Fatal("invalid result reported as OK")
	}
}
