package redact

// Keyword search: an Aho–Corasick automaton compiled to a DFA over byte
// classes. gitleaks uses the same idea (a trie of all rule keywords) to
// decide which rules are worth running; here it also reports where each
// keyword occurs, so a rule's regex runs only on the lines around its
// keywords instead of over the whole file. Matching is ASCII
// case-insensitive without lowercasing the text: upper-case letters share
// their lower-case letter's class. (gitleaks lowercases with
// strings.ToLower, which also turns U+212A KELVIN SIGN and U+017F LONG S
// into 'k' and 's'; keywords spelt with those are not found here.)

// automaton finds every occurrence of a fixed set of lower-case ASCII words.
type automaton struct {
	class  [256]uint8 // byte → input class; 0 = a byte no word contains
	nclass int
	delta  []int32   // state*nclass + class → next state
	out    [][]int32 // state → indexes of the words ending here (suffix words included)
	words  []string
}

// newAutomaton builds the automaton. Words must be non-empty; duplicates
// are allowed (each index is reported).
func newAutomaton(words []string) *automaton {
	a := &automaton{words: words, nclass: 1}
	for _, w := range words {
		for i := 0; i < len(w); i++ {
			c := lowerASCII(w[i])
			if a.class[c] == 0 {
				a.class[c] = uint8(a.nclass)
				a.nclass++
			}
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		a.class[c] = a.class[c+'a'-'A']
	}

	// Trie with goto edges; -1 = no edge yet.
	type node struct {
		next []int32
		out  []int32
		fail int32
	}
	newNode := func() node {
		n := node{next: make([]int32, a.nclass)}
		for i := range n.next {
			n.next[i] = -1
		}
		return n
	}
	nodes := []node{newNode()}
	for wi, w := range words {
		s := int32(0)
		for i := 0; i < len(w); i++ {
			c := a.class[lowerASCII(w[i])]
			if nodes[s].next[c] < 0 {
				nodes = append(nodes, newNode())
				nodes[s].next[c] = int32(len(nodes) - 1)
			}
			s = nodes[s].next[c]
		}
		nodes[s].out = append(nodes[s].out, int32(wi))
	}

	// Breadth-first: fail links, inherited outputs, full transitions.
	queue := make([]int32, 0, len(nodes))
	for c := 0; c < a.nclass; c++ {
		if t := nodes[0].next[c]; t >= 0 {
			nodes[t].fail = 0
			queue = append(queue, t)
		} else {
			nodes[0].next[c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := nodes[s].fail
		if len(nodes[f].out) > 0 {
			nodes[s].out = append(append([]int32(nil), nodes[s].out...), nodes[f].out...)
		}
		for c := 0; c < a.nclass; c++ {
			if t := nodes[s].next[c]; t >= 0 {
				nodes[t].fail = nodes[f].next[c]
				queue = append(queue, t)
			} else {
				nodes[s].next[c] = nodes[f].next[c]
			}
		}
	}

	a.delta = make([]int32, len(nodes)*a.nclass)
	a.out = make([][]int32, len(nodes))
	for i, n := range nodes {
		copy(a.delta[i*a.nclass:], n.next)
		a.out[i] = n.out
	}
	return a
}

// scan calls hit for every occurrence, in order of end position, with the
// word's index and the occurrence's start offset.
func (a *automaton) scan(text string, hit func(word, start int)) {
	s := int32(0)
	n := int32(a.nclass)
	for i := 0; i < len(text); i++ {
		s = a.delta[s*n+int32(a.class[text[i]])]
		if out := a.out[s]; out != nil {
			for _, w := range out {
				hit(int(w), i+1-len(a.words[w]))
			}
		}
	}
}

// contains reports whether any word occurs in text.
func (a *automaton) contains(text string) bool {
	s := int32(0)
	n := int32(a.nclass)
	for i := 0; i < len(text); i++ {
		s = a.delta[s*n+int32(a.class[text[i]])]
		if a.out[s] != nil {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
