package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"cicdllm/llm"
	"cicdllm/pipeline/quality"
	"cicdllm/store"
)

// Runner turns the selected files of the cloned repositories into
// question/answer samples. It keeps exactly Slots requests in flight across
// all files, answering pending questions before asking new ones so files
// finish (and commit) early, and answering one chunk's questions back to
// back so the server's prefix cache serves the shared system text and code.
//
// Every result is committed on its own (questions as pending samples, then
// each answer), and a file is marked done only when none of its samples is
// pending, so a kill at any moment loses at most the requests in flight and
// a re-run resumes exactly where it stopped.
type Runner struct {
	WS     Workspace
	Config Config
	Store  *store.Store
	Client *llm.Client
	Theme  *Theme
	Slots  int // requests in flight
	// ContextSize is the server's context per request (llm.Probe).
	ContextSize int
	Model       string
	Logger      *slog.Logger
	OnEvent     func(Event) // called from several goroutines

	// RepoFilter keeps only repositories whose name contains it.
	RepoFilter string
	// Only, when set, restricts the run to these files (retry).
	Only map[FileKey]bool
	// Dry, when set, makes Run plan without calling the LLM or writing,
	// filling in what it would do.
	Dry *DryRun
	// BeforeTask, when set, runs in the worker goroutine before each
	// question or answer request for path. The crash and robustness suites
	// use it to inject faults (a panic) where real bugs would strike.
	BeforeTask func(repo, path string)

	sel      *Selector
	budget   int
	schema   *llm.Schema
	params   string
	progress Snapshot

	red    *safetyFilter // [safety]; nil when off
	checks *quality.Checker
	dedupQ *questionDedup // near-duplicate questions; nil when off

	// Content already turned into samples, or queued in this run, by blob
	// id: the same file in many repositories (forks, vendored copies) is
	// asked about once. Only the planner goroutine touches these.
	doneBlobs   map[string]store.BlobOwner // loaded when first needed
	queuedBlobs map[string]FileKey

	mu      sync.Mutex
	live    []*liveSlot // one per worker, for Activity
	crashed error       // a recovered panic, returned by Run
	wake    *sync.Cond
	answers []*task // answered first: they finish files
	asks    []*task
	running int
	held    int  // answers waiting in workers' own queues
	planned bool // the planner has queued everything
	paused  bool
	stop    bool
	skipped map[FileKey]bool
	reasons map[string]int64 // files skipped this run, by reason
}

// FileKey names a file of a repository.
type FileKey struct {
	RepoID int64
	Path   string
}

// EventKind says what an Event reports.
type EventKind int

// Runner events.
const (
	EventFileStarted EventKind = iota
	EventQuestions             // questions for a chunk were stored
	EventAnswer                // one answer was stored
	EventFileDone
	EventFileFailed
	EventFileSkipped // skipped by a rule, or by Skip
	EventPaused
	EventResumed
	EventRepoScanning // a repository's tree is being walked
	EventRepoScanned  // Count = files queued from it
	EventRepoSkipped  // its licence is not allowed (Text says why)
	EventRepoFailed   // its repository could not be read at all (Text, Err say why)
)

// Event is something the Runner did, for the CLI and the UI.
type Event struct {
	Kind     EventKind
	Repo     string
	Path     string
	Chunk    int
	Question string
	Text     string // answer text, or the skip/failure reason
	Count    int    // questions stored
	Err      error
}

// Snapshot holds the run's counters; faces poll it (it changes too often
// for an event per change).
type Snapshot struct {
	FilesPlanned, FilesDone, FilesFailed, FilesSkipped, FilesUnchanged atomic.Int64
	FilesRead                                                          atomic.Int64 // blobs inflated
	Questions, Answers, Truncated                                      atomic.Int64
	SecretFiles                                                        atomic.Int64 // skipped as credentials
	Redacted                                                           atomic.Int64 // secrets replaced, prompts and output
	QuestionsDropped                                                   atomic.Int64 // near-duplicates of stored questions
	FollowUps                                                          atomic.Int64 // follow-up exchanges stored (generation.turns)
	Requests, InFlight                                                 atomic.Int64
	PromptTokens, CachedTokens, CompletionTokens                       atomic.Int64
	// Answer prompts share their prefix (system text and code) within a
	// chunk, so their cache hits measure prefix-cache friendliness.
	AnswerPromptTokens, AnswerCachedTokens atomic.Int64
}

// SkipReasons counts the files skipped so far in this run, by reason
// (binary, lock_file, duplicate_content, ...).
func (r *Runner) SkipReasons() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.reasons))
	for k, v := range r.reasons {
		out[k] = v
	}
	return out
}

// Progress returns the live counters.
func (r *Runner) Progress() *Snapshot { return &r.progress }

// fileWork tracks one file while its tasks run.
type fileWork struct {
	key     FileKey
	repo    store.Repo
	file    File
	commit  string
	pending int // tasks queued or running
	queued  bool
	failed  error
	mu      sync.Mutex
}

type taskKind int

