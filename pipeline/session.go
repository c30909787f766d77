package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"cicdllm/llm"
	"cicdllm/llm/mlxserver"
	"cicdllm/store"
)

// RetrySet returns the failed files to reprocess: all of them, or only
// those at path (repository-relative) when path is not empty.
func RetrySet(ctx context.Context, st *store.Store, path string) (map[FileKey]bool, error) {
	failures, err := st.Failures(ctx, 0)
	if err != nil {
		return nil, err
	}
	only := map[FileKey]bool{}
	for _, f := range failures {
		if path == "" || f.FilePath == path {
			only[FileKey{RepoID: f.RepoID, Path: f.FilePath}] = true
		}
	}
	return only, nil
}

// JobKind names what a Session is running.
type JobKind int

// Session jobs.
const (
	JobNone JobKind = iota
	JobScrape
	JobPrepare
	JobRetry
)

func (k JobKind) String() string {
	switch k {
	case JobScrape:
		return "scrape"
	case JobPrepare:
		return "prepare"
	case JobRetry:
		return "retry"
	}
	return "idle"
}

// ErrBusy reports a job started while another runs.
var ErrBusy = errors.New("another job is running; stop it first or wait for it to finish")

// SessionEvent is one must-see event of a Session's job. Exactly one of
// Runner, Scrape is set, or Done (the job ended, with Err), or Message (a
// notice: battery, server state).
type SessionEvent struct {
	Job     JobKind
	Runner  *Event
	Scrape  *ScrapeEvent
	Done    bool
	Err     error
	Message string
	Warn    bool // Message is a problem (server down, battery pause)
}

// RepoProgress is one repository's state in the current session.
type RepoProgress struct {
	Name    string
	State   string // cloning, cloned, updated, unchanged, local, failed, scanning, scanned
	Percent int    // clone progress while cloning
	Planned int    // files queued by prepare
	Done    int
	Failed  int
	Err     string
}

// ServerState is what the faces show about the LLM server.
type ServerState struct {
	Info      llm.ServerInfo
	Connected bool // a probe succeeded
	Err       string
	// Phase is the managed mlx_lm.server's state: "starting",
	// "loading model… 12s", "running", "restarting"; empty otherwise.
	Phase   string
	Breaker llm.BreakerState
	RetryAt time.Time // when the open breaker probes again
}

// Counts is a plain copy of a Snapshot.
type Counts struct {
	FilesPlanned, FilesDone, FilesFailed, FilesSkipped, FilesUnchanged int64
	Questions, Answers, Truncated, Requests, InFlight                  int64
	SecretFiles, Redacted                                              int64
	PromptTokens, CachedTokens, CompletionTokens                       int64
}

func (s *Snapshot) counts() Counts {
	return Counts{
		FilesPlanned: s.FilesPlanned.Load(), FilesDone: s.FilesDone.Load(), FilesFailed: s.FilesFailed.Load(),
		FilesSkipped: s.FilesSkipped.Load(), FilesUnchanged: s.FilesUnchanged.Load(),
		Questions: s.Questions.Load(), Answers: s.Answers.Load(), Truncated: s.Truncated.Load(),
		SecretFiles: s.SecretFiles.Load(), Redacted: s.Redacted.Load(),
		Requests: s.Requests.Load(), InFlight: s.InFlight.Load(), PromptTokens: s.PromptTokens.Load(),
		CachedTokens: s.CachedTokens.Load(), CompletionTokens: s.CompletionTokens.Load(),
	}
}

// SessionView is a copy of a Session's state, cheap enough to take ten
// times a second.
type SessionView struct {
	Job      JobKind // running, or the last one
	Running  bool
	Paused   bool
	Stopping bool
	Started  time.Time
	Finished time.Time
	Slots    int
	Counts   Counts
	Activity []Activity
	Server   ServerState
	Repos    []RepoProgress // repositories this session touched, by name
	// BatteryPause is set while the battery watcher holds the run paused.
	BatteryPause string
	LastErr      string
}

