package inproc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/transport/inproc"
)

type ctxKey struct{}

func event(typ string) shop.Event {
	return shop.Event{SpecVersion: "1.0", ID: shop.NewID(), Source: "test", Type: typ}
}

func TestSubscribeRefusesBadArguments(t *testing.T) {
	b := inproc.NewBus()
	ok := func(context.Context, shop.Event) error { return nil }
	if err := b.Subscribe("", ok); err == nil {
		t.Error("Subscribe with no event type succeeded")
	}
	if err := b.Subscribe(shop.EventOrderPaid, nil); err == nil {
		t.Error("Subscribe with a nil handler succeeded")
	}
	// Nothing half-registered: publishing still reaches no handler.
	if err := b.Publish(context.Background(), event(shop.EventOrderPaid)); err != nil {
		t.Errorf("Publish = %v", err)
	}
}

func TestPublishReachesEveryHandlerOfTheType(t *testing.T) {
	b := inproc.NewBus()
	var calls []string
	record := func(name string) shop.Handler {
		return func(ctx context.Context, e shop.Event) error {
			calls = append(calls, fmt.Sprintf("%s:%s:%v", name, e.Type, ctx.Value(ctxKey{})))
			return nil
		}
	}
	for _, s := range []struct{ typ, name string }{
		{shop.EventOrderPaid, "inventory"},
		{shop.EventOrderCancelled, "inventory"},
		{shop.EventOrderPaid, "mailer"},
		{shop.EventOrderPaid, "analytics"},
	} {
		if err := b.Subscribe(s.typ, record(s.name)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.WithValue(context.Background(), ctxKey{}, "req-1")
	if err := b.Publish(ctx, event(shop.EventOrderPaid)); err != nil {
		t.Fatalf("Publish = %v", err)
	}
	want := []string{"inventory:order.paid:req-1", "mailer:order.paid:req-1", "analytics:order.paid:req-1"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
}

func TestPublishWithoutSubscribers(t *testing.T) {
	b := inproc.NewBus()
	b.Subscribe(shop.EventOrderPaid, func(context.Context, shop.Event) error { return errors.New("not me") })
	if err := b.Publish(context.Background(), event("nobody.listens")); err != nil {
		t.Errorf("Publish with no subscriber = %v, want nil", err)
	}
}

func TestPublishJoinsErrors(t *testing.T) {
	b := inproc.NewBus()
	errStock := errors.New("stock table locked")
	errMail := errors.New("smtp down")
	var ran []string
	handlers := []struct {
		name string
		err  error
	}{{"inventory", errStock}, {"analytics", nil}, {"mailer", errMail}}
	for _, h := range handlers {
		b.Subscribe(shop.EventOrderPaid, func(context.Context, shop.Event) error {
			ran = append(ran, h.name)
			return h.err
		})
	}
	err := b.Publish(context.Background(), event(shop.EventOrderPaid))
	if !errors.Is(err, errStock) || !errors.Is(err, errMail) {
		t.Errorf("Publish = %v, want both handler errors", err)
	}
	if !slices.Equal(ran, []string{"inventory", "analytics", "mailer"}) {
		t.Errorf("handlers run = %v, want all three despite the first failing", ran)
	}
}

func TestPanickingHandlerBecomesAnError(t *testing.T) {
	b := inproc.NewBus()
	var after bool
	b.Subscribe(shop.EventOrderExpired, func(context.Context, shop.Event) error {
		var m map[string]int
		m["boom"]++ // nil map write
		return nil
	})
	b.Subscribe(shop.EventOrderExpired, func(context.Context, shop.Event) error {
		after = true
		return nil
	})
	err := b.Publish(context.Background(), event(shop.EventOrderExpired))
	if err == nil {
		t.Fatal("Publish with a panicking handler = nil")
	}
	if !strings.Contains(err.Error(), shop.EventOrderExpired) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("error %q does not say which handler panicked", err)
	}
	if !after {
		t.Error("the handler after the panicking one did not run")
	}
}

func TestConcurrentSubscribeAndPublish(t *testing.T) {
	b := inproc.NewBus()
	var mu sync.Mutex
	count := 0
	h := func(context.Context, shop.Event) error {
		mu.Lock()
		count++
		mu.Unlock()
		return nil
	}
	if err := b.Subscribe(shop.EventOrderPaid, h); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := b.Publish(context.Background(), event(shop.EventOrderPaid)); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for range 5 {
				if err := b.Subscribe(shop.EventOrderPaid, h); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// Every publish reached at least the first handler.
	if count < 8*50 {
		t.Errorf("handlers called %d times, want at least %d", count, 8*50)
	}
	count = 0
	b.Publish(context.Background(), event(shop.EventOrderPaid))
	if count != 1+8*5 {
		t.Errorf("after all subscriptions one publish called %d handlers, want %d", count, 1+8*5)
	}
}
