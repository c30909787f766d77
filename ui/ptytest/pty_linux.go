//go:build linux

package ptytest

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// Open returns a new pseudo-terminal pair sized cols×rows: the master the
// test reads and writes, and the slave to hand to the child process.
func Open(cols, rows int) (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	if err := Resize(slave, cols, rows); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// Resize sets the terminal's size (the child gets SIGWINCH).
func Resize(tty *os.File, cols, rows int) error {
	return unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)})
}

// Start runs cmd on a new cols×rows pseudo-terminal as its controlling
// terminal (stdin, stdout and stderr) and returns the master side.
func Start(cmd *exec.Cmd, cols, rows int) (*os.File, error) {
	master, slave, err := StartKeep(cmd, cols, rows)
	if err != nil {
		return nil, err
	}
	slave.Close()
	return master, nil
}

// StartKeep is Start that also returns the slave side, still open, so the
// test can read the terminal's modes after the child exits (ReadMode).
// The master then sees no end of file when the child exits; the caller
// closes both.
func StartKeep(cmd *exec.Cmd, cols, rows int) (master, slave *os.File, err error) {
	master, slave, err = Open(cols, rows)
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// ReadMode reads the line discipline's modes of a terminal: what a
// program in raw mode turns off and must turn back on when it exits.
func ReadMode(tty *os.File) (Mode, error) {
	t, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		return Mode{}, err
	}
	return Mode{Echo: t.Lflag&unix.ECHO != 0, Canonical: t.Lflag&unix.ICANON != 0, Signals: t.Lflag&unix.ISIG != 0,
		CRNL: t.Iflag&unix.ICRNL != 0, PostProcess: t.Oflag&unix.OPOST != 0}, nil
}
