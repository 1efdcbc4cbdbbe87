package user

import (
	"sync"
	"time"
)

// throttle counts login attempts per email in memory. An attempt is counted
// when it starts (so concurrent guesses cannot slip past the limit) and the
// count is cleared by a success. The attempt that reaches the limit locks the
// email for one window; attempts refused while locked are not counted, so
// they do not extend the lock.
type throttle struct {
	mu        sync.Mutex
	max       int
	window    time.Duration
	capacity  int
	entries   map[string]*attempts
	lastSweep time.Time
}

type attempts struct {
	count       int
	start       time.Time // first counted attempt of the current window
	lockedUntil time.Time // zero unless the limit was reached
}

func newThrottle(maxAttempts int, window time.Duration, capacity int) *throttle {
	return &throttle{max: maxAttempts, window: window, capacity: capacity, entries: make(map[string]*attempts)}
}

// stale reports whether a's window and lock are both over.
func (t *throttle) stale(a *attempts, now time.Time) bool {
	return !now.Before(a.lockedUntil) && now.Sub(a.start) >= t.window
}

// begin counts an attempt for key. It returns ok=false and how long to wait
// when key is locked.
func (t *throttle) begin(key string, now time.Time) (wait time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Sub(t.lastSweep) >= t.window {
		t.sweep(now)
	}
	a := t.entries[key]
	if a != nil && now.Before(a.lockedUntil) {
		return a.lockedUntil.Sub(now), false
	}
	if a != nil && t.stale(a, now) {
		delete(t.entries, key)
		a = nil
	}
	if a == nil {
		if len(t.entries) >= t.capacity {
			t.sweep(now)
			if len(t.entries) >= t.capacity {
				t.evictOldest()
			}
		}
		a = &attempts{start: now}
		t.entries[key] = a
	}
	a.count++
	if a.count >= t.max {
		a.lockedUntil = now.Add(t.window)
	}
	return 0, true
}

// succeeded clears key's count after a successful login.
func (t *throttle) succeeded(key string) {
	t.mu.Lock()
	delete(t.entries, key)
	t.mu.Unlock()
}

// sweep drops every stale entry. The caller holds mu.
func (t *throttle) sweep(now time.Time) {
	for k, a := range t.entries {
		if t.stale(a, now) {
			delete(t.entries, k)
		}
	}
	t.lastSweep = now
}

// evictOldest drops the entry whose window started first, making room when
// every tracked email is still live. The caller holds mu.
func (t *throttle) evictOldest() {
	var oldest string
	var first time.Time
	for k, a := range t.entries {
		if oldest == "" || a.start.Before(first) {
			oldest, first = k, a.start
		}
	}
	delete(t.entries, oldest)
}

// size returns how many emails are tracked.
func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