// Session runs one job at a time (scrape, prepare, retry) in the
// background for an interactive face: it owns the job's goroutines and
// context, reports must-see events on a buffered channel and keeps the
// high-rate state for View. Every method is safe from any goroutine.
type Session struct {
	ws        Workspace
	cfg       Config
	st        *store.Store
	lookupEnv func(string) (string, bool)
	home      string
	log       *slog.Logger
	readPower func() (PowerState, error)
	environ   []string
	platform  string
	allowRaw  bool
	// beforeTask: see SessionOptions.BeforeTask.
	beforeTask func(repo, path string)

	events chan SessionEvent
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	job      JobKind
	running  bool
	paused   bool
	stopping bool
	started  time.Time
	finished time.Time
	cancel   context.CancelFunc
	done     chan struct{}
	runner   *Runner
	scrape   map[string]*RepoProgress
	server   ServerState
	battery  string
	lastErr  string
	last     Counts // the finished runner's counts
	slots    int
	// conn is kept between jobs when it owns a managed server (mlx):
	// loading a model takes minutes, so it is not restarted per job.
	conn    *Connection
	connKey string
}

// SessionOptions configure NewSession.
type SessionOptions struct {
	Workspace Workspace
	Config    Config
	Store     *store.Store
	LookupEnv func(string) (string, bool)
	Home      string // for ~ in repos.txt
	Logger    *slog.Logger
	// ReadPower reads the battery; nil uses ReadPower.
	ReadPower func() (PowerState, error)
	// Environ and Platform reach Connect (the mlx_lm.server child's
	// environment, the platform check); tests set them.
	Environ  []string
	Platform string
	// AllowRemoteUnredacted: see ConnectOptions.
	AllowRemoteUnredacted bool
	// BeforeTask reaches Runner.BeforeTask (fault injection in tests).
	BeforeTask func(repo, path string)
}

// NewSession returns an idle session.
func NewSession(o SessionOptions) *Session {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReadPower == nil {
		o.ReadPower = ReadPower
	}
	return &Session{ws: o.Workspace, cfg: o.Config, st: o.Store, lookupEnv: o.LookupEnv, home: o.Home, log: o.Logger,
		readPower: o.ReadPower, environ: o.Environ, platform: o.Platform, allowRaw: o.AllowRemoteUnredacted, beforeTask: o.BeforeTask,
		events: make(chan SessionEvent, 512), closed: make(chan struct{}),
		scrape: map[string]*RepoProgress{}}
}

// Events delivers the session's must-see events. A face must keep reading
// it while jobs run: jobs wait for room rather than drop events.
func (s *Session) Events() <-chan SessionEvent { return s.events }

// SetConfig replaces the configuration for the next job.
func (s *Session) SetConfig(cfg Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
}

func (s *Session) emit(ev SessionEvent) {
	select {
	case s.events <- ev:
	case <-s.closed:
	}
}

// start begins a job unless one runs; body runs in its own goroutine with
// panics recovered into the Done event.
func (s *Session) start(ctx context.Context, kind JobKind, body func(ctx context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return errors.New("the session is closed")
	default:
	}
	if s.running {
		return ErrBusy
	}
	jobCtx, cancel := context.WithCancel(ctx)
	s.job, s.running, s.paused, s.stopping = kind, true, false, false
	s.started, s.finished, s.cancel, s.done = time.Now(), time.Time{}, cancel, make(chan struct{})
	// Nothing of the previous job shows as current.
	s.runner, s.battery, s.lastErr, s.last = nil, "", "", Counts{}
	s.server.Breaker, s.server.RetryAt = llm.BreakerClosed, time.Time{}
	if kind == JobScrape {
		s.scrape = map[string]*RepoProgress{}
	}
	done := s.done
	go func() {
		defer close(done)
		defer cancel()
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					s.log.Error("internal error in a background job", "job", kind.String(), "panic", p, "stack", string(debug.Stack()))
					err = fmt.Errorf("internal error in %s: %v (details in the log)", kind, p)
				}
			}()
			err = body(jobCtx)
		}()
		if jobCtx.Err() != nil && ctx.Err() == nil && errors.Is(err, context.Canceled) {
			err = nil // cancelled on request, not a failure
		}
		s.mu.Lock()
		s.running, s.paused, s.stopping, s.finished = false, false, false, time.Now()
		if s.runner != nil {
			s.last = s.runner.Progress().counts()
		}
		// Controls reach only a running job.
		s.runner, s.battery = nil, ""
		s.server.Breaker, s.server.RetryAt = llm.BreakerClosed, time.Time{}
		for _, rp := range s.scrape {
			if rp.State == "cloning" || rp.State == "scanning" {
				rp.State = "stopped"
			}
		}
		if err != nil {
			s.lastErr = err.Error()
		}
		s.mu.Unlock()
		s.emit(SessionEvent{Job: kind, Done: true, Err: err})
	}()
	return nil
}

