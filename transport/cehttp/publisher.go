package cehttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	shophttp "github.com/kitshop/shop/transport/http"
)

// The defaults of a Publisher, where they differ from discovery.NewEndpoint's.
const (
	// DefaultParallelism is how many events PublishBatch pushes at once.
	DefaultParallelism = 16
	// DefaultPushTimeout bounds one push to one service, retries included
	// (discovery.ClientTimeout). A relay publishes in the background, so
	// it can wait longer than a caller's request could.
	DefaultPushTimeout = 15 * time.Second
	// DefaultPushAttemptTimeout bounds one attempt on one instance
	// (discovery.ClientAttemptTimeout): the receiver's handlers must finish
	// within it, an inbox's retries of a failing handler included (five
	// attempts and 1.5s of backoff by default).
	DefaultPushAttemptTimeout = 5 * time.Second
)

// Subscription is one service that wants events pushed to it.
type Subscription struct {
	// Service names the consuming service, such as "inventory". It names
	// the client's errors (503 "inventory_unavailable"), logs and metrics,
	// as for discovery.NewEndpoint. Each service is listed once.
	Service string
	// Instancer reports the service's instances (discovery.StaticInstancer
	// or discovery.ConsulInstancer), each a base URL serving a Receiver at
	// Path. It stays the caller's, to stop when nothing else uses it.
	Instancer sd.Instancer
	// Types are the event types the service wants (shop.EventOrderPaid,
	// ...); at least one.
	Types []string
}

// PublisherOption configures NewPublisher. An option given a value it
// cannot use panics with a message naming it: such a value is a bug in the
// wiring.
type PublisherOption func(*publisherOptions)

type publisherOptions struct {
	client      []discovery.ClientOption
	parallelism int
	httpClient  *http.Client
}

// WithClientOptions tunes the client chain of every subscribed service
// (timeouts, retries, breakers, logger, metrics; see discovery.NewEndpoint).
// The defaults are discovery's, but for the timeouts (DefaultPushTimeout,
// DefaultPushAttemptTimeout) and retries: pushes are retried after any
// failure, as an event push is idempotent for its consumers. Options given
// here override those.
func WithClientOptions(opts ...discovery.ClientOption) PublisherOption {
	return func(o *publisherOptions) {
		o.client = append(o.client, opts...)
	}
}

// WithParallelism bounds how many pushes PublishBatch runs at once
// (default DefaultParallelism).
func WithParallelism(n int) PublisherOption {
	if n <= 0 {
		panic(fmt.Sprintf("cehttp: WithParallelism(%d): want more than 0", n))
	}
	return func(o *publisherOptions) {
		o.parallelism = n
	}
}

// WithHTTPClient sets the HTTP client the pushes go through (default
// transport/http NewClient(time.Minute), one connection pool for every
// instance). Its Timeout, if any, should be longer than the chain's
// attempt timeout, which bounds each request.
func WithHTTPClient(c *http.Client) PublisherOption {
	if c == nil {
		panic("cehttp: WithHTTPClient(nil): want a client")
	}
	return func(o *publisherOptions) {
		o.httpClient = c
	}
}

// Publisher pushes events to the services subscribed to their type. It is
// a shop.Publisher and a shop.BatchPublisher, for an outbox relay; make
// one with NewPublisher and Close it when done.
type Publisher struct {
	token   func() (string, error)
	http    *http.Client
	o       publisherOptions
	targets []*target
	ownHTTP bool // http is the publisher's own, to close
	closed  atomic.Bool
}

// target is one subscribed service: its client chain and the types it wants.
type target struct {
	service string
	types   map[string]bool
	push    endpoint.Endpoint
	closer  io.Closer
}

// push is the request the client chain carries to one instance.
type push struct {
	body  []byte
	token string
}

// NewPublisher returns a Publisher to the services of subs, each reached
// through its own discovery.NewEndpoint client chain (a breaker and a
// concurrency limit per instance, round-robin balancing, retries within an
// overall timeout; WithClientOptions tunes it) and authenticated with a bearer token from
// token (user.Tokens TokenSource for a service identity). It is an error to
// give no token source, a subscription without a service name, instancer
// or type, or one service twice.
func NewPublisher(token func() (string, error), subs []Subscription, opts ...PublisherOption) (*Publisher, error) {
	if token == nil {
		return nil, errors.New("cehttp: NewPublisher: want a token source")
	}
	o := publisherOptions{parallelism: DefaultParallelism}
	for _, opt := range opts {
		opt(&o)
	}
	own := o.httpClient == nil
	if own {
		o.httpClient = shophttp.NewClient(time.Minute)
	}
	p := &Publisher{token: token, http: o.httpClient, o: o, ownHTTP: own}
	seen := map[string]bool{}
	for i, s := range subs {
		switch {
		case s.Service == "" || s.Instancer == nil:
			p.Close()
			return nil, fmt.Errorf("cehttp: subscription %d: want a service name and an instancer", i)
		case len(s.Types) == 0 || slices.Contains(s.Types, ""):
			p.Close()
			return nil, fmt.Errorf("cehttp: subscription of %s: want one or more event types, none empty", s.Service)
		case seen[s.Service]:
			p.Close()
			return nil, fmt.Errorf("cehttp: service %s is subscribed twice; list all its types in one subscription", s.Service)
		}
		seen[s.Service] = true
		copts := append([]discovery.ClientOption{
			discovery.ClientTimeout(DefaultPushTimeout),
			discovery.ClientAttemptTimeout(DefaultPushAttemptTimeout),
			discovery.RetryIdempotent(func(any) bool { return true }),
		}, o.client...)
		ep, closer, err := discovery.NewEndpoint(s.Service, s.Instancer, p.factory, copts...)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("cehttp: client of %s: %w", s.Service, err)
		}
		t := &target{service: s.Service, types: map[string]bool{}, push: ep, closer: closer}
		for _, typ := range s.Types {
			t.types[typ] = true
		}
		p.targets = append(p.targets, t)
	}
	return p, nil
}

