package mlxserver

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cicdllm/llm"
)

const (
	fakeModel = "mlx-community/Fake-Coder-7B-Instruct-4bit"
	long      = 60 * time.Second // generous waits: no timing assertions
)

// recorder collects events; OnEvent may be called from several goroutines.
type recorder struct {
	mu     sync.Mutex
	events []Event
	hook   func(Event)
}

func (r *recorder) on(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		hook(e)
	}
}

func (r *recorder) count(k EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func (r *recorder) kinds() []EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []EventKind
	for _, e := range r.events {
		if len(out) == 0 || out[len(out)-1] != e.Kind {
			out = append(out, e.Kind) // runs of EventLoading collapse
		}
	}
	return out
}

func (r *recorder) first(k EventKind) (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Kind == k {
			return e, true
		}
	}
	return Event{}, false
}

// waitCount waits until at least n events of kind k arrived.
func (r *recorder) waitCount(t *testing.T, k EventKind, n int) {
	t.Helper()
	deadline := time.Now().Add(long)
	for r.count(k) < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d %v events; got %v", n, k, r.kinds())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fakeFiles are the fake server's side channels.
type fakeFiles struct {
	pidFile, argsFile string
}

func (f fakeFiles) pids(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile(f.pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, l := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("pid file line %q: %v", l, err)
		}
		out = append(out, pid)
	}
	return out
}

