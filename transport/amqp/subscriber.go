package amqp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log/level"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/kitshop/shop"
)

// The headers a Subscriber sets on a message it parks in its dead-letter
// queue.
const (
	// HeaderReason holds the handler's error (or why the body is not an event).
	HeaderReason = "x-kitshop-reason"
	// HeaderAttempts holds how many times this subscriber handed the event
	// to its handler in a row before giving up.
	HeaderAttempts = "x-kitshop-attempts"
	// HeaderParkedAt holds when it was parked, in Unix milliseconds.
	HeaderParkedAt = "x-kitshop-parked-at"
	// HeaderConsumer holds the consuming service.
	HeaderConsumer = "x-kitshop-consumer"
)

// Subscriber consumes the events one service subscribed to from that
// service's own durable queue, so every service gets each event once,
// however many other services consume it too. Create it with
// NewSubscriber, call Subscribe for each event type, then Start or Run.
//
// The topology, declared on every (re)connection: the topic exchange; the
// queue "<prefix>.<service>", bound to the exchange once per subscribed
// type and carrying x-dead-letter-exchange "<exchange>.dlx"; that direct
// exchange; and the dead-letter queue "<prefix>.<service>.dead", bound to
// it with the queue's name as routing key.
//
// Handling is sequential, in delivery order, so the events of one subject
// are handled in the order they were published. WithConcurrency spreads
// the events over several workers by subject: the events of one subject
// then still go one after another, in order, while different subjects
// are handled side by side. What a handler's result does to its message:
//
//   - nil: the message is acknowledged.
//   - an error wrapping shop.ErrDeadLetter: the message is parked in the
//     dead-letter queue with the error as its reason (logged at warn), where
//     DeadLetters lists it and Replay hands it back.
//   - any other error, or a panic: a transient failure. After a backoff
//     that grows with consecutive failures (WithRetryBackoff) the message
//     and the ones delivered after it that are not being handled yet go
//     back to the queue in their places (the channel is reopened), so it
//     is handled again before them and order holds.
//   - the subscriber stopping mid-handling: the handler's context is
//     cancelled; unless it returns nil within the shutdown grace, its
//     message stays unacknowledged and the broker delivers it again.
//
// A body that is not an event is parked at once. A message of a type no
// handler is subscribed to (a binding left by an earlier version of the
// service) is acknowledged, dropped and its binding removed.
//
// This package retries a failing handler without end: a poison event
// holds up the queue. Bounding the attempts is the inbox's job: wrap the
// handlers with package inbox and its DeadLetterToTransport option, which
// tries an event a few times with backoff and then returns an error
// wrapping shop.ErrDeadLetter, so the event is parked here; the inbox also
// makes redelivered events (which at-least-once delivery brings) harmless.
//
// After the connection is lost, the subscriber reconnects with backoff by
// itself, declares everything again and resumes.
type Subscriber struct {
	url       string
	service   string
	cfg       config
	queue     string
	deadQueue string

	mu       sync.Mutex
	handlers map[string][]shop.Handler
	started  bool
	done     chan struct{} // closed when consuming has stopped

	admin chan struct{} // held by DeadLetters and Replay, one at a time
}

// NewSubscriber returns the subscriber of service (such as "inventory") to
// the broker at url. It does not connect yet. It fails only for a
// malformed url, an empty service name, or a prefetch limit below the
// concurrency.
func NewSubscriber(url, service string, opts ...Option) (*Subscriber, error) {
	if service == "" {
		return nil, errors.New("amqp: a subscriber needs a service name")
	}
	if _, err := amqp091.ParseURI(url); err != nil {
		return nil, fmt.Errorf("amqp: broker URL: %w", err)
	}
	cfg := newConfig(opts)
	if cfg.prefetch < cfg.concurrency {
		return nil, fmt.Errorf("amqp: a prefetch of %d cannot keep %d workers busy", cfg.prefetch, cfg.concurrency)
	}
	q, dead := cfg.queueNames(service)
	return &Subscriber{url: url, service: service, cfg: cfg, queue: q, deadQueue: dead,
		handlers: map[string][]shop.Handler{}, done: make(chan struct{}), admin: make(chan struct{}, 1)}, nil
}

