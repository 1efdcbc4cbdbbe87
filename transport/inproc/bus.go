// Package inproc is the in-process event transport: a Bus that is both a
// shop.Publisher and a shop.Subscriber, for a shop whose services run in one
// process. Publish hands the event to every handler of its type before it
// returns, so an outbox relay marks an event sent only once all its handlers
// have taken it.
package inproc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kitshop/shop"
)

// Bus delivers events to the handlers subscribed to their type. The zero
// value is not usable; call NewBus.
type Bus struct {
	mu       sync.RWMutex
	handlers map[string][]shop.Handler
}

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{handlers: map[string][]shop.Handler{}}
}

// Subscribe adds h for events of eventType.
func (b *Bus) Subscribe(eventType string, h shop.Handler) error {
	if eventType == "" || h == nil {
		return errors.New("inproc: subscribe needs an event type and a handler")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handlers[eventType] = append(b.handlers[eventType], h)
	return nil
}

// Publish calls every handler of e's type in turn and returns their errors
// joined. On error the caller publishes again later, so handlers that
// already succeeded see the event twice; they are idempotent by contract.
// A handler that panics is reported as an error, not a crash.
func (b *Bus) Publish(ctx context.Context, e shop.Event) error {
	b.mu.RLock()
	hs := b.handlers[e.Type]
	b.mu.RUnlock()
	var errs []error
	for _, h := range hs {
		if err := call(ctx, h, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func call(ctx context.Context, h shop.Handler, e shop.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler of %s panicked: %v", e.Type, p)
		}
	}()
	return h(ctx, e)
}

var (
	_ shop.Publisher  = (*Bus)(nil)
	_ shop.Subscriber = (*Bus)(nil)
)
