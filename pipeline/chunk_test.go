package pipeline

import (
	"fmt"
	"strings"
	"testing"
)

// checkChunks verifies the invariants every ChunkFile result must hold:
// indexes in order, spans inside the file, Text equal to the lines of the
// span, every line covered in order, and each chunk within budget unless
// it is a single over-long line. It returns the file's lines.
func checkChunks(t *testing.T, text string, chunks []Chunk, budget int) []string {
	t.Helper()
	lines := splitLinesKeepEnds(text)
	next := 1 // first line not yet covered
	for i, c := range chunks {
		if c.Index != i {
			t.Errorf("chunk %d has Index %d", i, c.Index)
		}
		if c.LineStart < 1 || c.LineEnd < c.LineStart || c.LineEnd > len(lines) {
			t.Fatalf("chunk %d: bad span %d-%d of %d lines", i, c.LineStart, c.LineEnd, len(lines))
		}
		if want := strings.Join(lines[c.LineStart-1:c.LineEnd], ""); c.Text != want {
			t.Errorf("chunk %d (%d-%d): Text is not the lines of its span", i, c.LineStart, c.LineEnd)
		}
		if c.LineStart > next {
			t.Errorf("chunk %d starts at line %d: lines %d-%d are not covered", i, c.LineStart, next, c.LineStart-1)
		}
		if c.LineEnd < next {
			t.Errorf("chunk %d (%d-%d) adds no new line", i, c.LineStart, c.LineEnd)
		}
		if i > 0 && c.LineStart <= chunks[i-1].LineStart {
			t.Errorf("chunk %d starts at %d, not after chunk %d's start %d", i, c.LineStart, i-1, chunks[i-1].LineStart)
		}
		if EstimateTokens(c.Text) > budget && c.LineStart != c.LineEnd {
			t.Errorf("chunk %d (%d-%d) has %d tokens, over the budget %d", i, c.LineStart, c.LineEnd, EstimateTokens(c.Text), budget)
		}
		next = max(next, c.LineEnd+1)
	}
	if len(lines) > 0 && next != len(lines)+1 {
		t.Errorf("chunks end at line %d of %d", next-1, len(lines))
	}
	return lines
}

func TestChunkEstimateTokens(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{{"", 0}, {"a", 1}, {"abc", 1}, {"abcd", 2}, {"abcdef", 2}, {strings.Repeat("x", 3000), 1000}, {strings.Repeat("x", 3001), 1001}} {
		if got := EstimateTokens(c.s); got != c.want {
			t.Errorf("EstimateTokens(%d bytes) = %d, want %d", len(c.s), got, c.want)
		}
	}
}

// goFile returns a Go file with n top-level functions and the 1-based line
// of each function's first line (its doc comment).
func goFile(n int) (string, []int) {
	var b strings.Builder
	b.WriteString("package demo\n\nimport \"fmt\"\n")
	line := 3
	var starts []int
	for i := range n {
		b.WriteString("\n")
		line++
		starts = append(starts, line+1)
		fmt.Fprintf(&b, "// F%02d prints its number.\nfunc F%02d(x int) int {\n\tif x > %d {\n\t\tfmt.Println(x)\n\t}\n\treturn x + %d\n}\n", i, i, i, i)
		line += 7
	}
	return b.String(), starts
}