// Service returns the consuming service's name.
func (s *Subscriber) Service() string { return s.service }

// Queue returns the name of the service's queue.
func (s *Subscriber) Queue() string { return s.queue }

// DeadLetterQueue returns the name of the queue its dead letters wait in.
func (s *Subscriber) DeadLetterQueue() string { return s.deadQueue }

// Subscribe adds h for events of eventType (an exact type such as
// "order.paid"; wildcards are refused). Several handlers of one type are
// called in turn, and the message counts as handled only when all
// succeeded. Subscribe before Start or Run.
func (s *Subscriber) Subscribe(eventType string, h shop.Handler) error {
	if eventType == "" || h == nil {
		return errors.New("amqp: subscribe needs an event type and a handler")
	}
	if strings.ContainsAny(eventType, "*#") {
		return fmt.Errorf("amqp: subscribe needs an exact event type, got %q", eventType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("amqp: subscribe %s: the subscriber is already consuming", eventType)
	}
	s.handlers[eventType] = append(s.handlers[eventType], h)
	return nil
}

// Start connects, declares the topology and starts consuming, then returns;
// consuming goes on in the background until ctx is done (Done tells when it
// has stopped). It returns an error, and consumes nothing, when the broker
// cannot be reached or the declarations fail; Start may then be called
// again. Once Start returned nil, events published are kept in the
// service's queue even while the subscriber is disconnected.
func (s *Subscriber) Start(ctx context.Context) error {
	if err := s.begin(); err != nil {
		return err
	}
	sc, err := s.open(ctx)
	if err != nil {
		s.mu.Lock()
		s.started = false
		s.mu.Unlock()
		return err
	}
	go func() {
		defer close(s.done)
		s.loop(ctx, sc)
	}()
	return nil
}

// Run consumes until ctx is done, connecting (and reconnecting) with
// backoff as long as it takes, and returns once the handler that was
// running has finished or been given up. It returns an error only when
// the subscriber has no subscriptions or is already consuming.
func (s *Subscriber) Run(ctx context.Context) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer close(s.done)
	s.loop(ctx, nil)
	return nil
}

// Done is closed once consuming started by Start or Run has stopped and
// the connection is closed.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

func (s *Subscriber) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("amqp: the subscriber is already consuming")
	}
	if len(s.handlers) == 0 {
		return errors.New("amqp: the subscriber has no subscriptions")
	}
	s.started = true
	return nil
}

// handlersOf returns the handlers of an event type. After begin the map no
// longer changes.
func (s *Subscriber) handlersOf(eventType string) []shop.Handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handlers[eventType]
}

// subConn is one connection with its consuming channel.
type subConn struct {
	conn       *amqp091.Connection
	ch         *amqp091.Channel
	deliveries <-chan amqp091.Delivery
	closes     chan *amqp091.Error

	mu      sync.Mutex       // held by workers for parking and unbinding
	park    *amqp091.Channel // confirm mode, for parking dead letters; opened on first use
	returns chan amqp091.Return
}

func (sc *subConn) close() { sc.conn.Close() }

// lost says why the deliveries stopped.
func (sc *subConn) lost() error {
	select {
	case e := <-sc.closes:
		if e != nil {
			return fmt.Errorf("amqp: consuming stopped: %w", e)
		}
	default:
	}
	return errors.New("amqp: consuming stopped: channel closed")
}

// open connects, declares the topology and starts consuming.
func (s *Subscriber) open(ctx context.Context) (*subConn, error) {
	conn, err := s.cfg.dial(ctx, s.url, "kitshop "+s.service+" subscriber")
	if err != nil {
		return nil, fmt.Errorf("amqp: %w", err)
	}
	sc, err := s.consumeOn(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("amqp: set up consuming from %s: %w", s.queue, err)
	}
	return sc, nil
}

