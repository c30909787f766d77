// Package ptytest opens pseudo-terminals for tests that must see the UI the
// way a user's terminal does (alternate screen, raw keys, resizes). Only
// Linux is supported; elsewhere Open reports ErrUnsupported and such
// tests skip.
package ptytest

import "errors"

// ErrUnsupported: no pseudo-terminal support on this platform.
var ErrUnsupported = errors.New("pseudo-terminals are only supported on Linux in tests")
