package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"

	"cicdllm/llm"
	"cicdllm/store"
)

// Scorer has the LLM judge every active sample: groundedness in the source
// lines, correctness and usefulness, 1 to 5 each, with a one-sentence
// reason. The mean goes to the sample's quality score, the parts to its
// answer's metadata (store.SetJudgement). Human ratings are never touched.
//
// Like prepare it keeps Slots requests in flight and commits each sample
// on its own as soon as it is judged, so a kill loses at most the requests
// in flight and a re-run judges only what is left (it lists unscored
// samples only, unless Rescore).
type Scorer struct {
	WS     Workspace
	Config Config
	Store  *store.Store
	Client *llm.Client
	Slots  int // requests in flight
	Model  string
	Logger *slog.Logger
	// Rescore judges samples that already have a score again.
	Rescore bool
	// OnScored hears each stored judgement; may be nil; called from
	// several goroutines.
	OnScored func(id int64, score float64)

	red     *safetyFilter
	srcMu   sync.Mutex
	sources map[string]sourceText // by repo id and blob
}

// ScoreReport sums up a Scorer run. Mean is the mean score of the samples
// judged in this run (0 when none).
type ScoreReport struct {
	Scored, Failed, Skipped int
	Mean                    float64
}

type sourceText struct {
	text string
	err  error
}

// scorePageSize is how many ids are listed at a time.
const scorePageSize = 256

// judgeMaxTokens bounds the judge's answer: four small fields.
const judgeMaxTokens = 256

// maxJudgeReason caps the stored reason (runes).
const maxJudgeReason = 500

// maxSourceCache bounds the blobs kept in memory; samples come in id
// order, so one file's samples mostly follow each other.
const maxSourceCache = 32

// JudgeSchema is the JSON schema of a judgement.
func JudgeSchema() *llm.Schema {
	const s = `{"type":"object","properties":{` +
		`"groundedness":{"type":"integer","minimum":1,"maximum":5},` +
		`"correctness":{"type":"integer","minimum":1,"maximum":5},` +
		`"usefulness":{"type":"integer","minimum":1,"maximum":5},` +
		`"reason":{"type":"string"}},` +
		`"required":["groundedness","correctness","usefulness","reason"],"additionalProperties":false}`
	return &llm.Schema{Name: "judgement", Schema: json.RawMessage(s), Strict: true}
}

const judgeSystem = `You are a strict reviewer of training data for code LLMs. You rate one question/answer sample about a source file, each criterion from 1 (bad) to 5 (excellent):
- groundedness: the answer is supported by the source lines shown and invents no identifiers, behaviour or facts that are not there;
- correctness: the answer is technically right;
- usefulness: the question is worth asking and the answer teaches something a developer would want to know.
Be strict: 5 only for a sample you would gladly train on. Answer with only this JSON object and nothing else:
{"groundedness": <1-5>, "correctness": <1-5>, "usefulness": <1-5>, "reason": "<one sentence>"}`

// ErrBadJudgement: the judge's answer lacked a rating or was not the JSON
// asked for.
var ErrBadJudgement = errors.New("the judge's answer is not a complete judgement")

// Judgement is one parsed verdict, parts clamped to 1..5.
type Judgement struct {
	Parts  map[string]int
	Reason string
}

// Score is the mean of the parts.
func (j Judgement) Score() float64 {
	sum := 0
	for _, k := range store.JudgeParts {
		sum += j.Parts[k]
	}
	return float64(sum) / float64(len(store.JudgeParts))
}

