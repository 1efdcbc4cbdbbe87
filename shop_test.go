package shop_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop"
)

func TestKindsAreDistinctAndComplete(t *testing.T) {
	want := []string{"invalid", "unauthenticated", "payment_required", "forbidden",
		"not_found", "conflict", "too_many_requests", "unavailable"}
	var got []string
	for _, k := range shop.Kinds() {
		if k.Error() != k.Code() {
			t.Errorf("kind %q: Error() = %q, want the code", k.Code(), k.Error())
		}
		got = append(got, k.Code())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Kinds() codes = %v, want %v", got, want)
	}
	for i, a := range shop.Kinds() {
		for j, b := range shop.Kinds() {
			if is := errors.Is(a, b); is != (i == j) {
				t.Errorf("errors.Is(%s, %s) = %v", a, b, is)
			}
		}
	}
}

func TestErrorIsItsKindOnly(t *testing.T) {
	for _, kind := range shop.Kinds() {
		t.Run(kind.Code(), func(t *testing.T) {
			err := shop.E(kind, "specific", "something about %s", "it")
			wrapped := fmt.Errorf("store: %w", err)
			for _, e := range []error{err, wrapped} {
				if !errors.Is(e, kind) {
					t.Errorf("errors.Is(%v, %s) = false, want true", e, kind)
				}
				for _, other := range shop.Kinds() {
					if other != kind && errors.Is(e, other) {
						t.Errorf("errors.Is(%v, %s) = true, want false", e, other)
					}
				}
				if got := shop.KindOf(e); got != kind {
					t.Errorf("KindOf(%v) = %v, want %v", e, got, kind)
				}
				if got := shop.CodeOf(e); got != "specific" {
					t.Errorf("CodeOf(%v) = %q, want %q", e, got, "specific")
				}
			}
		})
	}
}

func TestE(t *testing.T) {
	err := shop.E(shop.ErrConflict, "email_taken", "email %q is taken", "a@example.com")
	if err.Kind != shop.ErrConflict {
		t.Errorf("Kind = %v, want conflict", err.Kind)
	}
	if err.Code != "email_taken" {
		t.Errorf("Code = %q, want email_taken", err.Code)
	}
	if want := `email "a@example.com" is taken`; err.Message != want || err.Error() != want {
		t.Errorf("Message = %q, Error() = %q, want %q", err.Message, err.Error(), want)
	}
	if err.RetryAfter != 0 {
		t.Errorf("RetryAfter = %v, want 0", err.RetryAfter)
	}

	fallback := shop.E(shop.ErrNotFound, "", "no such thing")
	if fallback.Code != "not_found" {
		t.Errorf("empty code: Code = %q, want the kind's code not_found", fallback.Code)
	}
}

func TestKindOfAndCodeOf(t *testing.T) {
	plain := errors.New("disk on fire")
	tests := []struct {
		name string
		err  error
		kind *shop.Kind
		code string
	}{
		{"nil", nil, nil, "internal"},
		{"plain error", plain, nil, "internal"},
		{"wrapped plain error", fmt.Errorf("save: %w", plain), nil, "internal"},
		{"bare kind", shop.ErrNotFound, shop.ErrNotFound, "not_found"},
		{"wrapped bare kind", fmt.Errorf("lookup: %w", shop.ErrForbidden), shop.ErrForbidden, "forbidden"},
		{"domain error", shop.E(shop.ErrConflict, "out_of_stock", "no stock"), shop.ErrConflict, "out_of_stock"},
		{"wrapped domain error", fmt.Errorf("reserve: %w", shop.E(shop.ErrConflict, "out_of_stock", "no stock")), shop.ErrConflict, "out_of_stock"},
		{"domain error with empty code field", &shop.Error{Kind: shop.ErrUnavailable, Message: "down"}, shop.ErrUnavailable, "unavailable"},
		{"domain error without kind", &shop.Error{Code: "odd", Message: "no kind"}, nil, "odd"},
		{"joined", errors.Join(plain, shop.E(shop.ErrInvalid, "invalid_name", "bad name")), shop.ErrInvalid, "invalid_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shop.KindOf(tt.err); got != tt.kind {
				t.Errorf("KindOf = %v, want %v", got, tt.kind)
			}
			if got := shop.CodeOf(tt.err); got != tt.code {
				t.Errorf("CodeOf = %q, want %q", got, tt.code)
			}
		})
	}
}

