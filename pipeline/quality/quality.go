// Package quality computes deterministic quality signals for generated
// question/answer samples, so bad samples can be dropped or regenerated
// without asking an LLM to judge them.
package quality

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Flag is one problem found in a sample.
type Flag struct {
	Kind   string // one of the Flag* constants
	Detail string // what was found, e.g. the identifier or the phrase
}

const (
	FlagUnknownIdentifier = "unknown_identifier" // code-like identifier in the answer absent from Chunk and Context
	FlagEmptyAnswer       = "empty_answer"       // answer is blank
	FlagShortAnswer       = "short_answer"       // fewer than Checker.MinAnswerWords words
	FlagRefusal           = "refusal"            // "As an AI", "I cannot", "I'm sorry, but"...
	FlagMetaTalk          = "meta_talk"          // talks about "the provided code" instead of the code
	FlagRestatesQuestion  = "restates_question"  // short answer made mostly of the question's words
	FlagNotAQuestion      = "not_a_question"     // question does not end with '?'
	FlagOffTopic          = "off_topic"          // question shares no word of substance with the chunk
	FlagDuplicateQuestion = "duplicate_question" // same normalised question as one in Input.Seen
	FlagCodeInvalid       = "code_invalid"       // a fenced block does not parse
)

// DefaultMinAnswerWords is the answer length below which an answer is short.
const DefaultMinAnswerWords = 8

// Restatement thresholds: an answer restates the question when at least
// restateOverlap of its distinct content words come from the question and it
// is no longer than restateMaxRatio times the question (or restateMinWords).
const (
	restateOverlap  = 0.75
	restateMaxRatio = 2
	restateMinWords = 12
)

// Input is one generated sample and what it may legitimately refer to.
type Input struct {
	Question string
	Answer   string
	Chunk    string // the source the sample was generated from
	Language string // language of Chunk (informational)
	// Context is other repository text the answer may name, e.g. the whole
	// file; optional.
	Context string
	// Seen holds the other questions already generated for the same chunk,
	// not including Question itself.
	Seen []string
}

// Checker holds the compiled patterns; create it once with NewChecker and
// share it, Check is safe for concurrent use.
type Checker struct {
	// MinAnswerWords is the word count below which short_answer is raised.
	MinAnswerWords int

	refusal  *regexp.Regexp
	metaTalk *regexp.Regexp
	inline   *regexp.Regexp // `inline code`
	token    *regexp.Regexp // identifier, possibly dotted, possibly with ()
	generic  *regexp.Regexp // [T any] or <T> generic arguments
	callArgs *regexp.Regexp // (args) of a call
}

