package mlxserver

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"cicdllm/llm/sim"
)

// The test binary doubles as a fake Python: Start runs
// "<python> -m mlx_lm server --model M --host H --port P [extra]", and with
// CICDLLM_FAKE_MLX set, TestMain behaves as mlx_lm.server would instead of
// running the tests. No Python and no MLX are needed.
const (
	envMode     = "CICDLLM_FAKE_MLX"           // serve, serve-die-once, serve-die-always, no-module, hang
	envDelay    = "CICDLLM_FAKE_MLX_DELAY"     // e.g. 2s before listening ("loading the model")
	envPIDFile  = "CICDLLM_FAKE_MLX_PIDFILE"   // one line per process start
	envMarker   = "CICDLLM_FAKE_MLX_MARKER"    // serve-die-once: exists once the first process ran
	envDieAfter = "CICDLLM_FAKE_MLX_DIE_AFTER" // serve-die-*: exit 1 after this many completed chat requests
	envArgsFile = "CICDLLM_FAKE_MLX_ARGSFILE"  // the command line, as a JSON array
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envMode); mode != "" {
		os.Exit(fakeMLX(mode, os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

// fakeMLX imitates `python -m mlx_lm server ...` and returns the exit code.
func fakeMLX(mode string, args []string, stderr io.Writer) int {
	if p := os.Getenv(envPIDFile); p != "" {
		// Before anything else, so that a test can find a process it
		// stopped while it was still "loading".
		if err := appendLine(p, strconv.Itoa(os.Getpid())); err != nil {
			fmt.Fprintln(stderr, "fake mlx:", err)
			return 2
		}
	}
	if p := os.Getenv(envArgsFile); p != "" {
		b, _ := json.Marshal(args)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			fmt.Fprintln(stderr, "fake mlx:", err)
			return 2
		}
	}

	switch mode {
	case "no-module":
		fmt.Fprintln(stderr, "/usr/bin/python3: No module named mlx_lm")
		return 1
	case "hang":
		// Like a first run downloading the model: output, never a listener.
		for i := 0; ; i++ {
			fmt.Fprintf(stderr, "Fetching 7 files: %d%%|          | %d/7 [00:0%d<?, ?it/s]\n", i*10%100, i%7, i%10)
			time.Sleep(200 * time.Millisecond)
		}
	}

	if len(args) < 3 || args[0] != "-m" || args[1] != "mlx_lm" || args[2] != "server" {
		fmt.Fprintf(stderr, "fake mlx: want -m mlx_lm server ..., got %q\n", args)
		return 2
	}
	fs := flag.NewFlagSet("mlx_lm.server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "")
	hostFlag := fs.String("host", "127.0.0.1", "")
	port := fs.Int("port", 8080, "")
	fs.String("chat-template-args", "", "")
	fs.String("log-level", "INFO", "")
	if err := fs.Parse(args[3:]); err != nil {
		return 2
	}

	die := false
	switch mode {
	case "serve":
	case "serve-die-always":
		die = true
	case "serve-die-once":
		marker := os.Getenv(envMarker)
		f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			_ = f.Close()
			die = true // the first process: the marker did not exist
		} else if !errors.Is(err, os.ErrExist) {
			fmt.Fprintln(stderr, "fake mlx:", err)
			return 2
		}
	default:
		fmt.Fprintf(stderr, "fake mlx: unknown mode %q\n", mode)
		return 2
	}

	if d := os.Getenv(envDelay); d != "" {
		delay, err := time.ParseDuration(d)
		if err != nil {
			fmt.Fprintln(stderr, "fake mlx:", err)
			return 2
		}
		fmt.Fprintf(stderr, "Fetching 7 files: 100%%|██████████| 7/7\n")
		time.Sleep(delay)
	}

	srv := sim.New(sim.Config{Slots: 1, Model: *model})
	url, err := srv.Start(net.JoinHostPort(*hostFlag, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(stderr, "OSError: [Errno 48] Address already in use: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "INFO:root:Starting httpd at %s on port %d...\n", *hostFlag, *port)
	_ = url

	if !die {
		select {} // until killed
	}
	n := 2
	if v := os.Getenv(envDieAfter); v != "" {
		if n, err = strconv.Atoi(v); err != nil {
			fmt.Fprintln(stderr, "fake mlx:", err)
			return 2
		}
	}
	for srv.Stats().Completed < int64(n) {
		time.Sleep(20 * time.Millisecond)
	}
	// Let the last answer reach the client before "crashing".
	time.Sleep(300 * time.Millisecond)
	fmt.Fprint(stderr, "Traceback (most recent call last):\n"+
		"  File \"mlx_lm/server.py\", line 1021, in handle_completion\n"+
		"RuntimeError: [metal] out of memory\n")
	return 1
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
