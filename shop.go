// Package shop is the shared vocabulary of kitshop. Each idea has a file:
//
//   - shop.go: the error kinds every layer speaks, and the Error that carries
//     a kind with a specific code;
//   - money.go: amounts in minor units and currency codes;
//   - paging.go: cursor paging and IDs that sort by creation time;
//   - event.go: the CloudEvents-shaped event envelope, Publisher and Subscriber;
//   - identity.go: roles, the caller's identity and request ID in a context,
//     and the Verifier that turns a bearer token into an identity;
//   - orderevents.go: the events the order service publishes for others;
//   - middleware.go: what every domain's logging and metrics middleware records.
//
// It imports nothing else of kitshop, so every domain (user, catalog, order,
// inventory), transport and custom extension can depend on it without cycles.
package shop

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the caller can do about it. Kinds are
// sentinels: test for one with errors.Is(err, shop.ErrNotFound). Transports map
// each kind to their own status (HTTP 400, 401, ...).
type Kind struct {
	code string
}

// Error returns the kind's machine-readable code, for example "not_found".
func (k *Kind) Error() string { return k.code }

// Code returns the kind's machine-readable code, for example "not_found".
func (k *Kind) Code() string { return k.code }

// The error kinds. Domain errors wrap exactly one of them.
var (
	// ErrInvalid: the request is malformed or breaks a rule; retrying it unchanged fails again.
	ErrInvalid = &Kind{"invalid"}
	// ErrUnauthenticated: the caller did not prove who they are (missing, bad or expired token).
	ErrUnauthenticated = &Kind{"unauthenticated"}
	// ErrPaymentRequired: a payment was declined.
	ErrPaymentRequired = &Kind{"payment_required"}
	// ErrForbidden: the caller is known but may not do this.
	ErrForbidden = &Kind{"forbidden"}
	// ErrNotFound: the thing asked for does not exist (or the caller may not know it does).
	ErrNotFound = &Kind{"not_found"}
	// ErrConflict: the request clashes with the current state (duplicate, wrong status, no stock).
	ErrConflict = &Kind{"conflict"}
	// ErrTooManyRequests: the caller must slow down; see Error.RetryAfter.
	ErrTooManyRequests = &Kind{"too_many_requests"}
	// ErrUnavailable: a dependency is down or overloaded; retrying later may succeed.
	ErrUnavailable = &Kind{"unavailable"}
)

// Kinds lists every error kind, for transports that build lookup tables.
func Kinds() []*Kind {
	return []*Kind{ErrInvalid, ErrUnauthenticated, ErrPaymentRequired, ErrForbidden,
		ErrNotFound, ErrConflict, ErrTooManyRequests, ErrUnavailable}
}

// Error is a domain error: a kind, a specific machine-readable code (such as
// "email_taken") and a message safe to show to the caller. errors.Is(err,
// kind) holds for its kind, so callers can branch on either.
type Error struct {
	Kind    *Kind
	Code    string
	Message string
	// RetryAfter, when positive, tells the caller how long to wait (ErrTooManyRequests).
	RetryAfter time.Duration
}

// E builds a domain error of the given kind with a specific code and a message.
// An empty code falls back to the kind's own code.
func E(kind *Kind, code, format string, args ...any) *Error {
	if code == "" {
		code = kind.code
	}
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns the message, which is safe to show to callers.
func (e *Error) Error() string { return e.Message }

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// KindFromCode returns the kind whose code is code ("not_found" gives
// ErrNotFound), or nil for an unknown code. Transports use it to turn the
// kind carried on the wire back into the sentinel, so errors.Is works on
// the client side of any transport.
func KindFromCode(code string) *Kind {
	for _, k := range Kinds() {
		if k.code == code {
			return k
		}
	}
	return nil
}

// KindOf returns the kind err wraps, or nil when err is nil or has no kind
// (an unexpected failure that transports must report without details).
func KindOf(err error) *Kind {
	if err == nil {
		return nil
	}
	for _, k := range Kinds() {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// CodeOf returns the most specific machine-readable code of err: the code of
// a *Error, else the code of its kind, else "internal".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	if k := KindOf(err); k != nil {
		return k.code
	}
	return "internal"
}

// ErrorDetail is how an error travels on any transport: the kind, the
// specific code and the message, for example
// {"kind":"not_found","code":"product_not_found","message":"..."}. A
// transport writes DetailOf(err) and its client turns the detail back into
// an error with Err, so errors.Is(err, shop.ErrNotFound) holds on both sides.
type ErrorDetail struct {
	Kind    string `json:"kind,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfterSeconds, when positive, is Error.RetryAfter rounded up.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
}

// DetailOf returns the detail that describes err to a caller. An error
// without a kind is an unexpected failure: its detail says "internal" and
// nothing more, so no internal message leaks.
func DetailOf(err error) ErrorDetail {
	k := KindOf(err)
	if k == nil {
		return ErrorDetail{Kind: "internal", Code: "internal", Message: "internal error"}
	}
	d := ErrorDetail{Kind: k.code, Code: CodeOf(err), Message: err.Error()}
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		d.RetryAfterSeconds = int((e.RetryAfter + time.Second - 1) / time.Second)
	}
	return d
}

// Err turns a detail back into an error: a *Error of the detail's kind,
// code and message, or for an unknown kind (such as "internal") a plain
// error naming the code.
func (d ErrorDetail) Err() error {
	k := KindFromCode(d.Kind)
	if k == nil {
		return fmt.Errorf("remote service failed (%s)", d.Code)
	}
	e := &Error{Kind: k, Code: d.Code, Message: d.Message, RetryAfter: time.Duration(d.RetryAfterSeconds) * time.Second}
	if e.Code == "" {
		e.Code = k.code
	}
	return e
}
