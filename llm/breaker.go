package llm

import (
	"context"
	"sync"
	"time"
)

// BreakerState is the state of the client's circuit breaker.
type BreakerState int

// Breaker states.
const (
	BreakerClosed   BreakerState = iota // requests flow
	BreakerOpen                         // the server is down: requests wait
	BreakerHalfOpen                     // one probe request is testing the server
)

func (s BreakerState) String() string {
	switch s {
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "closed"
}

// BreakerEvent reports a change of the breaker's state, so a face can show
// "server unreachable, retrying in 8s".
type BreakerEvent struct {
	State   BreakerState
	RetryIn time.Duration // when open: time until the next probe
	Err     error         // the failure that opened it
}

// breaker is shared by every request of a Client. After threshold
// consecutive server failures it opens: requests wait instead of failing,
// then a single probe request tests the server; success closes it, failure
// reopens it with a doubled cooldown (up to maxCooldown).
type breaker struct {
	threshold   int
	baseCool    time.Duration
	maxCooldown time.Duration
	onChange    func(BreakerEvent)

	mu        sync.Mutex
	state     BreakerState
	failures  int
	cooldown  time.Duration
	openUntil time.Time
	probing   bool
	openings  int64         // transitions to open, for the run report
	changed   chan struct{} // closed and replaced on every state change
}

func newBreaker(threshold int, cooldown, maxCooldown time.Duration, onChange func(BreakerEvent)) *breaker {
	return &breaker{
		threshold: max(threshold, 1), baseCool: cooldown, maxCooldown: max(maxCooldown, cooldown),
		cooldown: cooldown, onChange: onChange, changed: make(chan struct{}),
	}
}

// acquire waits until a request may go out. probe is true when this request
// is the one testing a server that was down.
func (b *breaker) acquire(ctx context.Context) (probe bool, err error) {
	for {
		b.mu.Lock()
		switch b.state {
		case BreakerClosed:
			b.mu.Unlock()
			return false, nil
		case BreakerOpen:
			if wait := time.Until(b.openUntil); wait > 0 {
				ch := b.changed
				b.mu.Unlock()
				timer := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					timer.Stop()
					return false, ctx.Err()
				case <-timer.C:
				case <-ch:
					timer.Stop()
				}
				continue
			}
			b.setLocked(BreakerHalfOpen, nil)
			b.probing = true
			b.mu.Unlock()
			return true, nil
		case BreakerHalfOpen:
			if !b.probing {
				b.probing = true
				b.mu.Unlock()
				return true, nil
			}
			ch := b.changed
			b.mu.Unlock()
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case <-ch:
			}
		}
	}
}

// outcome of one attempt, for the breaker.
type outcome int

const (
	outcomeSuccess outcome = iota // the server answered (even with a request error)
	outcomeDown                   // the server is unreachable or failing
	outcomeNeutral                // cancelled by the caller: says nothing about the server
)

// done records how an attempt acquired with acquire went.
func (b *breaker) done(probe bool, o outcome, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch o {
	case outcomeSuccess:
		b.failures = 0
		if b.state != BreakerClosed {
			b.cooldown = b.baseCool
			b.setLocked(BreakerClosed, nil)
		}
	case outcomeDown:
		b.failures++
		switch {
		case b.state == BreakerHalfOpen && probe:
			b.cooldown = min(b.cooldown*2, b.maxCooldown)
			b.openUntil = time.Now().Add(b.cooldown)
			b.setLocked(BreakerOpen, err)
		case b.state == BreakerClosed && b.failures >= b.threshold:
			b.openUntil = time.Now().Add(b.cooldown)
			b.setLocked(BreakerOpen, err)
		}
	case outcomeNeutral:
		if probe {
			b.wakeLocked() // let another waiter probe
		}
	}
}

func (b *breaker) openCount() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.openings
}

// isOpen reports whether the server is considered down right now.
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != BreakerClosed
}

func (b *breaker) setLocked(s BreakerState, err error) {
	b.state = s
	if s == BreakerOpen {
		b.openings++
	}
	b.wakeLocked()
	if b.onChange != nil {
		ev := BreakerEvent{State: s, Err: err}
		if s == BreakerOpen {
			ev.RetryIn = time.Until(b.openUntil)
		}
		// Called with the lock held so events arrive in state order; the
		// callback must not call back into the client.
		b.onChange(ev)
	}
}

func (b *breaker) wakeLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}