// Scrape clones or updates every repository of repos.txt.
func (s *Session) Scrape(ctx context.Context) error {
	s.mu.Lock()
	cfg := s.cfg
	s.mu.Unlock()
	return s.start(ctx, JobScrape, func(ctx context.Context) error {
		sc := &Scraper{WS: s.ws, Config: cfg, Store: s.st, LookupEnv: s.lookupEnv, Home: s.home, Logger: s.log,
			OnEvent: s.scrapeEvent}
		rep, err := sc.Run(ctx, ScrapeOptions{Concurrency: cfg.Scrape.Concurrency, Depth: cfg.Scrape.Depth})
		if err != nil {
			return err
		}
		if !rep.OK() {
			return fmt.Errorf("%d lines of repos.txt rejected, %d repositories failed (see the repos pane and the log)", len(rep.Rejected), len(rep.Failed))
		}
		return nil
	})
}

func (s *Session) scrapeEvent(ev ScrapeEvent) {
	s.mu.Lock()
	if ev.Name != "" && ev.Kind >= ScrapeStarted {
		rp := s.repoLocked(ev.Name)
		switch ev.Kind {
		case ScrapeStarted:
			rp.State, rp.Percent, rp.Err = "cloning", 0, ""
		case ScrapeProgress:
			rp.State, rp.Percent = "cloning", ev.Progress.Percent
		case ScrapeDone:
			rp.State, rp.Percent = ev.Result.Action, 100
		case ScrapeFailed:
			rp.State = "failed"
			if ev.Err != nil {
				rp.Err = ev.Err.Error()
			}
		}
	}
	s.mu.Unlock()
	if ev.Kind == ScrapeProgress {
		return // high rate: View carries it
	}
	s.emit(SessionEvent{Job: JobScrape, Scrape: &ev})
}

func (s *Session) repoLocked(name string) *RepoProgress {
	rp := s.scrape[name]
	if rp == nil {
		rp = &RepoProgress{Name: name}
		s.scrape[name] = rp
	}
	return rp
}

// PrepareOptions narrow a prepare run.
type PrepareOptions struct {
	RepoFilter string
	Only       map[FileKey]bool // retry: exactly these files
}

