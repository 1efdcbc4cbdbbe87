package user

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
)

// fakeClock is a settable time source.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// try runs one attempt for key that ends with o, and returns how long begin
// said to wait (0: the attempt ran).
func try(t *testing.T, th *throttle, key string, o outcome) time.Duration {
	t.Helper()
	wait, err := th.begin(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if wait == 0 {
		th.finish(key, o)
	}
	return wait
}

func TestThrottleLocksAfterLimit(t *testing.T) {
	c := newFakeClock()
	th := newThrottle(3, time.Minute, 100, c.now)
	for i := range 3 {
		if wait := try(t, th, "a", outcomeFailed); wait != 0 {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	c.advance(10 * time.Second)
	if wait := try(t, th, "a", outcomeFailed); wait != 50*time.Second {
		t.Fatalf("4th attempt: wait %v, want refused for 50s", wait)
	}
	c.advance(50 * time.Second)
	if wait := try(t, th, "a", outcomeFailed); wait != 0 {
		t.Fatal("refused after the lock ended")
	}
}

// finish reports the failure that locks an email, once per lock, so the
// service can log it.
func TestThrottleFinishReportsTheLock(t *testing.T) {
	c := newFakeClock()
	th := newThrottle(2, time.Minute, 100, c.now)
	var locks []int
	for i := range 6 {
		wait, err := th.begin(context.Background(), "a")
		if err != nil {
			t.Fatal(err)
		}
		if wait == 0 && th.finish("a", outcomeFailed) {
			locks = append(locks, i)
		}
		if i == 2 {
			c.advance(time.Minute) // the lock ends
		}
	}
	if fmt.Sprint(locks) != "[1 4]" {
		t.Fatalf("locks reported at attempts %v, want [1 4]", locks)
	}
	if th.finish("unknown", outcomeFailed) {
		t.Fatal("finish without begin reported a lock")
	}
}

func TestThrottleCountsOnlyFailures(t *testing.T) {
	c := newFakeClock()
	th := newThrottle(2, time.Minute, 100, c.now)
	// Neutral outcomes (a cancelled request, a database error) count nothing.
	for range 10 {
		if wait := try(t, th, "a", outcomeNeutral); wait != 0 {
			t.Fatal("neutral attempts counted")
		}
	}
	try(t, th, "a", outcomeFailed)
	try(t, th, "a", outcomeSucceeded) // clears the failure
	try(t, th, "a", outcomeFailed)
	if wait := try(t, th, "a", outcomeFailed); wait != 0 {
		t.Fatal("the failure before the success still counted")
	}
	if wait := try(t, th, "a", outcomeFailed); wait == 0 {
		t.Fatal("not locked after two failures in a row")
	}
}

func TestThrottleWindowResetsCount(t *testing.T) {
	c := newFakeClock()
	th := newThrottle(3, time.Minute, 100, c.now)
	try(t, th, "a", outcomeFailed)
	c.advance(30 * time.Second)
	try(t, th, "a", outcomeFailed)
	// The window of the first failure has passed: counting starts over.
	c.advance(31 * time.Second)
	for i := range 2 {
		if wait := try(t, th, "a", outcomeFailed); wait != 0 {
			t.Fatalf("attempt %d in the new window refused", i+1)
		}
	}
}

// Before: a flood of failed logins for other emails pushed a locked email
// out of the table, and its attacker got a fresh set of guesses.
func TestThrottleLockSurvivesFlood(t *testing.T) {
	c := newFakeClock()
	th := newThrottle(5, 15*time.Minute, maxTrackedEmails, c.now)
	for range 5 {
		try(t, th, "victim@example.com", outcomeFailed)
	}
	for i := range 2 * maxTrackedEmails {
		c.advance(time.Millisecond)
		try(t, th, fmt.Sprintf("flood%d@example.com", i), outcomeFailed)
	}
	if n := th.size(); n > maxTrackedEmails {
		t.Fatalf("tracks %d emails, capacity %d", n, maxTrackedEmails)
	}
	if wait := try(t, th, "victim@example.com", outcomeFailed); wait == 0 {
		t.Fatal("the locked email was forgotten during the flood")
	}
	// Once the windows pass, everything is swept on the next attempt.
	c.advance(15 * time.Minute)
	try(t, th, "late@example.com", outcomeFailed)
	if n := th.size(); n != 1 {
		t.Fatalf("%d entries after the window, want 1", n)
	}
}

func TestThrottleEvictsFewestFailuresFirst(t *testing.T) {
	c := newFakeClock()
	th := newThrottle(5, time.Hour, 3, c.now)
	for range 4 {
		try(t, th, "guessed@example.com", outcomeFailed)
	}
	try(t, th, "b@example.com", outcomeFailed)
	try(t, th, "c@example.com", outcomeFailed)
	for i := range 100 {
		c.advance(time.Second)
		try(t, th, fmt.Sprintf("new%d@example.com", i), outcomeFailed)
	}
	th.mu.Lock()
	a := th.entries["guessed@example.com"]
	th.mu.Unlock()
	if a == nil || a.failures != 4 {
		t.Fatalf("the entry with 4 failures was evicted before ones with 1: %+v", a)
	}
}

func TestThrottleFullOfLocksRefusesNewEmails(t *testing.T) {
	c := newFakeClock()
	th := newThrottle(1, time.Minute, 4, c.now)
	for i := range 4 {
		try(t, th, fmt.Sprintf("locked%d@example.com", i), outcomeFailed)
		c.advance(time.Second)
	}
	// Every entry is locked: a new email is refused until the first lock
	// ends, 56 seconds from now, and the locks all stay.
	if wait := try(t, th, "new@example.com", outcomeSucceeded); wait != 56*time.Second {
		t.Fatalf("new email while full of locks: wait %v, want 56s", wait)
	}
	if wait := try(t, th, "locked3@example.com", outcomeFailed); wait == 0 {
		t.Fatal("a lock was dropped")
	}
	c.advance(56 * time.Second)
	if wait := try(t, th, "new@example.com", outcomeSucceeded); wait != 0 {
		t.Fatalf("still refused after the first lock ended: wait %v", wait)
	}
	if th.size() > 4 {
		t.Fatalf("size %d over capacity", th.size())
	}
}

func TestThrottleConcurrentAttemptsWait(t *testing.T) {
	c := newFakeClock()
	th := newThrottle(2, time.Minute, 10, c.now)
	for range 2 {
		if wait, err := th.begin(context.Background(), "a"); wait != 0 || err != nil {
			t.Fatalf("begin: %v, %v", wait, err)
		}
	}
	// Two attempts in flight use both failures left: a third waits.
	started := make(chan struct{})
	result := make(chan time.Duration)
	go func() {
		close(started)
		wait, err := th.begin(context.Background(), "a")
		if err != nil {
			t.Error(err)
		}
		if wait == 0 {
			th.finish("a", outcomeSucceeded)
		}
		result <- wait
	}()
	<-started
	select {
	case <-result:
		t.Fatal("a third attempt ran while two were in flight")
	case <-time.After(20 * time.Millisecond):
	}
	th.finish("a", outcomeSucceeded)
	if wait := <-result; wait != 0 {
		t.Fatalf("the waiting attempt was refused (wait %v) after one in flight succeeded", wait)
	}
	// A waiter whose context ends gives up.
	if wait, err := th.begin(context.Background(), "a"); wait != 0 || err != nil {
		t.Fatalf("begin: %v, %v", wait, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := th.begin(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter with an ended context: %v", err)
	}
	th.finish("a", outcomeFailed)
	th.finish("a", outcomeFailed)
	if wait := try(t, th, "a", outcomeSucceeded); wait == 0 {
		t.Fatal("not locked after two failures")
	}
}

// The documented bound: at most maxTrackedEmails entries of at most about
// 400 bytes each (a 254-byte email), so about 4 MB.
func TestThrottleMemory(t *testing.T) {
	c := newFakeClock()
	th := newThrottle(5, time.Hour, maxTrackedEmails, c.now)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range maxTrackedEmails {
		email := fmt.Sprintf("%08d", i) + strings.Repeat("x", MaxEmailLen-8-12) + "@example.com"
		try(t, th, email, outcomeFailed)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d tracked emails of %d bytes: %d bytes of heap, %d per email", th.size(), MaxEmailLen, used, used/int64(th.size()))
	if th.size() != maxTrackedEmails {
		t.Fatalf("size %d", th.size())
	}
	if used > 4<<20 {
		t.Fatalf("the table takes %d bytes, more than the documented 4 MB", used)
	}
	runtime.KeepAlive(th)
}

// Before: 10,000 failed logins for other emails pushed a locked account's
// entry out, and its attacker had five more guesses. Here the table holds 50.
func TestLoginLockSurvivesFlood(t *testing.T) {
	st, err := OpenSQLiteStore(context.Background(), t.TempDir()+"/user.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tokens := issuerFunc(func(id shop.Identity, ttl time.Duration) (string, time.Time, error) {
		return "token", time.Now().Add(ttl), nil
	})
	small := func(o *options) { o.maxTracked = 50 }
	s := NewService(st, tokens, WithBcryptCost(bcrypt.MinCost), WithLoginThrottle(3, time.Hour), small)
	ctx := context.Background()
	if _, err := s.Register(ctx, Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.Login(ctx, "ada@example.com", "wrong guess")
	}
	for i := range 200 {
		s.Login(ctx, fmt.Sprintf("flood%d@example.com", i), "wrong guess")
	}
	if _, err := s.Login(ctx, "ada@example.com", "correct horse"); shop.CodeOf(err) != "too_many_attempts" {
		t.Fatalf("login to the locked account after a flood: %v, want too_many_attempts", err)
	}
}

type issuerFunc func(id shop.Identity, ttl time.Duration) (string, time.Time, error)

func (f issuerFunc) Issue(id shop.Identity, ttl time.Duration) (string, time.Time, error) {
	return f(id, ttl)
}