const (
	askTask taskKind = iota
	answerTask
)

type task struct {
	kind     taskKind
	fw       *fileWork
	chunk    Chunk
	sampleID int64
	question string
	attempt  int
	// qIndex of qCount: which of its chunk's questions an answer is
	// (1-based; 0 when unknown), for the live view.
	qIndex, qCount int
	live           *liveSlot // the worker running it; nil in tests
}

// Run processes every repository and returns when all work is done, Stop
// was called, or ctx ended.
func (r *Runner) Run(ctx context.Context) error {
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	sel, err := NewSelector(r.Config.Files)
	if err != nil {
		return err
	}
	r.sel = sel
	if r.red, err = newSafetyFilter(r.Config.Safety); err != nil {
		return err
	}
	if r.red != nil {
		r.red.counter = &r.progress.Redacted
	}
	if r.Dry == nil {
		r.dedupQ = newQuestionDedup(r.Config.Generation.NearDuplicateThreshold, r.Store)
		r.checks = quality.NewChecker()
	}
	r.mu.Lock()
	r.initLocked()
	r.mu.Unlock()
	r.Slots = max(r.Slots, 1)
	// Both requests carry the chunk, so the larger budget bounds it.
	r.budget = ChunkBudget(r.ContextSize, max(r.Config.Generation.MaxTokens, r.Config.Generation.QuestionMaxTokens), r.Theme.PromptOverhead())
	r.schema = QuestionSchema(r.Config.Generation.QuestionsPerChunk)

	if r.Dry != nil {
		return r.plan(ctx) // no LLM: nothing below is needed
	}
	params, _ := json.Marshal(map[string]any{
		"temperature": r.Config.Generation.Temperature, "max_tokens": r.Config.Generation.MaxTokens,
		"questions_per_chunk": r.Config.Generation.QuestionsPerChunk, "context": r.ContextSize,
		"structured_output": r.Client.StructuredMode(),
	})
	r.params = string(params)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A cancelled context must also wake workers waiting for tasks.
	stopWake := context.AfterFunc(ctx, func() { r.mu.Lock(); r.wake.Broadcast(); r.mu.Unlock() })
	defer stopWake()

	r.mu.Lock()
	r.live = make([]*liveSlot, r.Slots)
	for i := range r.live {
		r.live[i] = &liveSlot{slot: i}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for i := range r.Slots {
		wg.Go(func() { r.worker(ctx, r.live[i]) })
	}
	planErr := r.plan(ctx)
	r.mu.Lock()
	r.planned = true
	r.wake.Broadcast()
	r.mu.Unlock()
	wg.Wait()
	if planErr != nil {
		return planErr
	}
	r.mu.Lock()
	crashed := r.crashed
	r.mu.Unlock()
	// Counts of files that did not finish (stopped, skipped) too.
	r.red.flush(context.Background(), r.Store, r.Logger)
	if crashed != nil {
		return crashed
	}
	return ctx.Err()
}

// initLocked sets up the control state; the controls below may be called
// before Run (a UI or the battery watcher can pause a run not started yet).
func (r *Runner) initLocked() {
	if r.wake == nil {
		r.wake = sync.NewCond(&r.mu)
		r.skipped = map[FileKey]bool{}
		r.reasons = map[string]int64{}
	}
	if r.OnEvent == nil {
		r.OnEvent = func(Event) {}
	}
}

// Pause stops handing out new requests; those in flight finish.
func (r *Runner) Pause() {
	r.mu.Lock()
	r.initLocked()
	changed := !r.paused
	r.paused = true
	r.mu.Unlock()
	// Outside the lock: a consumer that blocks must not hold up workers.
	if changed {
		r.OnEvent(Event{Kind: EventPaused})
	}
}

// Resume undoes Pause.
func (r *Runner) Resume() {
	r.mu.Lock()
	r.initLocked()
	changed := r.paused
	r.paused = false
	r.wake.Broadcast()
	r.mu.Unlock()
	if changed {
		r.OnEvent(Event{Kind: EventResumed})
	}
}

// Skip drops the file's remaining requests for this run; it stays
// unfinished, so the next run picks it up again.
func (r *Runner) Skip(k FileKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.initLocked()
	r.skipped[k] = true
}

// Stop ends the run gracefully: no new requests, those in flight finish and
// commit. Cancel the context passed to Run to abandon them too.
func (r *Runner) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.initLocked()
	r.stop = true
	r.wake.Broadcast()
}

