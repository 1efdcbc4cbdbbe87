package cehttp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/transport/cehttp"
)

func TestPushAndReceive(t *testing.T) {
	tokens := newTokens(t)
	inventory := newConsumer(t, tokens, shop.EventOrderPaid, shop.EventOrderCancelled)
	p := newPublisher(t, serviceToken(tokens), []cehttp.Subscription{
		{Service: "inventory", Instancer: inventory.instancer(t), Types: []string{shop.EventOrderPaid, shop.EventOrderCancelled}},
	})
	e := orderEvent(t, "ord_1")

	if err := p.Publish(context.Background(), e); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := inventory.got()
	if len(got) != 1 {
		t.Fatalf("consumer got %d deliveries, want 1", len(got))
	}
	sameEvent(t, got[0].event, e)
	if got[0].identity != (shop.Identity{UserID: "order", Role: shop.RoleService}) {
		t.Errorf("handler ran as %+v, want the publisher's service identity", got[0].identity)
	}

	// An event without time, subject or data arrives so, too.
	bare := shop.Event{SpecVersion: "1.0", ID: shop.NewID(), Source: "kitshop/order", Type: shop.EventOrderCancelled}
	if err := p.Publish(context.Background(), bare); err != nil {
		t.Fatalf("Publish of a bare event: %v", err)
	}
	if got = inventory.got(); len(got) != 2 || got[1].event.ID != bare.ID || !got[1].event.Time.IsZero() ||
		got[1].event.Subject != "" || got[1].event.Data != nil {
		t.Fatalf("bare event arrived as %+v", got[len(got)-1].event)
	}

	// An event no target wants is done at once, without a request.
	before := inventory.requests.Load()
	other := orderEvent(t, "ord_2")
	other.Type = shop.EventProductCreated
	if err := p.Publish(context.Background(), other); err != nil {
		t.Fatalf("Publish of an event nobody wants: %v", err)
	}
	if n := inventory.requests.Load() - before; n != 0 {
		t.Errorf("an event nobody wants made %d requests", n)
	}
}

func TestPublishFailsWhileHandlerFails(t *testing.T) {
	tokens := newTokens(t)
	inventory := newConsumer(t, tokens, shop.EventOrderPaid)
	p := newPublisher(t, serviceToken(tokens), []cehttp.Subscription{
		{Service: "inventory", Instancer: inventory.instancer(t), Types: []string{shop.EventOrderPaid}},
	})
	e := orderEvent(t, "ord_1")

	inventory.failWith(errBoom)
	err := p.Publish(context.Background(), e)
	if !errors.Is(err, shop.ErrUnavailable) || shop.CodeOf(err) != cehttp.CodeEventNotHandled {
		t.Fatalf("Publish to a failing handler: %v (code %s), want 503 %s", err, shop.CodeOf(err), cehttp.CodeEventNotHandled)
	}
	if !strings.Contains(err.Error(), "inventory") || !strings.Contains(err.Error(), e.ID) {
		t.Errorf("error %q does not name the target and the event", err)
	}
	delivered, _ := inventory.deliveriesOf(e.ID)
	if delivered != discovery.RetryDefaultAttempts {
		t.Errorf("the failing handler got the event %d times, want %d (a push is retried)", delivered, discovery.RetryDefaultAttempts)
	}

	inventory.failWith(nil)
	if err := p.Publish(context.Background(), e); err != nil {
		t.Fatalf("Publish once the handler is fixed: %v", err)
	}
	if _, handled := inventory.deliveriesOf(e.ID); handled != 1 {
		t.Errorf("event handled %d times, want 1", handled)
	}
}

func TestPublishTwoTargetsOneDown(t *testing.T) {
	tokens := newTokens(t)
	inventory := newConsumer(t, tokens, shop.EventOrderPaid)
	mail := newConsumer(t, tokens, shop.EventOrderPaid, shop.EventUserRegistered)
	p := newPublisher(t, serviceToken(tokens), []cehttp.Subscription{
		{Service: "inventory", Instancer: inventory.instancer(t), Types: []string{shop.EventOrderPaid}},
		{Service: "mail", Instancer: mail.instancer(t), Types: []string{shop.EventOrderPaid, shop.EventUserRegistered}},
	})
	e := orderEvent(t, "ord_1")

	mail.down.Store(true)
	for i := 1; i <= 2; i++ {
		err := p.Publish(context.Background(), e)
		if !errors.Is(err, shop.ErrUnavailable) || shop.CodeOf(err) != "mail_unavailable" {
			t.Fatalf("Publish %d with mail down: %v (code %s), want 503 mail_unavailable", i, err, shop.CodeOf(err))
		}
		if strings.Contains(err.Error(), "to inventory") {
			t.Errorf("error %q blames inventory, which took the event", err)
		}
		if delivered, handled := inventory.deliveriesOf(e.ID); delivered != i || handled != 1 {
			t.Errorf("after Publish %d inventory got the event %d times and applied it %d times, want %d and 1", i, delivered, handled, i)
		}
	}
	if n := len(mail.got()); n != 0 {
		t.Fatalf("mail handled %d events while down", n)
	}

	mail.down.Store(false)
	// Its breaker may have opened: try until it lets the push through.
	if err := eventually(func() error { return p.Publish(context.Background(), e) }); err != nil {
		t.Fatalf("Publish once mail is back: %v", err)
	}
	if _, handled := mail.deliveriesOf(e.ID); handled != 1 {
		t.Errorf("mail applied the event %d times, want 1", handled)
	}
	if delivered, handled := inventory.deliveriesOf(e.ID); delivered < 3 || handled != 1 {
		t.Errorf("inventory got the event %d times and applied it %d times, want 3 or more and 1 (it dedupes)", delivered, handled)
	}

	// An event only mail wants goes to mail only.
	before := inventory.requests.Load()
	reg := orderEvent(t, "u_1")
	reg.Type = shop.EventUserRegistered
	if err := p.Publish(context.Background(), reg); err != nil {
		t.Fatal(err)
	}
	if inventory.requests.Load() != before {
		t.Error("inventory was sent an event it did not subscribe to")
	}
	if _, handled := mail.deliveriesOf(reg.ID); handled != 1 {
		t.Errorf("mail applied user.registered %d times, want 1", handled)
	}
}