func (s *Subscriber) consumeOn(conn *amqp091.Connection) (*subConn, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := s.declare(ch); err != nil {
		return nil, err
	}
	if err := ch.Qos(s.cfg.prefetch, 0, false); err != nil {
		return nil, fmt.Errorf("set prefetch: %w", err)
	}
	closes := ch.NotifyClose(make(chan *amqp091.Error, 1))
	deliveries, err := ch.Consume(s.queue, s.service+"-"+shop.NewID(), false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	return &subConn{conn: conn, ch: ch, deliveries: deliveries, closes: closes}, nil
}

// declare declares the exchanges, the queues and the bindings.
func (s *Subscriber) declare(ch *amqp091.Channel) error {
	s.mu.Lock()
	types := make([]string, 0, len(s.handlers))
	for t := range s.handlers {
		types = append(types, t)
	}
	s.mu.Unlock()
	return declareConsumer(ch, s.cfg, s.queue, s.deadQueue, types)
}

// errRedeliver ends a session so that the unacknowledged messages go back
// to the queue in their places.
var errRedeliver = errors.New("amqp: redeliver")

// consumer is one worker of a Start or Run: it handles the events of its
// subjects one after another. Its state outlives sessions, so an event
// delivered again after a failure counts as one more attempt.
type consumer struct {
	s *Subscriber
	// failures counts consecutive failed handlings; lastID and attempts
	// count the attempts at the event handled last.
	failures int
	lastID   string
	attempts int
	// run runs the handlers on a goroutine kept from one event to the
	// next, whose stack has grown to what they need; nil until the first
	// event, and again after a handler was given up on.
	run *runner
}

// runner is a goroutine that runs handlers, one call at a time.
type runner struct {
	calls chan handlerCall
}

type handlerCall struct {
	ctx context.Context
	e   shop.Event
	hs  []shop.Handler
	res chan error
}

func newRunner() *runner {
	r := &runner{calls: make(chan handlerCall)}
	go func() {
		for c := range r.calls {
			var errs []error
			for _, h := range c.hs {
				if err := safeCall(c.ctx, h, c.e); err != nil {
					errs = append(errs, err)
				}
			}
			c.res <- errors.Join(errs...)
		}
	}()
	return r
}

// stop lets the runner's goroutine end once its current call returns.
func (c *consumer) stop() {
	if c.run != nil {
		close(c.run.calls)
		c.run = nil
	}
}

func (s *Subscriber) loop(ctx context.Context, sc *subConn) {
	workers := make([]*consumer, s.cfg.concurrency)
	for i := range workers {
		workers[i] = &consumer{s: s}
	}
	defer func() {
		for _, w := range workers {
			w.stop()
		}
	}()
	logger := level.Warn(s.cfg.logger)
	down := 0 // consecutive connection failures
	for {
		if sc == nil {
			var err error
			if sc, err = s.open(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				down++
				wait := backoff(down, s.cfg.minReconnect, s.cfg.maxReconnect)
				logger.Log("msg", "cannot consume; retrying", "queue", s.queue, "retry_in", wait, "err", err)
				if !sleep(ctx, wait) {
					return
				}
				continue
			}
			if down > 0 {
				level.Info(s.cfg.logger).Log("msg", "consuming again", "queue", s.queue)
			}
		}
		began := time.Now()
		err := s.consume(ctx, sc, workers)
		sc.close()
		sc = nil
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errRedeliver) {
			continue
		}
		// A connection that broke at once counts as one more failure;
		// one that served a while starts the backoff afresh.
		if time.Since(began) < time.Second {
			down++
		} else {
			down = 1
		}
		wait := backoff(down, s.cfg.minReconnect, s.cfg.maxReconnect)
		logger.Log("msg", "broker connection lost; reconnecting", "queue", s.queue, "retry_in", wait, "err", err)
		if !sleep(ctx, wait) {
			return
		}
	}
}

// delivery is a message with the event decoded from it (or why not).
type delivery struct {
	d   amqp091.Delivery
	e   shop.Event
	err error
}

