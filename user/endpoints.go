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
// request and response types below, which know nothing of any transport.
type Endpoints struct {
	// RegisterEndpoint takes a RegisterRequest and answers a RegisterResponse.
	RegisterEndpoint endpoint.Endpoint
	// LoginEndpoint takes a LoginRequest and answers a SessionResponse.
	LoginEndpoint endpoint.Endpoint
	// GetUserEndpoint takes a GetUserRequest and answers a UserResponse.
	GetUserEndpoint endpoint.Endpoint
	// MeEndpoint takes a MeRequest and answers a UserResponse.
	MeEndpoint endpoint.Endpoint
	// ListUsersEndpoint takes a ListUsersRequest and answers a
	// ListUsersResponse.
	ListUsersEndpoint endpoint.Endpoint
	// DisableUserEndpoint takes a DisableUserRequest and answers a
	// UserResponse.
	DisableUserEndpoint endpoint.Endpoint
	// EnableUserEndpoint takes an EnableUserRequest and answers a
	// UserResponse.
	EnableUserEndpoint endpoint.Endpoint
}

var _ Service = Endpoints{}

// MakeServerEndpoints returns one endpoint per method of s, each wrapped in
// mw (the first is the outermost), such as a circuit breaker or a rate
// limiter. Business errors travel in the responses' Err field; the endpoint
// error is left for transport failures, so breakers never open on a 404.
func MakeServerEndpoints(s Service, mw ...endpoint.Middleware) Endpoints {
	e := Endpoints{
		RegisterEndpoint:    MakeRegisterEndpoint(s),
		LoginEndpoint:       MakeLoginEndpoint(s),
		GetUserEndpoint:     MakeGetUserEndpoint(s),
		MeEndpoint:          MakeMeEndpoint(s),
		ListUsersEndpoint:   MakeListUsersEndpoint(s),
		DisableUserEndpoint: MakeDisableUserEndpoint(s),
		EnableUserEndpoint:  MakeEnableUserEndpoint(s),
	}
	for i := len(mw) - 1; i >= 0; i-- {
		e = e.Wrap(mw[i])
	}
	return e
}

// Wrap returns e with every endpoint wrapped in mw, on the server or the
// client side.
func (e Endpoints) Wrap(mw endpoint.Middleware) Endpoints {
	return Endpoints{
		RegisterEndpoint:    mw(e.RegisterEndpoint),
		LoginEndpoint:       mw(e.LoginEndpoint),
		GetUserEndpoint:     mw(e.GetUserEndpoint),
		MeEndpoint:          mw(e.MeEndpoint),
		ListUsersEndpoint:   mw(e.ListUsersEndpoint),
		DisableUserEndpoint: mw(e.DisableUserEndpoint),
		EnableUserEndpoint:  mw(e.EnableUserEndpoint),
	}
}

// MakeRegisterEndpoint returns an endpoint calling s.Register: it takes a
// RegisterRequest and answers a RegisterResponse.
func MakeRegisterEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(RegisterRequest)
		u, err := s.Register(ctx, req.Registration)
		return RegisterResponse{User: u, Err: err}, nil
	}
}

// MakeLoginEndpoint returns an endpoint calling s.Login: it takes a
// LoginRequest and answers a SessionResponse.
func MakeLoginEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(LoginRequest)
		sess, err := s.Login(ctx, req.Email, req.Password)
		return SessionResponse{Session: sess, Err: err}, nil
	}
}

// MakeGetUserEndpoint returns an endpoint calling s.GetUser: it takes a
// GetUserRequest and answers a UserResponse.
func MakeGetUserEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(GetUserRequest)
		u, err := s.GetUser(ctx, req.ID)
		return UserResponse{User: u, Err: err}, nil
	}
}

// MakeMeEndpoint returns an endpoint calling s.Me: it takes a MeRequest and
// answers a UserResponse.
func MakeMeEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		u, err := s.Me(ctx)
		return UserResponse{User: u, Err: err}, nil
	}
}

// MakeListUsersEndpoint returns an endpoint calling s.ListUsers: it takes a
// ListUsersRequest and answers a ListUsersResponse.
func MakeListUsersEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ListUsersRequest)
		page, err := s.ListUsers(ctx, req.Page)
		return ListUsersResponse{Page: page, Err: err}, nil
	}
}

// MakeDisableUserEndpoint returns an endpoint calling s.DisableUser: it
// takes a DisableUserRequest and answers a UserResponse.
func MakeDisableUserEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(DisableUserRequest)
		u, err := s.DisableUser(ctx, req.ID)
		return UserResponse{User: u, Err: err}, nil
	}
}

// MakeEnableUserEndpoint returns an endpoint calling s.EnableUser: it takes
// an EnableUserRequest and answers a UserResponse.
func MakeEnableUserEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(EnableUserRequest)
		u, err := s.EnableUser(ctx, req.ID)
		return UserResponse{User: u, Err: err}, nil
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
	res, err := unpack.Response[ListUsersResponse](e.ListUsersEndpoint(ctx, ListUsersRequest{Page: p}))
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

// RegisterRequest is the request of the RegisterEndpoint. Printing one never
// shows the password (see Registration.String).
type RegisterRequest struct {
	Registration Registration `json:"registration"`
}

// RegisterResponse is the response of the RegisterEndpoint: the new account.
type RegisterResponse struct {
	User User  `json:"user"`
	Err  error `json:"-"`
}

// Failed returns the business error, if any; it implements endpoint.Failer.
func (r RegisterResponse) Failed() error { return r.Err }

// LoginRequest is the request of the LoginEndpoint.
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
	Session Session `json:"session"`
	Err     error   `json:"-"`
}

// Failed returns the business error, if any; it implements endpoint.Failer.
func (r SessionResponse) Failed() error { return r.Err }

// GetUserRequest is the request of the GetUserEndpoint: the ID of the
// account to read.
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
// DisableUserEndpoint and the EnableUserEndpoint: one account.
type UserResponse struct {
	User User  `json:"user"`
	Err  error `json:"-"`
}

// Failed returns the business error, if any; it implements endpoint.Failer.
func (r UserResponse) Failed() error { return r.Err }

// ListUsersRequest is the request of the ListUsersEndpoint: which page.
type ListUsersRequest struct {
	Page shop.PageRequest `json:"page"`
}

// ListUsersResponse is the response of the ListUsersEndpoint: one page of
// accounts.
type ListUsersResponse struct {
	Page shop.Page[User] `json:"page"`
	Err  error           `json:"-"`
}

// Failed returns the business error, if any; it implements endpoint.Failer.
func (r ListUsersResponse) Failed() error { return r.Err }

var (
	_ endpoint.Failer = RegisterResponse{}
	_ endpoint.Failer = SessionResponse{}
	_ endpoint.Failer = UserResponse{}
	_ endpoint.Failer = ListUsersResponse{}
)