// Prepare generates questions and answers; with opts.Only it is a retry.
func (s *Session) Prepare(ctx context.Context, opts PrepareOptions) error {
	s.mu.Lock()
	cfg := s.cfg
	s.mu.Unlock()
	kind := JobPrepare
	if opts.Only != nil {
		kind = JobRetry
	}
	return s.start(ctx, kind, func(ctx context.Context) error {
		theme, err := LoadTheme(s.ws.PromptsDir, cfg.Generation.Theme)
		if err != nil {
			return err
		}
		conn, err := s.connect(ctx, cfg)
		var info llm.ServerInfo
		if conn != nil {
			info = conn.Info
		}
		s.mu.Lock()
		s.server.Info = info
		s.server.Connected = err == nil
		s.server.Err = ""
		if err != nil {
			s.server.Err = err.Error()
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		r := &Runner{WS: s.ws, Config: cfg, Store: s.st, Theme: theme, Client: conn.Client, Slots: info.Slots,
			ContextSize: info.ContextSize, Model: info.Model, Logger: s.log, RepoFilter: opts.RepoFilter, Only: opts.Only,
			OnEvent: s.runnerEvent, BeforeTask: s.beforeTask}
		s.mu.Lock()
		s.runner, s.slots = r, max(info.Slots, 1)
		paused, stopping := s.paused, s.stopping
		s.mu.Unlock()
		if paused {
			r.Pause()
		}
		if stopping {
			return nil
		}
		go WatchBattery(ctx, cfg.Battery, s.readPower, r, s.log, func(p PowerState, paused bool) {
			msg := "resumed: battery recovered"
			s.mu.Lock()
			if paused {
				s.battery = fmt.Sprintf("paused: battery %.0f%% < %d%%", p.Percent, cfg.Battery.Low)
				msg = s.battery
			} else {
				s.battery = ""
			}
			s.mu.Unlock()
			s.emit(SessionEvent{Job: kind, Message: msg, Warn: paused})
		})
		if err := r.Run(ctx); err != nil || !cfg.Generation.Score || ctx.Err() != nil {
			return err
		}
		// generation.score: judge the new samples with the same server.
		sc := &Scorer{WS: s.ws, Config: cfg, Store: s.st, Client: conn.Client, Slots: info.Slots, Model: info.Model, Logger: s.log}
		_, err = sc.Run(ctx)
		return err
	})
}

func (s *Session) breakerEvent(ev llm.BreakerEvent) {
	s.mu.Lock()
	s.server.Breaker = ev.State
	msg, warn := "", false
	switch ev.State {
	case llm.BreakerOpen:
		s.server.RetryAt = time.Now().Add(ev.RetryIn)
		if ev.Err != nil {
			s.server.Err = ev.Err.Error()
		}
		msg, warn = fmt.Sprintf("server unreachable, retrying in %s", ev.RetryIn.Round(time.Second)), true
	case llm.BreakerClosed:
		s.server.RetryAt, s.server.Err = time.Time{}, ""
		msg = "server is back"
	}
	job := s.job
	s.mu.Unlock()
	if msg != "" {
		s.emit(SessionEvent{Job: job, Message: msg, Warn: warn})
	}
}

func (s *Session) runnerEvent(ev Event) {
	s.mu.Lock()
	if ev.Repo != "" {
		rp := s.repoLocked(ev.Repo)
		switch ev.Kind {
		case EventRepoScanning:
			rp.State, rp.Planned, rp.Done, rp.Failed = "scanning", 0, 0, 0
		case EventRepoScanned:
			rp.State = "scanned"
		case EventRepoSkipped:
			rp.State, rp.Err = "skipped", ev.Text
		case EventFileStarted:
			rp.Planned++
		case EventFileDone:
			rp.Done++
		case EventRepoFailed:
			rp.State, rp.Err = "failed", ev.Text
		case EventFileFailed:
			rp.Failed++
		}
	}
	job := s.job
	s.mu.Unlock()
	if ev.Kind == EventPaused || ev.Kind == EventResumed {
		// These come from control calls, which the UI makes from its own
		// goroutine: blocking here on a full channel the UI drains would
		// deadlock it. View carries the paused state anyway.
		select {
		case s.events <- SessionEvent{Job: job, Runner: &ev}:
		default:
		}
		return
	}
	s.emit(SessionEvent{Job: job, Runner: &ev})
}

// connect returns the backend for a job: a managed mlx server from an
// earlier job when the configuration is the same and it still runs, else
// a new connection.
func (s *Session) connect(ctx context.Context, cfg Config) (*Connection, error) {
	key := fmt.Sprintf("%+v %+v", cfg.LLM, cfg.MLX)
	s.mu.Lock()
	old, oldKey := s.conn, s.connKey
	s.mu.Unlock()
	if old != nil && oldKey == key && old.Alive() {
		return old, nil
	}
	_ = old.Close()
	conn, err := Connect(ctx, cfg, ConnectOptions{LookupEnv: s.lookupEnv, Home: s.home, Logger: s.log,
		OnBreaker: s.breakerEvent, OnMLX: s.mlxEvent, Environ: s.environ, Platform: s.platform,
		AllowRemoteUnredacted: s.allowRaw})
	s.mu.Lock()
	s.conn, s.connKey = conn, key
	s.mu.Unlock()
	return conn, err
}

func (s *Session) mlxEvent(ev mlxserver.Event) {
	phase, msg, warn := "", "", false
	switch ev.Kind {
	case mlxserver.EventStarting:
		phase, msg = "starting mlx_lm.server", "starting mlx_lm.server"
	case mlxserver.EventLoading:
		phase = fmt.Sprintf("loading model… %s", ev.Elapsed.Round(time.Second))
	case mlxserver.EventReady:
		phase, msg = fmt.Sprintf("running (pid %d)", ev.PID), "mlx_lm.server is ready"
	case mlxserver.EventExited:
		phase, msg, warn = "exited", "mlx_lm.server exited: "+ev.Message, true
	case mlxserver.EventRestarting:
		phase, msg, warn = "restarting", "restarting mlx_lm.server", true
	case mlxserver.EventStopped:
		phase = "stopped"
	}
	s.mu.Lock()
	s.server.Phase = phase
	job := s.job
	s.mu.Unlock()
	if msg != "" {
		select { // from the manager's goroutines; the state is in View anyway
		case s.events <- SessionEvent{Job: job, Message: msg, Warn: warn}:
		default:
		}
	}
}

// Probe checks the configured server without starting a job. For the mlx
// backend it checks what it can without loading a model (platform, model
// in the cache), unless a managed server already runs.
func (s *Session) Probe(ctx context.Context) (llm.ServerInfo, error) {
	s.mu.Lock()
	cfg, conn := s.cfg, s.conn
	s.mu.Unlock()
	if cfg.LLM.Backend == "mlx" {
		if conn.Alive() {
			return conn.Info, nil
		}
		return llm.ServerInfo{Kind: llm.KindMLX, Model: cfg.MLX.Model}, checkMLX(cfg, s.lookupEnv, s.home, s.platform)
	}
	conn, err := Connect(ctx, cfg, ConnectOptions{LookupEnv: s.lookupEnv, Home: s.home, Logger: s.log,
		AllowRemoteUnredacted: s.allowRaw})
	var info llm.ServerInfo
	if conn != nil {
		info = conn.Info
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		s.server.Info, s.server.Connected, s.server.Err = info, err == nil, ""
		if err != nil {
			s.server.Err = err.Error()
		}
	}
	return info, err
}

// Pause holds the running prepare after its requests in flight.
func (s *Session) Pause() {
	s.mu.Lock()
	r := s.runner
	if s.running && s.job != JobScrape {
		s.paused = true
	}
	s.mu.Unlock()
	if r != nil {
		r.Pause()
	}
}

// Resume undoes Pause.
func (s *Session) Resume() {
	s.mu.Lock()
	r := s.runner
	s.paused, s.battery = false, "" // the user overrides a battery pause
	s.mu.Unlock()
	if r != nil {
		r.Resume()
	}
}

// Skip drops a file's remaining requests in this run.
func (s *Session) Skip(k FileKey) {
	s.mu.Lock()
	r := s.runner
	s.mu.Unlock()
	if r != nil {
		r.Skip(k)
	}
}

// Stop ends the job gracefully: the requests in flight finish and commit
// (a scrape is cancelled; clones are atomic).
func (s *Session) Stop() {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return
	}
	s.stopping = true
	r, cancel := s.runner, s.cancel
	s.mu.Unlock()
	switch {
	case r != nil:
		r.Resume() // a paused run must wake up to stop
		r.Stop()
	default:
		// A scrape (clones are atomic), or a prepare still connecting:
		// nothing is in flight that could commit.
		cancel()
	}
}