func TestMoneyString(t *testing.T) {
	tests := []struct {
		m    shop.Money
		want string
	}{
		{shop.Money{Amount: 1999, Currency: "USD"}, "19.99 USD"},
		{shop.Money{Amount: 0, Currency: "USD"}, "0.00 USD"},
		{shop.Money{Amount: 5, Currency: "USD"}, "0.05 USD"},
		{shop.Money{Amount: 100, Currency: "USD"}, "1.00 USD"},
		{shop.Money{Amount: -1999, Currency: "USD"}, "-19.99 USD"},
		{shop.Money{Amount: -5, Currency: "USD"}, "-0.05 USD"},
		{shop.Money{Amount: 1500, Currency: "JPY"}, "1500 JPY"},
		{shop.Money{Amount: 0, Currency: "JPY"}, "0 JPY"},
		{shop.Money{Amount: -1500, Currency: "JPY"}, "-1500 JPY"},
		{shop.Money{Amount: 1234, Currency: "BHD"}, "1.234 BHD"},
		{shop.Money{Amount: 1999, Currency: "XXY"}, "19.99 XXY"}, // unknown: two decimals
		{shop.Money{Amount: math.MaxInt64, Currency: "USD"}, "92233720368547758.07 USD"},
		{shop.Money{Amount: math.MinInt64, Currency: "USD"}, "-92233720368547758.08 USD"},
		{shop.Money{Amount: math.MinInt64, Currency: "JPY"}, "-9223372036854775808 JPY"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.m.String(); got != tt.want {
				t.Errorf("%#v.String() = %q, want %q", tt.m, got, tt.want)
			}
		})
	}
}

func TestMoneyJSON(t *testing.T) {
	b, err := json.Marshal(shop.Money{Amount: 1999, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"amount":1999,"currency":"USD"}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
}

func TestValidateCurrency(t *testing.T) {
	tests := []struct {
		code string
		ok   bool
	}{
		{"USD", true},
		{"JPY", true},
		{"EUR", true},
		{"usd", false},
		{"Usd", false},
		{"XXY", false},
		{"US", false},
		{"USDD", false},
		{"", false},
		{"U$D", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			err := shop.ValidateCurrency("price_currency", tt.code)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidateCurrency(%q) = %v, want nil", tt.code, err)
				}
				return
			}
			if !errors.Is(err, shop.ErrInvalid) {
				t.Fatalf("ValidateCurrency(%q) = %v, want ErrInvalid", tt.code, err)
			}
			if got := shop.CodeOf(err); got != "invalid_price_currency" {
				t.Errorf("code = %q, want invalid_price_currency", got)
			}
			if !strings.Contains(err.Error(), "price_currency") {
				t.Errorf("message %q does not name the field", err)
			}
		})
	}
}

