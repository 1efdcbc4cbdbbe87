package gateway

import (
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters holds the token buckets of the rate limits, one per key (scope,
// class and IP or user), bounded in number: buckets idle for longer than
// idle, or long enough to have refilled, are swept out, and past max the
// least recently used go.
type limiters struct {
	max  int
	idle time.Duration

	mu        sync.Mutex
	m         map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
	full time.Duration // how long the bucket takes to refill from empty
}

func newLimiters(max int, idle time.Duration) *limiters {
	return &limiters{max: max, idle: idle, m: map[string]*bucket{}}
}

// allow takes a token from key's bucket (made with l on first use) and
// returns 0, or returns how long to wait for one without taking it.
func (ls *limiters) allow(key string, l Limit, now time.Time) time.Duration {
	ls.mu.Lock()
	b := ls.m[key]
	if b == nil {
		if len(ls.m) >= ls.max || now.Sub(ls.lastSweep) > time.Minute {
			ls.sweepLocked(now)
		}
		full := ls.idle // a bucket slower to refill than idle is kept for idle
		if secs := float64(l.Burst) / float64(l.Rate); secs < ls.idle.Seconds() {
			full = time.Duration(secs * float64(time.Second))
		}
		b = &bucket{lim: rate.NewLimiter(l.Rate, l.Burst), full: full}
		ls.m[key] = b
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	ls.mu.Unlock()
	if !r.OK() {
		return time.Hour
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// sweepLocked drops the buckets idle for longer than idle or than they
// take to refill (a fresh bucket is the same), then, if still full, the
// least recently used tenth.
func (ls *limiters) sweepLocked(now time.Time) {
	ls.lastSweep = now
	for k, b := range ls.m {
		if idle := now.Sub(b.used); idle > ls.idle || idle > b.full {
			delete(ls.m, k)
		}
	}
	if len(ls.m) < ls.max {
		return
	}
	// Still full: drop the least recently used tenth (at least one).
	times := make([]time.Time, 0, len(ls.m))
	for _, b := range ls.m {
		times = append(times, b.used)
	}
	slices.SortFunc(times, time.Time.Compare)
	cutoff := times[min(max(ls.max/10, 1), len(times))-1]
	for k, b := range ls.m {
		if !b.used.After(cutoff) {
			delete(ls.m, k)
		}
	}
}

// size returns how many buckets are kept.
func (ls *limiters) size() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.m)
}
