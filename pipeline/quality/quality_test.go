package quality

import (
	"slices"
	"strings"
	"testing"
)

const testChunk = `package auth

// Refresh renews the access token when it is about to expire.
func (s *Store) Refresh(ctx context.Context, tok *Token) (*Token, error) {
	if time.Until(tok.ExpiresAt) > refresh_margin {
		return tok, nil
	}
	fresh, err := s.client.ParseToken(ctx, tok.RefreshToken)
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	return fresh, nil
}
`

const goodQuestion = "What does Refresh do when the token is not close to expiry?"

// goodAnswer is a realistic ~40-word answer that should raise no flag.
const goodAnswer = "When the token's `ExpiresAt` is further away than `refresh_margin`, `Refresh` returns the same token " +
	"unchanged and a nil error. Only when expiry is near does it call `s.client.ParseToken` with the refresh token, " +
	"wrapping any failure with fmt.Errorf so callers can inspect it with errors.Is."

func kinds(flags []Flag) []string {
	var out []string
	for _, f := range flags {
		out = append(out, f.Kind)
	}
	return out
}

func hasFlag(flags []Flag, kind, detail string) bool {
	for _, f := range flags {
		if f.Kind == kind && (detail == "" || f.Detail == detail) {
			return true
		}
	}
	return false
}

func TestGoodSampleHasNoFlags(t *testing.T) {
	c := NewChecker()
	if n := len(strings.Fields(goodAnswer)); n < 35 {
		t.Fatalf("good answer too short for the test: %d words", n)
	}
	flags := c.Check(Input{Question: goodQuestion, Answer: goodAnswer, Chunk: testChunk, Language: "go"})
	if len(flags) != 0 {
		t.Fatalf("unexpected flags: %+v", flags)
	}
}

func TestCheckFlags(t *testing.T) {
	long := " It returns the existing token unchanged and a nil error, otherwise it asks the client for a new one."
	tests := []struct {
		name   string
		in     Input
		kind   string
		detail string // "" = any detail
		want   bool
	}{
		// unknown_identifier
		{"backticked present", Input{Answer: "The `Refresh` method renews the token." + long}, FlagUnknownIdentifier, "", false},
		{"backticked absent", Input{Answer: "It calls `RotateKeys` before returning." + long}, FlagUnknownIdentifier, "RotateKeys", true},
		{"camel prose absent", Input{Answer: "It calls ValidateSignature first." + long}, FlagUnknownIdentifier, "ValidateSignature", true},
		{"camel prose present", Input{Answer: "It calls ParseToken first." + long}, FlagUnknownIdentifier, "", false},
		{"camel is case sensitive", Input{Answer: "It calls parseToken first." + long}, FlagUnknownIdentifier, "parseToken", true},
		{"snake absent", Input{Answer: "It compares against max_retries." + long}, FlagUnknownIdentifier, "max_retries", true},
		{"snake case-insensitive", Input{Answer: "It compares against REFRESH_MARGIN." + long}, FlagUnknownIdentifier, "", false},
		{"dotted last part present", Input{Answer: "It uses c.ParseToken internally." + long}, FlagUnknownIdentifier, "", false},
		{"dotted absent", Input{Answer: "It calls s.cache.Evict afterwards." + long}, FlagUnknownIdentifier, "s.cache.Evict", true},
		{"call absent", Input{Answer: "It calls flush() afterwards." + long}, FlagUnknownIdentifier, "flush", true},
		{"backtick call with args and generics", Input{Answer: "See `Lookup[K](ctx, key)` for details." + long}, FlagUnknownIdentifier, "Lookup", true},
		{"backtick pointer receiver present", Input{Answer: "The `*Store.Refresh(ctx, tok)` method does it." + long}, FlagUnknownIdentifier, "", false},
		{"context counts", Input{Answer: "It calls `RotateKeys` before returning." + long, Context: "func RotateKeys() {}"}, FlagUnknownIdentifier, "", false},
		{"well-known words ignored", Input{Answer: "It returns `nil`, `true`, JSON, HTTP GET data, an API ID, e.g. a URL, via fmt.Println, see main.go and `error`." + long}, FlagUnknownIdentifier, "", false},
		{"product names ignored", Input{Answer: "Like GitHub and JavaScript tooling, it is simple." + long}, FlagUnknownIdentifier, "", false},
		{"code blocks not scanned", Input{Answer: "Example:\n```go\nx := NewThing()\n```\n" + long}, FlagUnknownIdentifier, "", false},
		// empty_answer
		{"empty", Input{Answer: "  \n"}, FlagEmptyAnswer, "", true},
		{"not empty", Input{Answer: "ok"}, FlagEmptyAnswer, "", false},
		// short_answer
		{"short", Input{Answer: "It renews the token."}, FlagShortAnswer, "4 words", true},
		{"long enough", Input{Answer: "It renews the token when it is about to expire."}, FlagShortAnswer, "", false},
		// refusal
		{"as an ai", Input{Answer: "As an AI language model, I cannot run the code." + long}, FlagRefusal, "as an ai language model", true},
		{"sorry but", Input{Answer: "I’m sorry, but I can’t see the rest of the file." + long}, FlagRefusal, "", true},
		{"no access", Input{Answer: "I don't have access to the repository." + long}, FlagRefusal, "", true},
		{"cannot in code comment only", Input{Answer: "Example:\n```go\n// I cannot fail\nx := 1\n```\n" + long}, FlagRefusal, "", false},
		{"no refusal", Input{Answer: "The function cannot fail once the token is fresh." + long}, FlagRefusal, "", false},
		// meta_talk
		{"provided code", Input{Answer: "In the provided code, the token is renewed." + long}, FlagMetaTalk, "the provided code", true},
		{"given snippet", Input{Answer: "The given snippet renews the token." + long}, FlagMetaTalk, "", true},
		{"code above", Input{Answer: "The code above renews the token." + long}, FlagMetaTalk, "", true},
		{"no meta", Input{Answer: "Refresh renews the token." + long}, FlagMetaTalk, "", false},
		// restates_question
		{"restates", Input{Question: "What does Refresh do when the token is not close to expiry?", Answer: "Refresh does something when the token is not close to expiry."}, FlagRestatesQuestion, "", true},
		{"answers", Input{Question: "What does Refresh do when the token is not close to expiry?", Answer: goodAnswer}, FlagRestatesQuestion, "", false},
		// not_a_question
		{"no question mark", Input{Question: "What does Refresh do"}, FlagNotAQuestion, "", true},
		{"empty question", Input{Question: ""}, FlagNotAQuestion, "empty question", true},
		{"question mark", Input{Question: "What does Refresh do? "}, FlagNotAQuestion, "", false},
		// off_topic
		{"off topic", Input{Question: "How do I configure Kubernetes ingress annotations?"}, FlagOffTopic, "", true},
		{"on topic identifier", Input{Question: "When does Refresh return the same token?"}, FlagOffTopic, "", false},
		{"on topic word part", Input{Question: "How are refresh tokens parsed?"}, FlagOffTopic, "", false},
		{"vague is not off topic", Input{Question: "What does this function do?"}, FlagOffTopic, "", false},
		// duplicate_question
		{"duplicate", Input{Question: "What does Refresh do?", Seen: []string{"Why is ctx needed?", "what does  refresh do"}}, FlagDuplicateQuestion, "what does  refresh do", true},
		{"not duplicate", Input{Question: "What does Refresh do?", Seen: []string{"What does Refresh return?"}}, FlagDuplicateQuestion, "", false},
		// code_invalid
		{"invalid go", Input{Answer: "Like this:\n\n```go\nfunc f() {\n\tx := 1\n\ty := x x\n}\n```\n" + long}, FlagCodeInvalid, "go block at answer line 4: line 3: expected ';', found x", true},
		{"valid go", Input{Answer: "Like this:\n\n```go\nfunc f() {\n\tx := 1\n\t_ = x\n}\n```\n" + long}, FlagCodeInvalid, "", false},
		{"invalid json", Input{Answer: "Config:\n```json\n{\"a\": 1,}\n```\n" + long}, FlagCodeInvalid, "", true},
		{"unknown language not checked", Input{Answer: "Run:\n```rust\nfn main( {\n```\n" + long}, FlagCodeInvalid, "", false},
	}
	c := NewChecker()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if in.Chunk == "" {
				in.Chunk = testChunk
			}
			if in.Question == "" && tt.kind != FlagNotAQuestion {
				in.Question = goodQuestion
			}
			if in.Answer == "" && tt.kind != FlagEmptyAnswer {
				in.Answer = goodAnswer
			}
			flags := c.Check(in)
			if got := hasFlag(flags, tt.kind, tt.detail); got != tt.want {
				t.Fatalf("flag %s %q: got %v, want %v; all flags: %+v", tt.kind, tt.detail, got, tt.want, flags)
			}
		})
	}
}

