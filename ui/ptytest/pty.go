// Package ptytest opens pseudo-terminals for tests that must see the UI the
// way a user's terminal does (alternate screen, raw keys, resizes). Only
// Linux is supported; elsewhere Open reports ErrUnsupported and such
// tests skip.
package ptytest

import "errors"

// ErrUnsupported: no pseudo-terminal support on this platform.
var ErrUnsupported = errors.New("pseudo-terminals are only supported on Linux in tests")

// Mode is what ReadMode reports of a terminal's modes: echo, canonical
// (line) input, signal keys, CR→NL on input and output post-processing,
// all on for a terminal in its normal ("cooked") state.
type Mode struct {
	Echo, Canonical, Signals, CRNL, PostProcess bool
}
