package pipeline

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"cicdllm/llm"
)

//go:embed themes
var builtinThemeFS embed.FS

// The four files of a theme, in the order they are hashed.
const (
	themeQuestionSystem = "question_system.txt"
	themeQuestionUser   = "question_user.txt"
	themeAnswerSystem   = "answer_system.txt"
	themeAnswerUser     = "answer_user.txt"
)

var themeFiles = []string{themeQuestionSystem, themeQuestionUser, themeAnswerSystem, themeAnswerUser}

// themeNameRe matches a theme name: a single folder name, never a path.
var themeNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// PromptData are the fields a theme's templates can use.
type PromptData struct {
	Code, Path, Repo, Language string
	Lines                      string // "12-80"
	Question                   string // answer prompts only
	Count                      int    // questions asked (question prompts)
}

// Fence returns a Markdown code fence that the code cannot close: three
// backticks, or one more than the longest run of backticks in Code (a
// Markdown file may hold ``` fences itself). Templates write {{.Fence}}.
func (d PromptData) Fence() string {
	longest, run := 0, 0
	for i := 0; i < len(d.Code); i++ {
		if d.Code[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// Theme is a loaded set of the four prompt templates.
type Theme struct {
	Name string
	Hash string // hex sha256 (first 16 chars) of the four template texts, recorded on every sample as prompt_hash
	Dir  string // the folder a custom theme was loaded from; "" for a built-in theme

	questionSystem, questionUser, answerSystem, answerUser *template.Template
}

// BuiltinThemes lists the themes compiled into cicdllm.
func BuiltinThemes() []string { return []string{"code", "devops"} }

// LoadTheme loads prompts/<name>/ from promptsDir when that directory
// exists (all four files required; missing file → error naming it), else
// the built-in theme; unknown name → error listing built-ins and found
// custom themes. Parse errors name the file and line. A theme whose
// question_user.txt or answer_user.txt never references .Code is rejected.
// An empty promptsDir looks only at the built-in themes.
//
// Besides parsing, every template is rendered once with sample data, so a
// misspelt field ({{.Cod}}) fails here, naming file and line, rather than
// on the first request.
func LoadTheme(promptsDir, name string) (*Theme, error) {
	if !themeNameRe.MatchString(name) {
		return nil, fmt.Errorf("%q is not a theme name: use %s, or the name of a folder under prompts/",
			name, quoteThemeNames(BuiltinThemes()))
	}
	if promptsDir != "" {
		dir := filepath.Join(promptsDir, name)
		fi, err := os.Stat(dir)
		switch {
		case err == nil && fi.IsDir():
			texts := make(map[string]string, len(themeFiles))
			for _, f := range themeFiles {
				p := filepath.Join(dir, f)
				b, err := os.ReadFile(p)
				if errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("theme %s: %s is missing; a theme folder needs all of %s (cicdllm prompts export %s writes a starting point)",
						name, p, strings.Join(themeFiles, ", "), BuiltinThemes()[0])
				}
				if err != nil {
					return nil, fmt.Errorf("theme %s: %w", name, err)
				}
				if !utf8.Valid(b) {
					return nil, fmt.Errorf("theme %s: %s is not UTF-8 text", name, p)
				}
				texts[f] = string(b)
			}
			return newTheme(name, dir, texts, func(f string) string { return filepath.Join(dir, f) })
		case err == nil:
			return nil, fmt.Errorf("theme %s: %s is not a folder", name, dir)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("theme %s: %w", name, err)
		}
	}
	if slices.Contains(BuiltinThemes(), name) {
		texts, err := builtinThemeTexts(name)
		if err != nil {
			return nil, err
		}
		return newTheme(name, "", texts, func(f string) string { return path.Join("themes", name, f) })
	}
	msg := fmt.Sprintf("unknown theme %q: the built-in themes are %s", name, quoteThemeNames(BuiltinThemes()))
	if promptsDir != "" {
		custom := customThemes(promptsDir)
		if len(custom) > 0 {
			msg += fmt.Sprintf("; custom themes in %s: %s", promptsDir, quoteThemeNames(custom))
		} else {
			msg += fmt.Sprintf("; %s holds no custom themes", promptsDir)
		}
	}
	return nil, errors.New(msg)
}

// quoteThemeNames lists the names in double quotes, comma-separated.
func quoteThemeNames(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(out, ", ")
}

// customThemes lists the folders of promptsDir that hold a theme file.
func customThemes(promptsDir string) []string {
	entries, err := os.ReadDir(promptsDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || !themeNameRe.MatchString(e.Name()) {
			continue
		}
		for _, f := range themeFiles {
			if _, err := os.Stat(filepath.Join(promptsDir, e.Name(), f)); err == nil {
				out = append(out, e.Name())
				break
			}
		}
	}
	return out
}

func builtinThemeTexts(name string) (map[string]string, error) {
	texts := make(map[string]string, len(themeFiles))
	for _, f := range themeFiles {
		b, err := builtinThemeFS.ReadFile(path.Join("themes", name, f))
		if err != nil {
			return nil, fmt.Errorf("built-in theme %s: %w", name, err)
		}
		texts[f] = string(b)
	}
	return texts, nil
}

// newTheme parses and checks the four texts. display names a file in
// error messages (its path).
func newTheme(name, dir string, texts map[string]string, display func(string) string) (*Theme, error) {
	h := sha256.New()
	tmpls := make(map[string]*template.Template, len(themeFiles))
	for _, f := range themeFiles {
		// Windows editors save CRLF; the prompt and its hash should not
		// depend on that.
		text := strings.ReplaceAll(texts[f], "\r\n", "\n")
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00", f, len(text), text)
		t, err := template.New(display(f)).Option("missingkey=error").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("theme %s: %s", name, templateProblem(display(f), err))
		}
		if err := t.Execute(discardWriter{}, sampleThemeData()); err != nil {
			return nil, fmt.Errorf("theme %s: %s", name, templateProblem(display(f), err))
		}
		if f == themeQuestionUser || f == themeAnswerUser {
			if !templateUsesCode(t) || !showsCode(t) {
				return nil, fmt.Errorf("theme %s: %s never uses {{.Code}}, so the model would never see the code; add it", name, display(f))
			}
		}
		tmpls[f] = t
	}
	return &Theme{
		Name:           name,
		Hash:           hex.EncodeToString(h.Sum(nil))[:16],
		Dir:            dir,
		questionSystem: tmpls[themeQuestionSystem],
		questionUser:   tmpls[themeQuestionUser],
		answerSystem:   tmpls[themeAnswerSystem],
		answerUser:     tmpls[themeAnswerUser],
	}, nil
}

// promptFields are what a template can write, for messages.
var promptFields = []string{"Code", "Path", "Repo", "Language", "Lines", "Question", "Count", "Fence"}

var (
	templateExecRe  = regexp.MustCompile(`^(.*?:\d+(?::\d+)?): executing ".*?" at <(.*?)>: (.*)$`)
	templateFieldRe = regexp.MustCompile(`can't evaluate field (\w+) in type`)
)

// templateProblem words a text/template error for the person editing the
// file: "FILE:LINE: what is wrong", without the package's prefix, the
// file name said twice, or Go type names.
func templateProblem(file string, err error) string {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	msg = strings.ReplaceAll(msg, "started at "+file+":", "started at line ")
	if m := templateExecRe.FindStringSubmatch(msg); m != nil {
		where, node, what := m[1], m[2], m[3]
		if f := templateFieldRe.FindStringSubmatch(what); f != nil {
			hint := ""
			if sug := Suggest(f[1], promptFields); sug != "" {
				hint = strings.Replace(strings.ReplaceAll(sug, `"`, ""), "mean ", "mean .", 1)
			}
			return fmt.Sprintf("%s: %s is not a field%s; the fields are .%s", where, node, hint, strings.Join(promptFields, ", ."))
		}
		return fmt.Sprintf("%s: %s: %s", where, node, what)
	}
	return msg + " (Go text/template syntax: {{.Code}})"
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// sampleThemeData fills every field, for the trial render at load time.
func sampleThemeData() PromptData {
	return PromptData{
		Code:     "func main() {}\n",
		Path:     "cmd/app/main.go",
		Repo:     "github.com/example/app",
		Language: "Go",
		Lines:    "1-1",
		Question: "What does `main` do?",
		Count:    5,
	}
}

// showsCode renders t with a marker as the code and reports whether the
// marker comes out: {{.Code}} inside {{if false}} or as a mere function
// argument does not show the code.
func showsCode(t *template.Template) bool {
	const marker = "\x00cicdllm-code-marker\x00"
	d := sampleThemeData()
	d.Code = marker
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return false
	}
	return strings.Contains(b.String(), marker)
}

// templateUsesCode walks the parse trees of t (and the templates it
// defines) for a field node .Code or $.Code.
func templateUsesCode(t *template.Template) bool {
	for _, tt := range t.Templates() {
		if tt.Tree != nil && nodeUsesCode(tt.Tree.Root) {
			return true
		}
	}
	return false
}

func nodeUsesCode(n parse.Node) bool {
	switch n := n.(type) {
	case nil:
		return false
	case *parse.ListNode:
		if n == nil {
			return false
		}
		for _, c := range n.Nodes {
			if nodeUsesCode(c) {
				return true
			}
		}
	case *parse.ActionNode:
		return pipeUsesCode(n.Pipe)
	case *parse.IfNode:
		return pipeUsesCode(n.Pipe) || nodeUsesCode(n.List) || nodeUsesCode(n.ElseList)
	case *parse.RangeNode:
		return pipeUsesCode(n.Pipe) || nodeUsesCode(n.List) || nodeUsesCode(n.ElseList)
	case *parse.WithNode:
		return pipeUsesCode(n.Pipe) || nodeUsesCode(n.List) || nodeUsesCode(n.ElseList)
	case *parse.TemplateNode:
		return pipeUsesCode(n.Pipe)
	case *parse.PipeNode:
		return pipeUsesCode(n)
	case *parse.CommandNode:
		for _, a := range n.Args {
			if nodeUsesCode(a) {
				return true
			}
		}
	case *parse.FieldNode:
		return len(n.Ident) > 0 && n.Ident[0] == "Code"
	case *parse.VariableNode:
		return len(n.Ident) > 1 && n.Ident[0] == "$" && n.Ident[1] == "Code"
	case *parse.ChainNode:
		return nodeUsesCode(n.Node)
	}
	return false
}

func pipeUsesCode(p *parse.PipeNode) bool {
	if p == nil {
		return false
	}
	for _, c := range p.Cmds {
		if nodeUsesCode(c) {
			return true
		}
	}
	return false
}

// ExportTheme writes the built-in theme's four files to promptsDir/<name>/
// (creating it); refuses to overwrite existing files unless force. Without
// force nothing is written when any of the files exists. It returns the
// paths written.
func ExportTheme(promptsDir, name string, force bool) ([]string, error) {
	if !slices.Contains(BuiltinThemes(), name) {
		return nil, fmt.Errorf("%q is not a built-in theme: export one of %s", name, quoteThemeNames(BuiltinThemes()))
	}
	texts, err := builtinThemeTexts(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(promptsDir, name)
	if !force {
		var exist []string
		for _, f := range themeFiles {
			if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
				exist = append(exist, filepath.Join(dir, f))
			}
		}
		if len(exist) > 0 {
			return nil, fmt.Errorf("not overwriting %s; use --force to replace them with the built-in %s theme", strings.Join(exist, ", "), name)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range themeFiles {
		p := filepath.Join(dir, f)
		if err := os.WriteFile(p, []byte(texts[f]), 0o644); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

// render executes t with d; the result is trimmed of surrounding space
// (files end with a newline, templates start with a comment).
func (t *Theme) render(tmpl *template.Template, d PromptData) (string, error) {
	var b strings.Builder
	if err := tmpl.Execute(&b, d); err != nil {
		return "", fmt.Errorf("theme %s: %w", t.Name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

func (t *Theme) messages(sys, user *template.Template, d PromptData) ([]llm.Message, error) {
	s, err := t.render(sys, d)
	if err != nil {
		return nil, err
	}
	u, err := t.render(user, d)
	if err != nil {
		return nil, err
	}
	return []llm.Message{{Role: "system", Content: s}, {Role: "user", Content: u}}, nil
}

// QuestionMessages renders [system, user] messages asking for d.Count
// questions.
func (t *Theme) QuestionMessages(d PromptData) ([]llm.Message, error) {
	return t.messages(t.questionSystem, t.questionUser, d)
}

// AnswerMessages renders [system, user]. In the built-in themes the user
// message starts with the file header and code and ends with the question,
// so every answer request for one chunk shares the longest possible prefix
// (system text + code) for the server's prefix cache.
func (t *Theme) AnswerMessages(d PromptData) ([]llm.Message, error) {
	return t.messages(t.answerSystem, t.answerUser, d)
}

// chatFramingTokens is what a chat template adds around two messages
// (role markers, separators, the assistant turn's start).
const chatFramingTokens = 24

// PromptOverhead estimates the tokens the theme adds around the code:
// both prompts are rendered with empty code and question but long path,
// repository, language and line fields (a deep path can be 200 bytes),
// and the larger of the question and answer prompts counts, plus the chat
// template's framing.
func (t *Theme) PromptOverhead() int {
	d := PromptData{
		Path:     strings.Repeat("p", 200),
		Repo:     strings.Repeat("r", 100),
		Language: strings.Repeat("l", 24),
		Lines:    "999999-999999",
		Count:    50,
	}
	best := 0
	for _, pair := range [][2]*template.Template{{t.questionSystem, t.questionUser}, {t.answerSystem, t.answerUser}} {
		msgs, err := t.messages(pair[0], pair[1], d)
		if err != nil {
			continue // cannot happen after LoadTheme's trial render
		}
		n := 0
		for _, m := range msgs {
			n += EstimateTokens(m.Content)
		}
		best = max(best, n)
	}
	return best + chatFramingTokens
}

// QuestionSchema is the JSON schema for a question list, with at most
// count questions.
func QuestionSchema(count int) *llm.Schema {
	count = max(count, 1)
	s := fmt.Sprintf(`{"type":"object","properties":{"questions":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":%d}},"required":["questions"],"additionalProperties":false}`, count)
	return &llm.Schema{Name: "questions", Schema: json.RawMessage(s), Strict: true}
}

// ErrNoQuestions says a question list held nothing usable; the caller can
// retry the request.
var ErrNoQuestions = errors.New("the model's answer held no usable questions")

// Limits of a usable question, in characters.
const (
	minQuestionChars = 10
	maxQuestionChars = 500
)

// questionNumberRe matches a list number: "1.", "1)", "(1)", "1:", "#2",
// "Q1:", "Q:", "Question 3:".
const questionNumberRe = `(?:\(?\d{1,3}[.):\]]|#\d{1,3}[.:)]?|(?i:q(?:uestion)?)\s*#?\s*\d{0,3}\s*[:.)])`

var (
	// thinkRe matches a reasoning block some models put inline.
	thinkRe = regexp.MustCompile(`(?s)<think>.*?</think>`)
	// questionPrefixRe matches one layer of list decoration at the start of
	// a line: bullets, Markdown headings, and numbering such as "1.", "1)",
	// "(1)", "#2", "Q1:", "Q:", "Question 3:", also in bold ("**1.**").
	questionPrefixRe = regexp.MustCompile(`^(?:[-*•+–—]\s+|#{1,6}\s+|\*\*\s*` + questionNumberRe + `\s*\*\*\s*|` + questionNumberRe + `\s*)`)
)

// ParseQuestions reads the model's question list.
//
// JSON comes first: {"questions":[...]} via llm.ParseJSON, a bare array of
// strings, or an array of {"question": "..."} objects, in structured mode
// always and in text mode when the answer looks like JSON. JSON items need
// not end with '?' (tasks such as "Write a function that..." are valid
// prompts). Otherwise, or when the JSON held nothing usable (a truncated
// list), lines are read: numbering ("1.", "1)", "Q1:", "Question 3:"),
// bullets ("-", "*", "•"), Markdown bold and headings, surrounding quotes
// and JSON commas are stripped, and lines ending with '?' are kept.
// Inline <think>...</think> blocks are ignored. Duplicates (case- and
// space-insensitive), near-empty (< 10 characters) and over-long (> 500
// characters) questions are dropped, and at most want are returned (want
// ≤ 0: no limit). No usable question → an error matching ErrNoQuestions,
// never an empty list.
func ParseQuestions(text string, structured bool, want int) ([]string, error) {
	clean := thinkRe.ReplaceAllString(text, "")
	if i := strings.Index(clean, "<think>"); i >= 0 {
		clean = clean[:i] // cut off while still reasoning
	}
	clean = strings.TrimSpace(strings.TrimPrefix(clean, "\ufeff"))

	var jsonErr error
	if structured || looksLikeJSON(clean) {
		var v any
		if jsonErr = llm.ParseJSON(clean, &v); jsonErr == nil {
			if qs := filterQuestions(jsonQuestions(v), false, want); len(qs) > 0 {
				return qs, nil
			}
			jsonErr = errors.New("the JSON held no usable question")
		}
	}
	if qs := filterQuestions(strings.Split(clean, "\n"), true, want); len(qs) > 0 {
		return qs, nil
	}
	if jsonErr != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoQuestions, jsonErr)
	}
	return nil, fmt.Errorf("%w: no line ends with '?' (the answer began %q)", ErrNoQuestions, questionSnippet(clean))
}

func questionSnippet(s string) string {
	r := []rune(s)
	if len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}

// looksLikeJSON reports text that starts like a JSON value, a code fence,
// or names a "questions" key.
func looksLikeJSON(s string) bool {
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") || strings.HasPrefix(s, "```") ||
		strings.Contains(s, `"questions"`)
}

// jsonQuestions collects the strings of a decoded question list.
func jsonQuestions(v any) []string {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if strings.EqualFold(k, "questions") {
				return jsonQuestions(x)
			}
		}
		if len(v) == 1 { // {"items": [...]} or another single key
			for _, x := range v {
				if _, ok := x.([]any); ok {
					return jsonQuestions(x)
				}
			}
		}
		for _, k := range []string{"question", "text"} {
			if s, ok := v[k].(string); ok {
				return []string{s}
			}
		}
	case []any:
		var out []string
		for _, x := range v {
			switch x := x.(type) {
			case string:
				out = append(out, x)
			case map[string]any:
				out = append(out, jsonQuestions(x)...)
			}
		}
		return out
	case string:
		return []string{v}
	}
	return nil
}

// filterQuestions cleans candidates and keeps the usable ones, at most
// want (≤ 0: all). needMark keeps only those ending with '?'.
func filterQuestions(cands []string, needMark bool, want int) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range cands {
		q := cleanQuestion(c)
		if needMark && !strings.HasSuffix(q, "?") {
			continue
		}
		if n := utf8.RuneCountInString(q); n < minQuestionChars || n > maxQuestionChars {
			continue
		}
		key := strings.ToLower(strings.Join(strings.Fields(q), " "))
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, q)
		if want > 0 && len(out) == want {
			break
		}
	}
	return out
}

// cleanQuestion strips list decoration, Markdown emphasis, quotes and a
// trailing JSON comma from one line.
func cleanQuestion(s string) string {
	s = strings.TrimSpace(s)
	for {
		prev := s
		s = strings.TrimSpace(strings.TrimSuffix(s, ","))
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			var u string
			if json.Unmarshal([]byte(s), &u) == nil {
				s = u
			} else {
				s = s[1 : len(s)-1]
			}
		}
		for _, p := range [][2]string{{"“", "”"}, {"'", "'"}, {"**", "**"}, {"__", "__"}} {
			if len(s) >= len(p[0])+len(p[1]) && strings.HasPrefix(s, p[0]) && strings.HasSuffix(s, p[1]) {
				// Only a pair around the whole line: not "'a' or 'b'".
				if inner := s[len(p[0]) : len(s)-len(p[1])]; !strings.Contains(inner, p[1]) {
					s = inner
				}
			}
		}
		if loc := questionPrefixRe.FindStringIndex(s); loc != nil && loc[1] > 0 {
			s = s[loc[1]:]
		}
		s = strings.TrimSpace(s)
		if s == prev {
			return s
		}
	}
}
