package user

import (
	"context"
	"fmt"

	"github.com/go-kit/kit/endpoint"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/unpack"
)

// Endpoints collects one go-kit endpoint per Service method. On the server
// side MakeServerEndpoints builds them from a Service; on the client side
// MakeClientEndpoints builds them from HTTP calls, and Endpoints itself then
// implements Service. A custom transport needs only Endpoints and the
// request and response types below.
type Endpoints struct {
	RegisterEndpoint  endpoint.Endpoint
	LoginEndpoint     endpoint.Endpoint
	GetUserEndpoint   endpoint.Endpoint
	MeEndpoint        endpoint.Endpoint
	ListUsersEndpoint endpoint.Endpoint
	// DisableUserEndpoint and EnableUserEndpoint take a DisableUserRequest
	// and an EnableUserRequest and answer a UserResponse.
	DisableUserEndpoint endpoint.Endpoint
	EnableUserEndpoint  endpoint.Endpoint
}

var _ Service = Endpoints{}

// MakeServerEndpoints returns endpoints that call s. Business errors travel
// in the responses' Err field; the endpoint error is left for transport
// failures.
func MakeServerEndpoints(s Service) Endpoints {
	return Endpoints{
		RegisterEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(RegisterRequest)
			u, err := s.Register(ctx, req.Registration)
			return RegisterResponse{User: u, Err: err}, nil
		},
		LoginEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(LoginRequest)
			sess, err := s.Login(ctx, req.Email, req.Password)
			return SessionResponse{Session: sess, Err: err}, nil
		},
		GetUserEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(GetUserRequest)
			u, err := s.GetUser(ctx, req.ID)
			return UserResponse{User: u, Err: err}, nil
		},
		MeEndpoint: func(ctx context.Context, request any) (any, error) {
			u, err := s.Me(ctx)
			return UserResponse{User: u, Err: err}, nil
		},
		ListUsersEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(ListUsersRequest)
			page, err := s.ListUsers(ctx, req.PageRequest)
			return ListUsersResponse{Page: page, Err: err}, nil
		},
		DisableUserEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(DisableUserRequest)
			u, err := s.DisableUser(ctx, req.ID)
			return UserResponse{User: u, Err: err}, nil
		},
		EnableUserEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(EnableUserRequest)
			u, err := s.EnableUser(ctx, req.ID)
			return UserResponse{User: u, Err: err}, nil
		},
	}
}

// Register calls the RegisterEndpoint; it makes Endpoints a Service.
func (e Endpoints) Register(ctx context.Context, r Registration) (User, error) {
	res, err := unpack.Response[RegisterResponse](e.RegisterEndpoint(ctx, RegisterRequest{Registration: r}))
	return res.User, err
}

// Login calls the LoginEndpoint.
func (e Endpoints) Login(ctx context.Context, email, password string) (Session, error) {
	res, err := unpack.Response[SessionResponse](e.LoginEndpoint(ctx, LoginRequest{Email: email, Password: password}))
	return res.Session, err
}

// GetUser calls the GetUserEndpoint.
func (e Endpoints) GetUser(ctx context.Context, id string) (User, error) {
	res, err := unpack.Response[UserResponse](e.GetUserEndpoint(ctx, GetUserRequest{ID: id}))
	return res.User, err
}

// Me calls the MeEndpoint.
func (e Endpoints) Me(ctx context.Context) (User, error) {
	res, err := unpack.Response[UserResponse](e.MeEndpoint(ctx, MeRequest{}))
	return res.User, err
}

// ListUsers calls the ListUsersEndpoint.
func (e Endpoints) ListUsers(ctx context.Context, p shop.PageRequest) (shop.Page[User], error) {
	res, err := unpack.Response[ListUsersResponse](e.ListUsersEndpoint(ctx, ListUsersRequest{PageRequest: p}))
	return res.Page, err
}

// DisableUser calls the DisableUserEndpoint.
func (e Endpoints) DisableUser(ctx context.Context, id string) (User, error) {
	res, err := unpack.Response[UserResponse](e.DisableUserEndpoint(ctx, DisableUserRequest{ID: id}))
	return res.User, err
}

// EnableUser calls the EnableUserEndpoint.
func (e Endpoints) EnableUser(ctx context.Context, id string) (User, error) {
	res, err := unpack.Response[UserResponse](e.EnableUserEndpoint(ctx, EnableUserRequest{ID: id}))
	return res.User, err
}

// RegisterRequest is the request of the RegisterEndpoint; its JSON is
// {"email","password","name"}.
type RegisterRequest struct {
	Registration
}

// RegisterResponse is the response of the RegisterEndpoint: the new account,
// answered over HTTP with 201 Created.
type RegisterResponse struct {
	User
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r RegisterResponse) Failed() error { return r.Err }

// StatusCode is 201: an account was created.
func (r RegisterResponse) StatusCode() int { return 201 }

// LoginRequest is the request of the LoginEndpoint; its JSON is
// {"email","password"}.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// String shows the request without its password.
func (r LoginRequest) String() string {
	return fmt.Sprintf("{Email:%s Password:[redacted]}", r.Email)
}

// GoString is String for the %#v verb.
func (r LoginRequest) GoString() string { return "user.LoginRequest" + r.String() }

// SessionResponse is the response of the LoginEndpoint.
type SessionResponse struct {
	Session
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r SessionResponse) Failed() error { return r.Err }

// GetUserRequest is the request of the GetUserEndpoint.
type GetUserRequest struct {
	ID string `json:"id"`
}

// MeRequest is the request of the MeEndpoint: the caller comes from the
// context.
type MeRequest struct{}

// DisableUserRequest is the request of the DisableUserEndpoint: the ID of
// the account to disable.
type DisableUserRequest struct {
	ID string `json:"id"`
}

// EnableUserRequest is the request of the EnableUserEndpoint: the ID of the
// account to enable.
type EnableUserRequest struct {
	ID string `json:"id"`
}

// UserResponse is the response of the GetUserEndpoint, the MeEndpoint, the
// DisableUserEndpoint and the EnableUserEndpoint.
type UserResponse struct {
	User
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r UserResponse) Failed() error { return r.Err }

// ListUsersRequest is the request of the ListUsersEndpoint.
type ListUsersRequest struct {
	shop.PageRequest
}

// ListUsersResponse is the response of the ListUsersEndpoint; its JSON is
// {"items":[...],"next_cursor":"..."}.
type ListUsersResponse struct {
	shop.Page[User]
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r ListUsersResponse) Failed() error { return r.Err }

var (
	_ endpoint.Failer = RegisterResponse{}
	_ endpoint.Failer = SessionResponse{}
	_ endpoint.Failer = UserResponse{}
	_ endpoint.Failer = ListUsersResponse{}
)
