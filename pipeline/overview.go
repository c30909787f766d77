package pipeline

import (
	"context"
	"path"
	"strings"

	"github.com/go-enry/go-enry/v2"

	"cicdllm/store"
)

// QualityOverview is where a curator should look: the judge's score
// histogram, the grounding flags by kind, the questions dropped as
// near-duplicates, what kinds of questions were asked and in which
// languages the samples are. `stats` prints it and the UI shows it.
type QualityOverview struct {
	Scores         []store.ScoreBucket
	Flags          map[string]int64 // flag kind → answers flagged
	NearDuplicates int64
	QuestionTypes  map[string]int64 // what, how, why, write-code, debug, other
	Languages      map[string]int64 // by the sample's file
	Samples        int64            // active samples counted above
}

// ReadQualityOverview reads the overview of the active samples. It walks
// every active sample's first question once (keyset pages), so it costs
// about a second per million samples: fine for `stats` and a UI panel
// opened on request, not for a 10 Hz view.
func ReadQualityOverview(ctx context.Context, st *store.Store) (QualityOverview, error) {
	o := QualityOverview{QuestionTypes: map[string]int64{}, Languages: map[string]int64{}}
	var err error
	if o.Scores, err = st.ScoreHistogram(ctx); err != nil {
		return o, err
	}
	if o.Flags, err = st.Counters(ctx, store.CounterFlagPrefix); err != nil {
		return o, err
	}
	if o.NearDuplicates, err = st.Counter(ctx, store.CounterNearDuplicateQuestions); err != nil {
		return o, err
	}
	langByExt := map[string]string{}
	q := store.SampleQuery{Statuses: []string{store.StatusActive}, Limit: store.MaxPageSize}
	for {
		page, err := st.ListSamples(ctx, q)
		if err != nil {
			return o, err
		}
		for _, s := range page.Samples {
			o.Samples++
			o.QuestionTypes[QuestionType(s.Question)]++
			ext := strings.ToLower(path.Ext(s.FilePath))
			key := ext
			if ext == "" {
				key = path.Base(s.FilePath) // Dockerfile, Makefile
			}
			lang, ok := langByExt[key]
			if !ok {
				lang = enry.GetLanguage(path.Base(s.FilePath), nil)
				if lang == "" {
					lang = "other"
				}
				langByExt[key] = lang
			}
			o.Languages[lang]++
		}
		if page.Next == 0 {
			return o, nil
		}
		q.After = page.Next
	}
}

// QuestionType sorts a question into what, how, why, write-code, debug or
// other, by its wording.
func QuestionType(q string) string {
	l := strings.ToLower(q)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(l, w) {
				return true
			}
		}
		return false
	}
	first := strings.Fields(strings.Trim(l, "\"'`*-0123456789. "))
	switch {
	case has("debug", " bug", "fix ", "error", "fail", "wrong", "panic", "crash"):
		return "debug"
	case has("write ", "implement", "refactor", "add a ", "modify ", "extend "):
		return "write-code"
	case len(first) > 0 && first[0] == "why":
		return "why"
	case len(first) > 0 && first[0] == "how":
		return "how"
	case len(first) > 0 && (first[0] == "what" || first[0] == "which" || first[0] == "what's"):
		return "what"
	}
	return "other"
}
