package redact

import (
	"embed"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/BurntSushi/toml"
)

// ruleFiles holds gitleaks' default rules (gitleaks.toml, unchanged) and
// cicdllm's additions in the same format (extra.toml).
//
//go:embed gitleaks.toml extra.toml
var ruleFiles embed.FS

// tomlConfig is the part of the gitleaks configuration format this package
// understands. Any other key makes New fail, so a future gitleaks.toml that
// relies on a feature not implemented here (composite "required" rules, for
// one) cannot be silently half-applied.
type tomlConfig struct {
	Title      string        `toml:"title"`
	MinVersion string        `toml:"minVersion"`
	Allowlist  tomlAllowlist `toml:"allowlist"`
	Rules      []tomlRule    `toml:"rules"`
}

type tomlRule struct {
	ID          string          `toml:"id"`
	Description string          `toml:"description"`
	Regex       string          `toml:"regex"`
	Path        string          `toml:"path"`
	SecretGroup int             `toml:"secretGroup"`
	Entropy     float64         `toml:"entropy"`
	Keywords    []string        `toml:"keywords"`
	Tags        []string        `toml:"tags"`
	Allowlists  []tomlAllowlist `toml:"allowlists"`
}

type tomlAllowlist struct {
	Description string   `toml:"description"`
	Condition   string   `toml:"condition"`
	Paths       []string `toml:"paths"`
	RegexTarget string   `toml:"regexTarget"`
	Regexes     []string `toml:"regexes"`
	StopWords   []string `toml:"stopwords"`
}

// What an allowlist's regexes are matched against (gitleaks' regexTarget).
type target uint8

const (
	targetSecret target = iota // the secret (capture group), the default
	targetMatch                // the whole regex match
	targetLine                 // the line(s) holding the match
)

// allowlist is a compiled gitleaks allowlist. Paths are kept only as a
// flag: a text has no path here, so a path condition never holds (as in
// gitleaks when it scans a fragment without a file name).
type allowlist struct {
	target   target
	and      bool           // condition = "AND": every present check must hold
	hasPaths bool           // only matters under AND, where it makes the list inert
	re       *regexp.Regexp // the regexes joined with |, nil if none
	stop     *automaton     // the stopwords, nil if none
}

// How a rule's findings are vetted for placeholders (placeholder.go).
type class uint8

const (
	classToken    class = iota // a fixed-format token: only clear placeholders are spared
	classBlock                 // a multi-line block (private keys): no word checks
	classGeneric               // keyword = value guesses: the noisy class, more lenient
	classPassword              // url-password: default passwords and templates are spared
	classEmail                 // e-mail addresses: exemptions in emailExempt
)

// rule is one compiled detection rule.
type rule struct {
	id         string
	src        string         // the regex as written in the rule file
	re         *regexp.Regexp // src, or src without its lazy opening (lead)
	group      int            // gitleaks secretGroup; 0 = the first non-empty group
	wholeMatch bool           // redact the whole match: the groups only name alternatives (jwt-base64)
	entropy    float64
	keywords   []string
	allow      []allowlist
	class      class
	// A match lies within before lines above and after lines below the
	// line of one of its keywords; -1 = up to the start or end of the text.
	before, after int
	// lead: the rule's regex began with a lazy [class]{0,leadMax}? that
	// re no longer has (see splitLead); each match is extended left over
	// up to leadMax characters of the class instead.
	lead    []rune // class ranges (pairs); nil = none
	leadMax int
	// anchored, when set, is re anchored at its start (without a leading
	// \b, which wordStart then asks for): every match of the rule begins
	// with one of its keywords, so it is tried only where a keyword starts
	// (see anchorAtKeywords).
	anchored  *regexp.Regexp
	wordStart bool
	quick     *quickCheck // a cheap test before anchored, nil if none
	// also: words (lower-case) that must all occur in the text besides a
	// keyword, or the rule cannot match (see requiredWords).
	also []string
}

// Rule ids with behaviour that cannot be read from the rule file.
const (
	ruleGeneric    = "generic-api-key"
	rulePrivateKey = "private-key"
	ruleK8sSecret  = "kubernetes-secret-yaml"
	ruleURLPass    = "url-password"
	ruleEmail      = "email"
	ruleAuthHeader = "authorization-header"
	ruleQuotedPass = "quoted-password"
	ruleK8sEnv     = "kubernetes-env-value"
)