// next blocks until a task may run. A worker first drains its own queue:
// the answers of a chunk it asked, sent back to back so the server routes
// them to the slot that already holds that chunk's prompt. Otherwise
// answers come before asks; nil means the run is over for this worker.
func (r *Runner) next(ctx context.Context, local *[]*task) *task {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		switch {
		case ctx.Err() != nil || r.stop:
			r.held -= len(*local)
			*local = nil
			return nil
		case r.paused:
		case len(*local) > 0:
			t := (*local)[0]
			*local = (*local)[1:]
			r.held--
			r.running++
			return t
		case len(r.answers) > 0:
			t := r.answers[0]
			r.answers = r.answers[1:]
			// Take the rest of the same chunk's answers along.
			for len(r.answers) > 0 && r.answers[0].fw == t.fw && r.answers[0].chunk.Index == t.chunk.Index {
				*local = append(*local, r.answers[0])
				r.answers = r.answers[1:]
				r.held++
			}
			r.running++
			return t
		case len(r.asks) > 0:
			t := r.asks[0]
			r.asks = r.asks[1:]
			r.running++
			return t
		case r.planned && r.running == 0 && r.held == 0:
			r.wake.Broadcast()
			return nil
		}
		r.wake.Wait()
	}
}

// hold queues follow-up answers on the worker's own queue.
func (r *Runner) hold(local *[]*task, ts []*task) {
	for _, t := range ts {
		t.fw.mu.Lock()
		t.fw.pending++
		t.fw.mu.Unlock()
	}
	r.mu.Lock()
	*local = append(*local, ts...)
	r.held += len(ts)
	r.mu.Unlock()
}

func (r *Runner) enqueue(t *task) {
	t.fw.mu.Lock()
	t.fw.pending++
	t.fw.mu.Unlock()
	r.mu.Lock()
	if t.kind == answerTask {
		r.answers = append(r.answers, t)
	} else {
		r.asks = append(r.asks, t)
	}
	r.wake.Signal()
	r.mu.Unlock()
}

// waitForRoom keeps the planner a little ahead of the workers instead of
// reading every file of a large repository into memory.
func (r *Runner) waitForRoom(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.asks) > 2*r.Slots && ctx.Err() == nil && !r.stop {
		r.wake.Wait()
	}
}

func (r *Runner) worker(ctx context.Context, live *liveSlot) {
	// A bug must not take the whole program (and the user's terminal)
	// down: the run stops gracefully and Run reports it.
	inTask := false // counted in running and InFlight
	defer func() {
		if p := recover(); p != nil {
			r.Logger.Error("internal error in a prepare worker", "panic", p, "stack", string(debug.Stack()))
			r.mu.Lock()
			if r.crashed == nil {
				r.crashed = fmt.Errorf("internal error: %v (the run stopped; details in the log; run prepare again to resume)", p)
			}
			if inTask {
				// The task never reached the bookkeeping after run: undo
				// its share so counts and the drain condition stay true.
				r.running--
				r.wake.Broadcast()
			}
			r.mu.Unlock()
			if inTask {
				r.progress.InFlight.Add(-1)
			}
			live.end()
			r.Stop()
		}
	}()
	var local []*task
	for {
		t := r.next(ctx, &local)
		if t == nil {
			return
		}
		inTask = true
		r.progress.InFlight.Add(1)
		t.live = live
		live.begin(t)
		if r.BeforeTask != nil {
			r.BeforeTask(t.fw.repo.Name, t.fw.key.Path)
		}
		follow := r.run(ctx, t)
		live.end()
		r.hold(&local, follow)
		r.progress.InFlight.Add(-1)
		r.mu.Lock()
		r.running--
		inTask = false
		r.wake.Broadcast()
		r.mu.Unlock()
		r.taskDone(ctx, t.fw)
	}
}

func (r *Runner) isSkipped(k FileKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped[k]
}

// run executes one task and returns the answers that follow from it (for
// an ask). Errors the client could not retry away fail the file after
// generation.max_file_attempts; a cancelled run fails nothing.
func (r *Runner) run(ctx context.Context, t *task) []*task {
	fw := t.fw
	fw.mu.Lock()
	failed := fw.failed != nil
	fw.mu.Unlock()
	if failed || r.isSkipped(fw.key) {
		return nil
	}
	var follow []*task
	var err error
	if t.kind == askTask {
		follow, err = r.ask(ctx, t)
	} else {
		err = r.answer(ctx, t)
	}
	if err == nil || ctx.Err() != nil {
		return follow
	}
	if store.IsFull(err) {
		r.halt(err)
		return nil
	}
	var overflow *llm.ContextOverflowError
	if t.kind == askTask && errors.As(err, &overflow) {
		first, second, ok := SplitChunk(t.chunk, r.Config.Generation.MinChunkTokens)
		if ok {
			first.Index, second.Index = childIndex(t.chunk.Index, 0), childIndex(t.chunk.Index, 1)
			r.Logger.Info("chunk too long for the context; splitting", "file", fw.key.Path, "lines", lineSpan(t.chunk), "err", err)
			r.enqueue(&task{kind: askTask, fw: fw, chunk: first})
			r.enqueue(&task{kind: askTask, fw: fw, chunk: second})
			return nil
		}
	}
	if retryableTask(err) && t.attempt+1 < r.Config.Generation.MaxFileAttempts {
		r.Logger.Warn("request failed; trying again", "file", fw.key.Path, "attempt", t.attempt+1, "err", err)
		t2 := *t
		t2.attempt++
		r.enqueue(&t2)
		return nil
	}
	fw.mu.Lock()
	if fw.failed == nil {
		fw.failed = err
	}
	fw.mu.Unlock()
	return nil
}

