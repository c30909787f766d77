package mlxserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults and timings.
const (
	DefaultPython         = "python3"
	DefaultStartupTimeout = 10 * time.Minute // loading a 14B model from disk takes a while

	// SupportedPlatform is the only GOOS/GOARCH MLX runs on.
	SupportedPlatform = "darwin/arm64"

	host          = "127.0.0.1"
	pollInterval  = 250 * time.Millisecond // readiness polling
	loadingEvery  = time.Second            // EventLoading cadence
	pollTimeout   = 5 * time.Second        // one readiness request; /v1/models scans the HF cache, which can be slow
	stopGrace     = 5 * time.Second        // between SIGTERM and SIGKILL
	killWait      = 10 * time.Second       // after SIGKILL, before Stop gives up and says so
	pipeWaitDelay = 2 * time.Second        // exec.Cmd.WaitDelay: a grandchild holding the output pipe must not block Wait
)

// constError is an error that can be a constant, so that callers can match
// it with errors.Is without a package-level variable.
type constError string

func (e constError) Error() string { return string(e) }

// ErrUnsupportedPlatform is returned by CheckPlatform and Start anywhere but
// on macOS on Apple Silicon.
const ErrUnsupportedPlatform constError = `MLX needs macOS on Apple Silicon; use backend = "openai" with llama-server`

// NotInstalledError says that the interpreter lacks the mlx-lm package; it
// is recognised from Python's "No module named mlx_lm" on startup.
type NotInstalledError struct {
	Python string // the interpreter that was run
}

func (e *NotInstalledError) Error() string {
	return fmt.Sprintf("mlx-lm is not installed for %s; run: %s -m pip install mlx-lm", e.Python, e.Python)
}

// Options configure Start. Zero values take the defaults noted.
type Options struct {
	Python         string        // interpreter, default "python3"
	Model          string        // Hugging Face id or local path
	Port           int           // 0 = pick a free loopback port
	ExtraArgs      []string      // appended to the mlx_lm.server command line
	StartupTimeout time.Duration // default 10m; also bounds the restart's loading
	Env            []string      // environment for the child (nil = os.Environ())
	Logger         *slog.Logger  // nil discards
	OnEvent        func(Event)   // may be nil; see Event
	Platform       string        // "GOOS/GOARCH"; "" = this program's (tests override it)
}

// EventKind says what happened to the server.
type EventKind int

// Event kinds, in the order a start goes through them.
const (
	EventStarting   EventKind = iota + 1 // the child process was started (PID set)
	EventLoading                         // about every second while waiting for readiness (Elapsed set)
	EventReady                           // the server answers; Elapsed is the loading time
	EventExited                          // the server died unexpectedly; Message carries the output tail
	EventRestarting                      // the one restart after EventExited begins
	EventStopped                         // Stop finished: the process is gone
)