// consume hands deliveries to the workers until ctx is done (nil) or the
// session must end (the reason). Each worker gets the events of its
// subjects in delivery order. Once the session ends, workers finish the
// event they are handling and leave the rest unacknowledged, for the
// broker to deliver again in their places.
func (s *Subscriber) consume(ctx context.Context, sc *subConn, workers []*consumer) error {
	halt := make(chan struct{})
	ended := make(chan error, len(workers))
	queues := make([]chan delivery, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		// No queue can hold more than the prefetch limit, so the
		// dispatcher below never waits for a busy worker.
		q := make(chan delivery, s.cfg.prefetch)
		queues[i] = q
		wg.Go(func() {
			for m := range q {
				select {
				case <-halt:
					continue
				default:
				}
				if err := w.deliver(ctx, sc, m); err != nil {
					ended <- err
					<-halt
				}
			}
		})
	}
	var reason error
loop:
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case reason = <-ended:
			break loop
		case d, ok := <-sc.deliveries:
			if !ok {
				reason = sc.lost()
				break loop
			}
			m := delivery{d: d}
			m.e, m.err = decode(d.Body)
			if tp, ok := d.Headers["traceparent"].(string); ok && m.e.TraceParent == "" {
				// A publisher that sent the trace context in headers only.
				m.e.TraceParent = tp
				m.e.TraceState, _ = d.Headers["tracestate"].(string)
			}
			queues[worker(m.e.Subject, len(queues))] <- m
		}
	}
	close(halt)
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	return reason
}

// worker picks the worker of a subject.
func worker(subject string, n int) int {
	if n == 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(subject))
	return int(h.Sum32() % uint32(n))
}

// deliver hands one message to its handlers and settles it.
func (c *consumer) deliver(ctx context.Context, sc *subConn, m delivery) error {
	s, d, e := c.s, m.d, m.e
	if m.err != nil {
		return c.park(sc, d, "", "not a valid event: "+m.err.Error(), 0)
	}
	hs := s.handlersOf(e.Type)
	if len(hs) == 0 {
		level.Warn(s.cfg.logger).Log("msg", "no handler for this event type; dropped", "queue", s.queue,
			"event_id", e.ID, "type", e.Type)
		if d.Exchange == s.cfg.exchange && d.RoutingKey != "" && len(s.handlersOf(d.RoutingKey)) == 0 {
			sc.mu.Lock()
			err := sc.ch.QueueUnbind(s.queue, d.RoutingKey, s.cfg.exchange, nil)
			sc.mu.Unlock()
			if err != nil {
				return fmt.Errorf("amqp: remove the binding of %s: %w", d.RoutingKey, err)
			}
		}
		return ack(d, e)
	}
	if e.ID == c.lastID {
		c.attempts++
	} else {
		c.lastID, c.attempts = e.ID, 1
	}
	err := c.call(ctx, e, hs)
	switch {
	case err == nil:
		c.failures = 0
		return ack(d, e)
	case errors.Is(err, shop.ErrDeadLetter):
		c.failures = 0
		return c.park(sc, d, e.Type, err.Error(), c.attempts)
	case ctx.Err() != nil:
		// Stopping: the message stays unacknowledged, and closing the
		// connection gives it back to the broker.
		level.Info(s.cfg.logger).Log("msg", "stopped while handling; the event will be delivered again", "queue", s.queue,
			"event_id", e.ID, "type", e.Type, "err", err)
		return nil
	}
	c.failures++
	wait := backoff(c.failures, s.cfg.minRetry, s.cfg.maxRetry)
	level.Warn(s.cfg.logger).Log("msg", "handler failed; the event goes back to the queue", "queue", s.queue,
		"event_id", e.ID, "type", e.Type, "attempt", c.attempts, "retry_in", wait, "err", err)
	if !sleep(ctx, wait) {
		return nil
	}
	return errRedeliver
}

// call runs the handlers on the worker's runner goroutine, so that a
// stopping subscriber can give up on one that does not return.
func (c *consumer) call(ctx context.Context, e shop.Event, hs []shop.Handler) error {
	if c.run == nil {
		c.run = newRunner()
	}
	res := make(chan error, 1)
	c.run.calls <- handlerCall{ctx: ctx, e: e, hs: hs, res: res}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(c.s.cfg.shutdownGrace)
	defer t.Stop()
	select {
	case err := <-res:
		return err
	case <-t.C:
		c.stop() // busy with the abandoned call; the next event gets a new one
		return fmt.Errorf("handler of %s still running %s after the subscriber stopped: %w", e.Type, c.s.cfg.shutdownGrace, ctx.Err())
	}
}

func safeCall(ctx context.Context, h shop.Handler, e shop.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler of %s panicked: %v", e.Type, p)
		}
	}()
	return h(ctx, e)
}

