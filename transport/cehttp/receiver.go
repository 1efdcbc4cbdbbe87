package cehttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
)

// DefaultMaxBodyBytes is the default limit on the body of a push a
// Receiver takes: far more than any event of the shop needs.
const DefaultMaxBodyBytes = 1 << 20

// ReceiverOption configures NewReceiver. An option given a value it cannot
// use panics with a message naming it: such a value is a bug in the wiring.
type ReceiverOption func(*receiverOptions)

type receiverOptions struct {
	maxBody int64
}

// WithMaxBodyBytes sets the largest body a Receiver reads (default
// DefaultMaxBodyBytes); a longer one is answered 413 body_too_large.
func WithMaxBodyBytes(n int64) ReceiverOption {
	if n <= 0 {
		panic(fmt.Sprintf("cehttp: WithMaxBodyBytes(%d): want more than 0", n))
	}
	return func(o *receiverOptions) {
		o.maxBody = n
	}
}

// Receiver takes the events other services push to Path and runs the
// handlers subscribed to their type. It is a shop.Subscriber and the
// http.Handler of Path; make one with NewReceiver.
//
// A push is answered:
//
//   - 204 No Content once every handler of the event's type returned nil,
//     and at once when no handler is subscribed to it (nothing to do);
//   - 401 without a valid bearer token, 403 for a token of a role other
//     than service or admin;
//   - 415 unsupported_media_type for a body that is not a CloudEvent
//     (structured mode, Content-Type application/cloudevents+json, or
//     binary mode, with ce-* headers), 415 unsupported_data for data that
//     is not JSON;
//   - 400 bad_json or invalid_event for a malformed event, 413
//     body_too_large past the limit (WithMaxBodyBytes);
//   - 503 event_not_handled when a handler returned an error, and 500
//     internal when one panicked: the sender keeps the event and pushes it
//     again later.
//
// Errors come in the shop's shape ({"error":{"kind","code","message"}},
// see transport/http EncodeError).
//
// Handlers run one after another on the request's goroutine, with the
// request's context: it carries the caller's identity (shop.IdentityFrom)
// and request ID, and ends when the sender gives up waiting (a Publisher's
// attempt timeout, DefaultPushAttemptTimeout unless it was tuned), so a
// handler must finish well within it.
//
// Wrap the handlers with package inbox: it makes the pushes a sender
// repeats harmless, and parks an event that keeps failing in its own
// table. HTTP has no dead-letter queue, so do not give the inbox
// DeadLetterToTransport: a handler error that wraps shop.ErrDeadLetter
// (trying again cannot help) is answered 204 so the sender stops, and the
// receiver logs the whole event at error level, the only record of it.
type Receiver struct {
	v      shop.Verifier
	logger log.Logger
	o      receiverOptions
	serve  http.Handler

	mu       sync.RWMutex
	handlers map[string][]shop.Handler
}

// NewReceiver returns a Receiver with no handlers that checks callers'
// tokens with v (user.Tokens, or user.CheckAccounts around it) and logs to
// logger the events its handlers failed, gave up or panicked on. A nil v
// or logger panics (use log.NewNopLogger() for no logs).
func NewReceiver(v shop.Verifier, logger log.Logger, opts ...ReceiverOption) *Receiver {
	if v == nil {
		panic("cehttp: NewReceiver: want a shop.Verifier")
	}
	if logger == nil {
		panic("cehttp: NewReceiver: want a logger (log.NewNopLogger() for none)")
	}
	r := &Receiver{v: v, logger: logger, o: receiverOptions{maxBody: DefaultMaxBodyBytes}, handlers: map[string][]shop.Handler{}}
	for _, opt := range opts {
		opt(&r.o)
	}
	r.serve = shophttp.WithRequestID(http.HandlerFunc(r.receive))
	return r
}

// Subscribe adds h for events of eventType. It may be called while the
// receiver serves; a push runs the handlers subscribed when it arrived.
func (r *Receiver) Subscribe(eventType string, h shop.Handler) error {
	if eventType == "" || h == nil {
		return errors.New("cehttp: subscribe needs an event type and a handler")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[eventType] = append(r.handlers[eventType], h)
	return nil
}

// ServeHTTP takes one pushed event: POST Path. Another path is answered
// 404 route_not_found, another method 405 method_not_allowed.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.serve.ServeHTTP(w, req)
}

