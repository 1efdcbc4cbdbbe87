package user

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	shophttp "github.com/kitshop/shop/transport/http"
)

// NewHTTPHandler serves the endpoints over HTTP:
//
//	POST /register, POST /users   {email,password,name} -> 201 user
//	POST /login                   {email,password}      -> 200 {token,token_type,expires_at,user}
//	GET  /users?limit=&cursor=    (admin)               -> 200 {items,next_cursor}
//	GET  /users/me                                      -> 200 user
//	GET  /users/{id}              (admin; self)         -> 200 user
//	POST /users/{id}/disable      (admin)               -> 200 user
//	POST /users/{id}/enable       (admin)               -> 200 user
//
// where a user is {id,email,name,role,created_at,disabled}. Bearer tokens
// are checked with v; give it CheckAccounts(tokens, AccountCheck(store)) so
// that tokens of disabled or deleted accounts stop working. Errors are JSON
// {"error":{"kind","code","message"}} with the status of their kind; any
// other path is a JSON 404. Server errors are logged to logger.
func NewHTTPHandler(e Endpoints, v shop.Verifier, logger log.Logger) http.Handler {
	opts := shophttp.ServerOptions(logger, v)
	mux := http.NewServeMux()
	encodeUser := encodeBody(http.StatusOK, func(r UserResponse) any { return r.User })
	register := kithttp.NewServer(e.RegisterEndpoint, decodeRegisterRequest,
		encodeBody(http.StatusCreated, func(r RegisterResponse) any { return r.User }), opts...)
	mux.Handle("POST /register", register)
	mux.Handle("POST /users", register)
	mux.Handle("POST /login", kithttp.NewServer(e.LoginEndpoint, decodeLoginRequest,
		encodeBody(http.StatusOK, func(r SessionResponse) any { return r.Session }), opts...))
	mux.Handle("GET /users", kithttp.NewServer(e.ListUsersEndpoint, decodeListUsersRequest,
		encodeBody(http.StatusOK, func(r ListUsersResponse) any { return r.Page }), opts...))
	mux.Handle("GET /users/me", kithttp.NewServer(e.MeEndpoint, decodeMeRequest, encodeUser, opts...))
	mux.Handle("GET /users/{id}", kithttp.NewServer(e.GetUserEndpoint, decodeGetUserRequest, encodeUser, opts...))
	mux.Handle("POST /users/{id}/disable", kithttp.NewServer(e.DisableUserEndpoint, decodeDisableUserRequest, encodeUser, opts...))
	mux.Handle("POST /users/{id}/enable", kithttp.NewServer(e.EnableUserEndpoint, decodeEnableUserRequest, encodeUser, opts...))
	return shophttp.Routes(mux)
}

// encodeBody returns a response encoder for responses of type R: the
// business error of a failed one, else body(response) as JSON with status.
func encodeBody[R endpoint.Failer](status int, body func(R) any) kithttp.EncodeResponseFunc {
	return func(ctx context.Context, w http.ResponseWriter, response any) error {
		r, ok := response.(R)
		if !ok {
			return fmt.Errorf("user http: endpoint returned %T, want %T", response, r)
		}
		if err := r.Failed(); err != nil {
			shophttp.EncodeError(ctx, err, w)
			return nil
		}
		if status == http.StatusOK {
			return shophttp.EncodeJSON(ctx, w, body(r))
		}
		return shophttp.EncodeJSON(ctx, w, withStatus{status: status, body: body(r)})
	}
}

// withStatus is a body answered with a status other than 200.
type withStatus struct {
	status int
	body   any
}

// StatusCode is the status shophttp.EncodeJSON answers with.
func (b withStatus) StatusCode() int { return b.status }

// MarshalJSON writes the body alone.
func (b withStatus) MarshalJSON() ([]byte, error) { return json.Marshal(b.body) }

