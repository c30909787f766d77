package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrUnparsable matches every *ParseError with errors.Is.
var ErrUnparsable = errors.New("the model's answer is not the JSON that was asked for")

// ParseError says the model's text held no usable JSON. The caller can
// retry the request; it is never silently an empty result.
type ParseError struct {
	Snippet string // the start of the text, for the log
	Err     error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%v (%v); the answer began %q", ErrUnparsable, e.Err, e.Snippet)
}

// Is makes errors.Is(err, ErrUnparsable) true.
func (e *ParseError) Is(target error) bool { return target == ErrUnparsable }

func (e *ParseError) Unwrap() error { return e.Err }

// ParseJSON decodes the first JSON value in a model's answer into v. It
// copes with what models wrap around JSON when no server-side constraint
// applies: whitespace, a ```json fence, text before the value and trailing
// text after it.
func ParseJSON(text string, v any) error {
	s := strings.TrimSpace(strings.TrimPrefix(text, "\ufeff"))
	if i := strings.Index(s, "```"); i >= 0 {
		rest := s[i+3:]
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			rest = rest[nl+1:] // drop the fence's language tag
		}
		if j := strings.Index(rest, "```"); j >= 0 {
			rest = rest[:j]
		}
		if strings.ContainsAny(rest, "{[") {
			s = rest
		}
	}
	start := strings.IndexAny(s, "{[")
	if start < 0 {
		return &ParseError{Snippet: snippet(text), Err: errors.New("no JSON object or array found")}
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s[start:])))
	if err := dec.Decode(v); err != nil {
		return &ParseError{Snippet: snippet(text), Err: err}
	}
	return nil
}

func snippet(s string) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return string(r)
}
