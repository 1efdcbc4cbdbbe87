package amqp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/transport/amqp"
)

func TestPublishAndConsume(t *testing.T) {
	e := newEnv(t)
	sub := e.subscriber("billing")
	rec := &testkit.Recorder{}
	for _, typ := range []string{shop.EventOrderCreated, shop.EventOrderPaid} {
		if err := sub.Subscribe(typ, rec.Handle); err != nil {
			t.Fatal(err)
		}
	}
	start(t, sub)

	// A plain queue bound to every order event shows the messages as the
	// broker has them.
	raw := rawChannel(t, e.url)
	q, err := raw.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	exchange := sub.Queue()[:strings.LastIndex(sub.Queue(), ".")] + ".events"
	if err := raw.QueueBind(q.Name, "order.*", exchange, false, nil); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	pub := e.publisher()
	// Not subscribed: billing's queue is not bound to it, so it never
	// arrives, although it is published before all the others.
	unwanted := event(t, shop.EventOrderRefunded, "o1", 0)
	if err := pub.Publish(ctx, unwanted); err != nil {
		t.Fatalf("publish: %v", err)
	}
	var want []shop.Event
	for i := range 40 {
		typ := shop.EventOrderCreated
		if i%2 == 1 {
			typ = shop.EventOrderPaid
		}
		ev := event(t, typ, fmt.Sprintf("o%d", i%4), i)
		if i%3 == 0 { // made in a traced request
			ev.TraceParent = fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e%04d-00f067aa0ba902b7-01", i)
			ev.TraceState = "kitshop=t"
		}
		want = append(want, ev)
	}
	for i, err := range pub.PublishBatch(ctx, want[:30]) {
		if err != nil {
			t.Fatalf("publish event %d: %v", i, err)
		}
	}
	for _, ev := range want[30:] {
		if err := pub.Publish(ctx, ev); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}

	waitUntil(t, 30*time.Second, "40 events", func() bool { return rec.Len() >= len(want) })
	got := rec.Events()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d: %v", len(got), len(want), ids(got))
	}
	for i := range want {
		if diff := sameEvent(want[i], got[i]); diff != "" {
			t.Fatalf("event %d (in publishing order) differs:\n%s", i, diff)
		}
	}

	// The messages themselves: persistent, CloudEvents JSON, the event's
	// ID, type and time in the properties, routed by type.
	all := append([]shop.Event{unwanted}, want...)
	for i, w := range all {
		var d amqp091.Delivery
		waitUntil(t, 10*time.Second, "a message in the plain queue", func() bool {
			var ok bool
			d, ok, err = raw.Get(q.Name, true)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		})
		if d.MessageId != w.ID || d.Type != w.Type || d.RoutingKey != w.Type || d.Exchange != exchange {
			t.Fatalf("message %d: id %q type %q key %q exchange %q, want id %q type and key %q exchange %q",
				i, d.MessageId, d.Type, d.RoutingKey, d.Exchange, w.ID, w.Type, exchange)
		}
		if d.DeliveryMode != amqp091.Persistent || d.ContentType != "application/cloudevents+json" {
			t.Fatalf("message %d: delivery mode %d, content type %q", i, d.DeliveryMode, d.ContentType)
		}
		if d.Timestamp.Unix() != w.Time.Unix() {
			t.Fatalf("message %d: timestamp %s, want the event time %s", i, d.Timestamp, w.Time)
		}
		if tp, _ := d.Headers["traceparent"].(string); tp != w.TraceParent {
			t.Fatalf("message %d: traceparent header %q, want %q", i, tp, w.TraceParent)
		}
		if ts, _ := d.Headers["tracestate"].(string); ts != w.TraceState {
			t.Fatalf("message %d: tracestate header %q, want %q", i, ts, w.TraceState)
		}
		var body map[string]any
		if err := json.Unmarshal(d.Body, &body); err != nil {
			t.Fatal(err)
		}
		for _, attr := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"} {
			if _, ok := body[attr]; !ok {
				t.Fatalf("message %d: the body lacks the CloudEvents attribute %q: %s", i, attr, d.Body)
			}
		}
	}
}