func (k EventKind) String() string {
	switch k {
	case EventStarting:
		return "starting"
	case EventLoading:
		return "loading"
	case EventReady:
		return "ready"
	case EventExited:
		return "exited"
	case EventRestarting:
		return "restarting"
	case EventStopped:
		return "stopped"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one step of the server's life, for progress display. OnEvent is
// called synchronously from Start's goroutine, the supervising goroutine or
// Stop's caller; calls from different goroutines may overlap, and a callback
// must return promptly (it may call Stop).
type Event struct {
	Kind    EventKind
	Elapsed time.Duration // since the process started (EventLoading, EventReady)
	Message string        // human-readable, e.g. "loading model… 12s"
	PID     int
}

// Server is a running mlx_lm.server. Stop it on every way out (see the
// package documentation).
type Server struct {
	opts   Options  // defaults applied
	python string   // the resolved interpreter
	args   []string // after the interpreter
	env    []string
	url    string
	log    *slog.Logger
	out    *ring
	poll   *http.Client

	stopCh   chan struct{} // closed when Stop begins: ends readiness waits and the supervisor
	done     chan struct{} // closed when the server is gone for good
	doneOnce sync.Once
	stopDone chan struct{} // closed when the first Stop has finished
	stopErr  error         // written before stopDone is closed

	mu       sync.Mutex
	cur      *child // the current (or last) process
	stopping bool
	err      error // why the server died, if it did
}

// child is one mlx_lm.server process.
type child struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	exited  chan struct{} // closed once Wait has returned: the process is reaped
	waitErr error         // valid after exited is closed
}

// Internal outcomes of waitReady.
const (
	errExited  constError = "the process exited"
	errStopped constError = "stopped"
	errTimeout constError = "startup timeout"
)

// CheckPlatform returns ErrUnsupportedPlatform unless platform ("GOOS/GOARCH")
// is macOS on Apple Silicon.
func CheckPlatform(platform string) error {
	if platform != SupportedPlatform {
		return ErrUnsupportedPlatform
	}
	return nil
}

// Start runs mlx_lm.server and returns once it answers HTTP requests. ctx
// bounds only the startup: cancelling it stops the child and returns ctx's
// error; afterwards the server lives until Stop, or until it has died twice.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Platform == "" {
		o.Platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	if err := CheckPlatform(o.Platform); err != nil {
		return nil, err
	}
	if strings.TrimSpace(o.Model) == "" {
		return nil, errors.New("no model for mlx_lm.server: set mlx.model to a Hugging Face id (e.g. mlx-community/Qwen2.5-Coder-14B-Instruct-4bit) or a local path")
	}
	if o.Python == "" {
		o.Python = DefaultPython
	}
	if o.StartupTimeout <= 0 {
		o.StartupTimeout = DefaultStartupTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	python, err := exec.LookPath(o.Python)
	if err != nil {
		return nil, fmt.Errorf("cannot find the Python interpreter %q for mlx_lm.server: install Python 3 and mlx-lm (python3 -m pip install mlx-lm), or set mlx.python to an interpreter that has mlx-lm: %w",
			o.Python, err)
	}
	if err := checkExtraArgs(o.ExtraArgs); err != nil {
		return nil, err
	}
	port, err := choosePort(o.Port)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mlx_lm.server not started: %w", err)
	}

	s := &Server{
		opts:     o,
		python:   python,
		args:     append([]string{"-m", "mlx_lm", "server", "--model", o.Model, "--host", host, "--port", strconv.Itoa(port)}, o.ExtraArgs...),
		env:      childEnv(o.Env),
		url:      "http://" + net.JoinHostPort(host, strconv.Itoa(port)),
		log:      o.Logger.With("component", "mlx_lm.server"),
		stopCh:   make(chan struct{}),
		done:     make(chan struct{}),
		stopDone: make(chan struct{}),
		// No keep-alive: the polled process may be killed and replaced, and
		// an idle connection to it would only be a stale one.
		poll: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	s.out = newRing(func(line string) { s.log.Debug("output", "line", line) })

	c, err := s.spawnLocked() // nobody else can see s yet
	if err != nil {
		return nil, err
	}
	s.cur = c
	s.emit(Event{Kind: EventStarting, PID: c.pid,
		Message: fmt.Sprintf("starting mlx_lm.server for %s on %s", o.Model, s.url)})

	if err := s.waitReady(ctx, c); err != nil {
		err = s.startFailed(ctx, c, err)
		s.gone(err)
		return nil, err
	}
	s.readyEvent(c)
	go s.supervise(c)
	return s, nil
}

// checkExtraArgs refuses the flags Start sets itself. argparse lets the
// last occurrence win, so a --port in mlx.extra_args would move the server
// away from the URL we poll and hand to the client. argparse also accepts
// unambiguous prefixes ("--por"), hence the prefix match.
func checkExtraArgs(args []string) error {
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if len(name) > 2 && strings.HasPrefix(name, "--") {
			for _, full := range []string{"--host", "--port", "--model"} {
				if strings.HasPrefix(full, name) {
					name = full
				}
			}
		}
		switch name {
		case "--host":
			return fmt.Errorf("mlx.extra_args must not contain --host: mlx_lm.server must listen on %s, where cicdllm talks to it", host)
		case "--port":
			return errors.New("mlx.extra_args must not contain --port: set mlx.port instead (0 picks a free port)")
		case "--model":
			return errors.New("mlx.extra_args must not contain --model: set mlx.model instead")
		}
	}
	return nil
}

