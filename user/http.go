package user

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"

	"github.com/kitshop/shop"
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
// Bearer tokens are checked with v; give it CheckAccounts(tokens,
// AccountCheck(store)) so that tokens of disabled or deleted accounts stop
// working. Errors are JSON
// {"error":{"code","message"}} with the status of their kind; any other path
// is a JSON 404.
func NewHTTPHandler(e Endpoints, v shop.Verifier, logger log.Logger) http.Handler {
	opts := shophttp.ServerOptions(logger, v)
	mux := http.NewServeMux()
	register := kithttp.NewServer(e.RegisterEndpoint, decodeRegisterRequest, shophttp.EncodeJSON, opts...)
	mux.Handle("POST /register", register)
	mux.Handle("POST /users", register)
	mux.Handle("POST /login", kithttp.NewServer(e.LoginEndpoint, decodeLoginRequest, shophttp.EncodeJSON, opts...))
	mux.Handle("GET /users", kithttp.NewServer(e.ListUsersEndpoint, decodeListUsersRequest, shophttp.EncodeJSON, opts...))
	mux.Handle("GET /users/me", kithttp.NewServer(e.MeEndpoint, decodeMeRequest, shophttp.EncodeJSON, opts...))
	mux.Handle("GET /users/{id}", kithttp.NewServer(e.GetUserEndpoint, decodeGetUserRequest, shophttp.EncodeJSON, opts...))
	mux.Handle("POST /users/{id}/disable", kithttp.NewServer(e.DisableUserEndpoint, decodeDisableUserRequest, shophttp.EncodeJSON, opts...))
	mux.Handle("POST /users/{id}/enable", kithttp.NewServer(e.EnableUserEndpoint, decodeEnableUserRequest, shophttp.EncodeJSON, opts...))
	return shophttp.Routes(mux)
}

func decodeRegisterRequest(_ context.Context, r *http.Request) (any, error) {
	var req RegisterRequest
	if err := shophttp.DecodeJSON(r, &req, 0); err != nil {
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
	return ListUsersRequest{PageRequest: p}, nil
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
	decodeUser := shophttp.DecodeResponse(func(err error) UserResponse { return UserResponse{Err: err} })
	getUser := client(http.MethodGet, "/users/", encodeUserPath(func(r any) string { return r.(GetUserRequest).ID }, ""), decodeUser)
	disable := client(http.MethodPost, "/users/", encodeUserPath(func(r any) string { return r.(DisableUserRequest).ID }, "/disable"), decodeUser)
	enable := client(http.MethodPost, "/users/", encodeUserPath(func(r any) string { return r.(EnableUserRequest).ID }, "/enable"), decodeUser)
	register := client(http.MethodPost, "/register", shophttp.EncodeJSONRequest, shophttp.DecodeResponse(func(err error) RegisterResponse { return RegisterResponse{Err: err} }))
	login := client(http.MethodPost, "/login", shophttp.EncodeJSONRequest, shophttp.DecodeResponse(func(err error) SessionResponse { return SessionResponse{Err: err} }))
	me := client(http.MethodGet, "/users/me", encodeNothing, shophttp.DecodeResponse(func(err error) UserResponse { return UserResponse{Err: err} }))
	list := client(http.MethodGet, "/users", encodeListUsersRequest, shophttp.DecodeResponse(func(err error) ListUsersResponse { return ListUsersResponse{Err: err} }))
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
	p := request.(ListUsersRequest).PageRequest
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
