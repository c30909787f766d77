package redact

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Options selects what a Scanner redacts besides secrets.
type Options struct {
	// Emails also replaces e-mail addresses with <REDACTED:email>, except
	// addresses that identify nobody (noreply@..., example.com/org/net,
	// localhost, ssh remotes like git@github.com, "icon@2x.png").
	Emails bool
}

// Scanner finds and redacts secrets. It holds only compiled, read-only
// rules, so one Scanner serves any number of goroutines.
type Scanner struct {
	rules    []rule
	global   []allowlist
	keywords *automaton
	kwRules  [][]int32    // keyword index → indexes of the rules it enables
	kwAlso   [][]ruleWord // keyword index → (rule, required word) it satisfies

	privateKey *regexp.Regexp // gitleaks' private-key rule, for CredentialFile
	settings   settingRegexps
}

// ruleWord is the i-th required word (rule.also) of a rule.
type ruleWord struct{ rule, i int32 }

// Finding is one redacted span: byte offsets into the scanned text and the
// id of the rule that found it. It never holds the secret itself, so
// findings can be logged and stored.
type Finding struct {
	Rule       string
	Start, End int
}

// New compiles the embedded rules, which takes some 50 ms: make one
// Scanner per run and share it.
func New(o Options) (*Scanner, error) {
	rules, global, err := loadRules(o.Emails)
	if err != nil {
		return nil, err
	}
	s := &Scanner{rules: rules, global: global, settings: compileSettings()}
	index := map[string]int{}
	var words []string
	for ri, r := range rules {
		if r.id == rulePrivateKey {
			s.privateKey = r.re
		}
		word := func(k string) int {
			i, ok := index[k]
			if !ok {
				i = len(words)
				index[k] = i
				words = append(words, k)
				s.kwRules = append(s.kwRules, nil)
				s.kwAlso = append(s.kwAlso, nil)
			}
			return i
		}
		for _, k := range r.keywords {
			i := word(k)
			if n := len(s.kwRules[i]); n == 0 || s.kwRules[i][n-1] != int32(ri) {
				s.kwRules[i] = append(s.kwRules[i], int32(ri))
			}
		}
		for ai, k := range r.also {
			i := word(k)
			s.kwAlso[i] = append(s.kwAlso[i], ruleWord{int32(ri), int32(ai)})
		}
	}
	s.keywords = newAutomaton(words)
	return s, nil
}

// Rules returns the ids of the active rules, in the order they are tried,
// for statistics.
func (s *Scanner) Rules() []string {
	ids := make([]string, len(s.rules))
	for i, r := range s.rules {
		ids[i] = r.id
	}
	return ids
}

// Find returns the spans Redact would replace, sorted and not overlapping.
func (s *Scanner) Find(text string) []Finding {
	return s.find(text)
}

