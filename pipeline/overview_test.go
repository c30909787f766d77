package pipeline

import (
	"context"
	"testing"

	"cicdllm/llm/sim"
)

func TestQuestionType(t *testing.T) {
	for q, want := range map[string]string{
		"What does ParseToken return?":                     "what",
		"Which error does Load return for a missing file?": "debug",
		"How is the cache invalidated?":                    "how",
		"Why does Refresh compare timestamps?":             "why",
		"Write a test for Add that covers overflow.":       "write-code",
		"How would you implement retries here?":            "write-code",
		"What happens when the handler panics?":            "debug",
		"Is it safe to call Add concurrently?":             "other",
		"1. What does `Total` compute?":                    "what",
		"How would you fix the off-by-one in the loop?":    "debug",
	} {
		if got := QuestionType(q); got != want {
			t.Errorf("QuestionType(%q) = %q, want %q", q, got, want)
		}
	}
}

func TestQualityOverview(t *testing.T) {
	f := newPrepFixture(t, map[string]string{"a.go": goSource("a", 3), "deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  mode: fast\n"},
		sim.Config{Slots: 1})
	f.run(nil)
	o, err := ReadQualityOverview(context.Background(), f.st)
	if err != nil {
		t.Fatal(err)
	}
	var typed, langs int64
	for _, n := range o.QuestionTypes {
		typed += n
	}
	for _, n := range o.Languages {
		langs += n
	}
	if o.Samples == 0 || typed != o.Samples || langs != o.Samples || o.Languages["Go"] == 0 || o.Languages["YAML"] == 0 {
		t.Fatalf("overview = %+v", o)
	}
}
