//go:build linux

package mlxserver

import (
	"runtime"
	"syscall"
)

// setDeathSignal makes the kernel SIGKILL the child when we die, even by
// SIGKILL or a crash that skips every deferred Stop: a model server left
// behind holds gigabytes of memory and the port.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// pinThread locks the calling goroutine to its OS thread until the returned
// function is called. Pdeathsig fires when the *thread* that forked the
// child exits, not the process; the Go runtime ends a thread when a goroutine
// exits while locked to it, which any library may cause. Holding the forking
// thread for the child's whole life keeps it from being reused that way.
func pinThread() (unpin func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
