//go:build unix

package mlxserver

import (
	"errors"
	"syscall"
)

// sysProcAttr puts the child in a process group of its own, so that Stop
// reaches whatever mlx_lm.server spawns (Python may fork helpers) and so
// that a Ctrl-C in our terminal is handled by us, not delivered to the child
// directly: we decide when and how it stops.
func sysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(a)
	return a
}

// terminateGroup asks the child's process group to exit (SIGTERM).
func terminateGroup(c *child) error { return signalGroup(c.pid, syscall.SIGTERM) }

// killGroup kills the child's process group (SIGKILL).
func killGroup(c *child) error { return signalGroup(c.pid, syscall.SIGKILL) }

// signalGroup signals the process group led by pid. A group that is already
// gone is not an error.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
