package user

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottleLocksAfterLimit(t *testing.T) {
	th := newThrottle(3, time.Minute, 100)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if _, ok := th.begin("a", now); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	wait, ok := th.begin("a", now.Add(10*time.Second))
	if ok || wait != 50*time.Second {
		t.Fatalf("4th attempt: ok=%v wait=%v, want refused, 50s", ok, wait)
	}
	if _, ok := th.begin("a", now.Add(time.Minute)); !ok {
		t.Fatal("refused after the lock ended")
	}
}

func TestThrottleWindowResetsCount(t *testing.T) {
	th := newThrottle(3, time.Minute, 100)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	th.begin("a", now)
	th.begin("a", now.Add(30*time.Second))
	// The window of the first attempt has passed: counting starts over.
	for i := range 2 {
		if _, ok := th.begin("a", now.Add(61*time.Second+time.Duration(i))); !ok {
			t.Fatalf("attempt %d in the new window refused", i+1)
		}
	}
}

func TestThrottleIsBounded(t *testing.T) {
	th := newThrottle(5, time.Minute, 50)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 500 {
		th.begin(fmt.Sprintf("user%d@example.com", i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := th.size(); n > 50 {
		t.Fatalf("tracks %d emails, capacity 50", n)
	}
	// The newest are kept, the oldest dropped.
	th.mu.Lock()
	_, newest := th.entries["user499@example.com"]
	_, oldest := th.entries["user0@example.com"]
	th.mu.Unlock()
	if !newest || oldest {
		t.Fatalf("newest kept %v, oldest kept %v", newest, oldest)
	}
	// Once their windows pass, entries are swept on the next attempt.
	th.begin("late@example.com", now.Add(2*time.Minute))
	if n := th.size(); n != 1 {
		t.Fatalf("%d entries after the window, want 1", n)
	}
}

func TestThrottleSucceededClears(t *testing.T) {
	th := newThrottle(2, time.Minute, 10)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	th.begin("a", now)
	th.succeeded("a")
	th.begin("a", now)
	if _, ok := th.begin("a", now); !ok {
		t.Fatal("count not cleared by success")
	}
	if th.size() != 1 {
		t.Fatalf("size %d", th.size())
	}
}
