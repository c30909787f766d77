//go:build unix

package pipeline

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// DiskFree returns the bytes available to this user on the filesystem
// holding path.
func DiskFree(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("free disk space of %s: %w", path, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