// childIndex numbers the halves of a split chunk so that a re-run, which
// splits the same chunk the same way, finds the questions it stored.
func childIndex(parent, side int) int { return 1_000_000 + parent*2 + side }

// retryableTask: failures another attempt of the same task may fix.
func retryableTask(err error) bool {
	var overflow *llm.ContextOverflowError
	switch {
	case errors.As(err, &overflow):
		return false
	case errors.Is(err, ErrNoQuestions), errors.Is(err, llm.ErrEmptyCompletion), errors.Is(err, llm.ErrUnparsable):
		return true
	}
	var api *llm.APIError
	return !errors.As(err, &api) || api.Retryable
}

func lineSpan(c Chunk) string { return fmt.Sprintf("%d-%d", c.LineStart, c.LineEnd) }

func (r *Runner) promptData(fw *fileWork, c Chunk) PromptData {
	return PromptData{Code: c.Text, Path: fw.key.Path, Repo: fw.repo.Name, Language: fw.file.Language,
		Lines: lineSpan(c), Count: r.Config.Generation.QuestionsPerChunk}
}

func (r *Runner) account(resp llm.Response) {
	r.progress.Requests.Add(1)
	r.progress.PromptTokens.Add(int64(resp.Usage.PromptTokens))
	r.progress.CachedTokens.Add(int64(resp.Usage.CachedTokens))
	r.progress.CompletionTokens.Add(int64(resp.Usage.CompletionTokens))
}

// ask requests the chunk's questions, stores them as pending samples and
// returns the tasks that answer them.
func (r *Runner) ask(ctx context.Context, t *task) ([]*task, error) {
	fw := t.fw
	msgs, err := r.Theme.QuestionMessages(r.promptData(fw, t.chunk))
	if err != nil {
		return nil, err
	}
	req := llm.Request{Messages: msgs, MaxTokens: r.Config.Generation.QuestionMaxTokens,
		Temperature: r.Config.Generation.Temperature, Stream: true, Schema: r.schema}
	t.live.watch(&req)
	resp, err := r.Client.Chat(ctx, req)
	if err != nil {
		return nil, err
	}
	r.account(resp)
	structured := resp.Mode == llm.ModeJSONSchema || resp.Mode == llm.ModeJSONObject
	questions, err := ParseQuestions(resp.Text, structured, r.Config.Generation.QuestionsPerChunk)
	if err != nil {
		return nil, err
	}
	for i, q := range questions {
		questions[i] = r.red.text(store.RedactOutput, q) // a model can echo or invent secrets
	}
	questions, dropped, err := r.dedupQ.keep(ctx, fw.key.RepoID, questions)
	if err != nil {
		return nil, fmt.Errorf("near-duplicate check: %w", err)
	}
	if dropped > 0 {
		r.progress.QuestionsDropped.Add(int64(dropped))
		if err := r.Store.AddCounter(context.Background(), store.CounterNearDuplicateQuestions, int64(dropped)); err != nil {
			r.Logger.Error("count dropped questions", "err", err)
		}
	}
	if len(questions) == 0 {
		return nil, nil // every question repeated one already stored
	}
	nq := make([]store.NewQuestion, len(questions))
	for i, q := range questions {
		nq[i] = store.NewQuestion{RepoID: fw.key.RepoID, FilePath: fw.key.Path, CommitSHA: fw.commit, BlobOID: fw.file.BlobOID,
			ChunkIndex: t.chunk.Index, LineStart: t.chunk.LineStart, LineEnd: t.chunk.LineEnd, Question: q,
			Model: r.Model, Theme: r.Theme.Name, PromptHash: r.Theme.Hash, ParamsJSON: r.params}
	}
	ids, err := r.Store.InsertPendingQuestions(context.Background(), nq)
	if err != nil {
		return nil, fmt.Errorf("store questions: %w", err)
	}
	r.progress.Questions.Add(int64(len(ids)))
	r.OnEvent(Event{Kind: EventQuestions, Repo: fw.repo.Name, Path: fw.key.Path, Chunk: t.chunk.Index, Count: len(ids)})
	answers := make([]*task, len(ids))
	for i, id := range ids {
		answers[i] = &task{kind: answerTask, fw: fw, chunk: t.chunk, sampleID: id, question: questions[i], qIndex: i + 1, qCount: len(ids)}
	}
	return answers, nil
}

