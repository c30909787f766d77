package sim

import (
	"hash/fnv"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// lexicon holds the immutable word lists and patterns of the content
// generator. Each Server builds its own (the package has no globals).
type lexicon struct {
	identRE   *regexp.Regexp
	codeRE    *regexp.Regexp
	wordRE    *regexp.Regexp
	countRE   *regexp.Regexp
	stop      map[string]bool
	qVerbs    map[string]bool
	qLead     map[string]bool
	numWords  map[string]int
	questions []string // templates with {a} and {b}
	sentences []string // templates with {a}, {b}, {act}, {act3}
	plain     []string // sentences for when no identifier is known
	acts      [][2]string
	genericA  []string
	genericB  []string
	phrases   []string // templates with {a}
}

func newLexicon() *lexicon {
	lx := &lexicon{
		identRE: regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]{2,}`),
		codeRE:  regexp.MustCompile("(?s)```.*?(?:```|\\z)|`[^`\n]+`"),
		wordRE:  regexp.MustCompile(`\S+`),
		countRE: regexp.MustCompile(`(?i)\b(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty)\s+(?:[a-z/-]+\s+){0,3}?questions?\b`),
		stop:    map[string]bool{},
		qVerbs:  map[string]bool{},
		qLead:   map[string]bool{},
	}
	for _, w := range strings.Fields(stopWords) {
		lx.stop[w] = true
	}
	for _, w := range strings.Fields("list lists listing write writes writing generate generates generating ask asks asking give gives create creates creating produce produces producing propose proposes suggest suggests draft drafts formulate formulates compose composes prepare prepares provide provides") {
		lx.qVerbs[w] = true
	}
	for _, w := range strings.Fields("please to you that who which and then will should must can shall would could just now also first") {
		lx.qLead[w] = true
	}
	lx.numWords = map[string]int{}
	for i, w := range strings.Fields("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty") {
		lx.numWords[w] = i + 1
	}
	lx.questions = []string{
		"What does {a} do when {b} is empty?",
		"How does {a} handle an error returned by {b}?",
		"Why does {a} take {b} as an argument?",
		"What happens if {a} is called before {b} is initialised?",
		"How would you write a unit test for {a}?",
		"What is the purpose of {a} in this code?",
		"When should {a} be used instead of {b}?",
		"What invariants does {a} rely on?",
		"How does {a} interact with {b}?",
		"What does {a} return when its input is invalid?",
		"Is it safe to call {a} concurrently?",
		"What are the side effects of calling {a}?",
		"How could {a} be simplified without changing its behaviour?",
		"Which edge cases does {a} not handle?",
		"What would break if {b} were removed from {a}?",
		"How does {a} report failures to its caller?",
		"What is the time complexity of {a}?",
		"Where is {a} called, and with which arguments?",
		"Why does {a} copy {b} instead of sharing it?",
		"How does {a} behave when {b} is missing?",
		"What does the name {a} suggest about its role?",
		"How does {a} keep {b} consistent?",
		"What assumptions does {a} make about {b}?",
		"How would you extend {a} to support a new case?",
	}
	lx.sentences = []string{
		"{a} is responsible for {act}.",
		"It relies on {b} for {act}.",
		"When {b} fails, {a} returns the error to its caller instead of ignoring it.",
		"The result of {b} is checked before {a} continues.",
		"Note that {a} assumes {b} has already been initialised.",
		"If the input is empty, {a} returns early without touching {b}.",
		"This keeps {a} small and easy to test in isolation.",
		"The loop in {a} stops as soon as {b} reports that there is nothing left to do.",
		"Because {a} holds no global state, it can be called from several places safely.",
		"In short, {a} keeps {b} consistent with the rest of the program.",
		"A caller should treat the value returned by {a} as read-only.",
		"The name {a} reflects that it only {act3}.",
		"{b} is passed in explicitly, which makes the dependency visible.",
		"Errors from {b} are wrapped with enough context to find the failing step.",
		"Together, {a} and {b} form the core of this part of the code.",
		"The tests exercise {a} with both valid and invalid values of {b}.",
	}
	lx.plain = []string{
		"The short answer depends on how the surrounding code uses it.",
		"In general, the input is validated before any work is done.",
		"Errors are returned to the caller rather than being ignored.",
		"State is kept local, which makes the behaviour easy to test.",
		"Edge cases such as empty input are handled explicitly.",
		"A small example makes the behaviour easier to follow.",
		"The design favours clarity over cleverness.",
		"Callers should check the returned error before using the result.",
		"This keeps the module small and its dependencies visible.",
		"Nothing here relies on global state.",
		"Resources are released as soon as the work is done.",
		"Retrying is left to the caller, which knows the context best.",
	}
	lx.acts = [][2]string{
		{"validating the input before it is used", "validates the input before it is used"},
		{"building the request that is sent downstream", "builds the request that is sent downstream"},
		{"parsing the configuration", "parses the configuration"},
		{"tracking state between calls", "tracks state between calls"},
		{"converting raw data into a typed value", "converts raw data into a typed value"},
		{"releasing resources when the work is done", "releases resources when the work is done"},
		{"retrying transient failures", "retries transient failures"},
		{"formatting the result for the caller", "formats the result for the caller"},
	}
	lx.genericA = []string{"this function", "the main loop", "this module", "the error handling", "the configuration loader"}
	lx.genericB = []string{"the input", "the caller", "the configuration", "the result", "the cache"}
	lx.phrases = []string{"{a} handling", "the {a} path", "usage of {a}", "{a} behaviour", "the role of {a}", "{a} and its callers"}
	return lx
}

// stopWords are skipped when picking identifiers: common English words and
// keywords of common programming languages.
const stopWords = `the and for are but not you all any can had her was one our out day get has him his how man new now old see two way who boy did its let put say she too use
that with have this will your from they know want been good much some time very when come here just like long make many more only over such take than them well were
what which their there would about could other into these those then also each does done doing should must might shall being because while where after before under
between through during without within again further once both few most own same than too very can will just don should now any every either neither nor yet still
let's its it's i'm we're they're isn't aren't wasn't weren't hasn't haven't doesn't don't didn't won't can't couldn't shouldn't
question questions answer answers code file files function functions method methods class classes value values return returns returned type types variable variables
example examples following follow please write list generate ask give create produce explain describe using used uses use make made call calls called
string int bool true false nil null none self this func var const package import from def elif else if for while break continue switch case default
struct interface map chan go defer select range type public private protected static void new delete try catch finally throw throws raise except pass lambda
yield async await function let var export require module class extends implements super enum trait impl pub mut match loop where crate
byte rune float32 float64 int8 int16 int32 int64 uint uint8 uint16 uint32 uint64 uintptr error len cap append make panic recover print println
number boolean object undefined string char double long short unsigned signed typedef sizeof include define ifdef endif
json yaml http https www com org line lines text data user system assistant content role message messages
`

// gen generates the content of one answer, deterministically from its seed.
type gen struct {
	lx           *lexicon
	rng          *rand.Rand
	idents       []string
	lang         string
	askQ         bool
	qCount       int
	answerTokens int
	qPerm        []int
	qSeq         int
	qSeen        map[string]bool
	sPerm        []int
	sSeq         int
	iSeq         int
}

// generate produces the text of the answer to rq: schema-valid JSON, a
// numbered list of questions, or prose.
func (s *Server) generate(rq *chatRequest, prompt string) string {
	g := newGen(s.lex, s.cfg.Seed, prompt, rq.messages, s.cfg.AnswerTokens)
	switch {
	case rq.jsonMode:
		return g.json(rq.schema)
	case g.askQ:
		return g.questionList(g.qCount)
	default:
		return g.answer(g.answerTokens, true)
	}
}

func newGen(lx *lexicon, seed int64, prompt string, msgs []Message, answerTokens int) *gen {
	h := fnv.New64a()
	_, _ = h.Write([]byte(prompt))
	x := h.Sum64() ^ (uint64(seed) * 0x9e3779b97f4a7c15)
	g := &gen{
		lx:           lx,
		rng:          rand.New(rand.NewPCG(x, x>>17|1)),
		answerTokens: answerTokens,
		qSeen:        map[string]bool{},
	}
	var system, lastUser, all strings.Builder
	lastUserIdx := -1
	for i, m := range msgs {
		all.WriteString(m.Content)
		all.WriteByte('\n')
		switch m.Role {
		case "system", "developer":
			system.WriteString(m.Content)
			system.WriteByte('\n')
		case "user":
			lastUserIdx = i
		}
	}
	if lastUserIdx < 0 && len(msgs) > 0 {
		lastUserIdx = len(msgs) - 1
	}
	if lastUserIdx >= 0 {
		lastUser.WriteString(msgs[lastUserIdx].Content)
	}
	g.idents = lx.extractIdents(lastUser.String())
	if len(g.idents) < 3 { // add the conversation's (e.g. code in the system prompt)
		for _, id := range lx.extractIdents(all.String()) {
			if len(g.idents) < 8 && !slices.Contains(g.idents, id) {
				g.idents = append(g.idents, id)
			}
		}
	}
	if len(g.idents) > 1 { // pick a deterministic rotation
		k := g.rng.IntN(len(g.idents))
		g.idents = append(g.idents[k:], g.idents[:k]...)
	}
	g.lang = detectLang(all.String())
	var n int
	g.askQ, n = lx.detectQuestions(lastUser.String())
	if !g.askQ {
		g.askQ, n = lx.detectQuestions(system.String())
	}
	if n == 0 {
		n = lx.countQuestions(lastUser.String())
	}
	if n == 0 {
		n = lx.countQuestions(system.String())
	}
	if n == 0 {
		n = 5
	}
	g.qCount = n
	g.qPerm = g.rng.Perm(len(lx.questions))
	g.sPerm = g.rng.Perm(len(lx.sentences))
	if len(g.idents) == 0 {
		g.sPerm = g.rng.Perm(len(lx.plain))
	}
	return g
}

// extractIdents returns up to 8 identifiers of text. Code-looking words
// (camelCase, snake_case, digits, calls, selectors) rank first, by
// frequency; plain words count only inside code (fences or backticks) and
// only when fewer than three code-looking words exist. Prose words are never
// taken for identifiers.
func (lx *lexicon) extractIdents(text string) []string {
	type cand struct {
		word         string
		count, first int
		strength     int // 2 code-looking, 1 inside code, 0 prose
	}
	spans := lx.codeRE.FindAllStringIndex(text, -1)
	inCode := func(pos int) bool {
		for _, sp := range spans {
			if pos >= sp[0] && pos < sp[1] {
				return true
			}
		}
		return false
	}
	byWord := map[string]*cand{}
	var order []*cand
	for _, loc := range lx.identRE.FindAllStringIndex(text, -1) {
		w := text[loc[0]:loc[1]]
		if loc[0] > 0 && isIdentByte(text[loc[0]-1]) {
			continue // tail of a longer token such as 9abc
		}
		if lx.stop[strings.ToLower(w)] || strings.Trim(w, "_") == "" {
			continue
		}
		c := byWord[w]
		if c == nil {
			c = &cand{word: w, first: loc[0]}
			byWord[w] = c
			order = append(order, c)
		}
		c.count++
		switch {
		case looksLikeCode(w) || (loc[1] < len(text) && text[loc[1]] == '(') || (loc[0] > 0 && text[loc[0]-1] == '.'):
			c.strength = 2
		case c.strength == 0 && len(w) >= 4 && inCode(loc[0]):
			c.strength = 1
		}
	}
	slices.SortStableFunc(order, func(a, b *cand) int {
		if a.strength != b.strength {
			return b.strength - a.strength
		}
		if a.count != b.count {
			return b.count - a.count
		}
		return a.first - b.first
	})
	strong := 0
	for _, c := range order {
		if c.strength == 2 {
			strong++
		}
	}
	var out []string
	for _, c := range order {
		if len(out) == 8 || c.strength == 0 || (c.strength == 1 && strong >= 3) {
			break
		}
		out = append(out, c.word)
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func looksLikeCode(w string) bool {
	for i, r := range w {
		if r == '_' || unicode.IsDigit(r) || (i > 0 && unicode.IsUpper(r)) {
			return true
		}
	}
	return false
}

func detectLang(text string) string {
	switch {
	case strings.Contains(text, "func ") && (strings.Contains(text, "package ") || strings.Contains(text, ":=")):
		return "go"
	case strings.Contains(text, "def ") && strings.Contains(text, ":"):
		return "python"
	case strings.Contains(text, "fn ") && strings.Contains(text, "let "):
		return "rust"
	case strings.Contains(text, "function ") || strings.Contains(text, "=>") || strings.Contains(text, "const "):
		return "javascript"
	}
	return ""
}

// detectQuestions reports whether text asks for questions to be written: an
// imperative verb (list, write, generate, ask, ...) at the start of a
// sentence or after "please", "to", "you", ... followed within eight words
// by "question(s)" with no "answer" in between. It also returns a count
// (1..20) written inside that phrase, or 0.
func (lx *lexicon) detectQuestions(text string) (bool, int) {
	lower := strings.ToLower(text)
	locs := lx.wordRE.FindAllStringIndex(lower, -1)
	words := make([]string, len(locs))
	for i, l := range locs {
		words[i] = lower[l[0]:l[1]]
	}
	for i, raw := range words {
		if !lx.qVerbs[strings.Trim(raw, `.,;:!?"'()*`)] {
			continue
		}
		lead := i == 0
		if i > 0 {
			prev := words[i-1]
			gap := lower[locs[i-1][1]:locs[i][0]]
			lead = strings.Contains(gap, "\n") || strings.ContainsAny(prev[len(prev)-1:], ".!?:;") ||
				lx.qLead[strings.Trim(prev, `.,;:!?"'()*`)]
		}
		if !lead {
			continue
		}
		num := 0
		for j := i + 1; j < len(words) && j <= i+8; j++ {
			w := strings.Trim(words[j], `.,;:!?"'()*`)
			if strings.HasPrefix(w, "answer") {
				break
			}
			if n := lx.parseCount(w); n > 0 {
				num = n
			}
			if strings.Contains(w, "question") {
				return true, num
			}
		}
	}
	return false, 0
}

// parseCount reads "5", "1-3" (the upper bound) or "five"; 0 if none or out of 1..20.
func (lx *lexicon) parseCount(w string) int {
	if n, ok := lx.numWords[w]; ok {
		return n
	}
	n := 0
	for _, p := range strings.Split(w, "-") {
		v, err := strconv.Atoi(p)
		if err != nil {
			return 0
		}
		n = v
	}
	if n < 1 || n > 20 {
		return 0
	}
	return n
}

// countQuestions finds "N questions" anywhere in text.
func (lx *lexicon) countQuestions(text string) int {
	m := lx.countRE.FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	return lx.parseCount(strings.ToLower(m[1]))
}

// --- text pieces --------------------------------------------------------------

func (g *gen) nextIdent() (string, bool) {
	if len(g.idents) == 0 {
		return "", false
	}
	id := g.idents[g.iSeq%len(g.idents)]
	g.iSeq++
	return id, true
}

// pair returns two mentions (in backticks when they are identifiers).
func (g *gen) pair(k int) (string, string) {
	lx := g.lx
	if len(g.idents) == 0 {
		return lx.genericA[k%len(lx.genericA)], lx.genericB[(k+1)%len(lx.genericB)]
	}
	a := "`" + g.idents[k%len(g.idents)] + "`"
	if len(g.idents) == 1 {
		return a, lx.genericB[k%len(lx.genericB)]
	}
	return a, "`" + g.idents[(k+1)%len(g.idents)] + "`"
}

func fill(tpl, a, b string, act [2]string) string {
	r := strings.NewReplacer("{a}", a, "{b}", b, "{act}", act[0], "{act3}", act[1])
	out := r.Replace(tpl)
	if out != "" && out[0] >= 'a' && out[0] <= 'z' {
		out = strings.ToUpper(out[:1]) + out[1:]
	}
	return out
}

// question returns the next question, distinct from the previous ones.
func (g *gen) question() string {
	lx := g.lx
	var q string
	for attempt := 0; attempt <= 2*len(lx.questions); attempt++ {
		k := g.qSeq
		g.qSeq++
		a, b := g.pair(k + k/len(g.qPerm))
		q = fill(lx.questions[g.qPerm[k%len(g.qPerm)]], a, b, [2]string{})
		if !g.qSeen[q] {
			break
		}
	}
	g.qSeen[q] = true
	return q
}

func (g *gen) questionList(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte('\n')
		}
		b.WriteString(strconv.Itoa(i))
		b.WriteString(". ")
		b.WriteString(g.question())
	}
	return b.String()
}

func (g *gen) sentence() string {
	lx := g.lx
	k := g.sSeq
	g.sSeq++
	if len(g.idents) == 0 {
		return lx.plain[g.sPerm[k%len(g.sPerm)]]
	}
	a, b := g.pair(k)
	return fill(lx.sentences[g.sPerm[k%len(g.sPerm)]], a, b, lx.acts[(k+g.qPerm[0])%len(lx.acts)])
}

func (g *gen) codeBlock() string {
	a, ok := g.nextIdent()
	if !ok {
		return ""
	}
	b, _ := g.nextIdent()
	if b == a || b == "" {
		b = "input"
	}
	switch g.lang {
	case "go":
		return "```go\nif err := " + a + "(" + b + "); err != nil {\n\treturn err\n}\n```"
	case "python":
		return "```python\nresult = " + a + "(" + b + ")\nif result is None:\n    raise ValueError(\"" + a + " failed\")\n```"
	case "rust":
		return "```rust\nlet result = " + a + "(&" + b + ")?;\n```"
	case "javascript":
		return "```javascript\nconst result = " + a + "(" + b + ");\nif (!result) {\n  throw new Error(\"" + a + " failed\");\n}\n```"
	}
	return "```\n" + a + "(" + b + ")\n```"
}

// answer writes prose of about target tokens, in paragraphs of three
// sentences, optionally with a short fenced code block.
func (g *gen) answer(target int, allowCode bool) string {
	var b strings.Builder
	n := 0
	code := allowCode && len(g.idents) > 0 && target >= 48 && g.rng.IntN(5) < 2
	sep := ""
	for i := 0; n < target; i++ {
		piece := sep + g.sentence()
		b.WriteString(piece)
		n += len(tokenize(piece))
		sep = " "
		if i%3 == 2 {
			sep = "\n\n"
		}
		if code && i == 1 && n < target {
			blk := "\n\n" + g.codeBlock()
			b.WriteString(blk)
			n += len(tokenize(blk))
			sep = "\n\n"
			code = false
		}
	}
	return b.String()
}

func (g *gen) phrase() string {
	a, ok := g.nextIdent()
	if !ok {
		a = g.lx.genericB[g.rng.IntN(len(g.lx.genericB))]
	}
	return strings.NewReplacer("{a}", a).Replace(g.lx.phrases[g.rng.IntN(len(g.lx.phrases))])
}

func (g *gen) path() string {
	a, ok := g.nextIdent()
	if !ok {
		a = "main"
	}
	ext := map[string]string{"go": ".go", "python": ".py", "rust": ".rs", "javascript": ".js"}[g.lang]
	if ext == "" {
		ext = ".txt"
	}
	return "src/" + strings.ToLower(a) + ext
}

func (g *gen) codeLine() string {
	a, ok := g.nextIdent()
	if !ok {
		return "run(input)"
	}
	return a + "(input)"
}