func TestPageRequestNormalize(t *testing.T) {
	tests := []struct {
		name      string
		req       shop.PageRequest
		wantLimit int
		wantAfter string
		wantCode  string // "" means success
	}{
		{"zero value gets the default", shop.PageRequest{}, shop.DefaultLimit, "", ""},
		{"explicit limit kept", shop.PageRequest{Limit: 5}, 5, "", ""},
		{"one", shop.PageRequest{Limit: 1}, 1, "", ""},
		{"maximum", shop.PageRequest{Limit: shop.MaxLimit}, shop.MaxLimit, "", ""},
		{"cursor decoded", shop.PageRequest{Limit: 10, Cursor: shop.EncodeCursor("01abc")}, 10, "01abc", ""},
		{"over the maximum", shop.PageRequest{Limit: shop.MaxLimit + 1}, 0, "", "invalid_limit"},
		{"negative", shop.PageRequest{Limit: -1}, 0, "", "invalid_limit"},
		{"bad cursor", shop.PageRequest{Limit: 10, Cursor: "!!!"}, 0, "", "invalid_cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.req
			after, err := p.Normalize()
			if tt.wantCode != "" {
				if !errors.Is(err, shop.ErrInvalid) || shop.CodeOf(err) != tt.wantCode {
					t.Fatalf("Normalize() error = %v (code %q), want ErrInvalid with code %q", err, shop.CodeOf(err), tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize() error = %v", err)
			}
			if p.Limit != tt.wantLimit {
				t.Errorf("Limit = %d, want %d", p.Limit, tt.wantLimit)
			}
			if after != tt.wantAfter {
				t.Errorf("after = %q, want %q", after, tt.wantAfter)
			}
		})
	}
}

func TestParsePageRequest(t *testing.T) {
	tests := []struct {
		name, limit, cursor string
		want                shop.PageRequest
		wantErr             bool
	}{
		{"empty", "", "", shop.PageRequest{}, false},
		{"limit", "15", "", shop.PageRequest{Limit: 15}, false},
		{"cursor kept as is", "", "abc", shop.PageRequest{Cursor: "abc"}, false},
		{"out of range is Normalize's business", "500", "", shop.PageRequest{Limit: 500}, false},
		{"not a number", "ten", "", shop.PageRequest{}, true},
		{"fraction", "1.5", "", shop.PageRequest{}, true},
		{"trailing junk", "10x", "", shop.PageRequest{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shop.ParsePageRequest(tt.limit, tt.cursor)
			if tt.wantErr {
				if !errors.Is(err, shop.ErrInvalid) || shop.CodeOf(err) != "invalid_limit" {
					t.Fatalf("ParsePageRequest(%q) error = %v, want ErrInvalid invalid_limit", tt.limit, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePageRequest(%q) error = %v", tt.limit, err)
			}
			if got != tt.want {
				t.Errorf("ParsePageRequest(%q, %q) = %+v, want %+v", tt.limit, tt.cursor, got, tt.want)
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, key := range []string{"01hzx", "2024-01-01T00:00:00Z|01hzx", "with spaces and ünïcode", "k1:nested", strings.Repeat("x", 500)} {
		c := shop.EncodeCursor(key)
		if strings.Contains(c, key) {
			t.Errorf("cursor %q shows its key in the clear", c)
		}
		if strings.ContainsAny(c, "+/=") {
			t.Errorf("cursor %q is not URL-safe", c)
		}
		got, err := shop.DecodeCursor(c)
		if err != nil {
			t.Fatalf("DecodeCursor(EncodeCursor(%q)) error = %v", key, err)
		}
		if got != key {
			t.Errorf("DecodeCursor(EncodeCursor(%q)) = %q", key, got)
		}
	}
}

func TestDecodeCursorEmptyIsFirstPage(t *testing.T) {
	got, err := shop.DecodeCursor("")
	if err != nil || got != "" {
		t.Fatalf(`DecodeCursor("") = %q, %v; want "", nil`, got, err)
	}
}

func TestDecodeCursorMalformed(t *testing.T) {
	tests := map[string]string{
		"garbage":                  "%%%not base64%%%",
		"padded standard base64":   base64.StdEncoding.EncodeToString([]byte("k1:abc?")),
		"valid base64, no prefix":  base64.RawURLEncoding.EncodeToString([]byte("abc")),
		"valid base64, old prefix": base64.RawURLEncoding.EncodeToString([]byte("k0:abc")),
		"prefix but empty key":     base64.RawURLEncoding.EncodeToString([]byte("k1:")),
		"encoded empty key":        shop.EncodeCursor(""),
		"truncated":                shop.EncodeCursor("abcdef")[:5],
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			key, err := shop.DecodeCursor(c)
			if !errors.Is(err, shop.ErrInvalid) || shop.CodeOf(err) != "invalid_cursor" {
				t.Fatalf("DecodeCursor(%q) = %q, %v; want ErrInvalid invalid_cursor", c, key, err)
			}
			if key != "" {
				t.Errorf("DecodeCursor(%q) returned key %q with its error", c, key)
			}
		})
	}
}

func TestNewIDUniqueAndLowerCase(t *testing.T) {
	const n = 10000
	seen := make(map[string]bool, n)
	for range n {
		id := shop.NewID()
		if len(id) != 26 {
			t.Fatalf("NewID() = %q, want 26 characters", id)
		}
		if id != strings.ToLower(id) {
			t.Fatalf("NewID() = %q, want lower case", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestNewIDSortsByCreationAcrossMilliseconds(t *testing.T) {
	var ids []string
	for range 5 {
		ids = append(ids, shop.NewID())
		time.Sleep(2 * time.Millisecond)
	}
	if !slices.IsSorted(ids) {
		t.Fatalf("IDs created milliseconds apart do not sort by creation: %v", ids)
	}
}

func TestNewEvent(t *testing.T) {
	before := time.Now().UTC()
	data := shop.OrderEventData{OrderID: "o1", UserID: "u1", Status: "paid", Total: shop.Money{Amount: 500, Currency: "USD"}}
	e, err := shop.NewEvent("order", shop.EventOrderPaid, "o1", data)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().UTC()
	if e.SpecVersion != "1.0" || e.Source != "order" || e.Type != shop.EventOrderPaid || e.Subject != "o1" || e.DataType != "application/json" {
		t.Errorf("envelope = %+v", e)
	}
	if e.ID == "" {
		t.Error("event has no ID")
	}
	if e.Time.Before(before) || e.Time.After(after) || e.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want a UTC time between %v and %v", e.Time, before, after)
	}
	var got shop.OrderEventData
	if err := json.Unmarshal(e.Data, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, data) {
		t.Errorf("data = %+v, want %+v", got, data)
	}

	e2, err := shop.NewEvent("order", shop.EventOrderPaid, "o1", data)
	if err != nil {
		t.Fatal(err)
	}
	if e2.ID == e.ID {
		t.Errorf("two events share ID %q", e.ID)
	}
}

func TestNewEventUnencodableData(t *testing.T) {
	_, err := shop.NewEvent("order", "order.weird", "", func() {})
	if err == nil {
		t.Fatal("NewEvent with a func as data succeeded")
	}
	if !strings.Contains(err.Error(), "order.weird") {
		t.Errorf("error %q does not name the event type", err)
	}
}

func TestEventJSONShape(t *testing.T) {
	e := shop.Event{SpecVersion: "1.0", ID: "id1", Source: "s", Type: "t", Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Data: json.RawMessage(`{"a":1}`)}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"specversion", "id", "source", "type", "time", "data"} {
		if _, ok := m[k]; !ok {
			t.Errorf("encoded event %s lacks %q", b, k)
		}
	}
	for _, k := range []string{"subject", "datacontenttype"} {
		if _, ok := m[k]; ok {
			t.Errorf("encoded event %s has empty %q", b, k)
		}
	}
}

func TestRoleValid(t *testing.T) {
	for _, r := range []shop.Role{shop.RoleCustomer, shop.RoleAdmin, shop.RoleService} {
		if !r.Valid() {
			t.Errorf("%q.Valid() = false", r)
		}
	}
	for _, r := range []shop.Role{"", "root", "Admin"} {
		if r.Valid() {
			t.Errorf("%q.Valid() = true", r)
		}
	}
}

func TestAuthenticated(t *testing.T) {
	alice := shop.Identity{UserID: "u1", Role: shop.RoleCustomer}
	expired := shop.E(shop.ErrUnauthenticated, "token_expired", "expired")

	t.Run("no identity", func(t *testing.T) {
		_, err := shop.Authenticated(context.Background())
		if !errors.Is(err, shop.ErrUnauthenticated) || shop.CodeOf(err) != "missing_token" {
			t.Fatalf("err = %v (code %q), want ErrUnauthenticated missing_token", err, shop.CodeOf(err))
		}
		if _, ok := shop.IdentityFrom(context.Background()); ok {
			t.Error("IdentityFrom on an empty context reported an identity")
		}
	})
	t.Run("identity", func(t *testing.T) {
		ctx := shop.WithIdentity(context.Background(), alice)
		got, err := shop.Authenticated(ctx)
		if err != nil || got != alice {
			t.Fatalf("Authenticated = %+v, %v; want %+v", got, err, alice)
		}
		if got, ok := shop.IdentityFrom(ctx); !ok || got != alice {
			t.Errorf("IdentityFrom = %+v, %v", got, ok)
		}
	})
	t.Run("auth error", func(t *testing.T) {
		ctx := shop.WithAuthError(context.Background(), expired)
		got, err := shop.Authenticated(ctx)
		if err != expired {
			t.Fatalf("err = %v, want the recorded auth error", err)
		}
		if got != (shop.Identity{}) {
			t.Errorf("identity = %+v, want none", got)
		}
	})
	t.Run("auth error beats identity", func(t *testing.T) {
		ctx := shop.WithAuthError(shop.WithIdentity(context.Background(), alice), expired)
		if _, err := shop.Authenticated(ctx); err != expired {
			t.Fatalf("err = %v, want the recorded auth error", err)
		}
	})
}

func TestRequireRole(t *testing.T) {
	customer := shop.WithIdentity(context.Background(), shop.Identity{UserID: "u1", Role: shop.RoleCustomer})
	admin := shop.WithIdentity(context.Background(), shop.Identity{UserID: "u2", Role: shop.RoleAdmin})
	bad := shop.WithAuthError(context.Background(), shop.E(shop.ErrUnauthenticated, "invalid_token", "bad"))
	tests := []struct {
		name     string
		ctx      context.Context
		roles    []shop.Role
		wantKind *shop.Kind
		wantCode string
	}{
		{"customer allowed", customer, []shop.Role{shop.RoleCustomer}, nil, ""},
		{"admin among several", admin, []shop.Role{shop.RoleCustomer, shop.RoleAdmin}, nil, ""},
		{"customer refused", customer, []shop.Role{shop.RoleAdmin}, shop.ErrForbidden, "forbidden"},
		{"no roles allowed", admin, nil, shop.ErrForbidden, "forbidden"},
		{"anonymous", context.Background(), []shop.Role{shop.RoleAdmin}, shop.ErrUnauthenticated, "missing_token"},
		{"bad token", bad, []shop.Role{shop.RoleAdmin}, shop.ErrUnauthenticated, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := shop.RequireRole(tt.ctx, tt.roles...)
			if tt.wantKind == nil {
				if err != nil {
					t.Fatalf("RequireRole = %v, want nil", err)
				}
				return
			}
			if shop.KindOf(err) != tt.wantKind || shop.CodeOf(err) != tt.wantCode {
				t.Fatalf("RequireRole = %v (kind %v, code %q), want %v %q", err, shop.KindOf(err), shop.CodeOf(err), tt.wantKind, tt.wantCode)
			}
		})
	}
}

func TestRequireRoleMessageNamesRoles(t *testing.T) {
	ctx := shop.WithIdentity(context.Background(), shop.Identity{UserID: "u1", Role: shop.RoleCustomer})
	_, err := shop.RequireRole(ctx, shop.RoleAdmin, shop.RoleService)
	if err == nil || !strings.Contains(err.Error(), "admin or service") {
		t.Fatalf("RequireRole error = %v, want a message naming admin or service", err)
	}
}

func TestRequestID(t *testing.T) {
	if got := shop.RequestIDFrom(context.Background()); got != "" {
		t.Errorf("RequestIDFrom(empty) = %q, want empty", got)
	}
	ctx := shop.WithRequestID(context.Background(), "req-1")
	if got := shop.RequestIDFrom(ctx); got != "req-1" {
		t.Errorf("RequestIDFrom = %q, want req-1", got)
	}
	inner := shop.WithRequestID(ctx, "req-2")
	if got := shop.RequestIDFrom(inner); got != "req-2" {
		t.Errorf("inner RequestIDFrom = %q, want req-2", got)
	}
	if got := shop.RequestIDFrom(ctx); got != "req-1" {
		t.Errorf("outer context changed to %q", got)
	}
}

// Every kind survives a trip through ErrorDetail, as a transport of any
// kind would make it, and an unexpected error tells nothing on the way.
func TestErrorDetailRoundTrip(t *testing.T) {
	for _, k := range shop.Kinds() {
		if shop.KindFromCode(k.Code()) != k {
			t.Fatalf("KindFromCode(%q) is not %v", k.Code(), k)
		}
		e := shop.E(k, "specific_code", "what went wrong")
		e.RetryAfter = 1500 * time.Millisecond
		d := shop.DetailOf(fmt.Errorf("wrapped: %w", e))
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back shop.ErrorDetail
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		got := back.Err()
		var se *shop.Error
		if !errors.Is(got, k) || shop.CodeOf(got) != "specific_code" || !errors.As(got, &se) || se.RetryAfter != 2*time.Second {
			t.Fatalf("%s: %s came back as %v (%+v)", k.Code(), raw, got, se)
		}
	}
	if shop.KindFromCode("internal") != nil || shop.KindFromCode("") != nil {
		t.Fatal("KindFromCode knows codes that are no kind")
	}
	d := shop.DetailOf(errors.New("disk /var/lib/x full"))
	if d != (shop.ErrorDetail{Kind: "internal", Code: "internal", Message: "internal error"}) {
		t.Fatalf("unexpected error detail = %+v", d)
	}
	if err := d.Err(); shop.KindOf(err) != nil || strings.Contains(err.Error(), "disk") {
		t.Fatalf("unexpected error came back as %v", err)
	}
}

type replyResponse struct {
	N   int   `json:"n"`
	Err error `json:"-"`
}

func (r replyResponse) Failed() error { return r.Err }

func TestReplyRoundTrip(t *testing.T) {
	failed := func(err error) replyResponse { return replyResponse{Err: err} }
	body, err := shop.MarshalReply(replyResponse{N: 7})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := shop.UnmarshalReply(body, failed); err != nil || r.N != 7 || r.Err != nil {
		t.Fatalf("success = %+v, %v", r, err)
	}
	body, _ = shop.MarshalReply(replyResponse{Err: shop.E(shop.ErrNotFound, "thing_not_found", "no thing")})
	r, err := shop.UnmarshalReply(body, failed)
	if err != nil || !errors.Is(r.Err, shop.ErrNotFound) || shop.CodeOf(r.Err) != "thing_not_found" {
		t.Fatalf("business error = %+v, %v (%s)", r, err, body)
	}
	body = shop.MarshalErrorReply(errors.New("secret path /x"))
	if r, err := shop.UnmarshalReply(body, failed); err != nil || shop.KindOf(r.Err) != nil || strings.Contains(string(body), "secret") {
		t.Fatalf("unexpected error = %+v, %v (%s)", r, err, body)
	}
	if _, err := shop.UnmarshalReply([]byte("nope"), failed); err == nil {
		t.Fatal("a body that is no reply decoded")
	}
}

func TestAuthenticate(t *testing.T) {
	v := verifierFunc(func(_ context.Context, token string) (shop.Identity, error) {
		if token == "good" {
			return shop.Identity{UserID: "u1", Role: shop.RoleAdmin}, nil
		}
		return shop.Identity{}, shop.E(shop.ErrUnauthenticated, "invalid_token", "bad token")
	})
	if _, err := shop.Authenticated(shop.Authenticate(context.Background(), v, "")); shop.CodeOf(err) != "missing_token" {
		t.Fatalf("no token: %v", err)
	}
	if id, err := shop.Authenticated(shop.Authenticate(context.Background(), v, "good")); err != nil || id.UserID != "u1" {
		t.Fatalf("good token: %+v, %v", id, err)
	}
	if _, err := shop.Authenticated(shop.Authenticate(context.Background(), v, "bad")); shop.CodeOf(err) != "invalid_token" {
		t.Fatalf("bad token: %v", err)
	}
}

type verifierFunc func(ctx context.Context, token string) (shop.Identity, error)

func (f verifierFunc) Verify(ctx context.Context, token string) (shop.Identity, error) {
	return f(ctx, token)
}