// answer requests one answer and commits it. An answer cut off by the
// token budget is tried once more with twice the budget, then stored
// flagged as truncated (kept out of exports by default).
func (r *Runner) answer(ctx context.Context, t *task) error {
	fw := t.fw
	d := r.promptData(fw, t.chunk)
	d.Question = t.question
	msgs, err := r.Theme.AnswerMessages(d)
	if err != nil {
		return err
	}
	budget := r.Config.Generation.MaxTokens
	var resp llm.Response
	for try := 0; try < 2; try++ {
		req := llm.Request{Messages: msgs, MaxTokens: budget, Temperature: r.Config.Generation.Temperature, Stream: true}
		t.live.watch(&req)
		resp, err = r.Client.Chat(ctx, req)
		if err != nil {
			return err
		}
		r.account(resp)
		r.progress.AnswerPromptTokens.Add(int64(resp.Usage.PromptTokens))
		r.progress.AnswerCachedTokens.Add(int64(resp.Usage.CachedTokens))
		if !resp.Truncated() {
			break
		}
		room := r.ContextSize - EstimateTokens(msgs[0].Content+msgs[1].Content)
		if room <= budget {
			break
		}
		budget = min(budget*2, room)
	}
	flags, code := r.checkAnswer(fw, t, resp.Text)
	meta, _ := json.Marshal(map[string]any{
		"finish_reason": resp.FinishReason, "latency_ms": resp.Duration.Milliseconds(),
		"prompt_tokens": resp.Usage.PromptTokens, "completion_tokens": resp.Usage.CompletionTokens,
		"cached_tokens": resp.Usage.CachedTokens, "attempts": resp.Attempts, "model": resp.Model,
		"quality_flags": flags, "code_blocks": code,
	})
	resp.Text = r.red.text(store.RedactOutput, resp.Text)
	err = r.Store.StoreAnswer(context.Background(), store.Answer{SampleID: t.sampleID, Content: resp.Text,
		Truncated: resp.Truncated(), MetadataJSON: string(meta)})
	if err != nil {
		return fmt.Errorf("store answer: %w", err)
	}
	r.progress.Answers.Add(1)
	if resp.Truncated() {
		r.progress.Truncated.Add(1)
	}
	r.OnEvent(Event{Kind: EventAnswer, Repo: fw.repo.Name, Path: fw.key.Path, Chunk: t.chunk.Index, Question: t.question, Text: resp.Text})
	if turns := r.Config.Generation.Turns; turns > 1 && !resp.Truncated() {
		r.followUps(ctx, t, append(msgs, llm.Message{Role: "assistant", Content: resp.Text}), turns-1)
	}
	return nil
}

// followUpPrompt asks for the next question of a conversation. It keeps
// the model on the code it was shown, so follow-ups stay grounded.
const followUpPrompt = "Ask one natural follow-up question that a developer reading this code would ask next, " +
	"answerable from the code above. Reply with the question only, on one line."

// followUps extends an answered sample into a conversation: n more
// exchanges, each a follow-up question and its answer, every exchange
// committed as it completes. A failure ends the conversation where it is;
// the sample keeps the turns it has.
func (r *Runner) followUps(ctx context.Context, t *task, conv []llm.Message, n int) {
	fw := t.fw
	for i := 0; i < n && ctx.Err() == nil; i++ {
		askReq := llm.Request{Messages: append(conv[:len(conv):len(conv)], llm.Message{Role: "user", Content: followUpPrompt}),
			MaxTokens: r.Config.Generation.QuestionMaxTokens, Temperature: r.Config.Generation.Temperature, Stream: true}
		t.live.watch(&askReq)
		resp, err := r.Client.Chat(ctx, askReq)
		if err != nil {
			r.Logger.Warn("follow-up question failed; the conversation ends here", "file", fw.key.Path, "err", err)
			return
		}
		r.account(resp)
		question := cleanFollowUp(r.red.text(store.RedactOutput, resp.Text))
		if question == "" {
			return
		}
		conv = append(conv, llm.Message{Role: "user", Content: question})
		ansReq := llm.Request{Messages: conv, MaxTokens: r.Config.Generation.MaxTokens, Temperature: r.Config.Generation.Temperature, Stream: true}
		t.live.watch(&ansReq)
		resp, err = r.Client.Chat(ctx, ansReq)
		if err != nil || resp.Truncated() {
			r.Logger.Warn("follow-up answer failed; the conversation ends here", "file", fw.key.Path, "err", err)
			return
		}
		r.account(resp)
		answer := r.red.text(store.RedactOutput, resp.Text)
		meta, _ := json.Marshal(map[string]any{"finish_reason": resp.FinishReason, "latency_ms": resp.Duration.Milliseconds(),
			"prompt_tokens": resp.Usage.PromptTokens, "completion_tokens": resp.Usage.CompletionTokens, "model": resp.Model, "turn": i + 2})
		if err := r.Store.AppendExchange(context.Background(), t.sampleID, question, answer, string(meta)); err != nil {
			r.Logger.Error("store a follow-up", "file", fw.key.Path, "err", err)
			return
		}
		r.progress.FollowUps.Add(1)
		conv = append(conv, llm.Message{Role: "assistant", Content: answer})
	}
}

// cleanFollowUp takes the first non-empty line of a model's reply and
// strips list numbering and quotes; "" when nothing question-like is left.
func cleanFollowUp(text string) string {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimLeft(line, "0123456789.)-*# ")
		line = strings.Trim(line, "\"'` ")
		if line != "" {
			return line
		}
	}
	return ""
}

