package discovery

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/afex/hystrix-go/hystrix"
)

// HystrixSettings are the thresholds of the breakers HystrixBreakers makes
// (which panics on a value out of range). A zero field takes the default in
// its comment. hystrix-go measures over a rolling window of 10 seconds.
type HystrixSettings struct {
	// RequestVolumeThreshold is how many calls the window must hold before
	// the breaker may open (default 20).
	RequestVolumeThreshold int
	// ErrorPercentThreshold is the share of failed calls in the window, in
	// percent, that opens the breaker (default 50).
	ErrorPercentThreshold int
	// SleepWindow is how long the breaker stays open before it lets a trial
	// call through (default 5s; at least 1ms).
	SleepWindow time.Duration
}

func (s HystrixSettings) validate() error {
	switch {
	case s.RequestVolumeThreshold < 0:
		return fmt.Errorf("HystrixSettings.RequestVolumeThreshold is %d, want 0 (default) or more", s.RequestVolumeThreshold)
	case s.ErrorPercentThreshold < 0 || s.ErrorPercentThreshold > 100:
		return fmt.Errorf("HystrixSettings.ErrorPercentThreshold is %d, want 0 (default) to 100", s.ErrorPercentThreshold)
	case s.SleepWindow < 0 || (s.SleepWindow > 0 && s.SleepWindow < time.Millisecond):
		return fmt.Errorf("HystrixSettings.SleepWindow is %v, want 0 (default) or at least 1ms", s.SleepWindow)
	}
	return nil
}

// HystrixBreakers returns the factory of breakers on afex/hystrix-go, the
// default of NewEndpoint. Each breaker is a hystrix command of its own,
// configured explicitly with hystrix.ConfigureCommand under
// BreakerConfig.Name, which is unique to its client and instance, so two
// clients in one process never share a circuit or settings. Calls run
// through hystrix.DoC, so the caller's context reaches the call, and the
// command's timeout is the client's attempt timeout (a little later, so that
// the attempt's own context expires first and the call really stops).
//
// hystrix-go keeps every command in package-level tables and starts two
// monitor goroutines per command that never stop (afex/hystrix-go#95):
// NewEndpoint therefore makes one command per client and instance, never
// per call, and keeps it for the life of the process. A program that makes
// clients over and over, or follows instances that keep changing address,
// grows by two goroutines and a few kilobytes per new client and instance;
// GoBreakers has no such cost.
//
// hystrix-go counts its calls asynchronously: the breaker opens on the first
// call after the window shows too many failures, which may be a call or two
// after the failure that tipped it.
func HystrixBreakers(s HystrixSettings) BreakerFactory {
	if err := s.validate(); err != nil {
		panic("discovery: HystrixBreakers: " + err.Error())
	}
	return func(cfg BreakerConfig) (Breaker, error) {
		if cfg.Name == "" || cfg.OnStateChange == nil {
			return nil, fmt.Errorf("hystrix breaker: BreakerConfig needs a Name and an OnStateChange")
		}
		timeout := cfg.AttemptTimeout + 100*time.Millisecond
		inFlight := max(2*cfg.MaxInFlight, 10)
		hystrix.ConfigureCommand(cfg.Name, hystrix.CommandConfig{
			Timeout: int(timeout / time.Millisecond),
			// Above the client's own limit: hystrix gives its tickets back
			// a moment after DoC returns, so an equal limit would refuse
			// calls the client just let through.
			MaxConcurrentRequests:  inFlight,
			RequestVolumeThreshold: s.RequestVolumeThreshold,
			ErrorPercentThreshold:  s.ErrorPercentThreshold,
			SleepWindow:            int(s.SleepWindow / time.Millisecond),
		})
		circuit, _, err := hystrix.GetCircuit(cfg.Name)
		if err != nil {
			return nil, fmt.Errorf("hystrix breaker %s: %w", cfg.Name, err)
		}
		return &hystrixBreaker{name: cfg.Name, circuit: circuit, onChange: cfg.OnStateChange}, nil
	}
}

// hystrixBreaker is a Breaker on one hystrix command. hystrix-go has no
// half-open state nor callbacks of its own, so the breaker follows the state
// from what its calls meet: a refusal means open; a call let through while
// open is the trial call (half-open), and its outcome closes or reopens the
// breaker, as hystrix-go itself does.
type hystrixBreaker struct {
	name     string
	circuit  *hystrix.CircuitBreaker
	onChange func(from, to BreakerState)

	state atomic.Int32 // BreakerState, read without the lock
	mu    sync.Mutex   // orders the changes and their reports
}

func (b *hystrixBreaker) Execute(ctx context.Context, call func(ctx context.Context) error) error {
	trial := BreakerState(b.state.Load()) != BreakerClosed
	var ran atomic.Bool
	err := hystrix.DoC(ctx, b.name, func(ctx context.Context) error {
		ran.Store(true)
		if trial {
			b.set(BreakerHalfOpen)
		}
		return call(ctx)
	}, nil)
	switch {
	case err == hystrix.ErrCircuitOpen:
		// While a trial call runs, hystrix-go refuses the others: the
		// breaker stays half-open until the trial's outcome.
		b.setUnless(BreakerOpen, BreakerHalfOpen)
	case trial && ran.Load():
		// hystrix-go closes the circuit on the trial call's success and
		// keeps it open otherwise (a caller that gave up included).
		if err == nil {
			b.awaitClosed()
			b.set(BreakerClosed)
		} else {
			b.set(BreakerOpen)
		}
	}
	return err
}

// awaitClosed waits (10ms at most) for hystrix-go to close the circuit
// after a successful trial call: DoC returns before hystrix-go records the
// success, and a call made in between would still be refused.
func (b *hystrixBreaker) awaitClosed() {
	for deadline := time.Now().Add(10 * time.Millisecond); b.circuit.IsOpen() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Microsecond)
	}
}

func (b *hystrixBreaker) State() BreakerState {
	if BreakerState(b.state.Load()) == BreakerClosed && b.circuit.IsOpen() {
		b.set(BreakerOpen)
	}
	return BreakerState(b.state.Load())
}

// set moves the breaker to state to, reporting a change.
func (b *hystrixBreaker) set(to BreakerState) { b.setUnless(to, to) }

// setUnless moves the breaker to state to unless it is in state unless,
// reporting a change.
func (b *hystrixBreaker) setUnless(to, unless BreakerState) {
	if s := BreakerState(b.state.Load()); s == to || s == unless {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	from := BreakerState(b.state.Load())
	if from == to || from == unless {
		return
	}
	b.state.Store(int32(to))
	b.onChange(from, to)
}