// ParseJudgement reads a judgement from a model's answer: the JSON object,
// possibly fenced or surrounded by text, after any <think> block. Ratings
// may be numbers or numeric strings; they are rounded and clamped to 1..5.
// A missing rating is an error matching ErrBadJudgement.
func ParseJudgement(text string) (Judgement, error) {
	clean := thinkRe.ReplaceAllString(text, "")
	if i := strings.Index(clean, "<think>"); i >= 0 {
		clean = clean[:i]
	}
	var raw map[string]json.RawMessage
	if err := llm.ParseJSON(clean, &raw); err != nil {
		return Judgement{}, fmt.Errorf("%w: %v", ErrBadJudgement, err)
	}
	j := Judgement{Parts: map[string]int{}}
	for _, k := range store.JudgeParts {
		v, ok := rating(raw[k])
		if !ok {
			return Judgement{}, fmt.Errorf("%w: no usable %q in %s", ErrBadJudgement, k, questionSnippet(strings.TrimSpace(clean)))
		}
		j.Parts[k] = v
	}
	var reason string
	if r, ok := raw["reason"]; ok {
		if json.Unmarshal(r, &reason) != nil {
			reason = strings.Trim(string(r), `"`)
		}
	}
	reason = strings.Join(strings.Fields(reason), " ")
	if rs := []rune(reason); len(rs) > maxJudgeReason {
		reason = string(rs[:maxJudgeReason]) + "…"
	}
	j.Reason = reason
	return j, nil
}

// rating reads 4, 4.0 or "4" and clamps it to 1..5.
func rating(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return 0, false
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return int(min(max(math.Round(f), 1), 5)), true
}

// Run judges every unscored active sample (every active sample with
// Rescore) and returns when all are done or ctx ended (then with ctx's
// error and the report so far). A sample whose request fails after the
// client's retries is counted Failed and logged; the next run tries it
// again.
func (s *Scorer) Run(ctx context.Context) (ScoreReport, error) {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	slots := max(s.Slots, 1)
	var err error
	if s.red, err = newSafetyFilter(s.Config.Safety); err != nil {
		return ScoreReport{}, err
	}
	s.sources = map[string]sourceText{}
	repos, err := s.Store.Repos(ctx)
	if err != nil {
		return ScoreReport{}, err
	}
	paths := make(map[int64]store.Repo, len(repos))
	for _, r := range repos {
		paths[r.ID] = r
	}

	// A full database fails every later write too: stop at the first one
	// instead of paying the server for verdicts that cannot be kept.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var (
		mu   sync.Mutex
		rep  ScoreReport
		sum  float64
		full error
	)
	ids := make(chan int64)
	var wg sync.WaitGroup
	for range slots {
		wg.Go(func() {
			for id := range ids {
				if ctx.Err() != nil {
					continue // drain
				}
				score, skipped, err := s.scoreOne(ctx, id, paths)
				mu.Lock()
				switch {
				case err != nil && store.IsFull(err):
					if full == nil {
						full = databaseFull(s.Store, err)
						stop(full)
					}
				case err != nil && ctx.Err() != nil:
					// Cancelled: neither scored nor failed.
				case err != nil:
					rep.Failed++
					s.Logger.Warn("sample could not be judged", "sample", id, "err", err)
				case skipped:
					rep.Skipped++
				default:
					rep.Scored++
					sum += score
				}
				mu.Unlock()
				if err == nil && !skipped && s.OnScored != nil {
					s.OnScored(id, score)
				}
			}
		})
	}
	var listErr error
	var after int64
feed:
	for ctx.Err() == nil {
		page, err := s.Store.UnscoredSamples(ctx, after, scorePageSize, s.Rescore)
		if err != nil {
			if ctx.Err() == nil {
				listErr = err
			}
			break
		}
		if len(page) == 0 {
			break
		}
		for _, id := range page {
			select {
			case ids <- id:
			case <-ctx.Done():
				break feed
			}
		}
		after = page[len(page)-1]
	}
	close(ids)
	wg.Wait()
	if rep.Scored > 0 {
		rep.Mean = sum / float64(rep.Scored)
	}
	if full != nil {
		return rep, full
	}
	if listErr != nil {
		return rep, listErr
	}
	return rep, ctx.Err()
}

