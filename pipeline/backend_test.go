package pipeline

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cicdllm/llm"
	"cicdllm/llm/sim"
)

// fakeMLXServer behaves as `python -m mlx_lm server --model M --host H
// --port P`: it serves the simulator there until killed.
func fakeMLXServer() {
	fs := flag.NewFlagSet("mlx_lm", flag.ExitOnError)
	model := fs.String("model", "", "")
	host := fs.String("host", "127.0.0.1", "")
	port := fs.String("port", "8080", "")
	args := os.Args[1:]
	for len(args) > 0 && !strings.HasPrefix(args[0], "--") { // -m mlx_lm server
		args = args[1:]
	}
	if len(args) > 0 && args[0] == "-m" {
		args = args[2:]
	}
	_ = fs.Parse(args)
	if f := os.Getenv("CICDLLM_FAKE_MLX_PIDFILE"); f != "" {
		_ = os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0o644)
	}
	s := sim.New(sim.Config{Slots: 1, Model: *model, TokensPerSecond: 0})
	if _, err := s.Start(*host + ":" + *port); err != nil {
		os.Stderr.WriteString("fake mlx_lm: " + err.Error() + "\n")
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	<-sigs
	_ = s.Close()
}

func TestConnectRefusesMLXOffAppleSilicon(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LLM.Backend = "mlx"
	_, err := Connect(context.Background(), cfg, ConnectOptions{LookupEnv: func(string) (string, bool) { return "", false },
		Platform: "linux/amd64"})
	if err == nil || err.Error() != `MLX needs macOS on Apple Silicon; use backend = "openai" with llama-server` {
		t.Fatalf("Connect on linux/amd64: %v", err)
	}
}

func TestConnectMLXModelNotCached(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LLM.Backend = "mlx"
	cfg.MLX.Model = "mlx-community/Nope-1B-4bit"
	cache := t.TempDir()
	env := map[string]string{"HF_HUB_CACHE": cache}
	err := checkMLX(cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, t.TempDir(), "darwin/arm64")
	if err == nil || !strings.Contains(err.Error(), "cicdllm mlx download mlx-community/Nope-1B-4bit") || !strings.Contains(err.Error(), cache) {
		t.Fatalf("uncached model: %v", err)
	}
}

// TestPrepareThroughManagedMLXServer runs prepare with llm.backend =
// "mlx": the session starts the (fake) mlx_lm.server, generates through
// it with line-parsed questions (no structured output), keeps it between
// jobs, and stops it on Close: no process is left.
func TestPrepareThroughManagedMLXServer(t *testing.T) {
	f := newPrepFixture(t, map[string]string{"a.go": goSource("a", 3), "b.go": goSource("b", 3)}, sim.Config{Slots: 1})
	pidFile := filepath.Join(t.TempDir(), "pid")
	cfg := f.cfg
	cfg.LLM.Backend = "mlx"
	cfg.MLX.Model = t.TempDir() // a local model folder: no cache lookup
	cfg.MLX.Python = os.Args[0]
	cfg.MLX.StartupTimeout = Duration(time.Minute)
	conn, err := Connect(context.Background(), cfg, ConnectOptions{LookupEnv: func(string) (string, bool) { return "", false },
		Platform: "darwin/arm64", Environ: append(os.Environ(), "CICDLLM_FAKE_MLX_PIPELINE=1", "CICDLLM_FAKE_MLX_PIDFILE="+pidFile)})
	if err != nil {
		t.Fatal(err)
	}
	if conn.Info.Kind != llm.KindMLX || conn.Info.Slots != 1 || conn.Info.StructuredOutput != "off" {
		t.Errorf("server info = %+v; want mlx_lm, 1 slot, no structured output", conn.Info)
	}
	theme, err := LoadTheme(f.ws.PromptsDir, cfg.Generation.Theme)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{WS: f.ws, Config: cfg, Store: f.st, Client: conn.Client, Theme: theme, Slots: conn.Info.Slots,
		ContextSize: conn.Info.ContextSize, Model: conn.Info.Model}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Progress().FilesDone.Load() != 2 || r.Progress().Answers.Load() == 0 {
		t.Fatalf("prepare through mlx: %d files, %d answers", r.Progress().FilesDone.Load(), r.Progress().Answers.Load())
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("mlx_lm.server (pid %d) still exists after Close: %v", pid, err)
	}
}

// TestSessionKeepsTheMLXServerBetweenJobs: two prepare runs reuse one
// mlx_lm.server (a model takes minutes to load), the view shows its
// phase, and Close stops it.
func TestSessionKeepsTheMLXServerBetweenJobs(t *testing.T) {
	f := newPrepFixture(t, map[string]string{"a.go": goSource("a", 2)}, sim.Config{Slots: 1})
	pidFile := filepath.Join(t.TempDir(), "pid")
	cfg := f.cfg
	cfg.LLM.Backend = "mlx"
	cfg.MLX.Model = t.TempDir()
	cfg.MLX.Python = os.Args[0]
	cfg.MLX.StartupTimeout = Duration(time.Minute)
	s := NewSession(SessionOptions{Workspace: f.ws, Config: cfg, Store: f.st,
		LookupEnv: func(string) (string, bool) { return "", false }, Platform: "darwin/arm64",
		Environ: append(os.Environ(), "CICDLLM_FAKE_MLX_PIPELINE=1", "CICDLLM_FAKE_MLX_PIDFILE="+pidFile)})
	defer s.Close()
	if _, err := s.Probe(context.Background()); err != nil {
		t.Fatalf("Probe with a local mlx model: %v", err)
	}
	readPID := func() int {
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(string(data))
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	var pids []int
	for run := range 2 {
		if err := s.Prepare(context.Background(), PrepareOptions{}); err != nil {
			t.Fatal(err)
		}
		evs := drainUntilDone(t, s)
		if last := evs[len(evs)-1]; last.Err != nil {
			t.Fatalf("run %d: %v", run, last.Err)
		}
		pids = append(pids, readPID())
		if v := s.View(); v.Server.Info.Kind != llm.KindMLX || !strings.HasPrefix(v.Server.Phase, "running (pid ") {
			t.Errorf("run %d: server %+v", run, v.Server)
		}
	}
	if pids[0] != pids[1] {
		t.Errorf("the second job started another server: pids %v", pids)
	}
	s.Close()
	if err := syscall.Kill(pids[0], 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("mlx_lm.server (pid %d) survived Session.Close: %v", pids[0], err)
	}
}