// TestConnectionLoss streams events through an outbox relay and this
// transport while the broker closes every connection, twice: every event
// arrives, and a consumer that drops repeated IDs applies each once, in
// each subject's order.
func TestConnectionLoss(t *testing.T) {
	needRabbitmqctl(t)
	e := newEnv(t)
	const n, subjects = 4000, 50

	var mu sync.Mutex
	applied := map[string]int{} // event ID -> effects applied
	next := map[string]int{}    // subject -> the n its next new event must have
	delivered, outOfOrder := 0, 0
	sub := e.subscriber("inventory")
	handler := func(_ context.Context, ev shop.Event) error {
		var d testData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return fmt.Errorf("%w: %v", shop.ErrDeadLetter, err)
		}
		mu.Lock()
		defer mu.Unlock()
		delivered++
		if applied[ev.ID] > 0 { // a redelivery: the consumer drops it
			return nil
		}
		applied[ev.ID]++
		if d.N != next[ev.Subject] {
			outOfOrder++
		}
		next[ev.Subject] = d.N + 1
		return nil
	}
	if err := sub.Subscribe(shop.EventStockChanged, handler); err != nil {
		t.Fatal(err)
	}
	start(t, sub)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(applied)
	}

	// The producer commits ten events every 10ms (1000/s), so events are
	// in flight on both sides when the broker closes the connections.
	src := newOutbox(t, e.publisher(), e.logger())
	var all []shop.Event
	for i := range n {
		all = append(all, event(t, shop.EventStockChanged, fmt.Sprintf("p%d", i%subjects), i/subjects))
	}
	produced := make(chan error, 1)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < n; i += 10 {
			select {
			case <-tick.C:
			case <-t.Context().Done():
				produced <- t.Context().Err()
				return
			}
			if err := src.add(all[i:min(i+10, n)]...); err != nil {
				produced <- err
				return
			}
		}
		produced <- nil
	}()
	t.Cleanup(func() { <-produced }) // before the outbox closes
	waitUntil(t, 60*time.Second, "a quarter of the events", func() bool { return count() >= n/4 })
	closeAllConnections(t)
	waitUntil(t, 60*time.Second, "three quarters of the events", func() bool { return count() >= 3*n/4 })
	closeAllConnections(t)
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	produced <- nil
	waitUntil(t, 90*time.Second, "every event", func() bool { return count() >= n })
	waitUntil(t, 30*time.Second, "an empty outbox", func() bool { return src.pending() == 0 })

	mu.Lock()
	defer mu.Unlock()
	if len(applied) != n {
		t.Fatalf("%d distinct events arrived, want %d", len(applied), n)
	}
	for id, k := range applied {
		if k != 1 {
			t.Fatalf("event %s applied %d times", id, k)
		}
	}
	if outOfOrder > 0 {
		t.Errorf("%d events were applied out of their subject's order", outOfOrder)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "broker connection lost; reconnecting") {
		t.Fatalf("the subscriber never lost its connection, so the test proved nothing; log:\n%s", logs)
	}
	t.Logf("%d events, %d deliveries: %d duplicates, dropped by the consumer", n, delivered, delivered-n)
}

// TestStopMidHandling: a consumer stopped while its handler runs leaves
// the message to the next one.
func TestStopMidHandling(t *testing.T) {
	for _, tc := range []struct {
		name string
		// handler blocks until release is closed; it heeds ctx when heed.
		heed  bool
		grace time.Duration
	}{
		{name: "handler returns on cancel", heed: true, grace: 5 * time.Second},
		{name: "handler ignores cancel", heed: false, grace: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			first := e.subscriber("shipping", amqp.WithShutdownGrace(tc.grace))
			started := make(chan shop.Event, 10)
			release := make(chan struct{})
			defer close(release)
			err := first.Subscribe(shop.EventOrderPaid, func(ctx context.Context, ev shop.Event) error {
				started <- ev
				if tc.heed {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-release:
					}
				}
				<-release
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			stopFirst := start(t, first)

			want := []shop.Event{event(t, shop.EventOrderPaid, "o1", 1), event(t, shop.EventOrderPaid, "o2", 2),
				event(t, shop.EventOrderPaid, "o1", 3)}
			for i, err := range e.publisher().PublishBatch(context.Background(), want) {
				if err != nil {
					t.Fatalf("publish %d: %v", i, err)
				}
			}
			select {
			case got := <-started:
				if got.ID != want[0].ID {
					t.Fatalf("the first handled event is %s, want %s", got.ID, want[0].ID)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the handler never started")
			}
			stopFirst() // returns once first has stopped, its handler still blocked or not

			second := e.subscriber("shipping")
			rec := &testkit.Recorder{}
			if err := second.Subscribe(shop.EventOrderPaid, rec.Handle); err != nil {
				t.Fatal(err)
			}
			start(t, second)
			waitUntil(t, 30*time.Second, "three events at the second subscriber", func() bool { return rec.Len() >= 3 })
			got := rec.Events()
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("second subscriber got %v, want %v", ids(got), ids(want))
			}
			for i := range want {
				if diff := sameEvent(want[i], got[i]); diff != "" {
					t.Fatalf("event %d differs:\n%s", i, diff)
				}
			}
		})
	}
}

