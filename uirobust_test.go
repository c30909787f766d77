package main

// The terminal UI's robustness proof against the real binary (issue 11,
// item 4): without a terminal no command writes an escape byte, and a
// panic in a pipeline goroutine under the UI is shown, leaves the
// terminal restored, the log holding the stack and the database
// consistent, and a rerun finishes the work without duplicates. The
// screens at every size, NO_COLOR and hostile names are proven in the ui
// package (robust_test.go there).

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"cicdllm/llm/sim"
	"cicdllm/ui/common"
	"cicdllm/ui/ptytest"
)

// urEnv is the test process's environment without what changes how a
// program talks to a terminal, plus vars.
func urEnv(vars ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "TERM", "CI", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "COLORTERM", "CICDLLM_TEST_PANIC", "CICDLLM_TEST_MAX_PAGES":
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "CICDLLM_TEST_MAIN=1"), vars...)
}

type urResult struct {
	code           int
	stdout, stderr []byte
}

// urRun runs the real binary with stdin from /dev/null and stdout and
// stderr to pipes: no terminal anywhere.
func urRun(t *testing.T, env []string, args ...string) urResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := urResult{stdout: out.Bytes(), stderr: errOut.Bytes()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", args, err)
	}
	return r
}

// TestNoTerminalCommandsWriteNoEscapes runs every everyday command of the
// real binary with no terminal at all (stdin /dev/null, stdout and stderr
// pipes), with a colour TERM, with TERM=dumb and with CI=true: the exit
// codes are the documented ones, tui says in one line to use the
// subcommands, and not one ESC byte (nor a carriage return redrawing a
// line) reaches stdout or stderr.
func TestNoTerminalCommandsWriteNoEscapes(t *testing.T) {
	for _, variant := range []struct {
		name string
		vars []string
	}{
		{"TERM=xterm-256color", []string{"TERM=xterm-256color", "COLORTERM=truecolor"}},
		{"TERM=dumb", []string{"TERM=dumb"}},
		{"CI=true", []string{"CI=true", "TERM=xterm-256color"}},
	} {
		t.Run(variant.name, func(t *testing.T) {
			t.Parallel()
			dir := simWorkspace(t, sim.Config{Slots: 4})
			env := urEnv(variant.vars...)
			out := filepath.Join(t.TempDir(), "set.jsonl")
			for _, c := range []struct {
				args []string
				code int
				tui  bool // says in one line to use the subcommands
			}{
				{[]string{"help"}, exitOK, false},
				{[]string{"--workdir", dir, "tui"}, exitUsage, true},
				{[]string{"--workdir", dir}, exitUsage, false}, // no command: the usage, not the UI
				{[]string{"--workdir", dir, "status"}, exitOK, false},
				{[]string{"--workdir", dir, "scrape", "-v"}, exitOK, false},
				{[]string{"--workdir", dir, "prepare"}, exitOK, false},
				{[]string{"--workdir", dir, "stats"}, exitOK, false},
				{[]string{"--workdir", dir, "status"}, exitOK, false},
				{[]string{"--workdir", dir, "export", "--template", "chatml-jsonl", "--output-file", out}, exitOK, false},
				{[]string{"demo", "--dir", filepath.Join(t.TempDir(), "demo")}, exitOK, false},
			} {
				r := urRun(t, env, c.args...)
				name := strings.Join(c.args, " ")

				if r.code != c.code {
					t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", name, r.code, c.code, r.stdout, r.stderr)
				}
				for stream, b := range map[string][]byte{"stdout": r.stdout, "stderr": r.stderr} {
					if i := bytes.IndexByte(b, 0x1b); i >= 0 {
						t.Errorf("%s: ESC in %s at byte %d: %q", name, stream, i, b[max(0, i-40):min(len(b), i+40)])
					}
					if i := bytes.IndexByte(b, '\r'); i >= 0 {
						t.Errorf("%s: carriage return in %s at byte %d: %q", name, stream, i, b[max(0, i-40):min(len(b), i+40)])
					}
				}
				if c.tui {
					msg := strings.TrimSpace(string(r.stderr))
					if strings.Contains(msg, "\n") || !strings.Contains(msg, "needs a terminal") || !strings.Contains(msg, "cicdllm scrape, prepare, export") {
						t.Errorf("%s: want one line pointing to the subcommands, got %q", name, msg)
					}
				}
			}
		})
	}
}

