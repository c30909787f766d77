package store

import (
	"reflect"
	"testing"
)

func TestRedactionCountsAddUp(t *testing.T) {
	s := openTest(t, Options{Lock: true})
	ctx := t.Context()
	if err := s.AddRedactions(ctx, RedactPrompt, map[string]int{"aws-access-token": 2, "jwt": 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRedactions(ctx, RedactPrompt, map[string]int{"aws-access-token": 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRedactions(ctx, RedactOutput, map[string]int{"jwt": 1}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Redactions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []RedactionCount{{RedactOutput, "jwt", 1}, {RedactPrompt, "aws-access-token", 5}, {RedactPrompt, "jwt", 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Redactions = %+v, want %+v", got, want)
	}
}
