package discovery

import (
	"context"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"
)

// GoBreakerSettings are the thresholds of the breakers GoBreakers makes
// (which panics on a negative one). A zero field takes the default in its
// comment.
type GoBreakerSettings struct {
	// ConsecutiveFailures is how many failures in a row open the breaker
	// (default 5).
	ConsecutiveFailures int
	// OpenTimeout is how long the breaker stays open before it lets trial
	// calls through (default 5s).
	OpenTimeout time.Duration
	// HalfOpenCalls is how many trial calls may run while half-open, and how
	// many must succeed in a row to close the breaker again (default 1).
	HalfOpenCalls int
	// Interval is how often a closed breaker forgets its counts (default
	// 10s).
	Interval time.Duration
}

func (s GoBreakerSettings) validate() error {
	switch {
	case s.ConsecutiveFailures < 0:
		return fmt.Errorf("GoBreakerSettings.ConsecutiveFailures is %d, want 0 (default) or more", s.ConsecutiveFailures)
	case s.OpenTimeout < 0:
		return fmt.Errorf("GoBreakerSettings.OpenTimeout is %v, want 0 (default) or more", s.OpenTimeout)
	case s.HalfOpenCalls < 0:
		return fmt.Errorf("GoBreakerSettings.HalfOpenCalls is %d, want 0 (default) or more", s.HalfOpenCalls)
	case s.Interval < 0:
		return fmt.Errorf("GoBreakerSettings.Interval is %v, want 0 (default) or more", s.Interval)
	}
	return nil
}

// GoBreakers returns the factory of breakers on sony/gobreaker/v2: each
// breaker is a gobreaker.CircuitBreaker of its own, with no global state.
// It opens after ConsecutiveFailures failures in a row, refuses calls for
// OpenTimeout, then lets HalfOpenCalls trial calls through.
func GoBreakers(s GoBreakerSettings) BreakerFactory {
	if err := s.validate(); err != nil {
		panic("discovery: GoBreakers: " + err.Error())
	}
	return func(cfg BreakerConfig) (Breaker, error) {
		if cfg.OnStateChange == nil {
			return nil, fmt.Errorf("gobreaker breaker: BreakerConfig needs an OnStateChange")
		}
		failures := uint32(5)
		if s.ConsecutiveFailures > 0 {
			failures = uint32(s.ConsecutiveFailures)
		}
		open := 5 * time.Second
		if s.OpenTimeout > 0 {
			open = s.OpenTimeout
		}
		interval := 10 * time.Second
		if s.Interval > 0 {
			interval = s.Interval
		}
		cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        cfg.Name,
			MaxRequests: uint32(max(s.HalfOpenCalls, 1)),
			Interval:    interval,
			Timeout:     open,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			OnStateChange: func(_ string, from, to gobreaker.State) {
				cfg.OnStateChange(goBreakerState(from), goBreakerState(to))
			},
			// The caller gave up: no verdict on the dependency.
			IsExcluded: func(err error) bool { return err == context.Canceled || err == context.DeadlineExceeded },
		})
		return goBreaker{cb}, nil
	}
}

// goBreaker is a Breaker on a gobreaker.CircuitBreaker.
type goBreaker struct {
	cb *gobreaker.CircuitBreaker[struct{}]
}

func (b goBreaker) Execute(ctx context.Context, call func(ctx context.Context) error) error {
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, call(ctx) })
	return err
}

func (b goBreaker) State() BreakerState { return goBreakerState(b.cb.State()) }

func goBreakerState(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
}
