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

func TestCountersAddUp(t *testing.T) {
	s := openTest(t, Options{Lock: true})
	ctx := t.Context()
	if n, err := s.Counter(ctx, CounterNearDuplicateQuestions); err != nil || n != 0 {
		t.Fatalf("fresh counter = %d, %v", n, err)
	}
	for _, n := range []int64{2, 0, 5} {
		if err := s.AddCounter(ctx, CounterNearDuplicateQuestions, n); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Counter(ctx, CounterNearDuplicateQuestions); err != nil || n != 7 {
		t.Fatalf("counter = %d, %v; want 7", n, err)
	}
}