func ack(d amqp091.Delivery, e shop.Event) error {
	if err := d.Ack(false); err != nil {
		return fmt.Errorf("amqp: acknowledge %s %s (it will be delivered again): %w", e.Type, e.ID, err)
	}
	return nil
}

// park moves d to the dead-letter queue: a copy with the reason in its
// headers is published there and confirmed, then d is acknowledged. If
// that fails, d is rejected and the broker dead-letters it (its x-death
// header then says "rejected", and the reason is only in the log).
func (c *consumer) park(sc *subConn, d amqp091.Delivery, eventType, reason string, attempts int) error {
	s := c.s
	level.Warn(s.cfg.logger).Log("msg", "event parked as a dead letter", "queue", s.queue,
		"event_id", d.MessageId, "type", eventType, "attempts", attempts, "reason", reason)
	if err := s.publishDead(sc, d, reason, attempts); err != nil {
		level.Warn(s.cfg.logger).Log("msg", "could not park the event with its reason; rejecting it to the dead-letter exchange",
			"queue", s.queue, "event_id", d.MessageId, "err", err)
		if err := d.Nack(false, false); err != nil {
			return fmt.Errorf("amqp: reject %s (it will be delivered again): %w", d.MessageId, err)
		}
		return nil
	}
	if err := d.Ack(false); err != nil {
		return fmt.Errorf("amqp: acknowledge parked %s (it will be delivered again): %w", d.MessageId, err)
	}
	return nil
}

func (s *Subscriber) publishDead(sc *subConn, d amqp091.Delivery, reason string, attempts int) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.park == nil || sc.park.IsClosed() {
		ch, err := sc.conn.Channel()
		if err != nil {
			return err
		}
		if err := ch.Confirm(false); err != nil {
			ch.Close()
			return err
		}
		sc.park, sc.returns = ch, ch.NotifyReturn(make(chan amqp091.Return, 4))
	}
	headers := amqp091.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	headers[HeaderReason] = reason
	headers[HeaderAttempts] = int64(attempts)
	headers[HeaderParkedAt] = time.Now().UnixMilli()
	headers[HeaderConsumer] = s.service
	return confirmed(sc.park, sc.returns, "", s.deadQueue, republished(d, headers), s.cfg.confirmTimeout)
}

// confirmed publishes msg as mandatory on the confirm-mode channel ch and
// waits for the broker's confirm; a message no queue took (it came back on
// returns) is an error.
func confirmed(ch *amqp091.Channel, returns chan amqp091.Return, exchange, key string, msg amqp091.Publishing, timeout time.Duration) error {
	for drained := false; !drained; { // returns of earlier, given-up publishes
		select {
		case <-returns:
		default:
			drained = true
		}
	}
	dc, err := ch.PublishWithDeferredConfirm(exchange, key, true, false, msg)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", key, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-dc.Done():
	case <-t.C:
		return fmt.Errorf("publish to %s: no confirm within %s", key, timeout)
	}
	if !dc.Acked() {
		return fmt.Errorf("publish to %s: not confirmed", key)
	}
	// The broker returns an unroutable message before it confirms it.
	select {
	case r := <-returns:
		return fmt.Errorf("publish to %s: returned by the broker: %s", key, r.ReplyText)
	default:
	}
	return nil
}

// republished is d as a message to publish again, with headers.
func republished(d amqp091.Delivery, headers amqp091.Table) amqp091.Publishing {
	return amqp091.Publishing{
		Headers:         headers,
		ContentType:     d.ContentType,
		ContentEncoding: d.ContentEncoding,
		DeliveryMode:    amqp091.Persistent,
		Priority:        d.Priority,
		CorrelationId:   d.CorrelationId,
		ReplyTo:         d.ReplyTo,
		MessageId:       d.MessageId,
		Timestamp:       d.Timestamp,
		Type:            d.Type,
		AppId:           d.AppId,
		Body:            d.Body,
	}
}

// decode reads an event from a message body.
func decode(body []byte) (shop.Event, error) {
	var e shop.Event
	if err := json.Unmarshal(body, &e); err != nil {
		return shop.Event{}, err
	}
	if e.ID == "" || e.Type == "" {
		return shop.Event{}, fmt.Errorf("id %q or type %q missing", e.ID, e.Type)
	}
	return e, nil
}

var _ shop.Subscriber = (*Subscriber)(nil)