func TestEmptyAnswerSuppressesOtherAnswerFlags(t *testing.T) {
	flags := NewChecker().Check(Input{Question: goodQuestion, Answer: "", Chunk: testChunk})
	if got := kinds(flags); !slices.Equal(got, []string{FlagEmptyAnswer}) {
		t.Fatalf("got %v", got)
	}
}

func TestFlagsSortedAndUnique(t *testing.T) {
	in := Input{
		Question: "Explain the provided code",
		Answer:   "As an AI, the provided code calls `ZetaFunc` and `AlphaFunc` and `AlphaFunc`.",
		Chunk:    testChunk,
	}
	flags := NewChecker().Check(in)
	if !slices.IsSortedFunc(flags, func(a, b Flag) int {
		if a.Kind != b.Kind {
			return strings.Compare(a.Kind, b.Kind)
		}
		return strings.Compare(a.Detail, b.Detail)
	}) {
		t.Fatalf("not sorted: %+v", flags)
	}
	if len(slices.Compact(slices.Clone(flags))) != len(flags) {
		t.Fatalf("duplicates: %+v", flags)
	}
	for _, want := range []string{FlagMetaTalk, FlagNotAQuestion, FlagRefusal, FlagUnknownIdentifier} {
		if !hasFlag(flags, want, "") {
			t.Errorf("missing %s in %+v", want, flags)
		}
	}
}

func TestIdentifiers(t *testing.T) {
	c := NewChecker()
	got := c.identifiers("Call `Store.Get[K](ctx)` then ParseToken, max_size, obj.method, run() and `token`; " +
		"ignore JSON, e.g., i.e., Go, The, main.go, example.com, fmt.Sprintf, `nil`, GitHub and `--verbose`.")
	want := []string{"Store.Get", "token", "ParseToken", "max_size", "obj.method", "run"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSplitIdentifier(t *testing.T) {
	got := splitIdentifier("parseHTTPToken_v2")
	if want := []string{"parse", "HTTP", "Token", "v2"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func BenchmarkCheck(b *testing.B) {
	c := NewChecker()
	in := Input{
		Question: goodQuestion,
		Answer:   goodAnswer + "\n\nFor example:\n\n```go\nfresh, err := store.Refresh(ctx, tok)\nif err != nil {\n\treturn err\n}\n```\n",
		Chunk:    testChunk,
		Context:  strings.Repeat(testChunk, 8),
		Language: "go",
		Seen:     []string{"Why does Refresh take a context?", "What error does Refresh wrap?"},
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Check(in)
	}
}
