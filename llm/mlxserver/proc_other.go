//go:build !unix

package mlxserver

import (
	"errors"
	"os"
	"syscall"
)

// sysProcAttr needs nothing here. MLX only runs on macOS; this file exists so
// that the package builds everywhere (Windows included), where Start refuses
// to run in CheckPlatform anyway.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// terminateGroup kills the child: Windows has no SIGTERM to ask politely.
func terminateGroup(c *child) error { return killGroup(c) }

// killGroup kills the child process.
func killGroup(c *child) error {
	if c.cmd.Process == nil {
		return nil
	}
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// pinThread is only needed for Linux's Pdeathsig.
func pinThread() (unpin func()) { return func() {} }
