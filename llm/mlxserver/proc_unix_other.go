//go:build unix && !linux

package mlxserver

import "syscall"

// setDeathSignal does nothing: only Linux has a parent-death signal that
// the syscall package exposes, so elsewhere Stop is the only way the child
// ends with us.
func setDeathSignal(*syscall.SysProcAttr) {}

// pinThread is only needed for Linux's Pdeathsig.
func pinThread() (unpin func()) { return func() {} }