// loadRules parses and compiles the embedded rule files.
func loadRules(emails bool) (rules []rule, global []allowlist, err error) {
	for _, name := range []string{"gitleaks.toml", "extra.toml"} {
		data, err := ruleFiles.ReadFile(name)
		if err != nil {
			return nil, nil, fmt.Errorf("redaction rules: %w", err)
		}
		r, g, err := parseRuleFile(name, data, emails)
		if err != nil {
			return nil, nil, err
		}
		rules, global = append(rules, r...), append(global, g...)
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.id] {
			return nil, nil, fmt.Errorf("redaction rules: rule %q is defined twice", r.id)
		}
		seen[r.id] = true
	}
	return rules, global, nil
}

// parseRuleFile compiles one rule file in gitleaks' format.
func parseRuleFile(name string, data []byte, emails bool) (rules []rule, global []allowlist, err error) {
	var cfg tomlConfig
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("redaction rules: %s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, nil, fmt.Errorf("redaction rules: %s: unsupported setting %q", name, und[0].String())
	}
	if len(cfg.Allowlist.Paths)+len(cfg.Allowlist.Regexes)+len(cfg.Allowlist.StopWords) > 0 {
		a, err := compileAllowlist(cfg.Allowlist)
		if err != nil {
			return nil, nil, fmt.Errorf("redaction rules: %s: global allowlist: %w", name, err)
		}
		global = append(global, a)
	}
	for _, tr := range cfg.Rules {
		if tr.ID == ruleEmail && !emails {
			continue
		}
		r, ok, err := compileRule(tr)
		if err != nil {
			return nil, nil, fmt.Errorf("redaction rules: %s: rule %q: %w", name, tr.ID, err)
		}
		if ok {
			rules = append(rules, r)
		}
	}
	return rules, global, nil
}

// compileRule compiles a rule; ok is false for rules that cannot apply to
// a text without a path (see pathRuleApplies).
func compileRule(tr tomlRule) (r rule, ok bool, err error) {
	if tr.ID == "" {
		return rule{}, false, fmt.Errorf("a rule has no id")
	}
	if tr.Regex == "" || (tr.Path != "" && !pathRuleApplies(tr.ID)) {
		return rule{}, false, nil
	}
	re, err := regexp.Compile(tr.Regex)
	if err != nil {
		return rule{}, false, fmt.Errorf("compile regex: %w", err)
	}
	if tr.SecretGroup > re.NumSubexp() {
		return rule{}, false, fmt.Errorf("secretGroup %d but the regex has %d groups", tr.SecretGroup, re.NumSubexp())
	}
	if len(tr.Keywords) == 0 {
		// Every content rule of gitleaks v8.30.1 has keywords; one without
		// would have to run on every text, which the windowing below does
		// not support.
		return rule{}, false, fmt.Errorf("a rule without keywords is not supported")
	}
	r = rule{id: tr.ID, src: tr.Regex, re: re, group: tr.SecretGroup, entropy: tr.Entropy, class: classOf(tr.ID), also: requiredWords(tr.ID)}
	for _, k := range tr.Keywords {
		r.keywords = append(r.keywords, strings.ToLower(k))
	}
	for _, name := range re.SubexpNames() {
		if name != "" && tr.SecretGroup == 0 {
			r.wholeMatch = true
		}
	}
	for _, ta := range tr.Allowlists {
		a, err := compileAllowlist(ta)
		if err != nil {
			return rule{}, false, fmt.Errorf("allowlist: %w", err)
		}
		r.allow = append(r.allow, a)
	}
	parsed, err := syntax.Parse(tr.Regex, syntax.Perl)
	if err != nil {
		return rule{}, false, fmt.Errorf("parse regex: %w", err)
	}
	r.before, r.after = reach(tr.ID, parsed, r.keywords)
	if lead, rest, ok := splitLead(parsed); ok {
		core, err := regexp.Compile(rest)
		if err != nil || core.NumSubexp() != re.NumSubexp() {
			return rule{}, false, fmt.Errorf("strip the leading %s: %v", lead, err)
		}
		r.re, r.lead, r.leadMax = core, lead.Sub[0].Rune, lead.Max
		cp := *parsed
		cp.Sub = parsed.Sub[1:]
		parsed = &cp
	}
	if expr, body, wb, ok := anchorAtKeywords(parsed, r.keywords); ok && r.before >= 0 {
		a, err := regexp.Compile(expr)
		if err != nil || a.NumSubexp() != re.NumSubexp() {
			return rule{}, false, fmt.Errorf("anchor the regex: %v", err)
		}
		r.anchored, r.wordStart, r.quick = a, wb, newQuickCheck(body)
	}
	return r, true, nil
}

