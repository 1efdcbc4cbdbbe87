package order

import (
	"context"
	"sync"
	"time"
)

// inflight tracks the orders this process is working on right now (being
// placed, or being paid), so that recovery never settles what a live
// request is about to settle itself, and so that a retry can wait for the
// first request instead of failing.
type inflight struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	n    int
	done chan struct{}
}

// start marks id as in flight until the returned function is called. Calls
// for one id may overlap; id stays in flight until the last one ends.
func (f *inflight) start(id string) (end func()) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]*flight{}
	}
	fl := f.m[id]
	if fl == nil {
		fl = &flight{done: make(chan struct{})}
		f.m[id] = fl
	}
	fl.n++
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if fl.n--; fl.n == 0 {
				delete(f.m, id)
				close(fl.done)
			}
		})
	}
}

// has reports whether id is in flight.
func (f *inflight) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[id] != nil
}

// wait waits until id is no longer in flight, ctx is done or max passed.
// It reports whether id was in flight and has ended.
func (f *inflight) wait(ctx context.Context, id string, max time.Duration) bool {
	f.mu.Lock()
	fl := f.m[id]
	f.mu.Unlock()
	if fl == nil {
		return false
	}
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-fl.done:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}
