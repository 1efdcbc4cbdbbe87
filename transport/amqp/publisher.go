package amqp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-kit/log/level"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/kitshop/shop"
)

// ErrClosed is returned by a Publisher or Subscriber used after Close.
var ErrClosed = errors.New("amqp: closed")

// Publisher publishes events to the topic exchange, routed by their type,
// and reports an event published only once the broker confirmed it (so it
// is in every bound queue, on disk: messages are persistent and the
// exchange and queues durable). It is a shop.BatchPublisher: the outbox
// relay hands it a batch and it waits for all their confirms together.
//
// It connects on first use and again after the connection is lost. While
// the broker cannot be reached, publishes fail without waiting (after one
// attempt bounded by the dial timeout, further attempts wait for the
// reconnect backoff); the outbox keeps the events and the relay tries again
// later. Events of a type no queue is bound to are dropped by the broker,
// as an in-process bus drops events nobody subscribed to.
//
// A Publisher is safe for concurrent use. Create it with NewPublisher.
type Publisher struct {
	url string
	cfg config

	lock chan struct{} // held to read or change the fields below
	cur  *pubConn
	// failures counts consecutive failed connection attempts; until
	// retryAt no new attempt is made and lastErr is the answer.
	failures int
	retryAt  time.Time
	lastErr  error
	closed   bool
}

// pubConn is one connection with its confirm-mode channel.
type pubConn struct {
	conn    *amqp091.Connection
	ch      *amqp091.Channel
	blocked atomic.Pointer[string] // the broker's reason while it blocks publishing
}

// NewPublisher returns a publisher to the broker at url (such as
// amqp://guest:guest@127.0.0.1:5672/). It does not connect yet; the first
// publish does. It fails only for a malformed url.
func NewPublisher(url string, opts ...Option) (*Publisher, error) {
	if _, err := amqp091.ParseURI(url); err != nil {
		return nil, fmt.Errorf("amqp: broker URL: %w", err)
	}
	p := &Publisher{url: url, cfg: newConfig(opts), lock: make(chan struct{}, 1)}
	return p, nil
}

// Publish publishes e and returns nil once the broker confirmed it. It
// gives up when ctx is done, when the broker cannot be reached, and when
// no confirm came within the confirm timeout.
func (p *Publisher) Publish(ctx context.Context, e shop.Event) error {
	return p.PublishBatch(ctx, []shop.Event{e})[0]
}

// PublishBatch publishes all events, then waits for all their confirms
// together. The result has one entry per event: nil for each event the
// broker confirmed, else why it is not known to be published (the broker
// refused it, the connection was lost before its confirm, the confirm
// timeout passed, or ctx ended). An event reported as failed may still
// have reached the broker, so publishing it again can deliver it twice;
// consumers drop repeated IDs. Once an event cannot be sent, the later
// events of its subject are not sent either; only a broker's nack of one
// event (an internal error of the broker) in the middle of a batch can let
// a later event of its subject arrive before it is published again.
func (p *Publisher) PublishBatch(ctx context.Context, events []shop.Event) []error {
	errs := make([]error, len(events))
	if len(events) == 0 {
		return errs
	}
	pc, err := p.conn(ctx)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	confirms := make([]*amqp091.DeferredConfirmation, len(events))
	send := func(e shop.Event) (*amqp091.DeferredConfirmation, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if reason := pc.blocked.Load(); reason != nil {
			return nil, fmt.Errorf("amqp: publish %s %s: the broker blocks publishing (%s)", e.Type, e.ID, *reason)
		}
		msg, err := message(e)
		if err != nil {
			return nil, err
		}
		dc, err := pc.ch.PublishWithDeferredConfirmWithContext(ctx, p.cfg.exchange, e.Type, false, false, msg)
		if err != nil {
			return nil, fmt.Errorf("amqp: publish %s %s: %w", e.Type, e.ID, err)
		}
		return dc, nil
	}
	// A subject stops at its first event that could not be sent, so its
	// later events never overtake it (shop.BatchPublisher's contract).
	stopped := map[string]bool{}
	for i, e := range events {
		if e.Subject != "" && stopped[e.Subject] {
			errs[i] = fmt.Errorf("amqp: publish %s %s: an earlier event of %s was not sent", e.Type, e.ID, e.Subject)
			continue
		}
		if confirms[i], errs[i] = send(e); errs[i] != nil && e.Subject != "" {
			stopped[e.Subject] = true
		}
	}
	timer := time.NewTimer(p.cfg.confirmTimeout)
	defer timer.Stop()
	var gaveUp error // set once ctx ended or the confirm timeout passed
	for i, dc := range confirms {
		if dc == nil {
			continue
		}
		if gaveUp == nil {
			select {
			case <-dc.Done():
			case <-ctx.Done():
				gaveUp = ctx.Err()
			case <-timer.C:
				gaveUp = fmt.Errorf("no confirm from the broker within %s", p.cfg.confirmTimeout)
			}
		}
		select {
		case <-dc.Done():
			if !dc.Acked() {
				if pc.ch.IsClosed() {
					errs[i] = fmt.Errorf("amqp: publish %s %s: connection lost before the broker confirmed", events[i].Type, events[i].ID)
				} else {
					errs[i] = fmt.Errorf("amqp: publish %s %s: the broker refused it (nack)", events[i].Type, events[i].ID)
				}
			}
		default:
			errs[i] = fmt.Errorf("amqp: publish %s %s: %w", events[i].Type, events[i].ID, gaveUp)
		}
	}
	if gaveUp != nil && ctx.Err() == nil {
		// A confirm that never came: the connection cannot be trusted.
		level.Warn(p.cfg.logger).Log("msg", "dropping the broker connection", "err", gaveUp)
		p.drop(pc)
	}
	return errs
}