func TestChunkFileDeclarationBoundaries(t *testing.T) {
	text, starts := goFile(30)
	// Each function is 8 lines (blank + 7) of about 115 bytes; a budget of
	// 200 tokens (600 bytes) fits 5 of them.
	const budget = 200
	chunks := ChunkFile(text, budget, 3)
	lines := checkChunks(t, text, chunks, budget)
	if len(chunks) < 6 || len(chunks) > 8 {
		t.Fatalf("got %d chunks for 30 functions with room for ~5 each", len(chunks))
	}
	isStart := map[int]bool{}
	for _, s := range starts {
		isStart[s] = true
	}
	for i, c := range chunks {
		if i > 0 {
			if !isStart[c.LineStart] {
				t.Errorf("chunk %d starts at line %d %q, not at a function", i, c.LineStart, lines[c.LineStart-1])
			}
			if c.LineStart != chunks[i-1].LineEnd+1 {
				t.Errorf("chunk %d starts at %d but chunk %d ended at %d: declaration chunks must not overlap or leave gaps", i, c.LineStart, i-1, chunks[i-1].LineEnd)
			}
		}
		if i < len(chunks)-1 && strings.TrimSpace(lines[c.LineEnd-1]) != "" {
			t.Errorf("chunk %d ends at line %d %q, not at the blank line before a function", i, c.LineEnd, lines[c.LineEnd-1])
		}
		// Greedy packing: the next function would not have fitted.
		if i < len(chunks)-1 {
			nextEnd := len(lines)
			for _, s := range starts {
				if s > chunks[i+1].LineStart {
					nextEnd = s - 1
					break
				}
			}
			grown := strings.Join(lines[c.LineStart-1:nextEnd], "")
			if EstimateTokens(grown) <= budget {
				t.Errorf("chunk %d (%d-%d) could have held the next function too", i, c.LineStart, c.LineEnd)
			}
		}
	}
}

func TestChunkFileClosersAreNotBoundaries(t *testing.T) {
	// The blank line inside the block is followed by a column-0 "}" or
	// "end": neither may start a chunk.
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "def f%d\n  x = %d\n\nend\n\nfunc g%d() {\n\tx := 1\n\n}\n\n", i, i, i)
	}
	text := b.String()
	chunks := ChunkFile(text, 60, 2)
	lines := checkChunks(t, text, chunks, 60)
	for i, c := range chunks[1:] {
		first := lines[c.LineStart-1]
		if !strings.HasPrefix(first, "def ") && !strings.HasPrefix(first, "func ") {
			t.Errorf("chunk %d starts with %q", i+1, first)
		}
	}
}

func TestChunkFileWindowsWithOverlap(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "line %03d: some content here\n", i) // 28 bytes
	}
	text := b.String()
	const budget, overlap = 100, 3 // 300 bytes: 10 lines
	chunks := ChunkFile(text, budget, overlap)
	checkChunks(t, text, chunks, budget)
	if len(chunks) < 10 {
		t.Fatalf("got %d chunks, want about 14", len(chunks))
	}
	for i, c := range chunks {
		if c.LineEnd-c.LineStart+1 != 10 && i != len(chunks)-1 {
			t.Errorf("chunk %d spans %d-%d, want 10 lines", i, c.LineStart, c.LineEnd)
		}
		if i > 0 {
			if got := chunks[i-1].LineEnd - c.LineStart + 1; got != overlap {
				t.Errorf("chunk %d overlaps the previous one by %d lines, want %d", i, got, overlap)
			}
		}
	}
	// No overlap asked: windows abut.
	chunks = ChunkFile(text, budget, 0)
	checkChunks(t, text, chunks, budget)
	for i := 1; i < len(chunks); i++ {
		if chunks[i].LineStart != chunks[i-1].LineEnd+1 {
			t.Errorf("overlap 0: chunk %d starts at %d after %d", i, chunks[i].LineStart, chunks[i-1].LineEnd)
		}
	}
	// An overlap larger than a window still makes progress.
	chunks = ChunkFile(text, budget, 50)
	checkChunks(t, text, chunks, budget)
}

func TestChunkDeclarationBoundaryRule(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{"func F() {\n", true},
		{"// F does things.\n", true},
		{"# comment\n", true},
		{"class A:\n", true},
		{"endpoint: /api\n", true}, // a word that merely starts with "end"
		{"ending = 1\n", true},
		{"resource \"aws_s3_bucket\" \"b\" {\n", true},
		{"- name: build\n", true},
		{"}\n", false},
		{"})\n", false},
		{"]\n", false},
		{")\n", false},
		{"end\n", false},
		{"end;\n", false},
		{"end)\n", false},
		{"fi\n", false},
		{"done\n", false},
		{"esac\n", false},
		{"endif\n", false},
		{"else:\n", false},
		{"except ValueError:\n", false},
		{"    indented()\n", false},
		{"\tindented()\n", false},
		{"\n", false},
		{"  \r\n", false},
	} {
		lines := []string{"x\n", "\n", c.line}
		if got := isDeclBoundary(lines, 2); got != c.want {
			t.Errorf("blank line then %q: boundary %v, want %v", c.line, got, c.want)
		}
		lines[1] = "y\n" // no blank line before: never a boundary
		if isDeclBoundary(lines, 2) {
			t.Errorf("%q without a blank line before it counted as a boundary", c.line)
		}
	}
}