// anchorAtKeywords returns the regex anchored at its start when every
// match must begin with one of the keywords. Such a rule need not be
// searched for: it is tried at each keyword position only, which is what
// makes generic-api-key (keywords "key", "token", "api"... in most lines
// of code) affordable. A leading \b is dropped from the regex (a match
// on a substring cannot see the byte before it) and reported as wb.
func anchorAtKeywords(re *syntax.Regexp, keywords []string) (expr string, body []*syntax.Regexp, wb, ok bool) {
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	if len(subs) > 0 && subs[0].Op == syntax.OpWordBoundary {
		wb, subs = true, subs[1:]
	}
	if len(subs) == 0 {
		return "", nil, false, false
	}
	cat := &syntax.Regexp{Op: syntax.OpConcat, Sub: subs, Flags: re.Flags}
	prefixes, _ := literalPrefixes(cat)
	if len(prefixes) == 0 || !allHaveKeyword(prefixes, keywords) {
		return "", nil, false, false
	}
	return "^(?:" + cat.String() + ")", subs, wb, true
}

// maxPrefixes bounds the enumeration in literalPrefixes.
const maxPrefixes = 256

// literalPrefixes returns lower-case strings such that every match of re
// starts with one of them (complete: every match is one of them). An
// empty result means no useful prefix is known.
func literalPrefixes(re *syntax.Regexp) (prefixes []string, complete bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(re.Rune))}, true
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i+1]-re.Rune[i] >= 16 {
				return nil, false
			}
			for c := re.Rune[i]; c <= re.Rune[i+1]; c++ {
				out = appendUnique(out, strings.ToLower(string(c)))
			}
		}
		return out, len(out) > 0
	case syntax.OpCapture:
		return literalPrefixes(re.Sub[0])
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpQuest:
		p, c := literalPrefixes(re.Sub[0])
		if len(p) == 0 {
			return nil, false
		}
		return appendUnique(p, ""), c
	case syntax.OpRepeat, syntax.OpPlus:
		if re.Op == syntax.OpRepeat && re.Min == 0 {
			return nil, false
		}
		p, _ := literalPrefixes(re.Sub[0])
		return p, false
	case syntax.OpAlternate:
		var out []string
		all := true
		for _, s := range re.Sub {
			p, c := literalPrefixes(s)
			if len(p) == 0 {
				return nil, false
			}
			for _, x := range p {
				out = appendUnique(out, x)
			}
			all = all && c
		}
		return out, all
	case syntax.OpConcat:
		out := []string{""}
		for _, s := range re.Sub {
			p, c := literalPrefixes(s)
			if len(p) == 0 {
				return trimEmpty(out), false
			}
			if len(out)*len(p) > maxPrefixes {
				return trimEmpty(out), false
			}
			var next []string
			for _, a := range out {
				for _, b := range p {
					next = appendUnique(next, a+b)
				}
			}
			out = next
			if !c {
				return trimEmpty(out), false
			}
		}
		return out, true
	}
	return nil, false
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// trimEmpty: a prefix set containing "" says nothing.
func trimEmpty(p []string) []string {
	for _, x := range p {
		if x == "" {
			return nil
		}
	}
	return p
}

// splitLead recognises gitleaks' keyword-rule opening, a lazy
// [\w.-]{0,50}? before the keyword, and returns it with the rest of the
// regex. Go's regexp runs such an opening as up to 50 threads at every
// byte (a fivefold slowdown of the whole scan); matching the rest and
// then walking left over the class gives the same matches: the lazy
// repeat only moves the start of a match back to the start of the name
// around the keyword, which allowlists with regexTarget = "match" see.
func splitLead(re *syntax.Regexp) (lead *syntax.Regexp, rest string, ok bool) {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil, "", false
	}
	l := re.Sub[0]
	if l.Op != syntax.OpRepeat || l.Min != 0 || l.Max <= 0 || l.Flags&syntax.NonGreedy == 0 ||
		l.Sub[0].Op != syntax.OpCharClass || maxNewlines(l) != 0 {
		return nil, "", false
	}
	cp := *re
	cp.Sub = re.Sub[1:]
	return l, cp.String(), true
}

