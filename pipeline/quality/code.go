package quality

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"go/parser"
	"go/scanner"
	"go/token"
	"io"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"
)

// Normalised language tags produced by ExtractCode. Only the first four have
// a checker; the others are normalised so callers can group blocks.
const (
	LangGo     = "go"
	LangJSON   = "json"
	LangYAML   = "yaml"
	LangTOML   = "toml"
	LangShell  = "sh"
	LangPython = "python"
	LangJS     = "javascript"
	LangTS     = "typescript"
)

// CodeBlock is one fenced block of a markdown answer.
type CodeBlock struct {
	Lang string // normalised tag ("go", "json", ...); "" when the fence has none
	Code string // content with the fence's own indentation removed
	// StartLine is the 1-based line of the answer holding the first line of
	// Code, so an error on block line n is on answer line StartLine+n-1.
	StartLine int
}

// CodeResult is the verdict on one block.
type CodeResult struct {
	Lang    string
	OK      bool
	Checked bool   // false when the language has no checker (OK is then true)
	Err     string // "line 3: expected ';', found x", lines relative to the block
}

// normaliseLang maps the first word of a fence's info string to one tag per
// language, because models write the same language many ways.
func normaliseLang(info string) string {
	word, _, _ := strings.Cut(strings.TrimSpace(info), " ")
	word = strings.ToLower(strings.Trim(word, "{}.,"))
	switch word {
	case "go", "golang":
		return LangGo
	case "json", "jsonc", "json5":
		// json5/jsonc allow comments and trailing commas, so they are not
		// checked as strict JSON.
		if word == "json" {
			return LangJSON
		}
		return word
	case "yaml", "yml":
		return LangYAML
	case "toml":
		return LangTOML
	case "sh", "bash", "shell", "zsh", "console", "shell-session":
		return LangShell
	case "py", "python", "python3":
		return LangPython
	case "js", "javascript", "node":
		return LangJS
	case "ts", "typescript":
		return LangTS
	}
	return word
}

// fenceOpen reports whether line opens a fence, returning its indentation,
// fence character, fence length and info string.
func fenceOpen(line string) (indent int, ch byte, n int, info string, ok bool) {
	rest := strings.TrimLeft(line, " \t")
	indent = len(line) - len(rest)
	if len(rest) < 3 || (rest[0] != '`' && rest[0] != '~') {
		return 0, 0, 0, "", false
	}
	ch = rest[0]
	for n < len(rest) && rest[n] == ch {
		n++
	}
	if n < 3 {
		return 0, 0, 0, "", false
	}
	info = rest[n:]
	// CommonMark: a backtick fence's info string may not contain backticks,
	// otherwise ```x``` is inline code, not a fence.
	if ch == '`' && strings.IndexByte(info, '`') >= 0 {
		return 0, 0, 0, "", false
	}
	return indent, ch, n, info, true
}

// isFenceClose reports whether line closes a fence opened with n chars ch.
func isFenceClose(line string, ch byte, n int) bool {
	rest := strings.TrimSpace(line)
	if len(rest) < n {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] != ch {
			return false
		}
	}
	return true
}

// stripIndent removes up to indent leading blanks, so a block nested in a list
// item gets its code back at column 0 while deeper indentation is kept.
func stripIndent(line string, indent int) string {
	i := 0
	for i < indent && i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return line[i:]
}

// ExtractCode returns the fenced blocks (``` or ~~~, possibly indented as in
// list items) of a markdown text. An unterminated fence runs to the end.
func ExtractCode(markdown string) []CodeBlock {
	lines := strings.Split(markdown, "\n")
	var blocks []CodeBlock
	for i := 0; i < len(lines); i++ {
		indent, ch, n, info, ok := fenceOpen(strings.TrimRight(lines[i], "\r"))
		if !ok {
			continue
		}
		start := i + 1
		var body []string
		j := start
		for ; j < len(lines); j++ {
			line := strings.TrimRight(lines[j], "\r")
			if isFenceClose(line, ch, n) {
				break
			}
			body = append(body, stripIndent(line, indent))
		}
		code := strings.Join(body, "\n")
		if len(body) > 0 {
			code += "\n"
		}
		blocks = append(blocks, CodeBlock{Lang: normaliseLang(info), Code: code, StartLine: start + 1})
		i = j
	}
	return blocks
}

