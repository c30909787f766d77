package redact

import (
	"regexp/syntax"
	"unicode/utf8"
)

// quickCheck is a necessary condition for an anchored rule to match at a
// keyword, far cheaper than trying the regex. Most keyword hits of the
// "name = value" rules are names in code ("apiKey.length", "tokenizer")
// with no assignment after them; the regex engine needs hundreds of steps
// to see that, this check a few bytes: the regex must cross at most span
// bytes of skip (keyword, rest of the name, quotes, spaces) and then meet
// a byte of first (the assignment operator).
type quickCheck struct {
	skip, first [256]bool
	span        int
}

// pass reports whether a match at pos is still possible.
func (q *quickCheck) pass(text string, pos int) bool {
	for j := 0; j <= q.span && pos+j < len(text); j++ {
		c := text[pos+j]
		if q.first[c] {
			return true
		}
		if !q.skip[c] {
			return false
		}
	}
	return false
}

// newQuickCheck derives the check from the anchored regex's top-level
// parts (body, without a leading \b), or returns nil when the regex does
// not have that shape: bounded parts with known characters, then a part
// that must start with a character none of them can hold.
func newQuickCheck(body []*syntax.Regexp) *quickCheck {
	q := &quickCheck{}
	for i, e := range body {
		if i > 0 {
			if first, ok := firstBytes(e); ok && !overlaps(first, q.skip) {
				q.first = first
				return q
			}
		}
		set, n, ok := charsAndMaxLen(e)
		if !ok {
			return nil
		}
		for c := range set {
			q.skip[c] = q.skip[c] || set[c]
		}
		q.span += n
	}
	return nil
}

func overlaps(a, b [256]bool) bool {
	for i := range a {
		if a[i] && b[i] {
			return true
		}
	}
	return false
}

// addRune marks the bytes that can start or be part of r in a UTF-8
// text, both cases when fold is set. Non-ASCII runes mark every byte
// above 0x7f: a conservative over-approximation.
func addRune(set *[256]bool, r rune, fold bool) {
	if r >= utf8.RuneSelf {
		for c := 0x80; c < 256; c++ {
			set[c] = true
		}
		return
	}
	set[r] = true
	if fold {
		set[lowerASCII(byte(r))] = true
		if 'a' <= r && r <= 'z' {
			set[r-'a'+'A'] = true
		}
	}
}

// firstBytes is the set of bytes a match of re must start with; ok is
// false when re may match the empty string or the set is unknown.
func firstBytes(re *syntax.Regexp) (set [256]bool, ok bool) {
	fold := re.Flags&syntax.FoldCase != 0
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return set, false
		}
		addRune(&set, re.Rune[0], fold)
		return set, true
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				addRune(&set, r, false)
				if r >= utf8.RuneSelf {
					break
				}
			}
		}
		return set, len(re.Rune) > 0
	case syntax.OpCapture:
		return firstBytes(re.Sub[0])
	case syntax.OpPlus:
		return firstBytes(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min == 0 {
			return set, false
		}
		return firstBytes(re.Sub[0])
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			f, ok := firstBytes(s)
			if !ok {
				return set, false
			}
			for c := range f {
				set[c] = set[c] || f[c]
			}
		}
		return set, true
	case syntax.OpConcat:
		if len(re.Sub) == 0 {
			return set, false
		}
		return firstBytes(re.Sub[0])
	}
	return set, false
}

// charsAndMaxLen is the set of bytes a match of re can contain and the
// most bytes it can have; ok is false when either is unknown or
// unbounded.
func charsAndMaxLen(re *syntax.Regexp) (set [256]bool, n int, ok bool) {
	fold := re.Flags&syntax.FoldCase != 0
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return set, 0, true
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			addRune(&set, r, fold)
			n += utf8.RuneLen(r)
		}
		return set, n, true
	case syntax.OpCharClass:
		width := 1
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				addRune(&set, r, false)
				if r >= utf8.RuneSelf {
					width = utf8.UTFMax
					break
				}
			}
		}
		return set, width, true
	case syntax.OpCapture:
		return charsAndMaxLen(re.Sub[0])
	case syntax.OpQuest:
		return charsAndMaxLen(re.Sub[0])
	case syntax.OpRepeat:
		if re.Max < 0 {
			return set, 0, false
		}
		set, n, ok = charsAndMaxLen(re.Sub[0])
		return set, n * re.Max, ok
	case syntax.OpAlternate, syntax.OpConcat:
		for _, s := range re.Sub {
			sub, m, ok := charsAndMaxLen(s)
			if !ok {
				return set, 0, false
			}
			for c := range sub {
				set[c] = set[c] || sub[c]
			}
			if re.Op == syntax.OpConcat {
				n += m
			} else {
				n = max(n, m)
			}
		}
		return set, n, true
	}
	return set, 0, false
}