// pathRuleApplies says which gitleaks rules with a path condition still
// run on text without a path. gitleaks itself skips them when it has no
// file name; cicdllm redacts chunks, not files, so it decides per rule:
//   - freemius-secret-key (.php) and nuget-config-password (nuget.config)
//     have regexes specific enough to be safe anywhere;
//   - kubernetes-secret-yaml (.yaml) needs "kind: Secret" and "data:" in
//     the match, which is specific enough, and Secret manifests also appear
//     in Markdown and Helm templates;
//   - hashicorp-tf-password (.tf/.hcl) accepts any 8-character quoted
//     password with entropy above 2 ("changeme1"), which outside Terraform
//     files would mostly hit tests and examples; generic-api-key covers
//     real passwords there.
//
// pkcs12-file has a path and no regex: CredentialFile covers it.
func pathRuleApplies(id string) bool {
	switch id {
	case "freemius-secret-key", "nuget-config-password", ruleK8sSecret:
		return true
	}
	return false
}

// requiredWords names literal parts of a rule's regex that its keywords
// leave out. kubernetes-secret-yaml's keyword is "secret", common in any
// code, and the rule then scans the whole text (its match can start far
// above the keyword); a Secret manifest also has "kind:" and "data:".
func requiredWords(id string) []string {
	if id == ruleK8sSecret {
		return []string{"kind:", "data:"}
	}
	return nil
}

func classOf(id string) class {
	switch id {
	case ruleGeneric, ruleAuthHeader, ruleQuotedPass, ruleK8sEnv:
		return classGeneric
	case rulePrivateKey:
		return classBlock
	case ruleURLPass:
		return classPassword
	case ruleEmail:
		return classEmail
	}
	return classToken
}

func compileAllowlist(ta tomlAllowlist) (allowlist, error) {
	var a allowlist
	switch ta.RegexTarget {
	case "":
	case "match":
		a.target = targetMatch
	case "line":
		a.target = targetLine
	default:
		return a, fmt.Errorf("unknown regexTarget %q", ta.RegexTarget)
	}
	switch strings.ToUpper(ta.Condition) {
	case "", "OR":
	case "AND":
		a.and = true
	default:
		return a, fmt.Errorf("unknown condition %q", ta.Condition)
	}
	a.hasPaths = len(ta.Paths) > 0
	for _, p := range ta.Paths {
		if _, err := regexp.Compile(p); err != nil {
			return a, fmt.Errorf("compile path %q: %w", p, err)
		}
	}
	if len(ta.Regexes) > 0 {
		// Joined like gitleaks does (joinRegexOr): one pass instead of many.
		re, err := regexp.Compile("(?:" + strings.Join(ta.Regexes, "|") + ")")
		if err != nil {
			return a, fmt.Errorf("compile regexes: %w", err)
		}
		a.re = re
	}
	if len(ta.StopWords) > 0 {
		words := make([]string, 0, len(ta.StopWords))
		for _, w := range ta.StopWords {
			if w = strings.ToLower(w); w != "" {
				words = append(words, w)
			}
		}
		a.stop = newAutomaton(words)
	}
	return a, nil
}

// reach bounds how many lines above and below its keyword's line a match
// of the rule can extend, so the rule runs on those lines only. It rests
// on gitleaks' convention that a rule's keyword is part of what it
// matches; the few rules whose keyword is only context are scanned whole.
func reach(id string, re *syntax.Regexp, keywords []string) (before, after int) {
	switch id {
	case "airtable-personnal-access-token", "facebook-access-token", "sourcegraph-access-token", ruleK8sSecret:
		// The keyword ("airtable", "facebook", "sourcegraph") need not be in
		// the match, or (kubernetes) the match can start well above it.
		return -1, -1
	case rulePrivateKey, "jwt-base64":
		// Start with the keyword, end any number of lines below it.
		return 0, -1
	case "curl-auth-header", "curl-auth-user":
		// "curl" starts the match and its options may follow on up to five
		// continuation lines; a quoted -u value could in theory run on,
		// one across more lines is not looked for.
		return 0, 12
	case "freemius-secret-key", "nuget-config-password":
		// Keyword first; \s* between name and value: a few lines at most.
		return 0, 3
	case "aws-secret-access-key":
		// Keyword first ("aws..." or "secret_access_key"; the \b inside the
		// opening alternation hides it from keywordBeforeNewlines), then
		// "= value" possibly on the next lines.
		return 0, 6
	}
	n := maxNewlines(withoutTrailingDelimiter(re))
	if n < 0 {
		return -1, -1
	}
	if keywordBeforeNewlines(re, keywords) {
		// Keyword first, then "= value" possibly on the next lines.
		return 0, n
	}
	return n, n
}

