package main

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/transport"
	natstransport "github.com/go-kit/kit/transport/nats"
	"github.com/go-kit/log"
	"github.com/nats-io/nats.go"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
)

// The subjects the catalog answers on, below a prefix such as "kitshop.catalog".
const (
	subjectCreate = ".create"
	subjectGet    = ".get"
	subjectUpdate = ".update"
	subjectDelete = ".delete"
	subjectList   = ".list"
)

// Serve answers the catalog's subjects below prefix with e until stop is
// called. Bearer tokens in the Authorization header are verified with v.
func Serve(nc *nats.Conn, prefix string, e catalog.Endpoints, v shop.Verifier, logger log.Logger) (stop func(), err error) {
	opts := []natstransport.SubscriberOption{
		natstransport.SubscriberBefore(identify(v)),
		natstransport.SubscriberErrorEncoder(encodeError),
		natstransport.SubscriberErrorHandler(transport.NewLogErrorHandler(logger)),
	}
	routes := map[string]*natstransport.Subscriber{
		subjectCreate: natstransport.NewSubscriber(e.CreateProductEndpoint, decode[catalog.CreateProductRequest], encodeResponse, opts...),
		subjectGet:    natstransport.NewSubscriber(e.GetProductEndpoint, decode[catalog.GetProductRequest], encodeResponse, opts...),
		subjectUpdate: natstransport.NewSubscriber(e.UpdateProductEndpoint, decode[catalog.UpdateProductRequest], encodeResponse, opts...),
		subjectDelete: natstransport.NewSubscriber(e.DeleteProductEndpoint, decode[catalog.DeleteProductRequest], encodeResponse, opts...),
		subjectList:   natstransport.NewSubscriber(e.ListProductsEndpoint, decode[catalog.ListProductsRequest], encodeResponse, opts...),
	}
	var subs []*nats.Subscription
	stop = func() {
		for _, s := range subs {
			s.Unsubscribe()
		}
	}
	for subject, s := range routes {
		sub, err := nc.QueueSubscribe(prefix+subject, "catalog", s.ServeMsg(nc))
		if err != nil {
			stop()
			return nil, err
		}
		subs = append(subs, sub)
	}
	return stop, nc.Flush()
}

// identify puts the request ID and the verified caller into the context.
func identify(v shop.Verifier) natstransport.RequestFunc {
	return func(ctx context.Context, msg *nats.Msg) context.Context {
		token, _ := strings.CutPrefix(msg.Header.Get("Authorization"), "Bearer ")
		return shop.Authenticate(shop.WithRequestID(ctx, msg.Header.Get("X-Request-ID")), v, token)
	}
}

func decode[T any](_ context.Context, msg *nats.Msg) (any, error) {
	var req T
	if err := json.Unmarshal(msg.Data, &req); err != nil {
		return nil, shop.E(shop.ErrInvalid, "bad_json", "the request is not valid JSON")
	}
	return req, nil
}

func encodeResponse(_ context.Context, subject string, nc *nats.Conn, resp any) error {
	body, err := shop.MarshalReply(resp)
	if err != nil {
		return err
	}
	return nc.Publish(subject, body)
}

func encodeError(_ context.Context, err error, subject string, nc *nats.Conn) {
	nc.Publish(subject, shop.MarshalErrorReply(err))
}

// NewClient returns Endpoints that call the catalog below prefix over nc;
// they implement catalog.Service. Each call carries the bearer token put in
// its context with WithToken, and its request ID.
func NewClient(nc *nats.Conn, prefix string) catalog.Endpoints {
	return catalog.Endpoints{
		CreateProductEndpoint: call(nc, prefix+subjectCreate, func(err error) catalog.CreateProductResponse { return catalog.CreateProductResponse{Err: err} }),
		GetProductEndpoint:    call(nc, prefix+subjectGet, func(err error) catalog.GetProductResponse { return catalog.GetProductResponse{Err: err} }),
		UpdateProductEndpoint: call(nc, prefix+subjectUpdate, func(err error) catalog.UpdateProductResponse { return catalog.UpdateProductResponse{Err: err} }),
		DeleteProductEndpoint: call(nc, prefix+subjectDelete, func(err error) catalog.DeleteProductResponse { return catalog.DeleteProductResponse{Err: err} }),
		ListProductsEndpoint:  call(nc, prefix+subjectList, func(err error) catalog.ListProductsResponse { return catalog.ListProductsResponse{Err: err} }),
	}
}

// call is a client endpoint. go-kit's natstransport.Publisher sends the
// body only (it drops nats.Msg.Header), so this one sends the message itself
// to carry the token and request ID as headers.
func call[R any](nc *nats.Conn, subject string, failed func(error) R) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		msg := nats.NewMsg(subject)
		var err error
		if msg.Data, err = json.Marshal(request); err != nil {
			return nil, err
		}
		if token, ok := ctx.Value(tokenKey{}).(string); ok {
			msg.Header.Set("Authorization", "Bearer "+token)
		}
		msg.Header.Set("X-Request-ID", shop.RequestIDFrom(ctx))
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
		}
		answer, err := nc.RequestMsgWithContext(ctx, msg)
		if err != nil {
			return nil, err // a transport failure: no responder, timeout
		}
		return shop.UnmarshalReply(answer.Data, failed)
	}
}

type tokenKey struct{}

// WithToken returns a context whose catalog calls carry the bearer token.
func WithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}
