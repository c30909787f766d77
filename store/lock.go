package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LockFileName is the advisory lock file LockWorkspace creates in the
// workspace directory. It is never deleted: removing it while another
// process is about to lock it would let two processes each hold a "lock" on
// different files.
const LockFileName = "cicdllm.lock"

// LockedError reports that another process holds the workspace lock.
type LockedError struct {
	Path    string    // the lock file
	PID     int       // holder's process id, 0 if unknown
	Started time.Time // when the holder took the lock, zero if unknown
}

func (e *LockedError) Error() string {
	var who []string
	if e.PID > 0 {
		who = append(who, "pid "+strconv.Itoa(e.PID))
	}
	if !e.Started.IsZero() {
		who = append(who, "started "+e.Started.Local().Format(timeLayout))
	}
	holder := "another cicdllm"
	if len(who) > 0 {
		holder += " (" + strings.Join(who, ", ") + ")"
	}
	return fmt.Sprintf("%s is using %s; wait for it to finish or stop it", holder, filepath.Dir(e.Path))
}

// IsLocked reports whether err is, or wraps, a *LockedError.
func IsLocked(err error) bool {
	var le *LockedError
	return errors.As(err, &le)
}

// LockWorkspace takes the exclusive workspace lock on dir/cicdllm.lock
// without waiting, for commands that must keep other cicdllm processes out
// without opening the database (for example while deleting it). It returns
// a *LockedError if another process, or another LockWorkspace call in this
// process, holds it.
//
// The kernel lock is the authority and dies with the process, even on kill
// -9, so a crash never leaves a stale lock. The pid and start time written
// into the file only serve the error message.
func LockWorkspace(dir string) (release func() error, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock workspace: create directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock workspace: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock workspace %s: %w", path, err)
	}
	if held {
		le := &LockedError{Path: path}
		if b, err := io.ReadAll(io.NewSectionReader(f, 0, 4096)); err == nil {
			le.PID, le.Started = parseLockInfo(string(b))
		}
		f.Close()
		return nil, le
	}

	info := fmt.Sprintf("pid=%d\nstarted=%s\n", os.Getpid(), time.Now().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		// Only decorates the message another process shows; the lock is
		// already ours, so a failed write is not worth failing over.
		_, _ = f.WriteAt([]byte(info), 0)
	}

	return sync.OnceValue(func() error {
		// Closing the descriptor drops the lock; the file stays.
		if err := f.Close(); err != nil {
			return fmt.Errorf("release workspace lock %s: %w", path, err)
		}
		return nil
	}), nil
}

func parseLockInfo(s string) (pid int, started time.Time) {
	for line := range strings.Lines(s) {
		key, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch key {
		case "pid":
			if n, err := strconv.Atoi(value); err == nil && n > 0 {
				pid = n
			}
		case "started":
			if t, err := time.Parse(time.RFC3339, value); err == nil {
				started = t
			}
		}
	}
	return pid, started
}