// Redact replaces every secret in text with <REDACTED:rule-id> and returns
// the result with the findings (offsets into text). Markers already in
// text are left alone and never matched again, so redacting twice changes
// nothing the second time.
func (s *Scanner) Redact(text string) (string, []Finding) {
	fs := s.find(text)
	if len(fs) == 0 {
		return text, nil
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, f := range fs {
		b.WriteString(text[last:f.Start])
		b.WriteString(markerPrefix)
		b.WriteString(f.Rule)
		b.WriteString(markerSuffix)
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String(), fs
}

// span is a half-open byte range.
type span struct{ start, end int }

// hit is a candidate finding before overlaps are resolved.
type hit struct {
	rule       int32
	start, end int
}

func (s *Scanner) find(text string) []Finding {
	if text == "" {
		return nil
	}
	// Existing markers are blanked out (same length, so offsets hold) and
	// nothing overlapping them is reported: "api-key>" inside
	// "<REDACTED:generic-api-key>" would otherwise look like "key = value".
	markers := markerSpans(text)
	scan := text
	if len(markers) > 0 {
		b := []byte(text)
		for _, m := range markers {
			for i := m.start; i < m.end; i++ {
				b[i] = 0
			}
		}
		scan = string(b)
	}

	// Line starts, for turning keyword positions into line windows.
	lines := make([]int, 1, 1+strings.Count(scan, "\n"))
	for i := 0; ; {
		j := strings.IndexByte(scan[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		lines = append(lines, i)
	}

	// Keyword pass: for each rule, where its keywords occur (line only,
	// for rules that search line windows).
	kw := make([][]kwHit, len(s.rules))
	var seen map[int32]uint64 // rule → bit set of its required words found
	cur := 0
	s.keywords.scan(scan, func(w, start int) {
		for _, rw := range s.kwAlso[w] {
			if seen == nil {
				seen = map[int32]uint64{}
			}
			seen[rw.rule] |= 1 << rw.i
		}
		for cur > 0 && lines[cur] > start {
			cur--
		}
		for cur+1 < len(lines) && lines[cur+1] <= start {
			cur++
		}
		for _, ri := range s.kwRules[w] {
			l := kw[ri]
			n := len(l)
			if s.rules[ri].anchored != nil {
				if n == 0 || l[n-1].pos != start {
					kw[ri] = append(l, kwHit{start, cur})
				}
			} else if n == 0 || l[n-1].line != cur {
				kw[ri] = append(l, kwHit{start, cur})
			}
		}
	})

	var hits []hit
	for ri, kh := range kw {
		if len(kh) == 0 {
			continue
		}
		r := &s.rules[ri]
		if len(r.also) > 0 && seen[int32(ri)] != 1<<len(r.also)-1 {
			continue
		}
		if r.anchored != nil {
			hits = s.matchAtKeywords(hits, int32(ri), scan, lines, kh)
			continue
		}
		for _, w := range windows(kh, lines, len(scan), r.before, r.after) {
			prevEnd := w.start
			for _, m := range r.re.FindAllStringSubmatchIndex(scan[w.start:w.end], -1) {
				for i := range m {
					if m[i] >= 0 {
						m[i] += w.start
					}
				}
				if r.lead != nil {
					m[0] = extendLeft(scan, m[0], prevEnd, r.lead, r.leadMax)
				}
				prevEnd = m[1]
				if h, ok := s.check(int32(ri), scan, m); ok {
					hits = append(hits, h)
				}
			}
		}
	}
	if len(hits) == 0 {
		return nil
	}
	return s.resolve(hits, markers)
}

// kwHit is a keyword occurrence: its start and its line number.
type kwHit struct{ pos, line int }

// matchAtKeywords runs an anchored rule at each keyword position, in
// order, skipping positions inside the previous accepted match: the
// matches a leftmost-first search would find (every match starts at a
// keyword), and a few more.
func (s *Scanner) matchAtKeywords(hits []hit, ri int32, scan string, lines []int, kh []kwHit) []hit {
	r := &s.rules[ri]
	slices.SortFunc(kh, func(a, b kwHit) int { return a.pos - b.pos })
	prevEnd := 0
	for i, k := range kh {
		if k.pos < prevEnd || (i > 0 && k.pos == kh[i-1].pos) {
			continue
		}
		if r.wordStart && !wordBoundary(scan, k.pos) || r.quick != nil && !r.quick.pass(scan, k.pos) {
			continue
		}
		end := len(scan)
		if e := k.line + r.after + 1; r.after >= 0 && e < len(lines) {
			end = lines[e]
		}
		m := r.anchored.FindStringSubmatchIndex(scan[k.pos:end])
		if m == nil {
			continue
		}
		for j := range m {
			if m[j] >= 0 {
				m[j] += k.pos
			}
		}
		if r.lead != nil {
			m[0] = extendLeft(scan, m[0], prevEnd, r.lead, r.leadMax)
		}
		// Only an accepted match hides the keywords inside it. gitleaks
		// (FindAll) also skips past rejected ones, and so misses
		// `"userPwd", "password": "real secret"` (the first match takes
		// "password" as its value, fails the entropy test and swallows the
		// second).
		if h, ok := s.check(ri, scan, m); ok {
			hits = append(hits, h)
			prevEnd = m[1]
		}
	}
	return hits
}

// wordBoundary is \b at offset i.
func wordBoundary(s string, i int) bool {
	before := i > 0 && isWordByte(s[i-1])
	after := i < len(s) && isWordByte(s[i])
	return before != after
}

// isWordByte is \b's notion of a word character (ASCII).
func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// extendLeft moves a match start back over at most n characters of the
// class (rune ranges), not before limit: what the lazy opening splitLead
// removed would have matched.
func extendLeft(scan string, start, limit int, class []rune, n int) int {
	for ; n > 0 && start > limit; n-- {
		r, size := utf8.DecodeLastRuneInString(scan[limit:start])
		if !inClass(class, r) {
			break
		}
		start -= size
	}
	return start
}

func inClass(ranges []rune, r rune) bool {
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] <= r && r <= ranges[i+1] {
			return true
		}
	}
	return false
}

// windows turns keyword lines (in order) into merged byte ranges
// covering before lines above and after lines below each (-1: to the
// text's edge). Every window ends after a line break or at the text's end,
// so it holds whole lines.
func windows(kh []kwHit, lines []int, size, before, after int) []span {
	var ws []span
	for _, h := range kh {
		var w span
		if before >= 0 && h.line >= before {
			w.start = lines[h.line-before]
		}
		if end := h.line + after + 1; after < 0 || end >= len(lines) {
			w.end = size
		} else {
			w.end = lines[end]
		}
		if n := len(ws); n > 0 && w.start <= ws[n-1].end {
			ws[n-1].end = max(ws[n-1].end, w.end)
			continue
		}
		ws = append(ws, w)
	}
	return ws
}

// check applies gitleaks' tests to one regex match (submatch offsets into
// scan): secret group, entropy, global and rule allowlists; then
// cicdllm's placeholder tests. It returns the span to redact.
func (s *Scanner) check(ri int32, scan string, m []int) (hit, bool) {
	r := &s.rules[ri]
	mStart, mEnd := m[0], m[1]
	for mEnd > mStart && scan[mEnd-1] == '\n' {
		mEnd--
	}
	for mStart < mEnd && scan[mStart] == '\n' {
		mStart++
	}
	if mStart >= mEnd {
		return hit{}, false
	}
	start, end := mStart, mEnd
	switch {
	case r.group > 0:
		start, end = m[2*r.group], m[2*r.group+1]
	case len(m) > 2:
		// No secretGroup: the first group that matched something, as gitleaks.
		for g := 1; 2*g < len(m); g++ {
			if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
				start, end = m[2*g], m[2*g+1]
				break
			}
		}
	}
	if start < 0 || start >= end {
		return hit{}, false
	}
	secret := scan[start:end]
	if r.entropy != 0 && shannonEntropy(secret) <= entropyLimit(r, secret) {
		return hit{}, false
	}
	line := func() string {
		ls := strings.LastIndexByte(scan[:mStart], '\n') + 1
		le := strings.IndexByte(scan[mEnd:], '\n')
		if le < 0 {
			return scan[ls:]
		}
		return scan[ls : mEnd+le]
	}
	for i := range s.global {
		if s.global[i].allows(secret, "", "") {
			return hit{}, false
		}
	}
	for i := range r.allow {
		a := &r.allow[i]
		var match, ln string
		switch a.target {
		case targetMatch:
			match = scan[mStart:mEnd]
		case targetLine:
			ln = line()
		}
		if a.allows(secret, match, ln) {
			return hit{}, false
		}
	}
	switch r.class {
	case classEmail:
		if emailExempt(secret) || inURL(scan, mStart) {
			return hit{}, false
		}
	case classPassword:
		// "user:user@" is a default login, not a leak.
		if user := urlUser(scan[mStart:start]); user != "" && strings.EqualFold(user, secret) {
			return hit{}, false
		}
		fallthrough
	default:
		if isPlaceholder(r.class, secret, line()) {
			return hit{}, false
		}
	}
	if r.wholeMatch {
		start, end = mStart, mEnd
	}
	if r.id == ruleK8sSecret {
		start = k8sValueStart(scan, start, end)
	}
	return hit{rule: ri, start: start, end: end}, true
}

// hexEntropy is the entropy a hex value must exceed in the generic class:
// detect-secrets' default hex limit. Sixteen symbols cap a hex string at
// 4 bits per character, so gitleaks' 3.5 lets one random 32-digit hex key
// in twenty through.
const hexEntropy = 3.0

// entropyLimit is the rule's entropy threshold for secret.
func entropyLimit(r *rule, secret string) float64 {
	if r.class == classGeneric && len(secret) >= 16 && isHex(secret) {
		return min(r.entropy, hexEntropy)
	}
	return r.entropy
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// allows evaluates one allowlist as gitleaks' checkFindingAllowed does.
// match and line are the other regex targets, filled in only when the
// list needs them.
func (a *allowlist) allows(secret, match, line string) bool {
	subject := secret
	switch a.target {
	case targetMatch:
		subject = match
	case targetLine:
		subject = line
	}
	regexOK := a.re != nil && subject != "" && a.re.MatchString(subject)
	stopOK := a.stop != nil && secret != "" && hasStopword(a.stop, secret)
	if !a.and {
		return regexOK || stopOK
	}
	if a.hasPaths {
		return false // no path to match
	}
	return (a.re == nil || regexOK) && (a.stop == nil || stopOK) && (a.re != nil || a.stop != nil)
}

// inURL reports whether offset i is inside a URL ("postgres://u:pw@host"
// looks like an address from "pw" on; url-password deals with it).
func inURL(scan string, i int) bool {
	start := i
	for start > 0 && strings.IndexByte(" \t\r\n\"'`<>()[]{},;=", scan[start-1]) < 0 {
		start--
	}
	return strings.Contains(scan[start:i], "://")
}

// urlUser returns the user name of a "scheme://user:" prefix.
func urlUser(prefix string) string {
	i := strings.Index(prefix, "://")
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(prefix[i+3:], ":")
}

// k8sValueStart narrows kubernetes-secret-yaml's secret ("name: value") to
// the value, so the key name stays readable in the redacted manifest.
func k8sValueStart(scan string, start, end int) int {
	i := strings.IndexByte(scan[start:end], ':')
	if i < 0 {
		return start
	}
	p := start + i + 1
	for p < end && strings.IndexByte(" \t\r\n|>-+\"'", scan[p]) >= 0 {
		p++
	}
	if p >= end {
		return start
	}
	return p
}

// markerSpans finds the redaction markers in text.
func markerSpans(text string) []span {
	var ms []span
	for off := 0; ; {
		i := strings.Index(text[off:], markerPrefix)
		if i < 0 {
			return ms
		}
		i += off
		id := text[i+len(markerPrefix):]
		n := markerIDLen(id)
		if n > 0 && strings.HasPrefix(id[n:], markerSuffix) {
			end := i + len(markerPrefix) + n + len(markerSuffix)
			ms = append(ms, span{i, end})
			off = end
			continue
		}
		off = i + 1
	}
}

// resolve turns candidate hits into the final findings: hits touching an
// existing marker are dropped; a generic-class hit inside a specific one
// yields to it (gitleaks' filter); overlapping hits merge into one span
// named after the longest of them (the first, on a tie).
func (s *Scanner) resolve(hits []hit, markers []span) []Finding {
	hits = slices.DeleteFunc(hits, func(h hit) bool {
		for _, m := range markers {
			if h.start < m.end && m.start < h.end {
				return true
			}
		}
		return false
	})
	slices.SortStableFunc(hits, func(a, b hit) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	yield := make([]bool, len(hits))
	for i, h := range hits {
		if s.rules[h.rule].class != classGeneric {
			continue
		}
		for _, o := range hits {
			if o.start > h.start {
				break
			}
			if s.rules[o.rule].class != classGeneric && h.end <= o.end {
				yield[i] = true
				break
			}
		}
	}
	kept := hits[:0]
	for i, h := range hits {
		if !yield[i] {
			kept = append(kept, h)
		}
	}
	hits = kept
	var out []Finding
	for i := 0; i < len(hits); {
		group := hits[i]
		best := hits[i]
		j := i + 1
		for ; j < len(hits) && hits[j].start < group.end; j++ {
			h := hits[j]
			group.end = max(group.end, h.end)
			if h.end-h.start > best.end-best.start {
				best = h
			}
		}
		out = append(out, Finding{Rule: s.rules[best.rule].id, Start: group.start, End: group.end})
		i = j
	}
	return out
}