func TestPublishToTargetWithoutInstances(t *testing.T) {
	tokens := newTokens(t)
	p := newPublisher(t, serviceToken(tokens), []cehttp.Subscription{
		{Service: "inventory", Instancer: sd.FixedInstancer{}, Types: []string{shop.EventOrderPaid}},
	})
	ctx := within(t, 30*time.Second)

	err := p.Publish(ctx, orderEvent(t, "ord_1"))
	if ctx.Err() != nil {
		t.Fatal("Publish to a service without instances hung until the caller's deadline")
	}
	if !errors.Is(err, shop.ErrUnavailable) || shop.CodeOf(err) != "inventory_unavailable" {
		t.Fatalf("Publish to a service without instances: %v (code %s), want 503 inventory_unavailable", err, shop.CodeOf(err))
	}
}

func TestPublishRefusedCredentialsAreNotRetried(t *testing.T) {
	tokens := newTokens(t)
	inventory := newConsumer(t, tokens, shop.EventOrderPaid)
	customer := tokens.TokenSource(shop.Identity{UserID: "u1", Role: shop.RoleCustomer}, time.Hour)
	p := newPublisher(t, customer, []cehttp.Subscription{
		{Service: "inventory", Instancer: inventory.instancer(t), Types: []string{shop.EventOrderPaid}},
	})

	err := p.Publish(context.Background(), orderEvent(t, "ord_1"))
	if !errors.Is(err, shop.ErrForbidden) {
		t.Fatalf("Publish with a customer token: %v, want forbidden", err)
	}
	if n := inventory.requests.Load(); n != 1 {
		t.Errorf("a refused push was sent %d times, want 1 (an answer is not retried)", n)
	}

	bad := func() (string, error) { return "", errors.New("no signing key") }
	p = newPublisher(t, bad, []cehttp.Subscription{
		{Service: "inventory", Instancer: inventory.instancer(t), Types: []string{shop.EventOrderPaid}},
	})
	if err := p.Publish(context.Background(), orderEvent(t, "ord_1")); err == nil || !strings.Contains(err.Error(), "no signing key") {
		t.Fatalf("Publish without a token: %v, want the token source's error", err)
	}
	if n := inventory.requests.Load(); n != 1 {
		t.Errorf("a push without a token was sent (%d requests)", n-1)
	}
}

func TestPublishRefusesInvalidEvents(t *testing.T) {
	tokens := newTokens(t)
	inventory := newConsumer(t, tokens, shop.EventOrderPaid)
	p := newPublisher(t, serviceToken(tokens), []cehttp.Subscription{
		{Service: "inventory", Instancer: inventory.instancer(t), Types: []string{shop.EventOrderPaid}},
	})
	for name, change := range map[string]func(e *shop.Event){
		"no id":           func(e *shop.Event) { e.ID = "" },
		"no source":       func(e *shop.Event) { e.Source = "" },
		"old specversion": func(e *shop.Event) { e.SpecVersion = "0.3" },
		"data not JSON":   func(e *shop.Event) { e.Data = []byte("{oops") },
	} {
		t.Run(name, func(t *testing.T) {
			e := orderEvent(t, "ord_1")
			change(&e)
			if err := p.Publish(context.Background(), e); !errors.Is(err, shop.ErrInvalid) {
				t.Errorf("Publish: %v, want an invalid error", err)
			}
		})
	}
	if n := inventory.requests.Load(); n != 0 {
		t.Errorf("invalid events were sent (%d requests)", n)
	}
}