// checkAnswer runs the deterministic quality checks on a new answer: the
// grounding flags (hallucinated identifiers, refusals, meta talk…) and the
// parse result of each fenced code block. Both go into the answer's
// metadata for the UI and export --require-valid-code; flag counts go to
// the Counters table for stats.
func (r *Runner) checkAnswer(fw *fileWork, t *task, answer string) ([]quality.Flag, []quality.CodeResult) {
	if r.checks == nil {
		return nil, nil
	}
	flags := r.checks.Check(quality.Input{Question: t.question, Answer: answer, Chunk: t.chunk.Text,
		Language: fw.file.Language, Context: fw.file.Text})
	var code []quality.CodeResult
	for _, b := range quality.ExtractCode(answer) {
		code = append(code, quality.ValidateCode(b))
	}
	if len(flags) > 0 {
		add := map[string]int64{}
		for _, f := range flags {
			add[store.CounterFlagPrefix+f.Kind]++
		}
		if err := r.Store.AddCounters(context.Background(), add); err != nil {
			r.Logger.Error("count quality flags", "err", err)
		}
	}
	return flags, code
}

// taskDone finishes the file once its last task is over.
func (r *Runner) taskDone(ctx context.Context, fw *fileWork) {
	fw.mu.Lock()
	fw.pending--
	last := fw.pending == 0 && fw.queued
	failed := fw.failed
	fw.mu.Unlock()
	if last {
		r.finish(ctx, fw, failed)
	}
}

// finish records a file's outcome. Nothing is recorded when the run was
// cancelled or the file skipped: it simply is not done, and the next run
// resumes it.
func (r *Runner) finish(ctx context.Context, fw *fileWork, failed error) {
	if ctx.Err() != nil || r.isSkipped(fw.key) {
		if r.isSkipped(fw.key) {
			r.progress.FilesSkipped.Add(1)
			r.mu.Lock()
			r.reasons["skipped by request"]++
			r.mu.Unlock()
			r.OnEvent(Event{Kind: EventFileSkipped, Repo: fw.repo.Name, Path: fw.key.Path, Text: "skipped by request"})
		}
		return
	}
	bg := context.Background()
	r.red.flush(bg, r.Store, r.Logger)
	if failed == nil {
		err := r.Store.MarkFileDone(bg, store.FileDone{RepoID: fw.key.RepoID, FilePath: fw.key.Path, ContentHash: fw.file.SHA256, BlobOID: fw.file.BlobOID})
		if err == nil {
			r.progress.FilesDone.Add(1)
			r.OnEvent(Event{Kind: EventFileDone, Repo: fw.repo.Name, Path: fw.key.Path})
			return
		}
		failed = err
	}
	if store.IsFull(failed) {
		// Not the file's fault: it stays pending for the next run.
		r.halt(failed)
		return
	}
	reason := failed.Error()
	if err := r.Store.RecordFailure(bg, fw.key.RepoID, fw.key.Path, reason); err != nil {
		r.Logger.Error("record failure", "file", fw.key.Path, "err", err)
	}
	r.progress.FilesFailed.Add(1)
	r.Logger.Warn("file failed", "repo", fw.repo.Name, "file", fw.key.Path, "err", failed)
	r.OnEvent(Event{Kind: EventFileFailed, Repo: fw.repo.Name, Path: fw.key.Path, Text: reason, Err: failed})
}

// plan walks every repository's HEAD tree and queues the work: a file whose
// blob is unchanged since it was done is skipped without being read;
// changed files make their old samples stale; files gone from HEAD too.
func (r *Runner) plan(ctx context.Context) error {
	repos, err := r.Store.Repos(ctx)
	if err != nil {
		return err
	}
	for _, repo := range repos {
		if ctx.Err() != nil || r.stopped() {
			return nil
		}
		if repo.LocalPath == "" || repo.HeadCommit == "" || !strings.Contains(repo.Name, r.RepoFilter) {
			continue
		}
		lic := RepoLicense(repo)
		if ok, why := LicenseAllowed(r.Config.Safety, lic); !ok {
			r.Logger.Info("repository skipped for its licence", "repo", repo.Name, "licence", lic, "why", why)
			r.OnEvent(Event{Kind: EventRepoSkipped, Repo: repo.Name, Text: why})
			continue
		}
		if err := r.planRepo(ctx, repo); err != nil {
			r.Logger.Error("cannot read repository", "repo", repo.Name, "err", err)
			r.OnEvent(Event{Kind: EventRepoFailed, Repo: repo.Name, Text: err.Error(), Err: err})
		}
	}
	return nil
}

// halt stops the run for a reason no file is to blame for (the database
// is full): the files in flight are not marked failed, Run returns the
// reason, and the next run resumes where this one stopped.
func (r *Runner) halt(err error) {
	r.mu.Lock()
	if r.crashed == nil {
		r.crashed = databaseFull(r.Store, err)
	}
	r.mu.Unlock()
	r.Logger.Error("database full; stopping the run", "err", err)
	r.Stop()
}

