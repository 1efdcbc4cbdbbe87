package discovery

import (
	"context"
	"fmt"
	"time"
)

// BreakerState is where a circuit breaker stands: closed (calls go
// through), open (calls are refused at once, without reaching the
// dependency) or half-open (a trial call goes through to see whether the
// dependency has recovered). Its number is the value of the
// kitshop_client_breaker_state gauge.
type BreakerState int

// The states of a breaker.
const (
	// BreakerClosed: calls go through; failures are counted.
	BreakerClosed BreakerState = 0
	// BreakerHalfOpen: a trial call goes through; success closes the
	// breaker, failure opens it again.
	BreakerHalfOpen BreakerState = 1
	// BreakerOpen: calls are refused at once until the sleep window ends.
	BreakerOpen BreakerState = 2
)

// String returns "closed", "half-open" or "open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// Breaker guards the calls to one instance of a dependency. NewEndpoint
// makes one per client and instance, through a BreakerFactory, and keeps it
// for as long as the client lives (an instance that leaves and comes back
// gets the same breaker).
//
// Execute runs call with ctx unless the breaker refuses it; a refusal is an
// error returned without calling call (NewEndpoint notices that call never
// ran, so even a call that is not idempotent may go to another instance).
// What call returns decides the verdict:
//
//   - nil is a success;
//   - context.Canceled or context.DeadlineExceeded, returned as such (not
//     wrapped), means the caller gave up: neither success nor failure;
//   - any other error is a failure of the dependency.
//
// Business errors (not found, conflict, ...) never reach a Breaker as
// errors: NewEndpoint passes them through as successes.
type Breaker interface {
	Execute(ctx context.Context, call func(ctx context.Context) error) error
	// State returns the breaker's state as its calls last found it.
	State() BreakerState
}

// BreakerConfig tells a BreakerFactory which instance the new breaker
// guards and how the client around it is set up.
type BreakerConfig struct {
	// Client is the name of the service the client calls ("catalog").
	Client string
	// Instance is the instance the breaker guards, as the sd.Instancer
	// reported it ("http://127.0.0.1:5002").
	Instance string
	// Name is unique in the process to this client and instance (two
	// clients of one service get different names), for libraries that keep
	// breakers in a global table, such as hystrix-go.
	Name string
	// AttemptTimeout is how long one call may take before NewEndpoint gives
	// up on it (the call's context expires then, and its error counts as a
	// failure).
	AttemptTimeout time.Duration
	// MaxInFlight is the most calls NewEndpoint lets run at once on the
	// instance; a breaker with a concurrency limit of its own should allow at
	// least as many.
	MaxInFlight int
	// OnStateChange must be called on every change of state, and must not
	// be called for a non-change. NewEndpoint logs the change and sets the
	// breaker's gauge there. It does not call the breaker back.
	OnStateChange func(from, to BreakerState)
}

// BreakerFactory makes the breaker of one instance of one client. Two
// factories ship: HystrixBreakers (the default) and GoBreakers.
type BreakerFactory func(BreakerConfig) (Breaker, error)