func TestChunkFileWindowsPreferBlankLines(t *testing.T) {
	// Indented code (no top-level boundaries) with a blank line every 7
	// lines: windows of up to 11 lines end just after a blank line.
	var b strings.Builder
	for i := range 100 {
		if i%7 == 6 {
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(&b, "    stmt %03d\n", i) // 13 bytes
	}
	text := b.String()
	for _, ov := range []int{0, 2} {
		chunks := ChunkFile(text, 50, ov) // 150 bytes
		lines := checkChunks(t, text, chunks, 50)
		for i, c := range chunks[:len(chunks)-1] {
			if lines[c.LineEnd-1] != "\n" {
				t.Errorf("overlap %d: chunk %d (%d-%d) ends with %q, not after a blank line", ov, i, c.LineStart, c.LineEnd, lines[c.LineEnd-1])
			}
		}
	}
}

func TestChunkFileOversizedDeclarationIsWindowed(t *testing.T) {
	// A small header, one huge function (no blank lines inside), and a
	// small function: the huge one is cut into windows, the others stay
	// whole.
	var b strings.Builder
	b.WriteString("package x\n\n")
	b.WriteString("func Big() {\n")
	for i := range 200 {
		fmt.Fprintf(&b, "\tcall(%03d)\n", i)
	}
	b.WriteString("}\n\nfunc Small() {}\n")
	text := b.String()
	chunks := ChunkFile(text, 100, 2)
	lines := checkChunks(t, text, chunks, 100)
	last := chunks[len(chunks)-1]
	if last.Text != "func Small() {}\n" || last.LineStart != len(lines) {
		t.Errorf("last chunk %d-%d is %q, want Small alone", last.LineStart, last.LineEnd, last.Text)
	}
	if len(chunks) < 5 {
		t.Errorf("Big (about 2 KB) was not windowed: %v", chunkSpans(chunks))
	}
	if chunks[0].LineEnd != 2 {
		t.Errorf("the header should be its own chunk, got lines %d-%d", chunks[0].LineStart, chunks[0].LineEnd)
	}
}

func TestChunkFileCRLF(t *testing.T) {
	var b strings.Builder
	for i := range 60 {
		fmt.Fprintf(&b, "echo step %02d\r\n", i) // 14 bytes
	}
	text := b.String()
	chunks := ChunkFile(text, 50, 2) // 150 bytes: 10 lines
	lines := checkChunks(t, text, chunks, 50)
	if len(lines) != 60 {
		t.Fatalf("%d lines, want 60", len(lines))
	}
	for _, c := range chunks {
		if !strings.HasSuffix(c.Text, "\r\n") {
			t.Errorf("chunk %d-%d lost its CRLF ending", c.LineStart, c.LineEnd)
		}
		want := fmt.Sprintf("echo step %02d\r\n", c.LineStart-1)
		if !strings.HasPrefix(c.Text, want) {
			t.Errorf("chunk %d-%d starts %q, want %q", c.LineStart, c.LineEnd, c.Text[:min(len(c.Text), len(want))], want)
		}
		if strings.Count(c.Text, "\r\n") != c.LineEnd-c.LineStart+1 {
			t.Errorf("chunk %d-%d holds %d lines", c.LineStart, c.LineEnd, strings.Count(c.Text, "\r\n"))
		}
	}
}

func TestChunkFileLongLine(t *testing.T) {
	long := strings.Repeat("x", 10*1024)
	text := "short one\n" + long + "\nshort two\nshort three\n"
	chunks := ChunkFile(text, 100, 2)
	checkChunks(t, text, chunks, 100)
	found := false
	for _, c := range chunks {
		if strings.Contains(c.Text, long) {
			found = true
			if c.LineStart != 2 || c.LineEnd != 2 {
				t.Errorf("the long line's chunk spans %d-%d, want 2-2", c.LineStart, c.LineEnd)
			}
		}
	}
	if !found {
		t.Fatal("the long line is in no chunk")
	}
	// A file that is one long line without a newline.
	chunks = ChunkFile(long, 100, 2)
	if len(chunks) != 1 || chunks[0].Text != long || chunks[0].LineStart != 1 || chunks[0].LineEnd != 1 {
		t.Errorf("single long line: got %+v", chunkSpans(chunks))
	}
}

func chunkSpans(cs []Chunk) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%d:%d-%d", c.Index, c.LineStart, c.LineEnd))
	}
	return out
}

