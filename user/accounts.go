package user

import (
	"context"
	"errors"

	"github.com/kitshop/shop"
)

// AccountCheck returns a check, for CheckAccounts, that reads the account of
// a verified token from store with Store.ByID: a token whose account does not
// exist (any more) is refused with ErrUnauthenticated CodeInvalidToken, one
// whose account is disabled with ErrUnauthenticated CodeAccountDisabled, and
// one claiming the admin role for an account that is not an admin with
// CodeInvalidToken. A store failure is returned as it is, so the request is
// refused without the answer being remembered.
//
// Use it where the user service's store is at hand (one process, such as
// examples/shop, or the user service itself); elsewhere use
// ServiceAccountCheck with a client of the user service.
func AccountCheck(store Store) AccountCheckFunc {
	return func(ctx context.Context, id shop.Identity) error {
		u, err := store.ByID(ctx, id.UserID)
		if errors.Is(err, shop.ErrNotFound) {
			return errAccountGone()
		}
		if err != nil {
			return err
		}
		return usable(u, id)
	}
}

// ServiceAccountCheck returns a check, for CheckAccounts, that asks
// svc for the account of a verified token, with the same answers as
// AccountCheck. It is meant for services that run apart from the user
// service: pass a client from MakeClientEndpoints whose token source hands
// out a service token, for example
//
//	users, err := user.MakeClientEndpoints("http://users:5001",
//		tokens.TokenSource(shop.Identity{UserID: "order", Role: shop.RoleService}, time.Hour))
//	verifier := CheckAccounts(tokens, user.ServiceAccountCheck(users))
//
// (a local Service works too: the call is made as a service identity, which
// may read any account). When svc refuses the check's own credential, or
// fails in any other way, the error is not of kind ErrUnauthenticated, so the
// request is refused as unavailable and the answer is not remembered: a
// misconfigured credential never passes for thousands of disabled accounts.
func ServiceAccountCheck(svc Service) AccountCheckFunc {
	return func(ctx context.Context, id shop.Identity) error {
		checker := shop.Identity{UserID: "account-check", Role: shop.RoleService}
		u, err := svc.GetUser(shop.WithIdentity(ctx, checker), id.UserID)
		switch {
		case err == nil:
			return usable(u, id)
		case shop.CodeOf(err) == CodeUserNotFound:
			return errAccountGone()
		case errors.Is(err, shop.ErrUnauthenticated), errors.Is(err, shop.ErrForbidden):
			// About the check's credential, not the account's.
			return shop.E(shop.ErrUnavailable, CodeAccountCheckRefused,
				"the user service refused to check the account; the checking service needs a service token")
		}
		return err
	}
}

// usable reports why the account u may not act as the token identity id,
// or nil when it may.
func usable(u User, id shop.Identity) error {
	if u.Disabled {
		return shop.E(shop.ErrUnauthenticated, CodeAccountDisabled, "this account is disabled; ask an admin to enable it")
	}
	if id.Role == shop.RoleAdmin && u.Role != shop.RoleAdmin {
		return shop.E(shop.ErrUnauthenticated, CodeInvalidToken, "the token grants a role its account does not have; log in again")
	}
	return nil
}

// errAccountGone is the answer for a valid token whose account does not
// exist: the caller must log in again.
func errAccountGone() error {
	return shop.E(shop.ErrUnauthenticated, CodeInvalidToken, "the account of this token no longer exists")
}
