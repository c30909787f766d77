//go:build !unix

package mlxserver

import "os"

// processGone returns "" when pid no longer exists, else what is wrong.
// Without signal 0, finding the process is the best check available.
func processGone(pid int) string {
	p, err := os.FindProcess(pid)
	if err != nil {
		return ""
	}
	_ = p.Release()
	return "still exists"
}