func TestChunkFileEmptyAndSmall(t *testing.T) {
	if got := ChunkFile("", 100, 2); len(got) != 0 {
		t.Errorf("empty text: %v", chunkSpans(got))
	}
	for _, text := range []string{"a\nb\nc\n", "a\nb\nc", "\n", "x", "a\r\nb\r\n", "\n\n\n"} {
		want := strings.Count(text, "\n")
		if !strings.HasSuffix(text, "\n") {
			want++
		}
		got := ChunkFile(text, 100, 2)
		if len(got) != 1 || got[0].LineStart != 1 || got[0].LineEnd != want || got[0].Text != text || got[0].Index != 0 {
			t.Errorf("ChunkFile(%q) = %v, want one chunk 1-%d", text, chunkSpans(got), want)
		}
	}
	if got := (Chunk{LineStart: 12, LineEnd: 80}).Span(); got != "12-80" {
		t.Errorf("Span() = %q", got)
	}
	// Exactly at the budget still fits.
	text := strings.Repeat("ab\n", 100) // 300 bytes = 100 tokens
	if got := ChunkFile(text, 100, 2); len(got) != 1 || got[0].LineEnd != 100 {
		t.Errorf("a file of exactly the budget: %v", chunkSpans(got))
	}
	if got := ChunkFile(text, 99, 2); len(got) < 2 {
		t.Errorf("a file one token over the budget: %v", chunkSpans(got))
	}
}

func TestChunkFileNeverInsideALine(t *testing.T) {
	// Random-ish line lengths and blank lines, small budgets.
	var b strings.Builder
	for i := range 300 {
		switch {
		case i%17 == 0:
			b.WriteString("\n")
		case i%5 == 0:
			fmt.Fprintf(&b, "top%d:\n", i)
		default:
			b.WriteString("  " + strings.Repeat("y", (i*37)%90) + "\n")
		}
	}
	text := b.String()
	for _, budget := range []int{1, 5, 20, 33, 100, 1000} {
		for _, ov := range []int{0, 1, 4, 20} {
			checkChunks(t, text, ChunkFile(text, budget, ov), max(budget, 1))
		}
	}
}

