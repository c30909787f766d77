package pipeline

import (
	"fmt"
	"strings"
)

// Chunk is a piece of a file small enough for one request.
type Chunk struct {
	Index     int    // 0-based within the file
	LineStart int    // 1-based, inclusive
	LineEnd   int    // 1-based, inclusive
	Text      string // exactly lines LineStart..LineEnd of the file (with their line endings)
}

// Span returns the chunk's line span as PromptData.Lines wants it: "12-80".
func (c Chunk) Span() string { return fmt.Sprintf("%d-%d", c.LineStart, c.LineEnd) }

// Sizing constants of the chunk budget (see ChunkBudget).
const (
	// chunkBudgetFloor is the smallest budget ChunkBudget returns, so a
	// context too small for the prompt still yields chunks (the server then
	// reports the overflow and the file is recorded as failed) instead of a
	// zero or negative budget that would split a file into single lines.
	chunkBudgetFloor = 64
	// questionAllowanceTokens is room for the question inside an answer
	// prompt: the longest question ParseQuestions keeps, estimated like code.
	questionAllowanceTokens = (maxQuestionChars + 2) / 3
	// chunkSafetyPercent of the context is kept free for what the estimates
	// miss (chat template tokens, tokenizer surprises).
	chunkSafetyPercent = 5
)

// EstimateTokens is a conservative token count from bytes: ceil(len/3)
// (code tokenises worse than prose; underestimating would overflow the
// context).
func EstimateTokens(s string) int {
	return (len(s) + 2) / 3
}

// ChunkBudget computes the chunk budget from the per-request context, the
// answer max tokens and the theme's prompt overhead (Theme.PromptOverhead:
// the tokens of the longest rendered template without code). It subtracts
// room for the longest question ParseQuestions keeps (about 170 tokens) and
// a safety margin of 5% of the context.
//
// Pass as answerMaxTokens the larger of the answer and question max_tokens:
// both requests carry the same chunk. The result is never below 64 tokens,
// even when the context is too small (or unknown, ≤ 0): such chunks still
// reach the server, whose context-overflow error then splits them down to
// the minimum chunk size and records the failure, which says more than a
// file silently skipped.
func ChunkBudget(contextTokens, answerMaxTokens, promptOverhead int) int {
	if contextTokens <= 0 {
		return chunkBudgetFloor
	}
	margin := (contextTokens*chunkSafetyPercent + 99) / 100
	b := contextTokens - max(answerMaxTokens, 0) - max(promptOverhead, 0) - questionAllowanceTokens - margin
	return max(b, chunkBudgetFloor)
}