// choosePort returns port after checking that it is free, or a free
// loopback port when it is 0. Checking first matters: if another server
// holds the port, readiness polling would find it instead of ours.
func choosePort(port int) (int, error) {
	if port < 0 || port > 65535 {
		return 0, fmt.Errorf("mlx.port %d is not a TCP port; use 1-65535, or 0 to pick a free one", port)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		if port == 0 {
			return 0, fmt.Errorf("cannot find a free loopback port for mlx_lm.server (set mlx.port): %w", err)
		}
		return 0, fmt.Errorf("port %d on %s is not free for mlx_lm.server (is another server running?): set mlx.port to a free port, or 0 to pick one: %w", port, host, err)
	}
	// The port is free again once closed; the child binds it a moment later.
	port = ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port, nil
}

// childEnv returns env (or ours) with PYTHONUNBUFFERED=1 unless it is set,
// so that the server's prints reach the log as they happen rather than in
// 8 KB blocks, and the tail of a crash includes its last words.
func childEnv(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	out := append([]string(nil), env...)
	for _, kv := range out {
		if strings.HasPrefix(kv, "PYTHONUNBUFFERED=") {
			return out
		}
	}
	return append(out, "PYTHONUNBUFFERED=1")
}

// spawnLocked starts one process. The caller holds s.mu, or s is not shared
// yet, so that Stop cannot miss a process started concurrently.
func (s *Server) spawnLocked() (*child, error) {
	cmd := exec.Command(s.python, s.args...)
	cmd.Env = s.env
	// The same writer for both: os/exec then uses one pipe, which keeps
	// stdout and stderr lines in the order they were written.
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = pipeWaitDelay
	c := &child{cmd: cmd, exited: make(chan struct{})}

	startErr := make(chan error, 1)
	go func() {
		unpin := pinThread()
		defer unpin()
		if err := cmd.Start(); err != nil {
			startErr <- err
			return
		}
		startErr <- nil
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := <-startErr; err != nil {
		return nil, fmt.Errorf("cannot run %s %s: %w (check mlx.python)", s.python, strings.Join(s.args[:3], " "), err)
	}
	c.pid = cmd.Process.Pid
	c.started = time.Now()
	s.log.Info("started", "pid", c.pid, "url", s.url, "cmd", s.python+" "+strings.Join(s.args, " "))
	return c, nil
}

// waitReady polls the server until it answers. It returns nil when ready,
// errExited, errStopped, errTimeout, or ctx's error.
func (s *Server) waitReady(ctx context.Context, c *child) error {
	// Polls are cut short as soon as waiting is pointless.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.stopCh:
		case <-c.exited:
		case <-pctx.Done():
		}
		cancel()
	}()

	deadline := time.NewTimer(s.opts.StartupTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	lastEvent := c.started
	for {
		if s.answers(pctx) {
			select {
			case <-c.exited: // someone else answered on our port
				return errExited
			default:
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.stopCh:
			return errStopped
		case <-c.exited:
			return errExited
		case <-deadline.C:
			return errTimeout
		case now := <-tick.C:
			if now.Sub(lastEvent) >= loadingEvery {
				lastEvent = now
				el := now.Sub(c.started)
				s.emit(Event{Kind: EventLoading, Elapsed: el, PID: c.pid,
					Message: "loading model… " + el.Round(time.Second).String()})
			}
		}
	}
}

// answers reports whether GET /v1/models, or else /health, answers 200.
func (s *Server) answers(ctx context.Context) bool {
	for _, path := range []string{"/v1/models", "/health"} {
		rctx, cancel := context.WithTimeout(ctx, pollTimeout)
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, s.url+path, nil)
		if err != nil {
			cancel()
			return false
		}
		resp, err := s.poll.Do(req)
		if err != nil {
			cancel()
			return false // not listening yet: no point asking /health
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		cancel()
		if resp.StatusCode == http.StatusOK {
			return true
		}
	}
	return false
}

// startFailed cleans up after waitReady failed during Start and words the
// error for the user.
func (s *Server) startFailed(ctx context.Context, c *child, cause error) error {
	switch {
	case errors.Is(cause, errExited):
		s.reapGroup(c)
		return s.exitedError(c)
	case errors.Is(cause, errTimeout):
		tail := s.out.tail() // before stopping: a dying Python may print over it
		if err := s.terminate(c); err != nil {
			s.log.Error("stopping after the startup timeout", "err", err)
		}
		return fmt.Errorf("mlx_lm.server did not become ready within %s; its last output:%s\n(a large model, or one still downloading, may need more time: raise mlx.startup_timeout)",
			s.opts.StartupTimeout, tail)
	case errors.Is(cause, errStopped):
		// Stop (from an OnEvent callback) has already ended the process.
		return errors.New("mlx_lm.server was stopped before it was ready")
	default:
		if err := s.terminate(c); err != nil {
			s.log.Error("stopping after cancellation", "err", err)
		}
		return fmt.Errorf("mlx_lm.server stopped while loading %s (after %s): %w",
			s.opts.Model, time.Since(c.started).Round(time.Second), cause)
	}
}

// exitedError explains a process that exited before it was ready.
func (s *Server) exitedError(c *child) error {
	// "python -m mlx_lm" prints "No module named mlx_lm"; an import inside
	// the package prints "No module named 'mlx'" or "'mlx_lm…'".
	if s.out.contains("No module named mlx_lm") || s.out.contains("No module named 'mlx") {
		return &NotInstalledError{Python: s.python}
	}
	return fmt.Errorf("mlx_lm.server exited before it was ready (%s); its last output:%s", exitStatus(c), s.out.tail())
}

func exitStatus(c *child) string {
	if c.waitErr == nil {
		return "exit status 0"
	}
	return c.waitErr.Error()
}

func (s *Server) readyEvent(c *child) {
	el := time.Since(c.started)
	s.emit(Event{Kind: EventReady, Elapsed: el, PID: c.pid,
		Message: fmt.Sprintf("mlx_lm.server is ready at %s (%s)", s.url, el.Round(time.Second))})
}

// supervise waits for the process to exit. An unexpected exit is followed
// by one restart on the same port; the next one ends the server.
func (s *Server) supervise(c *child) {
	restarted := false
	for {
		<-c.exited
		if s.isStopping() {
			return
		}
		tail := s.out.tail()
		s.reapGroup(c) // leftovers of the dead server would hold the port or memory
		s.emit(Event{Kind: EventExited, PID: c.pid,
			Message: fmt.Sprintf("mlx_lm.server (pid %d) exited unexpectedly (%s); its last output:%s", c.pid, exitStatus(c), tail)})
		if restarted {
			s.gone(fmt.Errorf("mlx_lm.server exited twice; last output:%s", tail))
			return
		}
		restarted = true

		s.emit(Event{Kind: EventRestarting, PID: c.pid,
			Message: fmt.Sprintf("restarting mlx_lm.server on %s (once)", s.url)})
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			return
		}
		s.out.note("[cicdllm] restarting mlx_lm.server")
		nc, err := s.spawnLocked()
		if err == nil {
			s.cur = nc
		}
		s.mu.Unlock()
		if err != nil {
			s.gone(fmt.Errorf("mlx_lm.server exited (%s) and could not be restarted: %w", exitStatus(c), err))
			return
		}
		s.emit(Event{Kind: EventStarting, PID: nc.pid,
			Message: fmt.Sprintf("starting mlx_lm.server for %s on %s", s.opts.Model, s.url)})

		c = nc
		switch err := s.waitReady(context.Background(), c); {
		case err == nil:
			s.readyEvent(c)
		case errors.Is(err, errExited):
			// The loop reports it as the second exit.
		case errors.Is(err, errTimeout):
			tail := s.out.tail()
			if err := s.terminate(c); err != nil {
				s.log.Error("stopping after the restart timed out", "err", err)
			}
			s.gone(fmt.Errorf("mlx_lm.server exited and its restart did not become ready within %s; its last output:%s", s.opts.StartupTimeout, tail))
			return
		default: // stopped
			return
		}
	}
}