func TestSplitChunk(t *testing.T) {
	text, starts := goFile(6)
	c := Chunk{Index: 3, LineStart: 101, LineEnd: 100 + len(splitLinesKeepEnds(text)), Text: text}
	a, b, ok := SplitChunk(c, 10)
	if !ok {
		t.Fatal("SplitChunk refused a splittable chunk")
	}
	if a.Text+b.Text != c.Text {
		t.Fatal("the halves do not join to the chunk")
	}
	if a.LineStart != 101 || b.LineEnd != c.LineEnd || b.LineStart != a.LineEnd+1 {
		t.Errorf("spans %d-%d and %d-%d of %d-%d", a.LineStart, a.LineEnd, b.LineStart, b.LineEnd, c.LineStart, c.LineEnd)
	}
	if a.Index != 3 || b.Index != 3 {
		t.Errorf("indexes %d, %d; want the chunk's 3", a.Index, b.Index)
	}
	// The split is at the function nearest the middle: F03 of F00-F05.
	if want := 100 + starts[3]; b.LineStart != want {
		t.Errorf("second half starts at line %d, want %d (func F03)", b.LineStart, want)
	}
	if a.Text != strings.Join(splitLinesKeepEnds(text)[:b.LineStart-101], "") {
		t.Error("first half's Text is not its lines")
	}

	// No declarations: a blank line near the middle wins over the middle.
	var sb strings.Builder
	for i := range 20 {
		if i == 6 {
			sb.WriteString("   \n")
			continue
		}
		fmt.Fprintf(&sb, "    stmt%02d\n", i)
	}
	c = Chunk{LineStart: 1, LineEnd: 20, Text: sb.String()}
	a, b, ok = SplitChunk(c, 1)
	if !ok || b.LineStart != 8 {
		t.Errorf("blank-line split: ok=%v second starts at %d, want 8 (after the blank line, not the middle 11)", ok, b.LineStart)
	}
	// Neither: the middle line.
	c = Chunk{LineStart: 5, LineEnd: 14, Text: strings.Repeat("abcdefg\n", 10)}
	a, b, ok = SplitChunk(c, 1)
	if !ok || a.LineEnd != 9 || b.LineStart != 10 || b.LineEnd != 14 {
		t.Errorf("middle split: ok=%v %d-%d %d-%d", ok, a.LineStart, a.LineEnd, b.LineStart, b.LineEnd)
	}
	// A declaration boundary far from the middle is not taken.
	lopsided := "x\n\nfunc A() {}\n" + strings.Repeat("\tstmt\n", 40)
	c = Chunk{LineStart: 1, LineEnd: 43, Text: lopsided}
	a, _, ok = SplitChunk(c, 1)
	if !ok || a.LineEnd < 10 {
		t.Errorf("lopsided: ok=%v first half ends at %d; a split at line 2 would barely shrink the chunk", ok, a.LineEnd)
	}

	// Refusals.
	if _, _, ok := SplitChunk(Chunk{LineStart: 1, LineEnd: 1, Text: strings.Repeat("z", 5000) + "\n"}, 1); ok {
		t.Error("split a single line")
	}
	if _, _, ok := SplitChunk(Chunk{LineStart: 1, LineEnd: 1, Text: strings.Repeat("z", 5000)}, 1); ok {
		t.Error("split a single line without newline")
	}
	small := strings.Repeat("abcdefghi\n", 20) // 200 bytes, 67 tokens; halves ~34
	if _, _, ok := SplitChunk(Chunk{LineStart: 1, LineEnd: 20, Text: small}, 40); ok {
		t.Error("split into halves under minTokens")
	}
	if _, _, ok := SplitChunk(Chunk{LineStart: 1, LineEnd: 20, Text: small}, 30); !ok {
		t.Error("refused a split whose halves are above minTokens")
	}
}

func TestChunkBudget(t *testing.T) {
	// 8192 - 1024 - 300 - 167 (question) - 410 (5%) = 6291
	if got, want := ChunkBudget(8192, 1024, 300), 8192-1024-300-questionAllowanceTokens-410; got != want {
		t.Errorf("ChunkBudget(8192, 1024, 300) = %d, want %d", got, want)
	}
	if questionAllowanceTokens != EstimateTokens(strings.Repeat("q", maxQuestionChars)) {
		t.Errorf("question allowance %d does not cover the longest question", questionAllowanceTokens)
	}
	a := ChunkBudget(32768, 1024, 300)
	b := ChunkBudget(32768, 2048, 300)
	c := ChunkBudget(32768, 1024, 600)
	if a-b != 1024 || a-c != 300 {
		t.Errorf("budget should shrink token for token: %d %d %d", a, b, c)
	}
	for _, ctx := range []int{0, -1, 100, 1024, 1500} {
		if got := ChunkBudget(ctx, 1024, 300); got != chunkBudgetFloor {
			t.Errorf("ChunkBudget(%d, 1024, 300) = %d, want the floor %d", ctx, got, chunkBudgetFloor)
		}
	}
	// The result plus everything else fits the context.
	for _, ctx := range []int{4096, 8192, 131072} {
		bud := ChunkBudget(ctx, 1024, 400)
		if bud+1024+400+questionAllowanceTokens > ctx*95/100 {
			t.Errorf("context %d: budget %d leaves no safety margin", ctx, bud)
		}
	}
}