// receive is ServeHTTP behind the request ID.
func (r *Receiver) receive(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	if req.URL.Path != Path {
		shophttp.NotFound().ServeHTTP(w, req)
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		encodeError(ctx, fmt.Errorf("%w: %s takes POST only", shophttp.ErrMethodNotAllowed, Path), w)
		return
	}
	ctx = shophttp.Authenticate(r.v)(ctx, req)
	if _, err := shop.RequireRole(ctx, shop.RoleService, shop.RoleAdmin); err != nil {
		encodeError(ctx, err, w)
		return
	}
	e, err := r.decode(req)
	if err != nil {
		encodeError(ctx, err, w)
		return
	}
	if err := r.dispatch(ctx, e); err != nil {
		encodeError(ctx, err, w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decode reads the event of a push, in structured or binary mode.
func (r *Receiver) decode(req *http.Request) (shop.Event, error) {
	ct := req.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	var binary bool
	switch {
	case mt == ContentType:
	case strings.HasPrefix(mt, "application/cloudevents"):
		return shop.Event{}, &mediaTypeError{shop.E(shop.ErrInvalid, CodeUnsupportedMediaType,
			"Content-Type %q is not supported: send one event per request as %s", ct, ContentType)}
	case req.Header.Get(headerSpecVersion) != "":
		binary = true
	default:
		return shop.Event{}, &mediaTypeError{shop.E(shop.ErrInvalid, CodeUnsupportedMediaType,
			"Content-Type %q is not a CloudEvent: send %s (structured mode), or ce-* headers with JSON data (binary mode)", ct, ContentType)}
	}
	body, err := r.readBody(req)
	if err != nil {
		return shop.Event{}, err
	}
	if binary {
		return unmarshalBinary(req.Header, body)
	}
	return unmarshalStructured(body)
}

// readBody reads the request body, at most the receiver's limit.
func (r *Receiver) readBody(req *http.Request) ([]byte, error) {
	limit := r.o.maxBody
	tooLarge := fmt.Errorf("%w: the limit is %d bytes", shophttp.ErrBodyTooLarge, limit)
	if req.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return nil, errBodyRead
	}
	if int64(len(body)) > limit {
		return nil, tooLarge
	}
	return body, nil
}

// dispatch runs the handlers of e's type and says whether all took it.
func (r *Receiver) dispatch(ctx context.Context, e shop.Event) error {
	r.mu.RLock()
	hs := r.handlers[e.Type]
	r.mu.RUnlock()
	var (
		errs     []error
		panicked bool
	)
	for _, h := range hs {
		err := call(ctx, h, e)
		var p *panicError
		switch {
		case err == nil:
		case errors.As(err, &p):
			panicked = true
			errs = append(errs, err)
			level.Error(r.logger).Log("msg", "event handler panicked", "event_id", e.ID, "type", e.Type, "source", e.Source,
				"request_id", shop.RequestIDFrom(ctx), "panic", fmt.Sprint(p.value), "stack", string(p.stack))
		case errors.Is(err, shop.ErrDeadLetter):
			raw, _ := json.Marshal(e)
			level.Error(r.logger).Log("msg", "event handler gave the event up (dead letter); it is not asked for again", "event_id", e.ID,
				"type", e.Type, "source", e.Source, "request_id", shop.RequestIDFrom(ctx), "err", err, "event", string(raw))
		default:
			errs = append(errs, err)
			level.Warn(r.logger).Log("msg", "event not handled; the sender will push it again", "event_id", e.ID, "type", e.Type,
				"source", e.Source, "request_id", shop.RequestIDFrom(ctx), "err", err)
		}
	}
	switch {
	case len(errs) == 0:
		return nil
	case panicked:
		return errors.Join(errs...) // no kind: 500 internal, saying nothing of the panic
	}
	return shop.E(shop.ErrUnavailable, CodeEventNotHandled, "event %s (%s) was not handled; push it again later", e.ID, e.Type)
}

// panicError is a handler's panic, turned into an error.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("event handler panicked: %v", e.value) }

// call runs h, turning a panic into a *panicError.
func call(ctx context.Context, h shop.Handler, e shop.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: debug.Stack()}
		}
	}()
	return h(ctx, e)
}

// encodeError writes err in the shop's error shape: what
// shophttp.EncodeError writes, but 415 for a mediaTypeError.
func encodeError(ctx context.Context, err error, w http.ResponseWriter) {
	var mte *mediaTypeError
	if !errors.As(err, &mte) {
		shophttp.EncodeError(ctx, err, w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Accept-Post", ContentType)
	w.WriteHeader(http.StatusUnsupportedMediaType)
	body, _ := json.Marshal(shophttp.ErrorBody{Error: shop.DetailOf(mte.err)})
	w.Write(append(body, '\n'))
}

var (
	_ shop.Subscriber = (*Receiver)(nil)
	_ http.Handler    = (*Receiver)(nil)
)