// message is the AMQP message of e.
func message(e shop.Event) (amqp091.Publishing, error) {
	if e.ID == "" || e.Type == "" {
		return amqp091.Publishing{}, fmt.Errorf("amqp: event needs an id and a type, got id %q type %q", e.ID, e.Type)
	}
	body, err := json.Marshal(e)
	if err != nil {
		return amqp091.Publishing{}, fmt.Errorf("amqp: encode %s %s: %w", e.Type, e.ID, err)
	}
	m := amqp091.Publishing{
		ContentType:  ContentType,
		DeliveryMode: amqp091.Persistent,
		MessageId:    e.ID,
		Type:         e.Type,
		Timestamp:    e.Time,
		Body:         body,
	}
	// The trace context also goes in the message's headers, where the
	// broker's own tracing and other consumers look for it (W3C names).
	if e.TraceParent != "" {
		m.Headers = amqp091.Table{"traceparent": e.TraceParent}
		if e.TraceState != "" {
			m.Headers["tracestate"] = e.TraceState
		}
	}
	return m, nil
}

// conn returns the open connection, opening one when there is none and
// the reconnect backoff allows.
func (p *Publisher) conn(ctx context.Context) (*pubConn, error) {
	select {
	case p.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.lock }()
	if p.closed {
		return nil, ErrClosed
	}
	if pc := p.cur; pc != nil {
		if !pc.ch.IsClosed() {
			return pc, nil
		}
		pc.conn.Close()
		p.cur = nil
		level.Warn(p.cfg.logger).Log("msg", "broker connection lost; reconnecting", "exchange", p.cfg.exchange)
	}
	if wait := time.Until(p.retryAt); wait > 0 {
		return nil, fmt.Errorf("amqp: broker unreachable, next attempt in %s: %w", wait.Round(time.Millisecond), p.lastErr)
	}
	pc, err := p.connect(ctx)
	if err != nil {
		p.failures++
		p.lastErr = err
		p.retryAt = time.Now().Add(backoff(p.failures, p.cfg.minReconnect, p.cfg.maxReconnect))
		return nil, err
	}
	if p.failures > 0 {
		level.Info(p.cfg.logger).Log("msg", "connected to the broker", "exchange", p.cfg.exchange, "after_failures", p.failures)
	}
	p.failures, p.lastErr, p.retryAt = 0, nil, time.Time{}
	p.cur = pc
	return pc, nil
}

func (p *Publisher) connect(ctx context.Context) (*pubConn, error) {
	conn, err := p.cfg.dial(ctx, p.url, "kitshop publisher to "+p.cfg.exchange)
	if err != nil {
		return nil, fmt.Errorf("amqp: %w", err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err == nil {
		err = declareExchange(ch, p.cfg.exchange)
	}
	if err == nil {
		err = declareConsumers(ch, p.cfg)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("amqp: set up publishing: %w", err)
	}
	pc := &pubConn{conn: conn, ch: ch}
	blocks := conn.NotifyBlocked(make(chan amqp091.Blocking, 1))
	go func() { // ends when the connection closes
		for b := range blocks {
			if b.Active {
				level.Warn(p.cfg.logger).Log("msg", "the broker blocks publishing", "reason", b.Reason)
				pc.blocked.Store(&b.Reason)
			} else {
				pc.blocked.Store(nil)
			}
		}
	}()
	return pc, nil
}

// drop closes pc if it is still the current connection.
func (p *Publisher) drop(pc *pubConn) {
	p.lock <- struct{}{}
	defer func() { <-p.lock }()
	if p.cur == pc {
		p.cur = nil
	}
	pc.conn.Close()
}

// Close closes the connection. Publishes after it fail with ErrClosed.
func (p *Publisher) Close() error {
	p.lock <- struct{}{}
	defer func() { <-p.lock }()
	p.closed = true
	if p.cur == nil {
		return nil
	}
	err := p.cur.conn.Close()
	p.cur = nil
	if err != nil && !errors.Is(err, amqp091.ErrClosed) {
		return fmt.Errorf("amqp: close: %w", err)
	}
	return nil
}

// declareExchange declares the durable topic exchange events go to.
func declareExchange(ch *amqp091.Channel, name string) error {
	if err := ch.ExchangeDeclare(name, amqp091.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", name, err)
	}
	return nil
}

var (
	_ shop.Publisher      = (*Publisher)(nil)
	_ shop.BatchPublisher = (*Publisher)(nil)
)