// factory makes the endpoint that pushes to one instance: a POST of the
// structured event to the instance's Path. A 2xx answer succeeds; any other
// is the error it carries (transport/http DecodeError), so a 4xx is a
// business error that neither opens a breaker nor is retried, and a 5xx is
// a failure of the instance.
func (p *Publisher) factory(instance string) (endpoint.Endpoint, io.Closer, error) {
	base, err := shophttp.InstanceURL(instance)
	if err != nil {
		return nil, nil, fmt.Errorf("cehttp: %w", err)
	}
	url := base.String() + Path
	return func(ctx context.Context, request any) (any, error) {
		pr := request.(push)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(pr.body))
		if err != nil {
			return nil, fmt.Errorf("cehttp: push to %s: %w", url, err)
		}
		req.Header.Set("Content-Type", ContentType+"; charset=utf-8")
		req.Header.Set("Authorization", "Bearer "+pr.token)
		shophttp.PassRequestID(ctx, req)
		resp, err := p.http.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil, shophttp.DecodeError(resp)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
		return struct{}{}, nil
	}, nil, nil
}

// Publish pushes e to every subscribed service whose types include e's
// type, to all of them at once, and returns nil only when each answered
// 2xx; an event no service wants is nil at once. Otherwise the error joins
// one error per service that did not take it, each naming the service and
// keeping the kind of the cause (errors.Is(err, shop.ErrUnavailable) when
// no instance of a service could take it, 503 "<service>_unavailable"). The
// caller publishes again later, and the services that took e see it again.
//
// An event that is not a valid CloudEvent (no id, source or type,
// specversion other than "1.0", data that is not JSON) is an ErrInvalid
// error, and nothing is sent.
func (p *Publisher) Publish(ctx context.Context, e shop.Event) error {
	if p.closed.Load() {
		return errors.New("cehttp: publisher closed")
	}
	var targets []*target
	for _, t := range p.targets {
		if t.types[e.Type] {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	body, err := marshalStructured(e)
	if err != nil {
		return fmt.Errorf("cehttp: %w", err)
	}
	token, err := p.token()
	if err != nil {
		return fmt.Errorf("cehttp: service token: %w", err)
	}
	req := push{body: body, token: token}
	if len(targets) == 1 {
		return pushTo(ctx, targets[0], req, e)
	}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets[1:] {
		wg.Go(func() { errs[i+1] = pushTo(ctx, t, req, e) })
	}
	errs[0] = pushTo(ctx, targets[0], req, e)
	wg.Wait()
	return errors.Join(errs...)
}

// pushTo pushes req, the body of e, to t.
func pushTo(ctx context.Context, t *target, req push, e shop.Event) error {
	if _, err := t.push(ctx, req); err != nil {
		return fmt.Errorf("cehttp: push %s event %s to %s: %w", e.Type, e.ID, t.service, err)
	}
	return nil
}

// PublishBatch publishes events as Publish does, several at once (at most
// WithParallelism events, each to its services at once), and returns one error per event, nil for each one every
// service took. Events of one subject are pushed one after another, in
// their order in the batch, and once one fails the later ones of its
// subject are not pushed (their error says so), so a consumer never sees
// them out of order; events without a subject are independent. (The outbox
// relay never puts two events of one subject in a batch.)
func (p *Publisher) PublishBatch(ctx context.Context, events []shop.Event) []error {
	errs := make([]error, len(events))
	var (
		groups  [][]int // indexes into events, one group per subject
		subject = map[string]int{}
	)
	for i, e := range events {
		if e.Subject == "" {
			groups = append(groups, []int{i})
			continue
		}
		g, ok := subject[e.Subject]
		if !ok {
			g = len(groups)
			subject[e.Subject] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	run := func(group []int) {
		for n, i := range group {
			if err := ctx.Err(); err != nil {
				errs[i] = fmt.Errorf("cehttp: %s event %s not pushed: %w", events[i].Type, events[i].ID, err)
				continue
			}
			errs[i] = p.Publish(ctx, events[i])
			if errs[i] != nil {
				for _, j := range group[n+1:] {
					errs[j] = fmt.Errorf("cehttp: %s event %s not pushed: event %s of subject %q before it was not taken",
						events[j].Type, events[j].ID, events[i].ID, events[j].Subject)
				}
				return
			}
		}
	}
	sem := make(chan struct{}, p.o.parallelism)
	var wg sync.WaitGroup
	for _, g := range groups {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			run(g)
		})
	}
	wg.Wait()
	return errs
}

// Close stops the client chains: they stop following their instancers
// (which stay the caller's to stop) and later calls of Publish fail.
func (p *Publisher) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, t := range p.targets {
		if err := t.closer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cehttp: close client of %s: %w", t.service, err))
		}
	}
	if p.ownHTTP {
		p.http.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

var (
	_ shop.Publisher      = (*Publisher)(nil)
	_ shop.BatchPublisher = (*Publisher)(nil)
)