// databaseFull words a store.IsFull error for the user: where, what to do,
// and that nothing committed is at risk.
func databaseFull(st *store.Store, err error) error {
	return fmt.Errorf("the database is full (%s): free disk space there, then run the same command again to resume; nothing committed was lost: %w",
		filepath.Dir(st.Path()), err)
}

func (r *Runner) stopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stop
}

func (r *Runner) planRepo(ctx context.Context, repo store.Repo) error {
	r.OnEvent(Event{Kind: EventRepoScanning, Repo: repo.Name})
	tree, err := OpenTree(repo.LocalPath)
	if err != nil {
		return err
	}
	known, err := r.Store.FileHashes(ctx, repo.ID)
	if err != nil {
		return err
	}
	state := make(map[string]store.FileHash, len(known))
	for _, h := range known {
		state[h.FilePath] = h
	}
	inTree := make(map[string]bool, len(tree.Files))
	taken := 0
	for _, f := range tree.Files {
		inTree[f.Path] = true
		if ctx.Err() != nil || r.stopped() {
			return nil
		}
		key := FileKey{RepoID: repo.ID, Path: f.Path}
		if r.Only != nil && !r.Only[key] {
			continue
		}
		prev, seen := state[f.Path]
		if seen && prev.BlobOID == f.BlobOID && prev.Status == store.FileStatusDone {
			// Unchanged since it was done: not even read.
			r.progress.FilesUnchanged.Add(1)
			continue
		}
		// A file skipped before is judged again: the rules may have changed
		// (a larger --max-file-size, a new include glob).
		if reason := r.sel.SkipByPath(f); reason != "" {
			r.skipFile(ctx, repo, f, reason, prev, seen)
			continue
		}
		if owner, dup, err := r.duplicateOf(ctx, key, f.BlobOID); err != nil {
			return err
		} else if dup {
			r.Logger.Info("same content as a file already processed; skipped", "repo", repo.Name, "file", f.Path, "original", owner)
			r.skipFile(ctx, repo, f, SkipDuplicateContent, prev, seen)
			continue
		}
		if taken >= r.Config.Files.MaxFilesPerRepo {
			r.skipFile(ctx, repo, f, SkipTooManyFiles, prev, seen)
			continue
		}
		r.progress.FilesRead.Add(1)
		file, reason, err := r.sel.Read(tree, f)
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Path, err)
		}
		if reason == "" {
			if why := r.red.credentialFile(f.Path, file.Text); why != "" {
				r.Logger.Info("credential file skipped", "repo", repo.Name, "file", f.Path, "why", why)
				r.progress.SecretFiles.Add(1)
				reason = SkipSecretFile
			}
		}
		if reason != "" {
			r.skipFile(ctx, repo, f, reason, prev, seen)
			continue
		}
		taken++
		if seen && prev.BlobOID != f.BlobOID && r.Dry == nil {
			if _, err := r.Store.MarkStale(ctx, repo.ID, f.Path, f.BlobOID); err != nil {
				return err
			}
		}
		if err := r.queueFile(ctx, repo, tree.Commit, file); err != nil {
			return err
		}
		r.queuedBlobs[f.BlobOID] = key
		r.waitForRoom(ctx)
	}
	r.OnEvent(Event{Kind: EventRepoScanned, Repo: repo.Name, Count: taken})
	// Files gone from HEAD: their samples go stale, their row says so.
	for path, h := range state {
		if r.Dry != nil {
			break
		}
		if !inTree[path] && h.Status != store.FileStatusGone && (r.Only == nil || r.Only[FileKey{repo.ID, path}]) {
			if _, err := r.Store.MarkStale(ctx, repo.ID, path, ""); err != nil {
				return err
			}
			if err := r.Store.MarkFileGone(ctx, repo.ID, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// duplicateOf reports whether blob is content this run already queued for
// another file, or that another file was done as, and names that file.
func (r *Runner) duplicateOf(ctx context.Context, key FileKey, blob string) (string, bool, error) {
	if r.queuedBlobs == nil {
		r.queuedBlobs = map[string]FileKey{}
	}
	if k, ok := r.queuedBlobs[blob]; ok && k != key {
		return k.Path, true, nil
	}
	if r.doneBlobs == nil {
		done, err := r.Store.DoneBlobs(ctx)
		if err != nil {
			return "", false, err
		}
		r.doneBlobs = done
	}
	if o, ok := r.doneBlobs[blob]; ok && (o.RepoID != key.RepoID || o.FilePath != key.Path) {
		return o.RepoName + "/" + o.FilePath, true, nil
	}
	return "", false, nil
}

func (r *Runner) skipFile(ctx context.Context, repo store.Repo, f TreeFile, reason string, prev store.FileHash, seen bool) {
	r.progress.FilesSkipped.Add(1)
	r.mu.Lock()
	r.reasons[reason]++
	r.mu.Unlock()
	if r.Dry != nil {
		r.Dry.Skipped[reason]++
		return
	}
	if seen && prev.BlobOID == f.BlobOID && prev.Status == store.FileStatusSkipped && prev.SkipReason == reason {
		return // same verdict as last time: nothing to write
	}
	if seen && prev.BlobOID != f.BlobOID {
		_, _ = r.Store.MarkStale(ctx, repo.ID, f.Path, f.BlobOID)
	}
	if err := r.Store.MarkFileSkipped(ctx, repo.ID, f.Path, f.BlobOID, reason); err != nil {
		r.Logger.Error("record skipped file", "file", f.Path, "err", err)
	}
	r.OnEvent(Event{Kind: EventFileSkipped, Repo: repo.Name, Path: f.Path, Text: reason})
}

// queueFile chunks a file and queues what is left to do: answers for
// pending questions (a resumed run), questions for chunks never asked.
func (r *Runner) queueFile(ctx context.Context, repo store.Repo, commit string, file File) error {
	fw := &fileWork{key: FileKey{RepoID: repo.ID, Path: file.Path}, repo: repo, file: file, commit: commit}
	r.progress.FilesPlanned.Add(1)
	if r.Dry != nil {
		r.Dry.add(repo.Name, file, ChunkFile(file.Text, r.budget, r.Config.Generation.ChunkOverlapLines), r)
		return nil
	}
	r.OnEvent(Event{Kind: EventFileStarted, Repo: repo.Name, Path: file.Path})
	// Redacted once per file, before chunking: every prompt (and the
	// resumed pending questions' chunks) is built from this text, so no
	// secret can reach the LLM whatever the chunk boundaries.
	file.Text = r.red.text(store.RedactPrompt, file.Text)
	chunks := ChunkFile(file.Text, r.budget, r.Config.Generation.ChunkOverlapLines)
	asked, err := r.Store.AskedChunks(ctx, repo.ID, file.Path, file.BlobOID)
	if err != nil {
		return err
	}
	pending, err := r.Store.PendingQuestions(ctx, repo.ID, file.Path)
	if err != nil {
		return err
	}
	// Hold the file open while its tasks are being queued, so a fast
	// worker cannot finish it half way.
	fw.mu.Lock()
	fw.pending++
	fw.mu.Unlock()
	spans := map[int]Chunk{}
	for _, c := range chunks {
		spans[c.Index] = c
	}
	perChunk := map[int]int{}
	for _, p := range pending {
		if p.BlobOID == file.BlobOID {
			perChunk[p.ChunkIndex]++
		}
	}
	nth := map[int]int{}
	for _, p := range pending {
		if p.BlobOID != file.BlobOID {
			continue
		}
		nth[p.ChunkIndex]++
		c, ok := spans[p.ChunkIndex]
		if !ok {
			// A half of a chunk split earlier: rebuild it from its span.
			c = Chunk{Index: p.ChunkIndex, LineStart: p.LineStart, LineEnd: p.LineEnd, Text: linesOf(file.Text, p.LineStart, p.LineEnd)}
		}
		r.enqueue(&task{kind: answerTask, fw: fw, chunk: c, sampleID: p.SampleID, question: p.Question,
			qIndex: nth[p.ChunkIndex], qCount: perChunk[p.ChunkIndex]})
	}
	for _, c := range chunks {
		if asked[c.Index] || asked[childIndex(c.Index, 0)] || asked[childIndex(c.Index, 1)] {
			continue
		}
		r.enqueue(&task{kind: askTask, fw: fw, chunk: c})
	}
	fw.mu.Lock()
	fw.queued = true
	fw.mu.Unlock()
	r.taskDone(ctx, fw)
	return nil
}

// linesOf returns lines from..to (1-based, inclusive) of text.
func linesOf(text string, from, to int) string {
	lines := strings.SplitAfter(text, "\n")
	from, to = max(from, 1), min(to, len(lines))
	if from > to {
		return ""
	}
	return strings.Join(lines[from-1:to], "")
}

// DryRun is what prepare --dry-run reports.
type DryRun struct {
	Files    []DryRunFile
	Skipped  map[string]int // by reason
	Requests int            // question lists + answers
	// PromptTokens and CompletionTokens are estimates (EstimateTokens).
	PromptTokens, CompletionTokens int
}

// DryRunFile is one file a run would process.
type DryRunFile struct {
	Repo, Path, Language string
	Lines, Chunks        int
}

// NewDryRun starts an empty report.
func NewDryRun() *DryRun { return &DryRun{Skipped: map[string]int{}} }

func (d *DryRun) add(repo string, f File, chunks []Chunk, r *Runner) {
	d.Files = append(d.Files, DryRunFile{Repo: repo, Path: f.Path, Language: f.Language, Lines: f.Lines, Chunks: len(chunks)})
	n := r.Config.Generation.QuestionsPerChunk
	overhead := r.Theme.PromptOverhead()
	for _, c := range chunks {
		code := EstimateTokens(c.Text) + overhead
		d.Requests += 1 + n
		d.PromptTokens += code * (1 + n)
		d.CompletionTokens += r.Config.Generation.QuestionMaxTokens/2 + n*r.Config.Generation.MaxTokens/2
	}
}
