package user

import (
	"context"
	"sync"
	"time"
)

// throttle limits failed logins per email, in memory.
//
// Only failures count: a login whose password check fails adds one, a
// successful login clears the email's count, and anything else (a cancelled
// request, a database error) leaves it as it was. The failure that reaches
// the limit locks the email for one window; attempts refused while it is
// locked do not count, so they do not extend the lock.
//
// So that concurrent guesses cannot slip past the limit while their password
// checks run, every attempt holds a slot while it is in flight: an email runs
// at most max-failures attempts at once, and further ones wait (until one
// finishes or their context ends) instead of being refused. Ten simultaneous
// logins with the right password therefore all succeed, while forty
// simultaneous wrong guesses get five answers and thirty-five refusals.
//
// Memory is bounded by capacity emails. A locked email, and one with an
// attempt in flight, is never dropped before its lock ends: making room
// first drops emails whose window is over, then unlocked emails with the
// fewest failures. To wipe an email's count of k failures an attacker must
// first fail k times for each of capacity other emails (each failure costs a
// bcrypt comparison). When every entry is locked or in flight, an email not
// yet tracked is refused with too_many_attempts until room frees up, without
// scanning the table again before then.
type throttle struct {
	mu        sync.Mutex
	max       int
	window    time.Duration
	capacity  int
	now       func() time.Time
	entries   map[string]*attempts
	lastSweep time.Time
	// fullUntil, when in the future, says the table is full of entries that
	// cannot be dropped before then (unless an attempt in flight ends first,
	// which resets it), so new emails are refused without a scan.
	fullUntil time.Time
}

// attempts is the state of one email: about 100 bytes plus the email itself
// and the map's own overhead (see TestThrottleMemory).
type attempts struct {
	failures    int
	inFlight    int           // attempts that started and have not finished
	start       time.Time     // first failure of the current window; meaningful when failures > 0
	lockedUntil time.Time     // zero unless the limit was reached
	wake        chan struct{} // closed when an attempt finishes; nil when nobody waits
}

// outcome is how a login attempt ended, for throttle.finish.
type outcome int

const (
	outcomeNeutral   outcome = iota // neither a failure nor a success: the count stays
	outcomeFailed                   // the credentials were wrong
	outcomeSucceeded                // the credentials were right
)

func newThrottle(maxFailures int, window time.Duration, capacity int, now func() time.Time) *throttle {
	return &throttle{max: maxFailures, window: window, capacity: max(capacity, 1), now: now,
		entries: make(map[string]*attempts)}
}

// windowOver reports whether a's failures are too old to count.
func (t *throttle) windowOver(a *attempts, now time.Time) bool {
	return a.failures == 0 || now.Sub(a.start) >= t.window
}

// droppable reports whether forgetting a loses nothing: no lock, nothing in
// flight, no failure within the window.
func (t *throttle) droppable(a *attempts, now time.Time) bool {
	return a.inFlight == 0 && !now.Before(a.lockedUntil) && t.windowOver(a, now)
}

// begin waits until an attempt for key may run and reserves its slot; every
// begin that returns (0, nil) must be followed by exactly one finish. It
// returns how long to wait when key is locked (or, rarely, when the table is
// full of locked emails), and ctx.Err() if ctx ends while waiting.
func (t *throttle) begin(ctx context.Context, key string) (locked time.Duration, err error) {
	for {
		t.mu.Lock()
		now := t.now()
		if now.Sub(t.lastSweep) >= t.window {
			t.sweep(now)
		}
		a := t.entries[key]
		if a == nil {
			if len(t.entries) >= t.capacity {
				if wait, ok := t.makeRoom(now); !ok {
					t.mu.Unlock()
					return wait, nil
				}
			}
			a = &attempts{}
			t.entries[key] = a
		}
		if now.Before(a.lockedUntil) {
			t.mu.Unlock()
			return a.lockedUntil.Sub(now), nil
		}
		if t.windowOver(a, now) {
			a.failures = 0
		}
		if a.failures+a.inFlight < t.max {
			a.inFlight++
			t.mu.Unlock()
			return 0, nil
		}
		// As many attempts are in flight as failures are left: wait for one
		// of them to finish, then look again.
		if a.wake == nil {
			a.wake = make(chan struct{})
		}
		wake := a.wake
		t.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// finish ends an attempt that begin let through. It reports whether this
// attempt's failure locked key.
func (t *throttle) finish(key string, o outcome) (locked bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.entries[key]
	if a == nil { // cannot happen: entries with attempts in flight are kept
		return false
	}
	now := t.now()
	a.inFlight--
	switch o {
	case outcomeFailed:
		if t.windowOver(a, now) {
			a.failures, a.start = 0, now
		}
		a.failures++
		if a.failures >= t.max {
			locked = !now.Before(a.lockedUntil) // not locked already
			a.lockedUntil = now.Add(t.window)
		}
	case outcomeSucceeded:
		// The owner knows the password: forget the failures. A lock that
		// other attempts reached meanwhile stays.
		a.failures = 0
	}
	if a.wake != nil {
		close(a.wake)
		a.wake = nil
	}
	t.fullUntil = time.Time{} // an entry may have become droppable
	if t.droppable(a, now) {
		delete(t.entries, key)
	}
	return locked
}

// sweep drops every droppable entry. The caller holds mu.
func (t *throttle) sweep(now time.Time) {
	for k, a := range t.entries {
		if t.droppable(a, now) {
			delete(t.entries, k)
		}
	}
	t.lastSweep = now
}

// makeRoom frees at least one entry of a full table, or reports how long to
// wait when every entry is locked or in flight. The caller holds mu.
//
// After dropping what is droppable it evicts unlocked entries with the
// fewest failures, up to a sixteenth of the capacity at once so that a flood
// of new emails pays for one scan per many of them.
func (t *throttle) makeRoom(now time.Time) (wait time.Duration, ok bool) {
	if now.Before(t.fullUntil) {
		return t.fullUntil.Sub(now), false
	}
	t.sweep(now)
	if len(t.entries) < t.capacity {
		return 0, true
	}
	fewest := -1
	var firstUnlock time.Time
	for _, a := range t.entries {
		switch {
		case a.inFlight > 0:
		case now.Before(a.lockedUntil):
			if firstUnlock.IsZero() || a.lockedUntil.Before(firstUnlock) {
				firstUnlock = a.lockedUntil
			}
		case fewest < 0 || a.failures < fewest:
			fewest = a.failures
		}
	}
	if fewest < 0 {
		// Nothing may go. An attempt in flight resets fullUntil when it
		// ends; otherwise the first lock to end frees room.
		if firstUnlock.IsZero() {
			firstUnlock = now.Add(time.Second)
		}
		t.fullUntil = firstUnlock
		return firstUnlock.Sub(now), false
	}
	budget := max(t.capacity/16, 1)
	for k, a := range t.entries {
		if budget == 0 {
			break
		}
		if a.inFlight == 0 && !now.Before(a.lockedUntil) && a.failures == fewest {
			delete(t.entries, k)
			budget--
		}
	}
	return 0, true
}

// size returns how many emails are tracked.
func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
