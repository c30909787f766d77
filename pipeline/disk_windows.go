//go:build windows

package pipeline

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// DiskFree returns the bytes available to this user on the volume holding
// path.
func DiskFree(path string) (uint64, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, fmt.Errorf("free disk space of %s: %w", path, err)
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return 0, fmt.Errorf("free disk space of %s: %w", path, err)
	}
	return avail, nil
}