// urWait waits until the screen's text (escape sequences removed) holds
// want; the deadline only guards against a hang.
func urWait(t *testing.T, out *ttyOutput, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(ansi.Strip(out.String()), want) {
		if time.Now().After(deadline) {
			tail := ansi.Strip(out.String())
			t.Fatalf("the terminal never showed %q; its text ends:\n%s", want, tail[max(0, len(tail)-3000):])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// urSGR matches every SGR sequence (CSI params m) a program wrote.
var urSGR = regexp.MustCompile("\x1b\\[([0-9;:]*)m")

// urSGRParams splits what the SGR sequences in s set into colour
// parameters (30–37, 38;…, 39, 40–47, 48;…, 49, 58;…, 59, 90–97, 100–107)
// and the rest (attributes such as 1 bold, 2 faint, 4 underline, 7
// reverse, and resets).
func urSGRParams(s string) (colours, attrs []string) {
	for _, m := range urSGR.FindAllStringSubmatch(s, -1) {
		c, a := common.SplitSGR(m[1])
		for range c {
			colours = append(colours, m[0])
		}
		attrs = append(attrs, a...)
	}
	return colours, attrs
}

// TestPanicInAWorkerUnderTheUI runs `cicdllm tui` on a pseudo-terminal
// with NO_COLOR=1 while a prepare worker panics before its first request
// (CICDLLM_TEST_PANIC=worker): the error is on screen, q still quits
// promptly with exit 0, the terminal is restored (alternate screen left,
// cursor shown, echo and line mode back on), not one SGR colour parameter
// was written yet bold or reverse video was, the log holds the stack, the
// database passes its integrity check, and a rerun of prepare without
// the fault finishes everything with 0 failed and no duplicate sample.
func TestPanicInAWorkerUnderTheUI(t *testing.T) {
	dir := simWorkspace(t, sim.Config{Slots: 2})
	if r := urRun(t, urEnv(), "--workdir", dir, "scrape"); r.code != 0 {
		t.Fatalf("scrape: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The modes the child will find: those of a fresh pseudo-terminal
	// (reading the child's own once it runs would race with its switch to
	// raw mode). No pseudo-terminal here: nothing to test.
	refMaster, refSlave, err := ptytest.Open(120, 40)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	before, err := ptytest.ReadMode(refSlave)
	refMaster.Close()
	refSlave.Close()
	if err != nil {
		t.Skipf("cannot read a pseudo-terminal's modes: %v", err)
	}

	cmd := exec.Command(os.Args[0], "--workdir", dir, "tui")
	cmd.Env = urEnv("CICDLLM_TEST_PANIC=worker", "NO_COLOR=1", "TERM=xterm-256color")
	master, slave, err := ptytest.StartKeep(cmd, 120, 40)
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	out := &ttyOutput{}
	go func() { _, _ = io.Copy(out, master) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()

	urWait(t, out, "p prepare", 60*time.Second)
	// While the UI runs the terminal is raw: the check below can see it.
	if during, err := ptytest.ReadMode(slave); err != nil || during.Echo || during.Canonical {
		t.Errorf("terminal modes while the UI runs: %+v (%v), want raw", during, err)
	}
	if _, err := master.Write([]byte("p")); err != nil {
		t.Fatal(err)
	}
	// The runner's recovered panic ends the job: its Done error is in the
	// footer and stays in the progress pane as the last error.
	urWait(t, out, "internal error: injected fault in a prepare worker", 60*time.Second)
	urWait(t, out, "last error: internal error", 10*time.Second)

	quitAt := time.Now()
	if _, err := master.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	var code int
	select {
	case err := <-exited:
		code = urExitCode(t, err)
	case <-time.After(3 * time.Second):
		// Still busy (the job was stopping): q asked, y confirms.
		if strings.Contains(ansi.Strip(out.String()), "quit? (y/n)") {
			_, _ = master.Write([]byte("y"))
		}
		select {
		case err := <-exited:
			code = urExitCode(t, err)
		case <-time.After(15 * time.Second):
			t.Fatalf("tui did not exit after q; screen text ends:\n%s", urTail(out))
		}
	}
	took := time.Since(quitAt)
	t.Logf("tui exited %d, %v after q", code, took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("tui took %v to exit after q, want at most 5s", took.Round(time.Millisecond))
	}
	if code != exitOK {
		t.Errorf("tui exited %d after the user quit, want 0; screen text ends:\n%s", code, urTail(out))
	}

	// The terminal is restored.
	got := out.String()
	for _, seq := range []string{"\x1b[?1049l", "\x1b[?25h"} {
		if !strings.Contains(got, seq) {
			t.Errorf("the output lacks %q: terminal not restored", seq)
		}
	}
	if i, j := strings.LastIndex(got, "\x1b[?1049h"), strings.LastIndex(got, "\x1b[?1049l"); j < i {
		t.Error("the alternate screen was entered again after it was left")
	}
	after, err := ptytest.ReadMode(slave)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Echo || !after.Canonical || !after.Signals || after != before {
		t.Errorf("terminal modes after exit %+v, before %+v", after, before)
	}

	// NO_COLOR: attributes, no colours.
	colours, attrs := urSGRParams(got)
	if len(colours) > 0 {
		t.Errorf("NO_COLOR=1 but %d SGR sequences set colours, first %q", len(colours), colours[0])
	}
	emphasis := 0
	for _, a := range attrs {
		if a == "1" || a == "7" {
			emphasis++
		}
	}
	if emphasis == 0 {
		t.Error("NO_COLOR=1 and no bold or reverse video at all: focus and selection are invisible")
	}

	// The stack is in the log.
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	var withStack string
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if bytes.Contains(b, []byte("injected fault in a prepare worker")) && bytes.Contains(b, []byte("runtime/debug.Stack")) &&
			bytes.Contains(b, []byte("(*Runner).worker")) {
			withStack = l
		}
	}
	if withStack == "" {
		t.Errorf("no log among %v holds the panic with its stack", logs)
	}

	// The database is consistent, and a rerun finishes the work.
	ctx := context.Background()
	openIntact(t, dir, "after the panic").Close()
	r := urRun(t, urEnv(), "--workdir", dir, "prepare")
	if r.code != 0 || !strings.Contains(string(r.stdout), "0 failed") {
		t.Fatalf("prepare after the panic: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	st := openIntact(t, dir, "after the rerun")
	if n, err := st.CountPending(ctx); err != nil || n != 0 {
		t.Errorf("%d pending samples after the rerun (%v)", n, err)
	}
	if stats, err := st.Stats(ctx); err != nil || stats.FilesFailed != 0 || stats.FilesDone == 0 {
		t.Errorf("after the rerun: %d files done, %d failed (%v)", stats.FilesDone, stats.FilesFailed, err)
	}
	if uniqueSamples(t, st) == 0 {
		t.Error("no samples after the rerun")
	}
}

func urExitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

func urTail(out *ttyOutput) string {
	s := ansi.Strip(out.String())
	return s[max(0, len(s)-3000):]
}

// TestDumbTerminalAndCIGetPlainMode: on a real terminal, TERM=dumb or CI
// set still mean plain mode (reliability.md R-TUI-1): `tui` refuses with
// its one line and `status` writes no escape sequence.
func TestDumbTerminalAndCIGetPlainMode(t *testing.T) {
	dir := t.TempDir()
	for _, env := range [][]string{{"TERM=dumb"}, {"TERM=xterm-256color", "CI=true"}} {
		for _, args := range [][]string{{"tui"}, {"status"}} {
			cmd := exec.Command(os.Args[0], append([]string{"--workdir", dir}, args...)...)
			cmd.Env = urEnv(env...)
			master, err := ptytest.Start(cmd, 100, 30)
			if err != nil {
				t.Skipf("no pseudo-terminal: %v", err)
			}
			out := &ttyOutput{}
			copied := make(chan struct{})
			go func() { _, _ = io.Copy(out, master); close(copied) }()
			err = cmd.Wait()
			master.Close()
			<-copied
			code := urExitCode(t, err)
			want := 0
			if args[0] == "tui" {
				want = 2
			}
			if code != want || strings.Contains(out.String(), "\x1b") {
				t.Errorf("%v %v in a terminal: exit %d (want %d), output %q", env, args, code, want, out.String())
			}
			if args[0] == "tui" && !strings.Contains(out.String(), "the terminal UI needs a terminal") {
				t.Errorf("%v tui: %q", env, out.String())
			}
		}
	}
}
