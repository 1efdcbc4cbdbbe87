package amqp

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/go-kit/log"
	amqp091 "github.com/rabbitmq/amqp091-go"
)

// Defaults of the options.
const (
	DefaultExchange       = "kitshop.events"
	DefaultQueuePrefix    = "kitshop"
	DefaultPrefetch       = 64
	DefaultConfirmTimeout = 5 * time.Second
	DefaultDialTimeout    = 5 * time.Second
	DefaultHeartbeat      = 10 * time.Second
	DefaultMinReconnect   = 100 * time.Millisecond
	DefaultMaxReconnect   = 10 * time.Second
	DefaultMinRetry       = 200 * time.Millisecond
	DefaultMaxRetry       = 10 * time.Second
	DefaultShutdownGrace  = 5 * time.Second
)

// ContentType is the content type of every message: the body is a
// shop.Event in CloudEvents' structured JSON mode.
const ContentType = "application/cloudevents+json"

// Option configures a Publisher, a Subscriber or DeleteExchanges. Options
// that concern only one of them (the prefetch limit, say) are ignored by
// the others. An option given a value it cannot use panics, naming itself.
type Option func(*config)

type config struct {
	exchange       string
	queuePrefix    string
	logger         log.Logger
	prefetch       int
	confirmTimeout time.Duration
	dialTimeout    time.Duration
	heartbeat      time.Duration
	minReconnect   time.Duration
	maxReconnect   time.Duration
	minRetry       time.Duration
	maxRetry       time.Duration
	shutdownGrace  time.Duration
	concurrency    int
	consumers      map[string][]string // service -> types, declared by publishers
}

func newConfig(opts []Option) config {
	c := config{
		exchange:       DefaultExchange,
		queuePrefix:    DefaultQueuePrefix,
		logger:         log.NewNopLogger(),
		prefetch:       DefaultPrefetch,
		confirmTimeout: DefaultConfirmTimeout,
		dialTimeout:    DefaultDialTimeout,
		heartbeat:      DefaultHeartbeat,
		minReconnect:   DefaultMinReconnect,
		maxReconnect:   DefaultMaxReconnect,
		minRetry:       DefaultMinRetry,
		maxRetry:       DefaultMaxRetry,
		shutdownGrace:  DefaultShutdownGrace,
		concurrency:    1,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// deadLetterExchange is where the broker sends what a consumer rejects.
func (c config) deadLetterExchange() string { return c.exchange + ".dlx" }

// WithExchange sets the topic exchange events are published to and queues
// are bound to (default DefaultExchange). Its dead-letter exchange is the
// same name with ".dlx" appended. It panics on an empty name.
func WithExchange(name string) Option {
	if name == "" {
		panic("amqp.WithExchange: need a name")
	}
	return func(c *config) { c.exchange = name }
}

// WithQueuePrefix sets what a service's queue name starts with (default
// DefaultQueuePrefix): the queue of service "inventory" is
// "<prefix>.inventory" and its dead letters wait in
// "<prefix>.inventory.dead". Tests give each run a prefix of its own. It
// panics on an empty prefix.
func WithQueuePrefix(prefix string) Option {
	if prefix == "" {
		panic("amqp.WithQueuePrefix: need a prefix")
	}
	return func(c *config) { c.queuePrefix = prefix }
}

// WithLogger sets where connection losses, reconnections, redeliveries
// and dead letters are reported (default none).
func WithLogger(l log.Logger) Option {
	if l == nil {
		panic("amqp.WithLogger: need a logger (log.NewNopLogger() for none)")
	}
	return func(c *config) { c.logger = l }
}

// WithPrefetch sets how many unacknowledged messages the broker sends a
// Subscriber ahead of its handler (default DefaultPrefetch). It panics
// unless 1 <= n <= 65535.
func WithPrefetch(n int) Option {
	if n < 1 || n > 65535 {
		panic(fmt.Sprintf("amqp.WithPrefetch: need 1..65535, got %d", n))
	}
	return func(c *config) { c.prefetch = n }
}

// WithConcurrency sets how many events a Subscriber handles at the same
// time (default 1: one after another, in delivery order). With n > 1 the
// events are spread over n workers by subject: all events of one subject
// (an order, a product; events without a subject count as one subject) go
// to the same worker in delivery order, so they are still handled in
// order, while events of different subjects are handled side by side and
// their database transactions can share commits. The prefetch limit must
// be at least n. It panics unless 1 <= n <= 1024.
func WithConcurrency(n int) Option {
	if n < 1 || n > 1024 {
		panic(fmt.Sprintf("amqp.WithConcurrency: need 1..1024, got %d", n))
	}
	return func(c *config) { c.concurrency = n }
}

// WithConfirmTimeout bounds how long a publish waits for the broker's
// confirm (default DefaultConfirmTimeout); an event not confirmed in time
// is reported as not published, and the connection is dropped because it
// can no longer be trusted. It panics on a non-positive duration.
func WithConfirmTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("amqp.WithConfirmTimeout: need a positive duration, got %s", d))
	}
	return func(c *config) { c.confirmTimeout = d }
}

