package sim

import (
	"context"
	"slices"
	"time"
)

// slot is one llama-server slot: it runs one request at a time and keeps the
// text of its last prompt (plus what it generated) as its prefix cache.
type slot struct {
	id       int
	busy     bool
	task     int // id_task of the current or last request, -1 before the first
	cache    string
	lastUsed int64 // release sequence number, for least-recently-used selection
	acquired time.Time
}

// waiter is a request queued for a slot.
type waiter struct {
	task int
	slot *slot         // set under Server.mu when a slot is handed over
	ch   chan struct{} // closed when slot is set
}

// acquire waits FIFO for a slot. When several slots are free it picks, like
// llama.cpp, the one whose cache shares the longest prefix with prompt if
// that prefix covers more than half of the prompt (slotSimilarity), else the
// least recently used one. It returns ctx.Err() if ctx ends first; no slot is
// held then.
func (s *Server) acquire(ctx context.Context, task int, prompt string) (*slot, error) {
	s.mu.Lock()
	if len(s.queue) == 0 {
		if sl := s.pickFreeLocked(prompt); sl != nil {
			s.assignLocked(sl, task, time.Now())
			s.mu.Unlock()
			return sl, nil
		}
	}
	w := &waiter{task: task, ch: make(chan struct{})}
	s.queue = append(s.queue, w)
	if len(s.queue) > s.st.maxQueued {
		s.st.maxQueued = len(s.queue)
	}
	s.mu.Unlock()

	select {
	case <-w.ch:
		return w.slot, nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	if w.slot == nil {
		if i := slices.Index(s.queue, w); i >= 0 {
			s.queue = slices.Delete(s.queue, i, i+1)
		}
		s.mu.Unlock()
		return nil, ctx.Err()
	}
	sl := w.slot // handed over just as ctx ended: pass it on
	s.mu.Unlock()
	s.release(sl, "", false)
	return nil, ctx.Err()
}

// slotSimilarity is llama-server's default --slot-prompt-similarity.
const slotSimilarity = 0.5

func (s *Server) pickFreeLocked(prompt string) *slot {
	var best, lru *slot
	bestLCP := 0
	for _, sl := range s.slots {
		if sl.busy {
			continue
		}
		if lru == nil || sl.lastUsed < lru.lastUsed {
			lru = sl
		}
		if lcp := commonPrefixLen(sl.cache, prompt) / bytesPerToken; lcp > bestLCP {
			best, bestLCP = sl, lcp
		}
	}
	if best != nil && float64(bestLCP) > slotSimilarity*float64(CountTokens(prompt)) {
		return best
	}
	return lru
}

func (s *Server) assignLocked(sl *slot, task int, now time.Time) {
	sl.busy = true
	sl.task = task
	sl.acquired = now
	s.nbusy++
	if s.nbusy > s.st.maxConc {
		s.st.maxConc = s.nbusy
	}
}

// release ends a slot hold; with update it stores cache as the slot's prefix
// cache. The slot goes straight to the first queued request, if any.
func (s *Server) release(sl *slot, cache string, update bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if update {
		sl.cache = cache
	}
	s.st.busy += s.busySinceLocked(sl.acquired, now)
	s.useSeq++
	sl.lastUsed = s.useSeq
	if len(s.queue) > 0 {
		w := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		sl.task = w.task
		sl.acquired = now
		w.slot = sl
		close(w.ch)
		return
	}
	sl.busy = false
	s.nbusy--
}

// cachedTokens is how many prompt tokens the slot's cache serves: the common
// prefix in tokens, always leaving at least one token to evaluate (as
// llama.cpp does), and none when the request disabled cache_prompt.
func (s *Server) cachedTokens(sl *slot, prompt string, nPrompt int, cachePrompt bool) int {
	if !cachePrompt {
		return 0
	}
	s.mu.Lock()
	lcp := commonPrefixLen(sl.cache, prompt)
	s.mu.Unlock()
	c := lcp / bytesPerToken
	if c > nPrompt-1 {
		c = nPrompt - 1
	}
	return max(c, 0)
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// slotView is one element of GET /slots.
type slotView struct {
	ID           int  `json:"id"`
	IsProcessing bool `json:"is_processing"`
	NCtx         int  `json:"n_ctx"`
	IDTask       int  `json:"id_task"`
}

func (s *Server) slotViews() []slotView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]slotView, len(s.slots))
	for i, sl := range s.slots {
		out[i] = slotView{ID: sl.id, IsProcessing: sl.busy, NCtx: s.cfg.ContextSize, IDTask: sl.task}
	}
	return out
}
