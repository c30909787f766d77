//go:build unix

package mlxserver

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

// processGone returns "" when pid no longer exists (not even as a zombie),
// else what is wrong.
func processGone(pid int) string {
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		return "still exists (kill -0: " + errString(err) + ")"
	}
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); !errors.Is(err, os.ErrNotExist) {
			return "/proc entry still present (zombie?)"
		}
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