// Cancel abandons the job at once, requests in flight included. The
// database stays consistent; the next run resumes.
func (s *Session) Cancel() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Wait blocks until no job runs.
func (s *Session) Wait() {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Close cancels any job, waits for it, stops a managed server and stops
// event delivery.
func (s *Session) Close() {
	s.Cancel()
	s.once.Do(func() { close(s.closed) })
	s.Wait()
	s.mu.Lock()
	conn := s.conn
	s.conn = nil
	s.mu.Unlock()
	_ = conn.Close()
}

// View copies the session's state.
func (s *Session) View() SessionView {
	s.mu.Lock()
	v := SessionView{Job: s.job, Running: s.running, Paused: s.paused, Stopping: s.stopping, Started: s.started,
		Finished: s.finished, Server: s.server, BatteryPause: s.battery, LastErr: s.lastErr, Counts: s.last, Slots: s.slots}
	r := s.runner
	for _, rp := range s.scrape {
		v.Repos = append(v.Repos, *rp)
	}
	s.mu.Unlock()
	sort.Slice(v.Repos, func(i, j int) bool { return v.Repos[i].Name < v.Repos[j].Name })
	if r != nil && v.Running {
		v.Counts = r.Progress().counts()
		v.Activity = r.Activity()
	}
	return v
}
