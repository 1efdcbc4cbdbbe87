package shop

import (
	"context"
	"strings"
)

// Role is what a caller may do.
type Role string

// The roles. Customers act on their own data, admins on everything, and
// services (never a person) call the internal routes between services.
const (
	RoleCustomer Role = "customer"
	RoleAdmin    Role = "admin"
	RoleService  Role = "service"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	return r == RoleCustomer || r == RoleAdmin || r == RoleService
}

// Identity is the authenticated caller.
type Identity struct {
	UserID string
	Role   Role
}

// Verifier turns a bearer token into the identity it stands for. Every
// transport takes one: HTTP reads the token from the Authorization header,
// other transports from their own metadata. Errors are ErrUnauthenticated
// (a bad, expired or revoked token) or ErrUnavailable (the check itself
// could not be made). user.Tokens is the shop's implementation.
type Verifier interface {
	Verify(ctx context.Context, token string) (Identity, error)
}

type identityKey struct{}

type authErrorKey struct{}

// WithIdentity returns a context carrying the authenticated caller.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// WithAuthError returns a context recording that the caller presented
// credentials that failed verification; Authenticated then returns err.
func WithAuthError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, authErrorKey{}, err)
}

// IdentityFrom returns the caller's identity, if the context carries one.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// Authenticated returns the caller's identity, or an ErrUnauthenticated error
// saying why there is none.
func Authenticated(ctx context.Context) (Identity, error) {
	if err, ok := ctx.Value(authErrorKey{}).(error); ok {
		return Identity{}, err
	}
	if id, ok := IdentityFrom(ctx); ok {
		return id, nil
	}
	return Identity{}, E(ErrUnauthenticated, "missing_token", "authentication required: send Authorization: Bearer <token>")
}

// RequireRole returns the caller's identity if it holds one of roles, an
// ErrUnauthenticated error if there is no caller, and ErrForbidden otherwise.
func RequireRole(ctx context.Context, roles ...Role) (Identity, error) {
	id, err := Authenticated(ctx)
	if err != nil {
		return id, err
	}
	for _, r := range roles {
		if id.Role == r {
			return id, nil
		}
	}
	return id, E(ErrForbidden, "forbidden", "this action needs the %s role", joinRoles(roles))
}

func joinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

type requestIDKey struct{}

// WithRequestID returns a context carrying the request ID that ties together
// the log lines and downstream calls of one request.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the context's request ID, or "" if it has none.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Authenticate returns ctx carrying the identity token stands for, as v
// verifies it: what every transport does with the bearer token it carries.
// An empty token leaves the caller anonymous; a bad one is recorded, so that
// Authenticated reports why and routes needing no identity still work.
func Authenticate(ctx context.Context, v Verifier, token string) context.Context {
	if token == "" {
		return ctx
	}
	id, err := v.Verify(ctx, token)
	if err != nil {
		return WithAuthError(ctx, err)
	}
	return WithIdentity(ctx, id)
}
