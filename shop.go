// Package shop is the shared vocabulary of kitshop: the error kinds every layer
// speaks, money in minor units, cursor paging, the event envelope with its
// Publisher and Subscriber, and the caller's identity carried in a context.
//
// It imports nothing else of kitshop, so every domain (user, catalog, order,
// inventory), transport and custom extension can depend on it without cycles.
package shop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/text/currency"
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

// Money is an amount in the currency's minor units (cents for USD), so sums
// never suffer floating point rounding.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// String formats the amount with the currency's number of decimals, for
// example "19.99 USD".
func (m Money) String() string {
	digits := 2
	if u, err := currency.ParseISO(m.Currency); err == nil {
		d, _ := currency.Standard.Rounding(u)
		digits = d
	}
	// Work in uint64 so that the magnitude of math.MinInt64 is representable.
	sign, a := "", uint64(m.Amount)
	if m.Amount < 0 {
		sign, a = "-", -a
	}
	if digits == 0 {
		return fmt.Sprintf("%s%d %s", sign, a, m.Currency)
	}
	pow := uint64(1)
	for range digits {
		pow *= 10
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, a/pow, digits, a%pow, m.Currency)
}

// ValidateCurrency checks that code is a known ISO 4217 currency code in upper
// case, such as "USD", and returns an ErrInvalid naming field otherwise.
func ValidateCurrency(field, code string) error {
	if len(code) != 3 || strings.ToUpper(code) != code {
		return E(ErrInvalid, "invalid_"+field, "%s must be an upper-case ISO 4217 code such as USD", field)
	}
	if _, err := currency.ParseISO(code); err != nil {
		return E(ErrInvalid, "invalid_"+field, "%s %q is not a known ISO 4217 currency code", field, code)
	}
	return nil
}

// Paging limits shared by every list operation.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// PageRequest asks for one page of a list: at most Limit items after the
// position that Cursor (from a previous page's NextCursor) names.
type PageRequest struct {
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// Normalize applies the default limit and validates the request. It returns
// the decoded cursor key ("" for the first page).
func (p *PageRequest) Normalize() (after string, err error) {
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	if p.Limit < 1 || p.Limit > MaxLimit {
		return "", E(ErrInvalid, "invalid_limit", "limit must be between 1 and %d", MaxLimit)
	}
	return DecodeCursor(p.Cursor)
}

// ParsePageRequest reads limit and cursor from query-string values; a limit
// that is not a number is ErrInvalid naming it.
func ParsePageRequest(limit, cursor string) (PageRequest, error) {
	p := PageRequest{Cursor: cursor}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil {
			return p, E(ErrInvalid, "invalid_limit", "limit must be a whole number between 1 and %d", MaxLimit)
		}
		p.Limit = n
	}
	return p, nil
}

// Page is one page of a list. NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// cursorPrefix versions the cursor format so it can change without
// misreading old cursors.
const cursorPrefix = "k1:"

// EncodeCursor turns a store's keyset position into an opaque cursor.
func EncodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + key))
}

// DecodeCursor reverses EncodeCursor; anything else is ErrInvalid with code
// "invalid_cursor". The empty cursor decodes to the empty key (first page).
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) || len(b) == len(cursorPrefix) {
		return "", E(ErrInvalid, "invalid_cursor", "cursor is malformed; pass next_cursor from a previous page unchanged")
	}
	return string(b[len(cursorPrefix):]), nil
}

// NewID returns a new unique identifier: a ULID, which sorts by creation
// time, so stores can page by ID in a stable order.
func NewID() string {
	return strings.ToLower(ulid.MustNew(ulid.Now(), rand.Reader).String())
}

// Event is a domain event in a CloudEvents-shaped envelope. Events travel at
// least once: consumers must treat a repeated ID as already handled.
type Event struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Subject     string          `json:"subject,omitempty"`
	Time        time.Time       `json:"time"`
	DataType    string          `json:"datacontenttype,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
}

// NewEvent builds an event with a fresh ID and the current time, its data
// encoded as JSON.
func NewEvent(source, typ, subject string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event data: %w", typ, err)
	}
	return Event{SpecVersion: "1.0", ID: NewID(), Source: source, Type: typ, Subject: subject,
		Time: time.Now().UTC(), DataType: "application/json", Data: raw}, nil
}

// Publisher sends events to whoever subscribed. Publish returns nil only once
// the event is safely handed over (delivered in process, or confirmed by a
// broker); on error the caller keeps the event and tries again later.
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}

// Handler consumes one event. Returning an error asks for redelivery later;
// handlers must be idempotent because an event can arrive more than once.
type Handler func(ctx context.Context, e Event) error

// Subscriber registers handlers for event types.
type Subscriber interface {
	Subscribe(eventType string, h Handler) error
}

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

// Event types that cross domain boundaries. The order service publishes
// them; inventory (and anyone else) subscribes.
const (
	// EventOrderPaid: an order was paid; its reserved stock is sold.
	EventOrderPaid = "order.paid"
	// EventOrderCancelled: an unpaid order was cancelled; its reservation returns to stock.
	EventOrderCancelled = "order.cancelled"
	// EventOrderExpired: an unpaid order ran out of time; its reservation returns to stock.
	EventOrderExpired = "order.expired"
	// EventOrderRefunded: a paid order was refunded; its sold units go back on hand.
	EventOrderRefunded = "order.refunded"
)

// OrderEventData is the data of the order.* events.
type OrderEventData struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Status  string `json:"status"`
	Total   Money  `json:"total"`
}
