package mlxserver

import (
	"strings"
	"sync"
)

// Bounds of the output kept from the child. mlx_lm.server prints little
// once it runs, and a failure's cause (a Python traceback, a missing
// module, a download error) is in its last few lines.
const (
	tailLines = 50
	tailBytes = 8 << 10
)

// ring keeps the last lines written to it, bounded by tailLines and
// tailBytes, and passes every complete line to onLine. It is an io.Writer
// for the child's stdout and stderr and is safe for concurrent use.
//
// A carriage return not followed by a newline starts the line over, as on a
// terminal: Hugging Face download progress bars redraw one line with \r,
// and keeping every redraw would push the useful lines out.
type ring struct {
	onLine func(string)

	mu      sync.Mutex
	lines   []string
	size    int // bytes in lines
	partial []byte
	cr      bool // the last byte seen was \r
}

func newRing(onLine func(string)) *ring {
	return &ring{onLine: onLine}
}

// Write never fails, so that a chatty child is never blocked or broken by
// its output being captured.
func (r *ring) Write(p []byte) (int, error) {
	var done []string
	r.mu.Lock()
	for _, b := range p {
		if r.cr && b != '\n' {
			r.partial = r.partial[:0]
		}
		r.cr = false
		switch b {
		case '\n':
			done = append(done, r.pushLocked())
		case '\r':
			r.cr = true
		default:
			if len(r.partial) < tailBytes {
				r.partial = append(r.partial, b)
			}
		}
	}
	r.mu.Unlock()
	if r.onLine != nil {
		for _, l := range done {
			r.onLine(l)
		}
	}
	return len(p), nil
}

// pushLocked ends the partial line, stores it and returns it.
func (r *ring) pushLocked() string {
	l := string(r.partial)
	r.partial = r.partial[:0]
	r.addLocked(l)
	return l
}

func (r *ring) addLocked(l string) {
	r.lines = append(r.lines, l)
	r.size += len(l) + 1
	for len(r.lines) > 1 && (len(r.lines) > tailLines || r.size > tailBytes) {
		r.size -= len(r.lines[0]) + 1
		r.lines[0] = ""
		r.lines = r.lines[1:]
	}
}

// note adds a line of our own, e.g. to mark a restart in the tail.
func (r *ring) note(l string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.partial) > 0 {
		r.pushLocked()
	}
	r.addLocked(l)
}

// snapshot returns the kept lines, the unfinished last one included (a child
// that hangs mid-line, or redraws a progress bar, still shows it).
func (r *ring) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.lines...)
	if len(r.partial) > 0 {
		out = append(out, string(r.partial))
	}
	return out
}

// tail formats the kept output for an error message: blank lines dropped,
// one line inline, several on their own indented lines.
func (r *ring) tail() string {
	var keep []string
	for _, l := range r.snapshot() {
		if strings.TrimSpace(l) != "" {
			keep = append(keep, strings.TrimRight(l, " \t"))
		}
	}
	switch len(keep) {
	case 0:
		return " (none)"
	case 1:
		return " " + keep[0]
	}
	return "\n    " + strings.Join(keep, "\n    ")
}

// contains reports whether any kept line contains s.
func (r *ring) contains(s string) bool {
	for _, l := range r.snapshot() {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
