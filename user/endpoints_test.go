package user_test

import (
	"context"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/go-kit/kit/endpoint"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/user"
)

// tagging records, in order, the names of the middlewares a call passes.
func tagging(name string, trace *[]string) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			*trace = append(*trace, name)
			return next(ctx, request)
		}
	}
}

func TestMakeServerEndpointsWrapsEveryEndpoint(t *testing.T) {
	svc, _, _ := newService(t)
	var trace []string
	e := user.MakeServerEndpoints(svc, tagging("outer", &trace), tagging("inner", &trace))
	ctx := shop.WithIdentity(context.Background(), shop.Identity{UserID: "admin-1", Role: shop.RoleAdmin})
	var s user.Service = e
	ada, err := s.Register(ctx, user.Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	s.Login(ctx, "ada@example.com", "correct horse")
	s.GetUser(ctx, ada.ID)
	s.Me(ctx)
	s.ListUsers(ctx, shop.PageRequest{})
	s.DisableUser(ctx, ada.ID)
	s.EnableUser(ctx, ada.ID)
	want := strings.Repeat("outer inner ", 7)
	if got := strings.Join(trace, " ") + " "; got != want {
		t.Fatalf("middlewares ran as %q, want %q (the first outermost, on all 7 endpoints)", got, want)
	}

	trace = nil
	e = user.MakeServerEndpoints(svc).Wrap(tagging("wrapped", &trace))
	if _, err := e.GetUser(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	if len(trace) != 1 {
		t.Fatalf("Wrap: trace %v", trace)
	}
}

// A business error travels in the response; the endpoint itself succeeds.
func TestEndpointsCarryBusinessErrors(t *testing.T) {
	svc, _, _ := newService(t)
	resp, err := user.MakeGetUserEndpoint(svc)(context.Background(), user.GetUserRequest{ID: "x"})
	if err != nil {
		t.Fatalf("endpoint error %v, want it in the response", err)
	}
	r, ok := resp.(user.UserResponse)
	if !ok || shop.CodeOf(r.Failed()) != "missing_token" {
		t.Fatalf("response %#v", resp)
	}
}

// The request and response types know nothing of any transport and tag
// every field for JSON, in snake_case.
func TestEndpointTypesAreTransportFree(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	for _, v := range []any{
		user.RegisterRequest{}, user.RegisterResponse{}, user.LoginRequest{}, user.SessionResponse{},
		user.GetUserRequest{}, user.MeRequest{}, user.UserResponse{}, user.ListUsersRequest{},
		user.ListUsersResponse{}, user.DisableUserRequest{}, user.EnableUserRequest{},
	} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, ok := f.Tag.Lookup("json")
			name, _, _ := strings.Cut(tag, ",")
			switch {
			case !ok:
				t.Errorf("%s.%s has no json tag", typ.Name(), f.Name)
			case f.Anonymous:
				t.Errorf("%s.%s is embedded", typ.Name(), f.Name)
			case name != "-" && !snake.MatchString(name):
				t.Errorf("%s.%s is tagged %q, not snake_case", typ.Name(), f.Name, tag)
			}
		}
		for _, m := range []string{"StatusCode", "NoContent", "Headers"} {
			if _, ok := typ.MethodByName(m); ok {
				t.Errorf("%s has a %s method: the transport decides that", typ.Name(), m)
			}
		}
	}
}
