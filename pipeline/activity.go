package pipeline

import (
	"sync"
	"time"
	"unicode/utf8"

	"cicdllm/llm"
)

// Activity is what one request slot is doing right now, for a live view.
type Activity struct {
	Slot     int
	Key      FileKey
	Repo     string
	Path     string
	Stage    string // "asking" (questions for a chunk) or "answering"
	Lines    string // the chunk's line span, "12-80"
	Question string // while answering
	// Index of Count: which of its chunk's questions is being answered
	// (1-based; 0 when unknown).
	Index, Count int
	Started      time.Time
	Deltas       int    // streamed pieces so far (about one token each)
	Tail         string // the end of the text streamed so far
}

// TokensPerSecond is the slot's generation rate so far.
func (a Activity) TokensPerSecond(now time.Time) float64 {
	d := now.Sub(a.Started).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(a.Deltas) / d
}

// Kept bounded: a face shows a few lines of the stream, and copying the
// whole answer ten times a second per slot would cost more than it shows.
const (
	liveTailKeep = 4 << 10
	liveTailMax  = 8 << 10
)

// liveSlot is one worker's Activity, written by the worker (and the HTTP
// stream it reads) and copied by Activity.
type liveSlot struct {
	slot int
	mu   sync.Mutex
	busy bool
	a    Activity
	text []byte
}

func (l *liveSlot) begin(t *task) {
	stage := "asking"
	if t.kind == answerTask {
		stage = "answering"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.busy = true
	l.a = Activity{Slot: l.slot, Key: t.fw.key, Repo: t.fw.repo.Name, Path: t.fw.key.Path, Stage: stage,
		Lines: lineSpan(t.chunk), Question: t.question, Index: t.qIndex, Count: t.qCount, Started: time.Now()}
	l.text = l.text[:0]
}

func (l *liveSlot) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.busy = false
}

// watch routes a request's stream into the slot.
func (l *liveSlot) watch(req *llm.Request) {
	if l == nil {
		return
	}
	req.OnDelta = func(s string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.a.Deltas++
		l.text = append(l.text, s...)
		if len(l.text) > liveTailMax {
			cut := len(l.text) - liveTailKeep
			for cut < len(l.text) && !utf8.RuneStart(l.text[cut]) {
				cut++
			}
			l.text = append(l.text[:0], l.text[cut:]...)
		}
	}
	req.OnRestart = func(int, error) {
		// The retried attempt streams from the start again.
		l.mu.Lock()
		defer l.mu.Unlock()
		l.text = l.text[:0]
		l.a.Deltas = 0
		l.a.Started = time.Now()
	}
}

// Activity returns what every busy slot is doing, in slot order.
func (r *Runner) Activity() []Activity {
	r.mu.Lock()
	live := r.live
	r.mu.Unlock()
	var out []Activity
	for _, l := range live {
		l.mu.Lock()
		if l.busy {
			a := l.a
			a.Tail = string(l.text)
			out = append(out, a)
		}
		l.mu.Unlock()
	}
	return out
}