func (s *Server) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// gone marks the server as finished for good; err is why, nil for Stop.
func (s *Server) gone(err error) {
	s.mu.Lock()
	if s.err == nil && !s.stopping {
		s.err = err
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Error("mlx_lm.server is gone", "err", err)
	}
	s.doneOnce.Do(func() { close(s.done) })
}

// terminate ends c: SIGTERM to its process group, SIGKILL after stopGrace.
// It returns once the process has been reaped.
func (s *Server) terminate(c *child) error {
	select {
	case <-c.exited:
		s.reapGroup(c)
		return nil
	default:
	}
	s.log.Info("stopping", "pid", c.pid)
	if err := terminateGroup(c); err != nil {
		s.log.Warn("SIGTERM failed; killing", "pid", c.pid, "err", err)
	} else {
		grace := time.NewTimer(stopGrace)
		select {
		case <-c.exited:
			grace.Stop()
			s.reapGroup(c)
			return nil
		case <-grace.C:
			s.log.Warn("still running "+stopGrace.String()+" after SIGTERM; killing", "pid", c.pid)
		}
	}
	if err := killGroup(c); err != nil {
		return fmt.Errorf("cannot kill mlx_lm.server (pid %d): %w; end it by hand", c.pid, err)
	}
	wait := time.NewTimer(killWait)
	defer wait.Stop()
	select {
	case <-c.exited:
		return nil
	case <-wait.C:
		return fmt.Errorf("mlx_lm.server (pid %d) is still running %s after SIGKILL; end it by hand (kill -9 %d)", c.pid, killWait, c.pid)
	}
}