// ValidateCode parses a block with the checker of its language.
func ValidateCode(b CodeBlock) CodeResult {
	res := CodeResult{Lang: b.Lang, OK: true}
	if strings.TrimSpace(b.Code) == "" {
		return res // nothing to check
	}
	var err string
	switch b.Lang {
	case LangGo:
		err = checkGo(b.Code)
	case LangJSON:
		err = checkJSON(b.Code)
	case LangYAML:
		err = checkYAML(b.Code)
	case LangTOML:
		err = checkTOML(b.Code)
	default:
		return res
	}
	res.Checked = true
	if err != "" {
		res.OK = false
		res.Err = err
	}
	return res
}

// CodeOK reports whether every checked block is valid.
func CodeOK(results []CodeResult) bool {
	for _, r := range results {
		if r.Checked && !r.OK {
			return false
		}
	}
	return true
}

// goAttempt is one way of reading a Go block: as is, or wrapped so a fragment
// becomes a file. lineShift is how many lines the wrapper adds before it.
type goAttempt struct {
	src       string
	lineShift int
}

// checkGo returns "" when code is a Go file or a fragment of one (declarations
// or statements) that both parses and formats.
func checkGo(code string) string {
	attempts := []goAttempt{{src: code}}
	if !hasPackageClause(code) {
		// Answers usually show fragments; a file parse would always fail on
		// the missing package clause, so try the two usual fragment shapes.
		attempts = []goAttempt{
			{src: "package p\n" + code, lineShift: 1},
			{src: "package p; func _() {\n" + code + "\n}", lineShift: 1},
		}
	}
	var best string
	bestLine := -1
	for _, a := range attempts {
		line, msg := parseGo(a.src)
		if msg == "" {
			if _, err := format.Source([]byte(a.src)); err != nil {
				line, msg = goErrPos(err)
			} else {
				return ""
			}
		}
		line -= a.lineShift
		if line < 1 {
			line = 1
		}
		// The reading that got furthest before failing is the one the author
		// most likely meant, so its error is the useful one.
		if line > bestLine {
			bestLine, best = line, fmt.Sprintf("line %d: %s", line, msg)
		}
	}
	return best
}

// parseGo parses src as a file, returning the first error's line and message.
func parseGo(src string) (int, string) {
	_, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	if err == nil {
		return 0, ""
	}
	return goErrPos(err)
}

func goErrPos(err error) (int, string) {
	var list scanner.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return list[0].Pos.Line, list[0].Msg
	}
	var one *scanner.Error
	if errors.As(err, &one) {
		return one.Pos.Line, one.Msg
	}
	return 0, err.Error()
}

// hasPackageClause reports whether the first token of code is `package`.
func hasPackageClause(code string) bool {
	var s scanner.Scanner
	fset := token.NewFileSet()
	src := []byte(code)
	s.Init(fset.AddFile("", fset.Base(), len(src)), src, nil, 0)
	_, tok, _ := s.Scan()
	return tok == token.PACKAGE
}

func checkJSON(code string) string {
	if json.Valid([]byte(code)) {
		return ""
	}
	var v any
	err := json.Unmarshal([]byte(code), &v)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		// Offset is the byte count read when the error was found, so the
		// offending byte is the one just before it.
		off := int(syn.Offset) - 1
		off = max(0, min(off, len(code)))
		return fmt.Sprintf("line %d: %s", 1+strings.Count(code[:off], "\n"), syn.Error())
	}
	if err != nil {
		return err.Error()
	}
	return "invalid JSON"
}

func checkYAML(code string) string {
	dec := yaml.NewDecoder(strings.NewReader(code))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return yamlErr(err)
		}
	}
}

// yamlErr rewrites yaml.v3's "yaml: line 3: msg" to "line 3: msg".
func yamlErr(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, tail, found := strings.Cut(rest, ":")
		if _, convErr := strconv.Atoi(num); found && convErr == nil {
			return "line " + num + ":" + tail
		}
	}
	return msg
}

func checkTOML(code string) string {
	var v map[string]any
	_, err := toml.NewDecoder(bytes.NewReader([]byte(code))).Decode(&v)
	if err == nil {
		return ""
	}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)
	}
	return err.Error()
}