// scoreOne judges one sample and commits the verdict. skipped: the sample
// changed since it was listed (no longer active, or scored meanwhile).
func (s *Scorer) scoreOne(ctx context.Context, id int64, repos map[int64]store.Repo) (score float64, skipped bool, err error) {
	sm, err := s.Store.Sample(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	question, answer, ok := lastExchange(sm)
	if sm.Status != store.StatusActive || !ok || (!s.Rescore && sm.Score != nil) {
		return 0, true, nil
	}
	msgs := []llm.Message{
		{Role: "system", Content: judgeSystem},
		{Role: "user", Content: s.judgePrompt(sm, repos[sm.RepoID], question, answer)},
	}
	req := llm.Request{Messages: msgs, MaxTokens: judgeMaxTokens, Temperature: 0, Schema: JudgeSchema()}
	var j Judgement
	var resp llm.Response
	for try := 0; ; try++ {
		resp, err = s.Client.Chat(ctx, req)
		if err != nil {
			return 0, false, err // the client has retried already
		}
		if j, err = ParseJudgement(resp.Text); err == nil {
			break
		}
		if try == 1 {
			return 0, false, err
		}
		s.Logger.Info("judgement unusable; asking again", "sample", id, "err", err)
		// Show the model what went wrong rather than repeating the same
		// deterministic request.
		req.Messages = append(msgs[:len(msgs):len(msgs)],
			llm.Message{Role: "assistant", Content: resp.Text},
			llm.Message{Role: "user", Content: `That was not a complete judgement. Answer with only the JSON object {"groundedness": <1-5>, "correctness": <1-5>, "usefulness": <1-5>, "reason": "<one sentence>"}.`})
	}
	model := resp.Model
	if model == "" {
		model = s.Model
	}
	reason := s.red.text(store.RedactOutput, j.Reason)
	score = j.Score()
	// Committed even if ctx ends now: the request is paid for.
	if err := s.Store.SetJudgement(context.Background(), id, score, j.Parts, reason, model); err != nil {
		return 0, false, err
	}
	return score, false, nil
}

// lastExchange returns the last answer and the user turn before it.
func lastExchange(sm store.Sample) (question, answer string, ok bool) {
	for i := len(sm.Turns) - 1; i >= 0; i-- {
		t := sm.Turns[i]
		if !ok {
			if t.Role == "assistant" {
				answer, ok = t.Content, true
			}
			continue
		}
		if t.Role == "user" {
			return t.Content, answer, true
		}
	}
	return "", answer, ok
}

func (s *Scorer) judgePrompt(sm store.Sample, repo store.Repo, question, answer string) string {
	var b strings.Builder
	name := sm.RepoName
	if name == "" {
		name = repo.Name
	}
	fmt.Fprintf(&b, "Repository: %s\nFile: %s\nLines: %d-%d\n\n", name, sm.FilePath, sm.LineStart, sm.LineEnd)
	src, err := s.source(repo, sm.BlobOID)
	lines := ""
	if err == nil {
		lines = linesOf(src, sm.LineStart, sm.LineEnd)
	}
	if strings.TrimSpace(lines) == "" {
		if err == nil {
			err = errors.New("the lines are empty or out of range")
		}
		s.Logger.Debug("judging without source", "sample", sm.ID, "err", err)
		b.WriteString("Source lines: not available (the file could not be read). Judge groundedness as best you can from the question and answer alone.\n\n")
	} else {
		fence := "```"
		for strings.Contains(lines, fence) {
			fence += "`"
		}
		fmt.Fprintf(&b, "Source lines:\n%s\n%s", fence, lines)
		if !strings.HasSuffix(lines, "\n") {
			b.WriteString("\n")
		}
		b.WriteString(fence + "\n\n")
	}
	fmt.Fprintf(&b, "Question:\n%s\n\nAnswer:\n%s\n\nRate the sample. Answer with only the JSON object.", strings.TrimSpace(question), strings.TrimSpace(answer))
	return b.String()
}

// source returns the redacted text of a blob, cached.
func (s *Scorer) source(repo store.Repo, blob string) (string, error) {
	if repo.LocalPath == "" {
		return "", errors.New("the repository is not cloned")
	}
	key := strconv.FormatInt(repo.ID, 10) + ":" + blob
	s.srcMu.Lock()
	e, ok := s.sources[key]
	s.srcMu.Unlock()
	if ok {
		return e.text, e.err
	}
	text, err := ReadSource(repo.LocalPath, blob)
	if err == nil {
		text = s.red.text(store.RedactPrompt, text) // no secret goes to the LLM
	}
	s.srcMu.Lock()
	if len(s.sources) >= maxSourceCache {
		clear(s.sources)
	}
	s.sources[key] = sourceText{text: text, err: err}
	s.srcMu.Unlock()
	return text, err
}