// waitPIDs waits until the fake has written n PIDs.
func (f fakeFiles) waitPIDs(t *testing.T, n int) []int {
	t.Helper()
	deadline := time.Now().Add(long)
	for {
		if p := f.pids(t); len(p) >= n {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d PIDs in the pid file", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertGone checks that every process the fake started has been reaped.
func (f fakeFiles) assertGone(t *testing.T) {
	t.Helper()
	pids := f.pids(t)
	if len(pids) == 0 {
		t.Fatal("the pid file is empty: the fake never ran")
	}
	for _, pid := range pids {
		if msg := processGone(pid); msg != "" {
			t.Errorf("pid %d: %s", pid, msg)
		}
	}
}

// fakeOptions returns Options running the test binary as a fake Python in
// mode, with extra environment entries.
func fakeOptions(t *testing.T, mode string, env ...string) (Options, fakeFiles, *recorder) {
	t.Helper()
	dir := t.TempDir()
	files := fakeFiles{pidFile: filepath.Join(dir, "pids"), argsFile: filepath.Join(dir, "args.json")}
	rec := &recorder{}
	o := Options{
		Python: os.Args[0],
		Model:  fakeModel,
		Env: append(append(os.Environ(),
			envMode+"="+mode,
			envPIDFile+"="+files.pidFile,
			envArgsFile+"="+files.argsFile,
			envMarker+"="+filepath.Join(dir, "marker"),
		), env...),
		StartupTimeout: long,
		OnEvent:        rec.on,
		Platform:       "darwin/arm64",
	}
	return o, files, rec
}

func newClient(t *testing.T, url string) *llm.Client {
	t.Helper()
	c, err := llm.New(llm.Options{
		BaseURL: url, Backend: "mlx", Model: fakeModel,
		MaxRetries: 10, RetryBaseDelay: 50 * time.Millisecond, RetryMaxDelay: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func chat(t *testing.T, c *llm.Client) llm.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), long)
	defer cancel()
	var streamed strings.Builder
	resp, err := c.Chat(ctx, llm.Request{
		Messages: []llm.Message{
			{Role: "system", Content: "You answer questions about code."},
			{Role: "user", Content: "What does func Start in package mlxserver do with StartupTimeout and the process group?"},
		},
		Temperature: 0.3,
		MaxTokens:   64,
		Stream:      true,
		OnDelta:     func(s string) { streamed.WriteString(s) },
	})
	if err != nil {
		t.Fatalf("chat through mlx_lm.server: %v", err)
	}
	if strings.TrimSpace(resp.Text) == "" {
		t.Fatalf("empty answer: %+v", resp)
	}
	if streamed.Len() == 0 {
		t.Error("the answer did not stream")
	}
	// llm/sim ignores temperature and records no request parameters, but it
	// honours max_tokens: the answer is cut at 64 tokens.
	if resp.Usage.CompletionTokens <= 0 || resp.Usage.CompletionTokens > 64 {
		t.Errorf("completion tokens = %d, want 1..64 (max_tokens 64 did not arrive?)", resp.Usage.CompletionTokens)
	}
	return resp
}

func TestStartGenerateRestartStop(t *testing.T) {
	o, files, rec := fakeOptions(t, "serve-die-once",
		envDelay+"=1500ms", envDieAfter+"=2")
	o.ExtraArgs = []string{"--chat-template-args", `{"enable_thinking":false}`} // not mistaken for --model etc.
	ctx, cancel := context.WithTimeout(context.Background(), 2*long)
	defer cancel()

	s, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Stop()

	// Startup: started, loading (the fake waits 1.5 s), ready.
	if got := rec.kinds(); len(got) < 3 || got[0] != EventStarting || got[1] != EventLoading || got[len(got)-1] != EventReady {
		t.Errorf("events = %v, want starting, loading…, ready", got)
	}
	if e, _ := rec.first(EventLoading); e.Elapsed <= 0 || !strings.HasPrefix(e.Message, "loading model… ") {
		t.Errorf("loading event = %+v", e)
	}
	if e, _ := rec.first(EventStarting); e.PID != s.PID() || e.PID <= 0 {
		t.Errorf("starting event PID %d, server PID %d", e.PID, s.PID())
	}
	host, port, err := net.SplitHostPort(strings.TrimPrefix(s.URL(), "http://"))
	if err != nil || host != "127.0.0.1" || !strings.HasPrefix(s.URL(), "http://") {
		t.Fatalf("URL %q: want http://127.0.0.1:PORT", s.URL())
	}

	// The command line mlx_lm.server got.
	var args []string
	b, err := os.ReadFile(files.argsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &args); err != nil {
		t.Fatal(err)
	}
	want := []string{"-m", "mlx_lm", "server", "--model", fakeModel, "--host", "127.0.0.1", "--port", port,
		"--chat-template-args", `{"enable_thinking":false}`}
	if strings.Join(args, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("args = %q\nwant   %q", args, want)
	}

	// Generation with the real client.
	c := newClient(t, s.URL())
	info, err := c.Probe(ctx, llm.ProbeOptions{})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if info.Model != fakeModel || info.StructuredOutput != llm.ModeOff {
		t.Errorf("probe = %+v, want model %s and structured output off", info, fakeModel)
	}
	chat(t, c)

	// The second answer makes the first process "run out of memory".
	firstPID := s.PID()
	chat(t, c)
	rec.waitCount(t, EventExited, 1)
	rec.waitCount(t, EventRestarting, 1)
	rec.waitCount(t, EventReady, 2)
	if e, _ := rec.first(EventExited); e.PID != firstPID || !strings.Contains(e.Message, "[metal] out of memory") {
		t.Errorf("exited event = %+v, want pid %d and the traceback", e, firstPID)
	}
	pids := files.waitPIDs(t, 2)
	if len(pids) != 2 || pids[0] != firstPID || pids[1] != s.PID() {
		t.Fatalf("pids = %v, first %d, now %d: want exactly one restart", pids, firstPID, s.PID())
	}
	if msg := processGone(firstPID); msg != "" {
		t.Errorf("the dead first process: %s", msg)
	}
	select {
	case <-s.Done():
		t.Fatalf("Done closed after one restart: %v", s.Err())
	default:
	}

	// The restarted process answers at the same URL, through the same client.
	chat(t, c)

	// Stop: idempotent, concurrent, and nothing is left.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := s.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
	wg.Wait()
	files.assertGone(t)
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err after Stop = %v, want nil", err)
	}
	for _, e := range rec.events {
		t.Logf("event %-10v pid %d elapsed %v: %s", e.Kind, e.PID, e.Elapsed.Round(time.Millisecond), e.Message)
	}
	if n := rec.count(EventStopped); n != 1 {
		t.Errorf("%d stopped events, want 1", n)
	}
	if n := rec.count(EventExited); n != 1 {
		t.Errorf("%d exited events, want 1 (Stop is not an unexpected exit)", n)
	}
}

func TestExitedTwice(t *testing.T) {
	o, files, rec := fakeOptions(t, "serve-die-always", envDieAfter+"=1")
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Stop()
	c := newClient(t, s.URL())
	chat(t, c)
	rec.waitCount(t, EventReady, 2)
	chat(t, c)
	select {
	case <-s.Done():
	case <-time.After(long):
		t.Fatal("Done not closed after the second exit")
	}
	err = s.Err()
	t.Logf("Err: %v", err)
	if err == nil || !strings.HasPrefix(err.Error(), "mlx_lm.server exited twice; last output:") || !strings.Contains(err.Error(), "[metal] out of memory") {
		t.Errorf("Err = %v", err)
	}
	if n := rec.count(EventExited); n != 2 {
		t.Errorf("%d exited events, want 2", n)
	}
	if n := rec.count(EventRestarting); n != 1 {
		t.Errorf("%d restarting events, want 1", n)
	}
	if pids := files.pids(t); len(pids) != 2 {
		t.Errorf("pids = %v, want 2 (one restart only)", pids)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop after death: %v", err)
	}
	if s.Err() == nil {
		t.Error("Stop cleared Err")
	}
	files.assertGone(t)
}

func TestStartupTimeout(t *testing.T) {
	o, files, _ := fakeOptions(t, "hang")
	o.StartupTimeout = 2 * time.Second
	s, err := Start(context.Background(), o)
	if err == nil {
		s.Stop()
		t.Fatal("Start succeeded against a server that never listens")
	}
	msg := err.Error()
	t.Logf("error: %v", err)
	if !strings.HasPrefix(msg, "mlx_lm.server did not become ready within 2s; its last output:") ||
		!strings.Contains(msg, "Fetching 7 files") || !strings.Contains(msg, "mlx.startup_timeout") {
		t.Errorf("error = %q", msg)
	}
	files.assertGone(t)
}

func TestNoModule(t *testing.T) {
	o, files, _ := fakeOptions(t, "no-module")
	s, err := Start(context.Background(), o)
	if err == nil {
		s.Stop()
		t.Fatal("Start succeeded without mlx_lm")
	}
	py := os.Args[0]
	want := "mlx-lm is not installed for " + py + "; run: " + py + " -m pip install mlx-lm"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	var ni *NotInstalledError
	if !errors.As(err, &ni) || ni.Python != py {
		t.Errorf("error %T is not a *NotInstalledError for %s", err, py)
	}
	files.assertGone(t)
}

func TestCheckPlatform(t *testing.T) {
	const want = `MLX needs macOS on Apple Silicon; use backend = "openai" with llama-server`
	for _, p := range []string{"linux/amd64", "darwin/amd64", "windows/amd64", "linux/arm64", ""} {
		err := CheckPlatform(p)
		if err == nil || err.Error() != want {
			t.Errorf("CheckPlatform(%q) = %v, want %q", p, err, want)
		}
		if !errors.Is(err, ErrUnsupportedPlatform) {
			t.Errorf("CheckPlatform(%q) is not ErrUnsupportedPlatform", p)
		}
	}
	if err := CheckPlatform("darwin/arm64"); err != nil {
		t.Errorf("CheckPlatform(darwin/arm64) = %v", err)
	}
	o, files, rec := fakeOptions(t, "serve")
	o.Platform = "linux/amd64"
	if _, err := Start(context.Background(), o); err == nil || err.Error() != want {
		t.Errorf("Start on linux/amd64 = %v, want %q", err, want)
	}
	if pids := files.pids(t); len(pids) != 0 || rec.count(EventStarting) != 0 {
		t.Errorf("something was started on an unsupported platform: pids %v, events %v", pids, rec.kinds())
	}
}

func TestPythonMissing(t *testing.T) {
	o, _, _ := fakeOptions(t, "serve")
	o.Python = "/nonexistent/python3"
	_, err := Start(context.Background(), o)
	if err == nil {
		t.Fatal("Start succeeded without Python")
	}
	t.Logf("error: %v", err)
	for _, part := range []string{`"/nonexistent/python3"`, "install Python 3", "mlx.python"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %s", err, part)
		}
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %q does not wrap the lookup error", err)
	}
}

func TestCancelWhileLoading(t *testing.T) {
	o, files, rec := fakeOptions(t, "serve", envDelay+"=10m")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec.hook = func(e Event) {
		if e.Kind == EventLoading {
			cancel()
		}
	}
	s, err := Start(ctx, o)
	if err == nil {
		s.Stop()
		t.Fatal("Start succeeded although cancelled")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	files.waitPIDs(t, 1)
	files.assertGone(t)
}

func TestStopFromEventDuringRestart(t *testing.T) {
	// A UI may stop the server from its event callback (the user quit while
	// the restarted server loads): no deadlock, and nothing is left.
	o, files, rec := fakeOptions(t, "serve-die-once", envDelay+"=1s", envDieAfter+"=1")
	var srv atomic.Pointer[Server]
	stopped := make(chan error, 1)
	var once sync.Once
	rec.hook = func(e Event) {
		switch {
		case e.Kind == EventLoading && rec.count(EventRestarting) > 0:
			once.Do(func() { stopped <- srv.Load().Stop() })
		case e.Kind == EventStopped:
			_ = srv.Load().Stop() // again, from inside the first Stop: must not deadlock
		}
	}
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	srv.Store(s)
	defer s.Stop()
	chat(t, newClient(t, s.URL()))
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Stop: %v", err)
		}
	case <-time.After(long):
		t.Fatalf("Stop was not called from OnEvent; events %v", rec.kinds())
	}
	select {
	case <-s.Done():
	case <-time.After(long):
		t.Fatal("Done not closed")
	}
	if pids := files.waitPIDs(t, 2); len(pids) != 2 {
		t.Errorf("pids = %v, want 2", pids)
	}
	files.assertGone(t)
	if err := s.Err(); err != nil {
		t.Errorf("Err = %v, want nil after Stop", err)
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o, files, _ := fakeOptions(t, "serve")
	o.Port = ln.Addr().(*net.TCPAddr).Port
	_, err = Start(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "mlx.port") || !strings.Contains(err.Error(), strconv.Itoa(o.Port)) {
		t.Errorf("error = %v, want one naming the port and mlx.port", err)
	}
	if pids := files.pids(t); len(pids) != 0 {
		t.Errorf("started %v although the port is taken", pids)
	}
}

func TestFixedPort(t *testing.T) {
	port, err := choosePort(0)
	if err != nil {
		t.Fatal(err)
	}
	o, files, _ := fakeOptions(t, "serve")
	o.Port = port
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if want := "http://127.0.0.1:" + strconv.Itoa(port); s.URL() != want {
		t.Errorf("URL = %s, want %s", s.URL(), want)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	files.assertGone(t)
}

func TestExtraArgsConflict(t *testing.T) {
	for _, args := range [][]string{{"--port", "9000"}, {"--log-level", "DEBUG", "--host=0.0.0.0"}, {"--model", "x"}, {"--por", "1"}} {
		o, files, _ := fakeOptions(t, "serve")
		o.ExtraArgs = args
		_, err := Start(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "mlx.extra_args must not contain") {
			t.Errorf("ExtraArgs %q: error = %v", args, err)
		}
		if pids := files.pids(t); len(pids) != 0 {
			t.Errorf("ExtraArgs %q: started %v", args, pids)
		}
	}
}

func TestNoModel(t *testing.T) {
	o, _, _ := fakeOptions(t, "serve")
	o.Model = " "
	if _, err := Start(context.Background(), o); err == nil || !strings.Contains(err.Error(), "mlx.model") {
		t.Errorf("error = %v, want one naming mlx.model", err)
	}
}

func TestRing(t *testing.T) {
	var seen []string
	r := newRing(func(l string) { seen = append(seen, l) })
	if got := r.tail(); got != " (none)" {
		t.Errorf("empty tail = %q", got)
	}
	_, _ = r.Write([]byte("one\ntw"))
	_, _ = r.Write([]byte("o\n"))
	if got := r.tail(); got != "\n    one\n    two" {
		t.Errorf("tail = %q", got)
	}
	// Progress bars redraw with \r: only the last state is kept.
	_, _ = r.Write([]byte("Fetching 7 files:  0%\rFetching 7 files: 50%\r"))
	_, _ = r.Write([]byte("Fetching 7 files: 100%\r\n"))
	_, _ = r.Write([]byte("partial"))
	want := []string{"one", "two", "Fetching 7 files: 100%", "partial"}
	if got := r.snapshot(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("snapshot = %q, want %q", got, want)
	}
	if strings.Join(seen, "|") != "one|two|Fetching 7 files: 100%" {
		t.Errorf("onLine saw %q", seen)
	}

	// Bounded by lines and by bytes.
	r = newRing(nil)
	for i := range 200 {
		_, _ = r.Write([]byte("line " + strconv.Itoa(i) + "\n"))
	}
	got := r.snapshot()
	if len(got) != tailLines || got[len(got)-1] != "line 199" {
		t.Errorf("kept %d lines ending %q", len(got), got[len(got)-1])
	}
	r = newRing(nil)
	big := strings.Repeat("x", 3000)
	for range 10 {
		_, _ = r.Write([]byte(big + "\n"))
	}
	_, _ = r.Write([]byte(strings.Repeat("y", 3*tailBytes)))
	size := 0
	for _, l := range r.snapshot() {
		size += len(l)
	}
	if size > 2*tailBytes {
		t.Errorf("kept %d bytes", size)
	}
}