// NewChecker compiles the patterns once.
func NewChecker() *Checker {
	return &Checker{
		MinAnswerWords: DefaultMinAnswerWords,
		refusal: regexp.MustCompile(`(?i)\b(?:as an ai\b(?: language model)?|` +
			`i (?:cannot|can't|can not|am unable to|'m unable to|am not able to|won't be able to)\b|` +
			`i'?m sorry,? but\b|i am sorry,? but\b|i apologi[sz]e\b|` +
			`i (?:don't|do not) have (?:access|the ability|enough (?:information|context))\b)`),
		metaTalk: regexp.MustCompile(`(?i)\b(?:(?:the|this) (?:provided|given|above|supplied|shown|attached|shared) ` +
			`(?:source code|code snippet|code|snippet|chunk|excerpt|source|file|text)|` +
			`the (?:code|snippet|chunk|excerpt) (?:above|provided|shown|you (?:provided|shared|gave|pasted))|` +
			`(?:in|from) the (?:code|snippet) (?:above|below))\b`),
		inline:   regexp.MustCompile("`([^`\n]+)`"),
		token:    regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?`),
		generic:  regexp.MustCompile(`(?:\[[^\[\]]*\]|<[^<>]*>)$`),
		callArgs: regexp.MustCompile(`\([^()]*\)$`),
	}
}

// Check returns the flags of one sample, sorted by Kind then Detail.
func (c *Checker) Check(in Input) []Flag {
	var flags []Flag
	add := func(kind, detail string) { flags = append(flags, Flag{Kind: kind, Detail: detail}) }

	c.checkQuestion(in, add)

	answer := strings.TrimSpace(in.Answer)
	if answer == "" {
		// Every other answer signal would only repeat this one.
		add(FlagEmptyAnswer, "")
		return sortFlags(flags)
	}
	// Extract from the untrimmed answer so StartLine counts its real lines.
	blocks := ExtractCode(in.Answer)
	prose := removeBlocks(in.Answer, blocks)

	if n := len(strings.Fields(answer)); n < c.MinAnswerWords {
		add(FlagShortAnswer, fmt.Sprintf("%d words", n))
	}
	normalised := normaliseQuotes(prose)
	if m := c.refusal.FindString(normalised); m != "" {
		add(FlagRefusal, strings.ToLower(m))
	}
	if m := c.metaTalk.FindString(normalised); m != "" {
		add(FlagMetaTalk, strings.ToLower(m))
	}
	if detail, ok := c.restatesQuestion(in.Question, answer); ok {
		add(FlagRestatesQuestion, detail)
	}
	for _, b := range blocks {
		if r := ValidateCode(b); r.Checked && !r.OK {
			add(FlagCodeInvalid, fmt.Sprintf("%s block at answer line %d: %s", r.Lang, b.StartLine, r.Err))
		}
	}
	known := c.vocabulary(in.Chunk + "\n" + in.Context)
	for _, id := range c.identifiers(prose) {
		if !known.has(id) {
			add(FlagUnknownIdentifier, id)
		}
	}
	return sortFlags(flags)
}

// checkQuestion raises the flags that depend on the question alone.
func (c *Checker) checkQuestion(in Input, add func(kind, detail string)) {
	q := strings.TrimSpace(in.Question)
	if q == "" {
		add(FlagNotAQuestion, "empty question")
		return
	}
	if !strings.HasSuffix(q, "?") && !strings.HasSuffix(q, "？") {
		add(FlagNotAQuestion, lastRunes(q, 20))
	}
	if norm := normaliseQuestion(q); norm != "" {
		for _, s := range in.Seen {
			if normaliseQuestion(s) == norm {
				add(FlagDuplicateQuestion, s)
				break
			}
		}
	}
	if c.offTopic(q, in.Chunk) {
		add(FlagOffTopic, "no word of the question occurs in the chunk")
	}
}

// offTopic reports whether the question has words of substance and none of
// them occurs in the chunk. A question with no such word ("What does this
// do?") is vague rather than off topic, so it is not flagged here.
func (c *Checker) offTopic(question, chunk string) bool {
	var substance []string
	for _, w := range words(question) {
		lw := strings.ToLower(w)
		if len(lw) >= 3 && !isStopWord(lw) && !isCommonWord(lw) {
			substance = append(substance, w)
		}
	}
	if len(substance) == 0 {
		return false
	}
	known := c.chunkWords(chunk)
	for _, w := range substance {
		lw := strings.ToLower(w)
		if known[lw] || known[strings.TrimSuffix(lw, "s")] || known[strings.TrimSuffix(lw, "es")] || known[lw+"s"] {
			return false
		}
	}
	return true
}

// chunkWords is the lower-cased set of the chunk's identifiers and of their
// CamelCase and snake_case parts, so "token" in a question matches
// ParseToken in the code.
func (c *Checker) chunkWords(chunk string) map[string]bool {
	set := map[string]bool{}
	for _, w := range words(chunk) {
		set[strings.ToLower(w)] = true
		for _, part := range splitIdentifier(w) {
			set[strings.ToLower(part)] = true
		}
	}
	return set
}

// restatesQuestion reports whether a short answer mostly repeats the question.
func (c *Checker) restatesQuestion(question, answer string) (string, bool) {
	qWords := words(strings.ToLower(question))
	aWords := words(strings.ToLower(answer))
	if len(qWords) == 0 || len(aWords) > max(restateMaxRatio*len(qWords), restateMinWords) {
		return "", false
	}
	inQuestion := map[string]bool{}
	for _, w := range qWords {
		inQuestion[w] = true
	}
	content, shared := 0, 0
	seen := map[string]bool{}
	for _, w := range aWords {
		if isStopWord(w) || seen[w] {
			continue
		}
		seen[w] = true
		content++
		if inQuestion[w] {
			shared++
		}
	}
	if content == 0 || float64(shared)/float64(content) < restateOverlap {
		return "", false
	}
	return fmt.Sprintf("%d of %d answer words are from the question", shared, content), true
}

// removeBlocks blanks the fenced blocks of text: prose signals (refusals,
// identifiers) must not fire on code or its comments.
func removeBlocks(text string, blocks []CodeBlock) string {
	if len(blocks) == 0 {
		return text
	}
	lines := strings.Split(text, "\n")
	for _, b := range blocks {
		// The fence line itself is StartLine-1; the closing fence follows the code.
		from := b.StartLine - 2
		to := b.StartLine - 1 + strings.Count(b.Code, "\n") + 1
		for i := max(from, 0); i < min(to, len(lines)); i++ {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// normaliseQuotes turns typographic apostrophes into ASCII ones so one
// pattern matches "I can’t" and "I can't".
func normaliseQuotes(s string) string {
	return strings.NewReplacer("\u2019", "'", "\u2018", "'").Replace(s)
}

// normaliseQuestion lower-cases a question and keeps only its letters and
// digits separated by single spaces, so punctuation or case never hides a
// duplicate.
func normaliseQuestion(q string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(q) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r > 127 && r != '？' {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		} else {
			space = true
		}
	}
	return b.String()
}

func lastRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n:])
}

func sortFlags(flags []Flag) []Flag {
	sort.Slice(flags, func(i, j int) bool {
		if flags[i].Kind != flags[j].Kind {
			return flags[i].Kind < flags[j].Kind
		}
		return flags[i].Detail < flags[j].Detail
	})
	out := flags[:0]
	for i, f := range flags {
		if i == 0 || f != flags[i-1] {
			out = append(out, f)
		}
	}
	return out
}

// words returns the ASCII identifier-shaped words ([A-Za-z_][A-Za-z0-9_]*) of
// s. A hand-written scan: this runs over the whole Context of every sample and
// is several times faster than the equivalent regexp.
func words(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		if !isWordStart(s[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && (isWordStart(s[j]) || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		// A word glued to a preceding digit (3rd) is not an identifier.
		if i == 0 || !(s[i-1] >= '0' && s[i-1] <= '9') {
			out = append(out, s[i:j])
		}
		i = j
	}
	return out
}

func isWordStart(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