// reapGroup kills what is left of an exited process's group: helpers it
// forked would otherwise live on, holding memory or the port.
func (s *Server) reapGroup(c *child) {
	if err := killGroup(c); err != nil {
		s.log.Debug("killing the rest of the process group", "pid", c.pid, "err", err)
	}
}

func (s *Server) emit(e Event) {
	switch e.Kind {
	case EventLoading:
		s.log.Debug(e.Message, "pid", e.PID)
	case EventExited:
		s.log.Warn(e.Message, "pid", e.PID)
	default:
		s.log.Info(e.Message, "pid", e.PID)
	}
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
}

// URL is the server's base URL, http://127.0.0.1:PORT; it stays the same
// across the restart.
func (s *Server) URL() string { return s.url }

// PID is the process id of the current (or last) mlx_lm.server process.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return 0
	}
	return s.cur.pid
}

// Done is closed when the server is gone for good: stopped, or dead after
// its one restart.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err says why the server is gone when it died; nil while it runs and
// after Stop.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stop ends the server: SIGTERM to its process group, up to 5 s to exit,
// then SIGKILL. It returns once the process is gone, so no orphan remains.
// It is idempotent and safe from any goroutine (signal handlers, panic
// recovery, OnEvent); later calls wait for the first and return its result.
func (s *Server) Stop() error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		<-s.stopDone
		return s.stopErr
	}
	s.stopping = true
	close(s.stopCh)
	c := s.cur // the supervisor cannot start another one now
	s.mu.Unlock()

	var err error
	if c != nil {
		err = s.terminate(c)
	}
	s.stopErr = err
	s.gone(nil)
	s.poll.CloseIdleConnections()
	pid := 0
	if c != nil {
		pid = c.pid
	}
	// Before the event: a callback that calls Stop again must not wait for
	// itself.
	close(s.stopDone)
	s.emit(Event{Kind: EventStopped, PID: pid, Message: "mlx_lm.server stopped"})
	return err
}
