package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLockHelperProcess is not a test: the lock tests re-run the test binary
// with STORE_LOCK_HELPER set so that a second process contends for the lock.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv("STORE_LOCK_HELPER")
	if path == "" {
		t.Skip("helper process for the lock tests")
	}
	s, err := Open(context.Background(), path, Options{Lock: true})
	switch mode := os.Getenv("STORE_LOCK_HELPER_MODE"); {
	case mode == "hold" && err == nil:
		fmt.Println("HELD")
		// Hold until the parent kills us; the bound only stops an
		// orphan from living forever if the parent died first.
		time.Sleep(60 * time.Second)
		s.Close()
	case err == nil:
		s.Close()
		fmt.Println("OPENED")
	default:
		var le *LockedError
		if errors.As(err, &le) {
			fmt.Printf("LOCKED pid=%d msg=%s\n", le.PID, le.Error())
		} else {
			fmt.Printf("ERROR %v\n", err)
		}
	}
}

func helperCmd(ctx context.Context, dbPath, mode string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "STORE_LOCK_HELPER="+dbPath, "STORE_LOCK_HELPER_MODE="+mode,
		// Under -race a process otherwise lingers a second before exiting.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	return cmd
}

func TestLockSecondProcessFailsFast(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "cicdllm.db")
	s, err := Open(t.Context(), dbPath, Options{Lock: true})
	if err != nil {
		t.Fatal(err)
	}

	// The timeout turns a blocking lock into a test failure.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := helperCmd(ctx, dbPath, "try").CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("second process did not fail fast: %v\n%s", ctx.Err(), out)
	}
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	want := fmt.Sprintf("LOCKED pid=%d ", os.Getpid())
	if !strings.Contains(string(out), want) {
		t.Fatalf("helper output does not contain %q:\n%s", want, out)
	}
	if !strings.Contains(string(out), filepath.Dir(dbPath)) {
		t.Errorf("message does not name the workspace:\n%s", out)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out, err = helperCmd(ctx, dbPath, "try").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OPENED") {
		t.Fatalf("after Close the second process still cannot open: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dbPath), LockFileName)); err != nil {
		t.Errorf("lock file should be left in place: %v", err)
	}
}

func TestLockSameProcess(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "cicdllm.db")
	s, err := Open(t.Context(), dbPath, Options{Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.Context(), dbPath, Options{Lock: true})
	if err == nil {
		s2.Close()
		s.Close()
		t.Fatal("second Open with Lock succeeded while the first holds the lock")
	}
	var le *LockedError
	if !errors.As(err, &le) || !IsLocked(err) {
		t.Fatalf("error %v (%T) is not a *LockedError", err, err)
	}
	if le.PID != os.Getpid() {
		t.Errorf("LockedError.PID = %d, want %d", le.PID, os.Getpid())
	}
	if le.Started.IsZero() || time.Since(le.Started) < -time.Minute {
		t.Errorf("LockedError.Started = %v, want when the lock was taken", le.Started)
	}
	if le.Path != filepath.Join(filepath.Dir(dbPath), LockFileName) {
		t.Errorf("LockedError.Path = %q", le.Path)
	}

	// LockWorkspace contends for the same lock without opening the database.
	if _, err := LockWorkspace(filepath.Dir(dbPath)); !IsLocked(err) {
		t.Errorf("LockWorkspace while held: %v, want a LockedError", err)
	}
	// Opening without Lock is allowed (read-only tools, tests).
	s3, err := Open(t.Context(), dbPath, Options{})
	if err != nil {
		t.Errorf("Open without Lock: %v", err)
	} else {
		s3.Close()
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	release, err := LockWorkspace(filepath.Dir(dbPath))
	if err != nil {
		t.Fatalf("LockWorkspace after Close: %v", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Errorf("second release: %v", err)
	}
	s, err = Open(t.Context(), dbPath, Options{Lock: true})
	if err != nil {
		t.Fatalf("Open after release: %v", err)
	}
	s.Close()
}

func TestLockReleasedWhenHolderIsKilled(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "cicdllm.db")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := helperCmd(ctx, dbPath, "hold")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	held := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "HELD" {
				held <- true
				return
			}
			t.Logf("helper: %s", sc.Text())
		}
		held <- false
	}()
	select {
	case ok := <-held:
		if !ok {
			t.Fatal("helper exited without taking the lock")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("helper did not take the lock within 10s")
	}

	_, err = Open(t.Context(), dbPath, Options{Lock: true})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Open while the helper holds the lock: %v, want a LockedError", err)
	}
	if le.PID != cmd.Process.Pid {
		t.Errorf("LockedError.PID = %d, want helper pid %d", le.PID, cmd.Process.Pid)
	}

	// SIGKILL: no chance to clean up, so only the kernel can release it.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	s, err := Open(t.Context(), dbPath, Options{Lock: true})
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	if got, err := s.IntegrityCheck(t.Context()); err != nil || got != "ok" {
		t.Errorf("IntegrityCheck after kill = %q, %v", got, err)
	}
	s.Close()
}

func TestLockedErrorMessage(t *testing.T) {
	started := time.Date(2026, 11, 24, 20, 51, 2, 0, time.Local)
	dir := filepath.Join("work", "space")
	tests := []struct {
		err  LockedError
		want string
	}{
		{LockedError{Path: filepath.Join(dir, LockFileName), PID: 1234, Started: started},
			"another cicdllm (pid 1234, started 2026-11-24 20:51:02) is using " + dir + "; wait for it to finish or stop it"},
		{LockedError{Path: filepath.Join(dir, LockFileName), PID: 1234},
			"another cicdllm (pid 1234) is using " + dir + "; wait for it to finish or stop it"},
		{LockedError{Path: filepath.Join(dir, LockFileName)},
			"another cicdllm is using " + dir + "; wait for it to finish or stop it"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() =\n%q\nwant\n%q", got, tt.want)
		}
	}
	wrapped := fmt.Errorf("run: %w", &tests[0].err)
	if !IsLocked(wrapped) || IsLocked(errors.New("other")) {
		t.Error("IsLocked does not see through wrapping or matches unrelated errors")
	}

	pid, st := parseLockInfo("pid=99\nstarted=2026-11-24T20:51:02Z\n")
	if pid != 99 || !st.Equal(time.Date(2026, 11, 24, 20, 51, 2, 0, time.UTC)) {
		t.Errorf("parseLockInfo = %d, %v", pid, st)
	}
	if pid, st := parseLockInfo("garbage"); pid != 0 || !st.IsZero() {
		t.Errorf("parseLockInfo(garbage) = %d, %v; want zero values", pid, st)
	}
}