// TestTransientFailure: a handler that fails (an error, a panic) gets the
// event again after a backoff, before the events behind it.
func TestTransientFailure(t *testing.T) {
	e := newEnv(t)
	sub := e.subscriber("mailer")
	var mu sync.Mutex
	var calls []string
	fails := 0
	err := sub.Subscribe(shop.EventUserRegistered, func(_ context.Context, ev shop.Event) error {
		mu.Lock()
		calls = append(calls, ev.ID)
		first := len(calls) == 1
		mu.Unlock()
		if first || fails > 0 {
			fails++
			if fails == 1 {
				panic("mail server exploded")
			}
			if fails == 2 {
				return errors.New("mail server busy")
			}
			fails = 0
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, sub)
	want := []shop.Event{event(t, shop.EventUserRegistered, "u1", 1), event(t, shop.EventUserRegistered, "u2", 2),
		event(t, shop.EventUserRegistered, "u3", 3)}
	for i, err := range e.publisher().PublishBatch(context.Background(), want) {
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(calls)
	}
	waitUntil(t, 30*time.Second, "five handler calls", func() bool { return count() >= 5 })
	mu.Lock()
	got := append([]string(nil), calls...)
	mu.Unlock()
	wantCalls := []string{want[0].ID, want[0].ID, want[0].ID, want[1].ID, want[2].ID}
	if !slices.Equal(got, wantCalls) {
		t.Fatalf("handler calls %v, want %v (the failed event again, then the others in order)", got, wantCalls)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "panicked: mail server exploded") || !strings.Contains(logs, "mail server busy") {
		t.Fatalf("the failures are not in the log:\n%s", logs)
	}
}

// TestDeadLetters: an event the handler gives up on waits in the
// dead-letter queue, listed without being lost, until Replay hands it back.
func TestDeadLetters(t *testing.T) {
	e := newEnv(t)
	sub := e.subscriber("inventory")
	var mu sync.Mutex
	broken := true
	rec := &testkit.Recorder{}
	err := sub.Subscribe(shop.EventOrderPaid, func(ctx context.Context, ev shop.Event) error {
		mu.Lock()
		b := broken
		mu.Unlock()
		if b && strings.HasPrefix(ev.Subject, "poison") {
			return fmt.Errorf("%w after 5 attempts: no reservation for %s", shop.ErrDeadLetter, ev.Subject)
		}
		return rec.Handle(ctx, ev)
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, sub)
	ctx := context.Background()
	poison1, poison2 := event(t, shop.EventOrderPaid, "poison1", 1), event(t, shop.EventOrderPaid, "poison2", 2)
	events := []shop.Event{event(t, shop.EventOrderPaid, "o1", 1), poison1, event(t, shop.EventOrderPaid, "o2", 1),
		poison2, event(t, shop.EventOrderPaid, "o3", 1)}
	before := time.Now().Add(-time.Second)
	for i, err := range e.publisher().PublishBatch(ctx, events) {
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	waitUntil(t, 30*time.Second, "the three good events", func() bool { return rec.Len() >= 3 })

	var dead []shop.DeadLetter
	waitUntil(t, 30*time.Second, "two dead letters", func() bool {
		dead, err = sub.DeadLetters(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(dead) >= 2
	})
	check := func(dead []shop.DeadLetter, want ...shop.Event) {
		t.Helper()
		if len(dead) != len(want) {
			t.Fatalf("%d dead letters, want %d: %+v", len(dead), len(want), dead)
		}
		for i, d := range dead {
			if diff := sameEvent(want[i], d.Event); diff != "" {
				t.Fatalf("dead letter %d (oldest first):\n%s", i, diff)
			}
			if d.Consumer != "inventory" || d.Attempts != 1 || !strings.Contains(d.Reason, "no reservation for "+want[i].Subject) ||
				!strings.Contains(d.Reason, shop.ErrDeadLetter.Error()) {
				t.Fatalf("dead letter %d: consumer %q attempts %d reason %q", i, d.Consumer, d.Attempts, d.Reason)
			}
			if d.ParkedAt.Before(before) || d.ParkedAt.After(time.Now().Add(time.Second)) {
				t.Fatalf("dead letter %d parked at %s, not during the test", i, d.ParkedAt)
			}
		}
	}
	check(dead, poison1, poison2)
	// Listing does not take them away, and a limit is a limit.
	again, err := sub.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	check(again, poison1, poison2)
	one, err := sub.DeadLetters(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	check(one, poison1)

	if err := sub.Replay(ctx, "no-such-event"); !errors.Is(err, shop.ErrNotFound) || shop.CodeOf(err) != "dead_letter_not_found" {
		t.Fatalf("replay of an unknown ID: %v, want dead_letter_not_found", err)
	}

	mu.Lock()
	broken = false // the fix
	mu.Unlock()
	if err := sub.Replay(ctx, poison2.ID); err != nil {
		t.Fatalf("replay: %v", err)
	}
	waitUntil(t, 30*time.Second, "the replayed event", func() bool { return rec.Len() >= 4 })
	rest, err := sub.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	check(rest, poison1)
	if err := sub.Replay(ctx, poison1.ID); err != nil {
		t.Fatalf("replay: %v", err)
	}
	waitUntil(t, 30*time.Second, "the second replayed event", func() bool { return rec.Len() >= 5 })
	rest, err = sub.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	check(rest)
	got := rec.Events()
	if diff := sameEvent(poison2, got[3]); diff != "" {
		t.Fatalf("replayed event:\n%s", diff)
	}
	if diff := sameEvent(poison1, got[4]); diff != "" {
		t.Fatalf("replayed event:\n%s", diff)
	}
	if !strings.Contains(e.logs.String(), "event parked as a dead letter") {
		t.Fatalf("parking is not logged:\n%s", e.logs.String())
	}
}

// TestNotAnEvent: a body that is not an event is parked at once and does
// not hold up the events behind it.
func TestNotAnEvent(t *testing.T) {
	e := newEnv(t)
	sub := e.subscriber("inventory")
	rec := &testkit.Recorder{}
	if err := sub.Subscribe(shop.EventOrderPaid, rec.Handle); err != nil {
		t.Fatal(err)
	}
	start(t, sub)
	raw := rawChannel(t, e.url)
	exchange := strings.TrimSuffix(sub.Queue(), ".inventory") + ".events"
	err := raw.PublishWithContext(context.Background(), exchange, shop.EventOrderPaid, false, false,
		amqp091.Publishing{MessageId: "garbage-1", Type: shop.EventOrderPaid, Body: []byte("{not json")})
	if err != nil {
		t.Fatal(err)
	}
	good := event(t, shop.EventOrderPaid, "o1", 1)
	if err := e.publisher().Publish(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the good event", func() bool { return rec.Len() >= 1 })
	dead, err := sub.DeadLetters(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Event.ID != "garbage-1" || dead[0].Event.Type != shop.EventOrderPaid ||
		!strings.Contains(dead[0].Reason, "not a valid event") {
		t.Fatalf("dead letters %+v, want garbage-1 as not a valid event", dead)
	}
	if got := rec.Events(); len(got) != 1 || got[0].ID != good.ID {
		t.Fatalf("handled %v, want only %s", ids(got), good.ID)
	}
}

// TestBrokerDeadLetters: a message rejected without requeueing goes, by the
// queue's x-dead-letter-exchange, to the dead-letter queue, and is listed
// with the broker's x-death reason and time.
func TestBrokerDeadLetters(t *testing.T) {
	e := newEnv(t)
	sub := e.subscriber("inventory")
	rec := &testkit.Recorder{}
	if err := sub.Subscribe(shop.EventOrderPaid, rec.Handle); err != nil {
		t.Fatal(err)
	}
	stop := start(t, sub)
	stop() // the queue stays, with nobody consuming

	ev := event(t, shop.EventOrderPaid, "o1", 1)
	if err := e.publisher().Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	raw := rawChannel(t, e.url)
	d, ok, err := raw.Get(sub.Queue(), false)
	if err != nil || !ok {
		t.Fatalf("get from %s: %v, %v", sub.Queue(), ok, err)
	}
	if err := d.Nack(false, false); err != nil {
		t.Fatal(err)
	}
	var dead []shop.DeadLetter
	waitUntil(t, 30*time.Second, "the dead letter", func() bool {
		dead, err = sub.DeadLetters(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(dead) > 0
	})
	if len(dead) != 1 || sameEvent(ev, dead[0].Event) != "" || !strings.Contains(dead[0].Reason, "rejected") || dead[0].ParkedAt.IsZero() {
		t.Fatalf("dead letters %+v, want %s rejected, with a time", dead, ev.ID)
	}

	if err := sub.Replay(context.Background(), ev.ID); err != nil {
		t.Fatal(err)
	}
	again := e.subscriber("inventory")
	if err := again.Subscribe(shop.EventOrderPaid, rec.Handle); err != nil {
		t.Fatal(err)
	}
	start(t, again)
	waitUntil(t, 30*time.Second, "the replayed event", func() bool { return rec.Len() >= 1 })
	if diff := sameEvent(ev, rec.Events()[0]); diff != "" {
		t.Fatal(diff)
	}
}

// TestPublisherBrokerUnreachable: with no broker, Publish fails on its own
// (within the dial timeout, not the caller's much longer deadline), and
// again at once while the reconnect backoff runs.
func TestPublisherBrokerUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	p, err := amqp.NewPublisher("amqp://guest:guest@"+addr+"/", amqp.WithDialTimeout(2*time.Second),
		amqp.WithReconnectBackoff(time.Minute, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	ev, _ := shop.NewEvent("test", shop.EventOrderPaid, "o1", nil)
	err = p.Publish(ctx, ev)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish without a broker: %v, want a connection error", err)
	}
	errs := p.PublishBatch(ctx, []shop.Event{ev, ev})
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "next attempt in") {
			t.Fatalf("publish %d during the backoff: %v, want it refused at once", i, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, ev); !errors.Is(err, amqp.ErrClosed) {
		t.Fatalf("publish after Close: %v, want ErrClosed", err)
	}
}

// TestPublisherSilentBroker: a peer that accepts the connection but never
// answers holds Publish only until the caller's context ends.
func TestPublisherSilentBroker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	p, err := amqp.NewPublisher("amqp://guest:guest@"+l.Addr().String()+"/", amqp.WithDialTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	ev, _ := shop.NewEvent("test", shop.EventOrderPaid, "o1", nil)
	if err := p.Publish(ctx, ev); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish to a silent peer: %v, want the context's deadline", err)
	}
}

func TestSubscriberMisuse(t *testing.T) {
	if _, err := amqp.NewSubscriber("amqp://127.0.0.1/", ""); err == nil {
		t.Fatal("a subscriber without a service name was accepted")
	}
	if _, err := amqp.NewSubscriber("http://127.0.0.1/", "x"); err == nil {
		t.Fatal("an http URL was accepted")
	}
	if _, err := amqp.NewPublisher("nonsense", amqp.WithExchange("x")); err == nil {
		t.Fatal("a malformed URL was accepted")
	}
	if _, err := amqp.NewSubscriber("amqp://127.0.0.1/", "x", amqp.WithPrefetch(2), amqp.WithConcurrency(4)); err == nil {
		t.Fatal("a prefetch below the concurrency was accepted")
	}
	s, err := amqp.NewSubscriber("amqp://127.0.0.1:1/", "inventory", amqp.WithQueuePrefix("shop"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Queue() != "shop.inventory" || s.DeadLetterQueue() != "shop.inventory.dead" || s.Service() != "inventory" {
		t.Fatalf("queues %q, %q", s.Queue(), s.DeadLetterQueue())
	}
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("Run without subscriptions was accepted")
	}
	noop := func(context.Context, shop.Event) error { return nil }
	for _, typ := range []string{"", "order.*", "order.#"} {
		if err := s.Subscribe(typ, noop); err == nil {
			t.Fatalf("Subscribe(%q) was accepted", typ)
		}
	}
	if err := s.Subscribe(shop.EventOrderPaid, nil); err == nil {
		t.Fatal("a nil handler was accepted")
	}
	if err := s.Subscribe(shop.EventOrderPaid, noop); err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: Start reports it and may be called again.
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("Start without a broker succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run with a done context: %v", err)
	}
	<-s.Done()
	if err := s.Subscribe(shop.EventOrderCreated, noop); err == nil {
		t.Fatal("Subscribe after Run was accepted")
	}
}

func TestOptionsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"WithExchange":         func() { amqp.WithExchange("") },
		"WithQueuePrefix":      func() { amqp.WithQueuePrefix("") },
		"WithLogger":           func() { amqp.WithLogger(nil) },
		"WithPrefetch":         func() { amqp.WithPrefetch(0) },
		"WithConfirmTimeout":   func() { amqp.WithConfirmTimeout(0) },
		"WithDialTimeout":      func() { amqp.WithDialTimeout(-time.Second) },
		"WithHeartbeat":        func() { amqp.WithHeartbeat(time.Millisecond) },
		"WithReconnectBackoff": func() { amqp.WithReconnectBackoff(time.Second, time.Millisecond) },
		"WithRetryBackoff":     func() { amqp.WithRetryBackoff(0, time.Second) },
		"WithShutdownGrace":    func() { amqp.WithShutdownGrace(-time.Second) },
		"WithConcurrency":      func() { amqp.WithConcurrency(0) },
	} {
		func() {
			defer func() {
				p := recover()
				if p == nil || !strings.Contains(fmt.Sprint(p), "amqp."+name) {
					t.Errorf("%s with a bad value: panic %v, want one naming it", name, p)
				}
			}()
			f()
		}()
	}
}

func TestDeadLettersOfUnknownQueue(t *testing.T) {
	e := newEnv(t)
	sub := e.subscriber("nobody")
	dead, err := sub.DeadLetters(context.Background(), 10)
	if err != nil || len(dead) != 0 {
		t.Fatalf("dead letters of a queue never declared: %v, %v", dead, err)
	}
	if err := sub.Replay(context.Background(), "x"); !errors.Is(err, shop.ErrNotFound) {
		t.Fatalf("replay: %v, want not found", err)
	}
}

// TestStaleBinding: a binding to a type the service no longer subscribes
// to (left by an earlier version) brings one message, which is dropped,
// and then the binding is gone.
func TestStaleBinding(t *testing.T) {
	e := newEnv(t)
	sub := e.subscriber("billing")
	rec := &testkit.Recorder{}
	if err := sub.Subscribe(shop.EventOrderPaid, rec.Handle); err != nil {
		t.Fatal(err)
	}
	start(t, sub)
	raw := rawChannel(t, e.url)
	exchange := strings.TrimSuffix(sub.Queue(), ".billing") + ".events"
	if err := raw.QueueBind(sub.Queue(), shop.EventOrderRefunded, exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	pub := e.publisher()
	ctx := context.Background()
	publish := func(events ...shop.Event) {
		t.Helper()
		for i, err := range pub.PublishBatch(ctx, events) {
			if err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
	}
	publish(event(t, shop.EventOrderRefunded, "o1", 1), event(t, shop.EventOrderPaid, "o1", 2))
	waitUntil(t, 30*time.Second, "the paid event", func() bool { return rec.Len() >= 1 })
	// Had the binding stayed, the second refund would arrive before the
	// second payment and be dropped (and logged) too.
	publish(event(t, shop.EventOrderRefunded, "o2", 1), event(t, shop.EventOrderPaid, "o2", 2))
	waitUntil(t, 30*time.Second, "the second paid event", func() bool { return rec.Len() >= 2 })
	if n := strings.Count(e.logs.String(), "no handler for this event type; dropped"); n != 1 {
		t.Fatalf("%d events dropped for want of a handler, want 1 (the binding should be gone after it)", n)
	}
	for _, ev := range rec.Events() {
		if ev.Type != shop.EventOrderPaid {
			t.Fatalf("the handler of %s got a %s", shop.EventOrderPaid, ev.Type)
		}
	}
}

// TestConcurrentPublish: one Publisher shared by several goroutines.
func TestConcurrentPublish(t *testing.T) {
	e := newEnv(t)
	sub := e.subscriber("audit")
	var mu sync.Mutex
	seen := map[string]bool{}
	err := sub.Subscribe(shop.EventProductUpdated, func(_ context.Context, ev shop.Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen[ev.ID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, sub)
	pub := e.publisher()
	const workers, each = 8, 50
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var batch []shop.Event
			for i := range each {
				ev, _ := shop.NewEvent("test", shop.EventProductUpdated, fmt.Sprintf("p%d", w), i)
				if i%2 == 0 {
					errs <- pub.Publish(context.Background(), ev)
				} else {
					batch = append(batch, ev)
				}
			}
			for _, err := range pub.PublishBatch(context.Background(), batch) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, "every event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == workers*each
	})
}

// TestConcurrency: with several workers, events of different subjects are
// handled side by side while each subject's events keep their order, a
// failure included.
func TestConcurrency(t *testing.T) {
	e := newEnv(t)
	sub := e.subscriber("search", amqp.WithConcurrency(4))
	const subjects, each = 16, 20
	var mu sync.Mutex
	got := map[string][]int{}
	handledOther := make(chan struct{}) // closed once an event not of s0 was handled
	var closeOnce sync.Once
	blocked, failed := false, false
	err := sub.Subscribe(shop.EventProductUpdated, func(ctx context.Context, ev shop.Event) error {
		var d testData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return err
		}
		mu.Lock()
		first := !blocked && ev.Subject == "s0"
		blocked = blocked || first
		fail := !failed && ev.Subject == "s1" && d.N == 3
		failed = failed || fail
		mu.Unlock()
		if first {
			// Sequential handling would never get past this.
			select {
			case <-handledOther:
			case <-time.After(20 * time.Second):
				return fmt.Errorf("%w: no other subject was handled while s0 waited", shop.ErrDeadLetter)
			}
		}
		if fail {
			return errors.New("index busy")
		}
		mu.Lock()
		got[ev.Subject] = append(got[ev.Subject], d.N)
		mu.Unlock()
		if ev.Subject != "s0" {
			closeOnce.Do(func() { close(handledOther) })
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, sub)
	var events []shop.Event
	for n := range each {
		for s := range subjects {
			events = append(events, event(t, shop.EventProductUpdated, fmt.Sprintf("s%d", s), n))
		}
	}
	for i, err := range e.publisher().PublishBatch(context.Background(), events) {
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	waitUntil(t, 60*time.Second, "every event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, ns := range got {
			n += len(ns)
		}
		return n >= subjects*each
	})
	mu.Lock()
	defer mu.Unlock()
	for s := range subjects {
		ns := got[fmt.Sprintf("s%d", s)]
		if len(ns) != each {
			t.Fatalf("subject s%d: %d events handled, want %d: %v", s, len(ns), each, ns)
		}
		for i, n := range ns {
			if n != i {
				t.Fatalf("subject s%d handled in the order %v", s, ns)
			}
		}
	}
	if dead, err := sub.DeadLetters(context.Background(), 10); err != nil || len(dead) != 0 {
		t.Fatalf("dead letters %v, %v", dead, err)
	}
}

// A publisher of its own that sends the trace context in the message's
// headers only still gets it to the handler.
func TestTraceContextFromHeaders(t *testing.T) {
	e := newEnv(t)
	sub := e.subscriber("billing")
	rec := &testkit.Recorder{}
	if err := sub.Subscribe(shop.EventOrderPaid, rec.Handle); err != nil {
		t.Fatal(err)
	}
	start(t, sub)
	ev := event(t, shop.EventOrderPaid, "o1", 1)
	body, err := json.Marshal(ev) // no traceparent in the body
	if err != nil {
		t.Fatal(err)
	}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	exchange := sub.Queue()[:strings.LastIndex(sub.Queue(), ".")] + ".events"
	if err := rawChannel(t, e.url).PublishWithContext(context.Background(), exchange, ev.Type, false, false, amqp091.Publishing{
		ContentType: "application/cloudevents+json", Body: body,
		Headers: amqp091.Table{"traceparent": tp, "tracestate": "kitshop=h"},
	}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the event", func() bool { return rec.Len() == 1 })
	if got := rec.Events()[0]; got.TraceParent != tp || got.TraceState != "kitshop=h" {
		t.Fatalf("trace context %q %q, want the headers'", got.TraceParent, got.TraceState)
	}
}
