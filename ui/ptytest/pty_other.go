//go:build !linux

package ptytest

import (
	"os"
	"os/exec"
)

// Open is not supported here.
func Open(cols, rows int) (master, slave *os.File, err error) { return nil, nil, ErrUnsupported }

// Resize is not supported here.
func Resize(tty *os.File, cols, rows int) error { return ErrUnsupported }

// Start is not supported here.
func Start(cmd *exec.Cmd, cols, rows int) (*os.File, error) { return nil, ErrUnsupported }

// StartKeep is not supported here.
func StartKeep(cmd *exec.Cmd, cols, rows int) (master, slave *os.File, err error) {
	return nil, nil, ErrUnsupported
}

// ReadMode is not supported here.
func ReadMode(tty *os.File) (Mode, error) { return Mode{}, ErrUnsupported }