func decodeRegisterRequest(_ context.Context, r *http.Request) (any, error) {
	var req RegisterRequest
	if err := shophttp.DecodeJSON(r, &req.Registration, 0); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeLoginRequest(_ context.Context, r *http.Request) (any, error) {
	var req LoginRequest
	if err := shophttp.DecodeJSON(r, &req, 0); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeListUsersRequest(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	p, err := shop.ParsePageRequest(q.Get("limit"), q.Get("cursor"))
	if err != nil {
		return nil, err
	}
	return ListUsersRequest{Page: p}, nil
}

func decodeMeRequest(context.Context, *http.Request) (any, error) {
	return MeRequest{}, nil
}

func decodeGetUserRequest(_ context.Context, r *http.Request) (any, error) {
	return GetUserRequest{ID: r.PathValue("id")}, nil
}

func decodeDisableUserRequest(_ context.Context, r *http.Request) (any, error) {
	return DisableUserRequest{ID: r.PathValue("id")}, nil
}

func decodeEnableUserRequest(_ context.Context, r *http.Request) (any, error) {
	return EnableUserRequest{ID: r.PathValue("id")}, nil
}

// MakeClientEndpoints returns Endpoints that call the user service at
// instance, a base URL such as "http://127.0.0.1:5001" (a bare "host:port"
// means http). token supplies the bearer token of every call (nil: the token
// of the incoming request the context came from); opts are added after
// shophttp.ClientOptions, so they can replace its HTTP client. An error the
// service returns arrives with the same kind and code.
//
// It calls one fixed instance; NewHTTPClient calls the instances an
// sd.Instancer reports, with breakers, balancing and retries.
func MakeClientEndpoints(instance string, token func() (string, error), opts ...kithttp.ClientOption) (Endpoints, error) {
	base, err := shophttp.InstanceURL(instance)
	if err != nil {
		return Endpoints{}, fmt.Errorf("user client: %w", err)
	}
	at := func(path string) *url.URL {
		u := *base
		u.Path += path
		return &u
	}
	options := append(shophttp.ClientOptions(token), opts...)
	client := func(method, path string, enc kithttp.EncodeRequestFunc, dec kithttp.DecodeResponseFunc) *kithttp.Client {
		return kithttp.NewClient(method, at(path), enc, dec, options...)
	}
	decodeUser := decodeBody(func(u User, err error) UserResponse { return UserResponse{User: u, Err: err} })
	getUser := client(http.MethodGet, "/users/", encodeUserPath(func(r any) string { return r.(GetUserRequest).ID }, ""), decodeUser)
	disable := client(http.MethodPost, "/users/", encodeUserPath(func(r any) string { return r.(DisableUserRequest).ID }, "/disable"), decodeUser)
	enable := client(http.MethodPost, "/users/", encodeUserPath(func(r any) string { return r.(EnableUserRequest).ID }, "/enable"), decodeUser)
	register := client(http.MethodPost, "/register", encodeRegisterRequest,
		decodeBody(func(u User, err error) RegisterResponse { return RegisterResponse{User: u, Err: err} }))
	login := client(http.MethodPost, "/login", shophttp.EncodeJSONRequest,
		decodeBody(func(s Session, err error) SessionResponse { return SessionResponse{Session: s, Err: err} }))
	me := client(http.MethodGet, "/users/me", encodeNothing, decodeUser)
	list := client(http.MethodGet, "/users", encodeListUsersRequest,
		decodeBody(func(p shop.Page[User], err error) ListUsersResponse { return ListUsersResponse{Page: p, Err: err} }))
	return Endpoints{
		RegisterEndpoint:    register.Endpoint(),
		LoginEndpoint:       login.Endpoint(),
		GetUserEndpoint:     getUser.Endpoint(),
		MeEndpoint:          me.Endpoint(),
		ListUsersEndpoint:   list.Endpoint(),
		DisableUserEndpoint: disable.Endpoint(),
		EnableUserEndpoint:  enable.Endpoint(),
	}, nil
}

// HTTPClient is a user Service over HTTP across the instances of an
// sd.Instancer, made by NewHTTPClient. Close it when done.
type HTTPClient struct {
	Endpoints
	closer io.Closer
}

// Close stops following the instancer and closes the instances'
// endpoints. The instancer is the caller's to stop.
func (c *HTTPClient) Close() error { return c.closer.Close() }

// NewHTTPClient returns a user Service that calls the instances instancer
// reports (each a base URL, as MakeClientEndpoints takes it), through
// discovery.NewEndpoint: a breaker and a concurrency limit per instance,
// round-robin balancing, retries and an overall timeout; opts tune them.
// token is as for MakeClientEndpoints.
//
// Reads and DisableUser/EnableUser (which set a state) are retried after any
// failure of an instance; Register and Login only when they never reached
// one (a refused connection, an open breaker). When no instance can
// answer, a call fails with 503 "user_unavailable" (shop.ErrUnavailable);
// business errors, 429 of the login throttle included, arrive as the
// service answered them and never open a breaker.
func NewHTTPClient(instancer sd.Instancer, token func() (string, error), opts ...discovery.ClientOption) (*HTTPClient, error) {
	httpClient := shophttp.NewClient(10 * time.Second) // one connection pool for every instance
	factory := discovery.Instances(func(instance string) (Endpoints, error) {
		return MakeClientEndpoints(instance, token, kithttp.SetClient(httpClient))
	}, func(ctx context.Context, e Endpoints, request any) (any, error) {
		switch request.(type) {
		case RegisterRequest:
			return e.RegisterEndpoint(ctx, request)
		case LoginRequest:
			return e.LoginEndpoint(ctx, request)
		case GetUserRequest:
			return e.GetUserEndpoint(ctx, request)
		case MeRequest:
			return e.MeEndpoint(ctx, request)
		case ListUsersRequest:
			return e.ListUsersEndpoint(ctx, request)
		case DisableUserRequest:
			return e.DisableUserEndpoint(ctx, request)
		case EnableUserRequest:
			return e.EnableUserEndpoint(ctx, request)
		}
		return nil, fmt.Errorf("user client: no endpoint takes a %T", request)
	})
	idempotent := func(request any) bool {
		switch request.(type) {
		case RegisterRequest, LoginRequest:
			return false
		}
		return true
	}
	opts = append([]discovery.ClientOption{discovery.RetryIdempotent(idempotent)}, opts...)
	ep, closer, err := discovery.NewEndpoint("user", instancer, factory, opts...)
	if err != nil {
		return nil, err
	}
	return &HTTPClient{
		Endpoints: Endpoints{
			RegisterEndpoint:    ep,
			LoginEndpoint:       ep,
			GetUserEndpoint:     ep,
			MeEndpoint:          ep,
			ListUsersEndpoint:   ep,
			DisableUserEndpoint: ep,
			EnableUserEndpoint:  ep,
		},
		closer: closer,
	}, nil
}

// decodeBody returns a client response decoder that reads a 2xx body as a B
// and wraps it into the response with wrap. An error the service answered
// is told apart as shophttp.DecodeResponse does: a business error is wrapped
// into the response, anything else is the endpoint's error.
func decodeBody[B, R any](wrap func(B, error) R) kithttp.DecodeResponseFunc {
	decode := shophttp.DecodeResponse(func(err error) answer[B] { return answer[B]{err: err} })
	return func(ctx context.Context, resp *http.Response) (any, error) {
		v, err := decode(ctx, resp)
		if err != nil {
			return nil, err
		}
		a := v.(answer[B])
		return wrap(a.body, a.err), nil
	}
}

// answer is a decoded body or the business error answered instead.
type answer[B any] struct {
	body B
	err  error
}

// UnmarshalJSON reads the body.
func (a *answer[B]) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &a.body) }

func encodeRegisterRequest(ctx context.Context, r *http.Request, request any) error {
	return shophttp.EncodeJSONRequest(ctx, r, request.(RegisterRequest).Registration)
}

// encodeUserPath returns a request encoder that completes a path ending in
// "/users/" with the escaped account ID that id reads from the request, then
// suffix.
func encodeUserPath(id func(request any) string, suffix string) kithttp.EncodeRequestFunc {
	return func(_ context.Context, r *http.Request, request any) error {
		id := id(request)
		switch id {
		case "", ".", "..", "me": // no account has these IDs, and the paths mean something else
			return errUserNotFound()
		}
		prefix := r.URL.Path // the base path and "/users/"
		r.URL.Path = prefix + id + suffix
		r.URL.RawPath = (&url.URL{Path: prefix}).EscapedPath() + url.PathEscape(id) + suffix
		return nil
	}
}

func encodeNothing(context.Context, *http.Request, any) error { return nil }

func encodeListUsersRequest(_ context.Context, r *http.Request, request any) error {
	p := request.(ListUsersRequest).Page
	q := r.URL.Query()
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	r.URL.RawQuery = q.Encode()
	return nil
}