func TestPublishBatch(t *testing.T) {
	tokens := newTokens(t)
	inventory := newConsumer(t, tokens, shop.EventOrderPaid)
	p := newPublisher(t, serviceToken(tokens), []cehttp.Subscription{
		{Service: "inventory", Instancer: inventory.instancer(t), Types: []string{shop.EventOrderPaid}},
	}, cehttp.WithParallelism(4))

	var events []shop.Event
	for i := range 20 {
		events = append(events, orderEvent(t, fmt.Sprintf("ord_%d", i)))
	}
	for i, err := range p.PublishBatch(context.Background(), events) {
		if err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	for _, e := range events {
		if _, handled := inventory.deliveriesOf(e.ID); handled != 1 {
			t.Errorf("event %s handled %d times, want 1", e.ID, handled)
		}
	}
}

// PublishBatch keeps the order of a subject's events even when a caller
// puts several in one batch: after one fails, the later ones wait.
func TestPublishBatchKeepsSubjectOrder(t *testing.T) {
	tokens := newTokens(t)
	inventory := newConsumer(t, tokens, shop.EventOrderPaid)
	failing := orderEvent(t, "ord_a")
	inventory.recv.Subscribe(shop.EventOrderPaid, func(_ context.Context, e shop.Event) error {
		if e.ID == failing.ID {
			return errBoom
		}
		return nil
	})
	p := newPublisher(t, serviceToken(tokens), []cehttp.Subscription{
		{Service: "inventory", Instancer: inventory.instancer(t), Types: []string{shop.EventOrderPaid}},
	}, cehttp.WithClientOptions(discovery.RetryAttempts(1)))

	later := orderEvent(t, "ord_a") // same subject, after the failing one
	other := orderEvent(t, "ord_b")
	errs := p.PublishBatch(context.Background(), []shop.Event{failing, other, later})
	if len(errs) != 3 {
		t.Fatalf("%d results for 3 events", len(errs))
	}
	if !errors.Is(errs[0], shop.ErrUnavailable) {
		t.Errorf("failing event: %v, want 503", errs[0])
	}
	if errs[1] != nil {
		t.Errorf("event of another subject: %v, want nil", errs[1])
	}
	if errs[2] == nil || !strings.Contains(errs[2].Error(), "not pushed") {
		t.Errorf("later event of the failing subject: %v, want not pushed", errs[2])
	}
	if delivered, _ := inventory.deliveriesOf(later.ID); delivered != 0 {
		t.Errorf("the later event of the subject was delivered %d times before the failing one, want 0", delivered)
	}
}

func TestPublisherClose(t *testing.T) {
	tokens := newTokens(t)
	inventory := newConsumer(t, tokens, shop.EventOrderPaid)
	p, err := cehttp.NewPublisher(serviceToken(tokens), []cehttp.Subscription{
		{Service: "inventory", Instancer: inventory.instancer(t), Types: []string{shop.EventOrderPaid}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.Publish(context.Background(), orderEvent(t, "ord_1")); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
	if n := inventory.requests.Load(); n != 0 {
		t.Errorf("a closed publisher sent %d requests", n)
	}
}

func TestNewPublisherRefusesBadWiring(t *testing.T) {
	tokens := newTokens(t)
	in, _ := discovery.NewStaticInstancer("127.0.0.1:1")
	for name, tc := range map[string]struct {
		token func() (string, error)
		subs  []cehttp.Subscription
	}{
		"no token source": {nil, []cehttp.Subscription{{Service: "inventory", Instancer: in, Types: []string{shop.EventOrderPaid}}}},
		"no service":      {serviceToken(tokens), []cehttp.Subscription{{Instancer: in, Types: []string{shop.EventOrderPaid}}}},
		"no instancer":    {serviceToken(tokens), []cehttp.Subscription{{Service: "inventory", Types: []string{shop.EventOrderPaid}}}},
		"no types":        {serviceToken(tokens), []cehttp.Subscription{{Service: "inventory", Instancer: in}}},
		"empty type":      {serviceToken(tokens), []cehttp.Subscription{{Service: "inventory", Instancer: in, Types: []string{""}}}},
		"service twice": {serviceToken(tokens), []cehttp.Subscription{
			{Service: "inventory", Instancer: in, Types: []string{shop.EventOrderPaid}},
			{Service: "inventory", Instancer: in, Types: []string{shop.EventOrderCancelled}},
		}},
		"bad timeouts": {serviceToken(tokens), []cehttp.Subscription{{Service: "inventory", Instancer: in, Types: []string{shop.EventOrderPaid}}}},
	} {
		t.Run(name, func(t *testing.T) {
			var opts []cehttp.PublisherOption
			if name == "bad timeouts" {
				opts = append(opts, cehttp.WithClientOptions(discovery.ClientTimeout(time.Second), discovery.ClientAttemptTimeout(2*time.Second)))
			}
			p, err := cehttp.NewPublisher(tc.token, tc.subs, opts...)
			if err == nil {
				p.Close()
				t.Fatal("NewPublisher succeeded")
			}
		})
	}
	for name, f := range map[string]func(){
		"zero parallelism": func() { cehttp.WithParallelism(0) },
		"nil HTTP client":  func() { cehttp.WithHTTPClient(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			f()
		})
	}
}