// splitLinesKeepEnds splits text into lines, each keeping its "\n" (or
// "\r\n"). The last line may have no line ending. Empty text has no lines.
// A lone "\r" is not a line break: it stays inside its line.
func splitLinesKeepEnds(text string) []string {
	if text == "" {
		return nil
	}
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// isBlankLine reports a line holding only whitespace.
func isBlankLine(l string) bool {
	return strings.TrimSpace(l) == ""
}

// chunkClosers are words that end or continue a construct when they start
// a line at column 0, so a line beginning with one is not the start of a
// new top-level declaration: Ruby/Lua/Pascal end, shell fi/done/esac,
// Vim/Fortran/Verilog end*, and the continuations of if/try blocks.
var chunkClosers = map[string]bool{
	"end": true, "fi": true, "done": true, "esac": true,
	"endif": true, "endfor": true, "endwhile": true, "endfunction": true,
	"endmodule": true, "endclass": true, "endcase": true,
	"else": true, "elif": true, "elsif": true, "elseif": true,
	"except": true, "finally": true, "catch": true, "rescue": true, "ensure": true,
}

// startsDeclaration reports whether line l begins at column 0 with
// something that can start a top-level declaration: not whitespace, not a
// closing brace, bracket or parenthesis, and not a closer word such as end.
func startsDeclaration(l string) bool {
	if l == "" || isBlankLine(l) {
		return false
	}
	switch l[0] {
	case ' ', '\t', '}', ']', ')':
		return false
	}
	i := 0
	for i < len(l) && (l[i] == '_' || l[i] >= 'a' && l[i] <= 'z' || l[i] >= 'A' && l[i] <= 'Z' || l[i] >= '0' && l[i] <= '9') {
		i++
	}
	return !chunkClosers[l[:i]]
}

// isDeclBoundary reports whether a declaration starts at line i: the line
// before it is blank and line i starts a declaration at column 0.
func isDeclBoundary(lines []string, i int) bool {
	return i > 0 && i < len(lines) && isBlankLine(lines[i-1]) && startsDeclaration(lines[i])
}

// ChunkFile splits text into chunks of at most budget tokens
// (EstimateTokens), preferring top-level declaration boundaries (a blank
// line followed by a line starting at column 0 that is not a closing
// brace/bracket/paren or `end`), else line windows with overlapLines of
// overlap; never inside a line. A single line longer than the budget
// becomes its own chunk (the engine will split/fail it). A file that fits
// is one chunk. Empty text → no chunks. Chunks cover every line in order
// (with overlaps only in window mode).
//
// Declarations are packed greedily, so a chunk holds as many whole
// declarations as fit. A declaration larger than the budget is cut into
// line windows; a window ends after a blank line in its second half when
// there is one, so it tends to stop between inner blocks rather than in
// the middle of one. The overlap is shortened when it would take more than
// half the budget or would keep the next window from holding a new line.
// A budget below 1 is treated as 1.
func ChunkFile(text string, budget, overlapLines int) []Chunk {
	lines := splitLinesKeepEnds(text)
	if len(lines) == 0 {
		return nil
	}
	budget = max(budget, 1)
	overlapLines = max(overlapLines, 0)
	maxBytes := 3 * budget // EstimateTokens(s) <= budget  ⇔  len(s) <= 3*budget
	if len(text) <= maxBytes {
		return []Chunk{{Index: 0, LineStart: 1, LineEnd: len(lines), Text: text}}
	}

	var spans [][2]int // 0-based [start, end) line ranges
	// Segments: runs of lines between declaration boundaries.
	segStart := 0
	curStart, curBytes := -1, 0 // the chunk being packed
	flush := func(end int) {
		if curStart >= 0 {
			spans = append(spans, [2]int{curStart, end})
			curStart, curBytes = -1, 0
		}
	}
	addSegment := func(s, e int) {
		n := 0
		for _, l := range lines[s:e] {
			n += len(l)
		}
		if n > maxBytes {
			flush(s)
			spans = append(spans, chunkWindows(lines, s, e, maxBytes, overlapLines)...)
			return
		}
		if curStart >= 0 && curBytes+n > maxBytes {
			flush(s)
		}
		if curStart < 0 {
			curStart = s
		}
		curBytes += n
	}
	for i := 1; i < len(lines); i++ {
		if isDeclBoundary(lines, i) {
			addSegment(segStart, i)
			segStart = i
		}
	}
	addSegment(segStart, len(lines))
	flush(len(lines))

	chunks := make([]Chunk, len(spans))
	for i, sp := range spans {
		chunks[i] = Chunk{
			Index:     i,
			LineStart: sp[0] + 1,
			LineEnd:   sp[1],
			Text:      strings.Join(lines[sp[0]:sp[1]], ""),
		}
	}
	return chunks
}

// chunkWindows cuts lines[s:e] into windows of at most maxBytes with up to
// overlap lines repeated between neighbours. A line longer than maxBytes is
// a window of its own, without overlap on either side.
func chunkWindows(lines []string, s, e, maxBytes, overlap int) [][2]int {
	var spans [][2]int
	start := s
	minEnd := s + 1 // a window must reach past the previous one
	for start < e {
		// Grow the window from start.
		end, n := start, 0
		for end < e && n+len(lines[end]) <= maxBytes {
			n += len(lines[end])
			end++
		}
		if end == start { // one over-long line
			end = start + 1
		} else if end < e {
			// Prefer to end just after a blank line in the second half
			// (and past the overlap).
			for j := end - 1; j >= max(start+(end-start)/2, minEnd-1); j-- {
				if isBlankLine(lines[j]) {
					end = j + 1
					break
				}
			}
		}
		spans = append(spans, [2]int{start, end})
		if end >= e {
			break
		}
		// Next window: repeat the last k lines of this one.
		k := min(overlap, end-start-1)
		for ; k > 0; k-- {
			ob := 0
			for _, l := range lines[end-k : end] {
				ob += len(l)
			}
			// The overlap must leave room for at least the next new line and
			// take no more than half the window.
			if ob <= maxBytes/2 && ob+len(lines[end]) <= maxBytes {
				break
			}
		}
		start, minEnd = end-k, end+1
	}
	return spans
}

// SplitChunk splits c in two halves at the best boundary near the middle
// (declaration boundary, else a blank line, else the middle line), for a
// context-overflow retry. ok is false when c has fewer than 2 lines or
// either half would be under minTokens.
//
// "Near the middle" means each half keeps at least a quarter of the bytes,
// so every split makes real progress. Both halves keep c.Index; their line
// spans tell them apart.
func SplitChunk(c Chunk, minTokens int) (first, second Chunk, ok bool) {
	lines := splitLinesKeepEnds(c.Text)
	if len(lines) < 2 {
		return Chunk{}, Chunk{}, false
	}
	// offs[k] is the byte offset where line k starts; a split at k puts
	// lines[:k] in the first half.
	offs := make([]int, len(lines)+1)
	for i, l := range lines {
		offs[i+1] = offs[i] + len(l)
	}
	total := offs[len(lines)]
	mid := total / 2
	dist := func(k int) int { return chunkAbs(offs[k] - mid) }
	balanced := func(k int) bool { return 4*offs[k] >= total && 4*(total-offs[k]) >= total }

	decl, blank, middle := -1, -1, 1
	for k := 1; k < len(lines); k++ {
		if dist(k) < dist(middle) {
			middle = k
		}
		if !balanced(k) {
			continue
		}
		if isDeclBoundary(lines, k) && (decl < 0 || dist(k) < dist(decl)) {
			decl = k
		}
		if isBlankLine(lines[k-1]) && !isBlankLine(lines[k]) && (blank < 0 || dist(k) < dist(blank)) {
			blank = k
		}
	}
	for _, k := range []int{decl, blank, middle} {
		if k < 1 {
			continue
		}
		a, b := c.Text[:offs[k]], c.Text[offs[k]:]
		if EstimateTokens(a) < minTokens || EstimateTokens(b) < minTokens {
			continue
		}
		first = Chunk{Index: c.Index, LineStart: c.LineStart, LineEnd: c.LineStart + k - 1, Text: a}
		second = Chunk{Index: c.Index, LineStart: c.LineStart + k, LineEnd: c.LineEnd, Text: b}
		return first, second, true
	}
	return Chunk{}, Chunk{}, false
}

func chunkAbs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