// WithDialTimeout bounds connecting to the broker, TCP and AMQP handshake
// together (default DefaultDialTimeout). It panics on a non-positive
// duration.
func WithDialTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("amqp.WithDialTimeout: need a positive duration, got %s", d))
	}
	return func(c *config) { c.dialTimeout = d }
}

// WithHeartbeat sets the AMQP heartbeat interval (default
// DefaultHeartbeat): a connection whose broker went silent is noticed
// after about two intervals. It panics on a duration under a second.
func WithHeartbeat(d time.Duration) Option {
	if d < time.Second {
		panic(fmt.Sprintf("amqp.WithHeartbeat: need at least 1s, got %s", d))
	}
	return func(c *config) { c.heartbeat = d }
}

// WithReconnectBackoff sets the wait after a failed connection attempt,
// doubled after each next failure up to max (defaults DefaultMinReconnect,
// DefaultMaxReconnect). While a Publisher waits, its publishes fail at
// once. It panics unless 0 < min <= max.
func WithReconnectBackoff(min, max time.Duration) Option {
	if min <= 0 || max < min {
		panic(fmt.Sprintf("amqp.WithReconnectBackoff: need 0 < min <= max, got %s, %s", min, max))
	}
	return func(c *config) { c.minReconnect, c.maxReconnect = min, max }
}

// WithRetryBackoff sets how long a Subscriber waits before a message whose
// handler failed goes back to the queue, doubled after each consecutive
// failure up to max (defaults DefaultMinRetry, DefaultMaxRetry). It panics
// unless 0 < min <= max.
func WithRetryBackoff(min, max time.Duration) Option {
	if min <= 0 || max < min {
		panic(fmt.Sprintf("amqp.WithRetryBackoff: need 0 < min <= max, got %s, %s", min, max))
	}
	return func(c *config) { c.minRetry, c.maxRetry = min, max }
}

// WithShutdownGrace sets how long a stopping Subscriber waits for a handler
// still running after its context was cancelled (default
// DefaultShutdownGrace). A handler that returns nil in time has its message
// acknowledged; otherwise the message goes back to the queue. It panics on
// a negative duration.
func WithShutdownGrace(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("amqp.WithShutdownGrace: need a duration >= 0, got %s", d))
	}
	return func(c *config) { c.shutdownGrace = d }
}

// backoff returns the wait before attempt n+1 after n consecutive failures
// (n >= 1): min, doubled each time, capped at max.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// dial connects to url within the dial timeout and ctx. name is the
// connection name the broker's tools show.
func (c config) dial(ctx context.Context, url, name string) (*amqp091.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := c.dialTimeout
	props := amqp091.NewConnectionProperties()
	props.SetClientConnectionName(name)
	var stop func() bool
	conn, err := amqp091.DialConfig(url, amqp091.Config{
		Properties: props,
		Heartbeat:  c.heartbeat,
		Locale:     "en_US",
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout}
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The deadline bounds the AMQP handshake; the client clears it
			// once the connection is open. A cancelled ctx ends the
			// handshake at once.
			if err := nc.SetDeadline(time.Now().Add(timeout)); err != nil {
				nc.Close()
				return nil, err
			}
			stop = context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
			return nc, nil
		},
	})
	if stop != nil && !stop() || err != nil && ctx.Err() != nil {
		// ctx ended during or just after the handshake: the deadline
		// then set may break the connection later, so it is not used.
		if err == nil {
			conn.Close()
		}
		return nil, fmt.Errorf("connect to the broker: %w", ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("connect to the broker: %w", err)
	}
	return conn, nil
}

// sleep waits d or until ctx is done, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