// keywordBeforeNewlines reports whether every match of re has one of the
// keywords before the first character that can be a line break: the
// regex starts (after an optional newline-free opening such as
// gitleaks' [\w.-]{0,50}? and \b) with parts that cannot hold a line
// break and always begin with a keyword. Then no match starts on a line
// above its keyword.
func keywordBeforeNewlines(re *syntax.Regexp, keywords []string) bool {
	if re.Op != syntax.OpConcat {
		return false
	}
	subs := re.Sub
	for len(subs) > 0 && maxNewlines(subs[0]) == 0 && (subs[0].Op == syntax.OpWordBoundary ||
		subs[0].Op == syntax.OpRepeat && subs[0].Min == 0) {
		subs = subs[1:]
	}
	k := 0
	for k < len(subs) && maxNewlines(subs[k]) == 0 {
		k++
	}
	if k == 0 {
		return false
	}
	prefixes, _ := literalPrefixes(&syntax.Regexp{Op: syntax.OpConcat, Sub: subs[:k], Flags: re.Flags})
	return len(prefixes) > 0 && allHaveKeyword(prefixes, keywords)
}

// allHaveKeyword: each prefix starts with one of the keywords.
func allHaveKeyword(prefixes, keywords []string) bool {
	for _, p := range prefixes {
		found := false
		for _, k := range keywords {
			if strings.HasPrefix(p, k) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// maxNewlines is the largest number of '\n' a match of re can contain;
// -1 = unbounded.
func maxNewlines(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			if r == '\n' {
				n++
			}
		}
		return n
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= '\n' && '\n' <= re.Rune[i+1] {
				return 1
			}
		}
		return 0
	case syntax.OpAnyChar:
		return 1
	case syntax.OpCapture, syntax.OpQuest:
		return maxNewlines(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		if maxNewlines(re.Sub[0]) != 0 {
			return -1
		}
		return 0
	case syntax.OpRepeat:
		n := maxNewlines(re.Sub[0])
		if n == 0 {
			return 0
		}
		if n < 0 || re.Max < 0 {
			return -1
		}
		return n * re.Max
	case syntax.OpConcat:
		sum := 0
		for _, s := range re.Sub {
			n := maxNewlines(s)
			if n < 0 {
				return -1
			}
			sum += n
		}
		return sum
	case syntax.OpAlternate:
		most := 0
		for _, s := range re.Sub {
			n := maxNewlines(s)
			if n < 0 {
				return -1
			}
			most = max(most, n)
		}
		return most
	}
	return 0 // empty-width assertions, OpAnyCharNotNL, OpEmptyMatch
}

// withoutTrailingDelimiter drops a final element such as gitleaks'
// (?:[\x60'"\s;]|\\[nr]|$) that can match a line break only as the last
// character of the match. Such a break ends the line the match is on,
// and windows always include their last line's break, so it does not
// widen the window.
func withoutTrailingDelimiter(re *syntax.Regexp) *syntax.Regexp {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return re
	}
	last := re.Sub[len(re.Sub)-1]
	if maxNewlines(last) != 1 || !newlineOnlyAtEnd(last) {
		return re
	}
	cp := *re
	cp.Sub = re.Sub[:len(re.Sub)-1]
	return &cp
}

// newlineOnlyAtEnd reports whether every '\n' re can match is the last
// character it matches.
func newlineOnlyAtEnd(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpCharClass, syntax.OpAnyChar:
		return true
	case syntax.OpLiteral:
		for i, r := range re.Rune {
			if r == '\n' && i != len(re.Rune)-1 {
				return false
			}
		}
		return true
	case syntax.OpCapture, syntax.OpQuest:
		return newlineOnlyAtEnd(re.Sub[0])
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if !newlineOnlyAtEnd(s) {
				return false
			}
		}
		return true
	case syntax.OpConcat:
		for i, s := range re.Sub {
			if i < len(re.Sub)-1 && maxNewlines(s) != 0 {
				return false
			}
		}
		return newlineOnlyAtEnd(re.Sub[len(re.Sub)-1])
	}
	return maxNewlines(re) == 0
}
