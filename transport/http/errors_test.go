package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{shop.E(shop.ErrInvalid, "x", "x"), http.StatusBadRequest},
		{shop.E(shop.ErrUnauthenticated, "x", "x"), http.StatusUnauthorized},
		{shop.E(shop.ErrPaymentRequired, "x", "x"), http.StatusPaymentRequired},
		{shop.E(shop.ErrForbidden, "x", "x"), http.StatusForbidden},
		{shop.E(shop.ErrNotFound, "x", "x"), http.StatusNotFound},
		{shop.E(shop.ErrConflict, "x", "x"), http.StatusConflict},
		{shop.E(shop.ErrTooManyRequests, "x", "x"), http.StatusTooManyRequests},
		{shop.E(shop.ErrUnavailable, "x", "x"), http.StatusServiceUnavailable},
		{shop.ErrNotFound, http.StatusNotFound},
		{fmt.Errorf("get: %w", shop.E(shop.ErrConflict, "x", "x")), http.StatusConflict},
		{fmt.Errorf("read: %w", shophttp.ErrBodyTooLarge), http.StatusRequestEntityTooLarge},
		{context.DeadlineExceeded, http.StatusGatewayTimeout},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), http.StatusGatewayTimeout},
		{context.Canceled, 499},
		{fmt.Errorf("query: %w", context.Canceled), 499},
		{errors.New("boom"), http.StatusInternalServerError},
		{nil, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			if got := shophttp.StatusOf(tt.err); got != tt.want {
				t.Errorf("StatusOf(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// errorServer answers every request with the error that encode returns for
// it, through EncodeError, as a service's go-kit server would.
func errorServer(t *testing.T, encode func(r *http.Request) error) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		shophttp.EncodeError(r.Context(), encode(r), w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, client *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestErrorRoundTripEveryKind(t *testing.T) {
	byCode := map[string]error{}
	for _, k := range shop.Kinds() {
		e := shop.E(k, "specific_"+k.Code(), "something went %s (%d)", "wrong", 42)
		if k == shop.ErrTooManyRequests {
			e.RetryAfter = 30 * time.Second
		}
		byCode[k.Code()] = e
	}
	srv := errorServer(t, func(r *http.Request) error { return byCode[r.URL.Query().Get("kind")] })
	client := srv.Client()

	for _, k := range shop.Kinds() {
		t.Run(k.Code(), func(t *testing.T) {
			sent := byCode[k.Code()]
			resp := get(t, client, srv.URL+"/?kind="+k.Code())
			if want := shophttp.StatusOf(sent); resp.StatusCode != want {
				t.Errorf("status = %d, want %d", resp.StatusCode, want)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("X-Content-Type-Options: nosniff missing")
			}

			got := shophttp.DecodeError(resp)
			if shop.KindOf(got) != k {
				t.Errorf("decoded kind = %v, want %v", shop.KindOf(got), k)
			}
			if !errors.Is(got, k) {
				t.Errorf("errors.Is(decoded, %v) = false", k)
			}
			if shop.CodeOf(got) != shop.CodeOf(sent) {
				t.Errorf("decoded code = %q, want %q", shop.CodeOf(got), shop.CodeOf(sent))
			}
			if got.Error() != sent.Error() {
				t.Errorf("decoded message = %q, want %q", got.Error(), sent.Error())
			}
			var se *shop.Error
			if !errors.As(got, &se) {
				t.Fatalf("decoded %T, want *shop.Error", got)
			}
			if k == shop.ErrTooManyRequests {
				if se.RetryAfter != 30*time.Second {
					t.Errorf("RetryAfter = %v, want 30s", se.RetryAfter)
				}
			} else if se.RetryAfter != 0 {
				t.Errorf("RetryAfter = %v, want 0", se.RetryAfter)
			}
			if k == shop.ErrUnauthenticated {
				if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", h)
				}
			} else if h := resp.Header.Get("WWW-Authenticate"); h != "" {
				t.Errorf("WWW-Authenticate = %q on a %d", h, resp.StatusCode)
			}
		})
	}
}

func TestErrorRetryAfterRoundsUp(t *testing.T) {
	tests := []struct {
		after      time.Duration
		wantHeader string
		wantBack   time.Duration
	}{
		{1500 * time.Millisecond, "2", 2 * time.Second},
		{time.Millisecond, "1", time.Second},
		{time.Minute, "60", time.Minute},
		{0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.after.String(), func(t *testing.T) {
			e := shop.E(shop.ErrTooManyRequests, "too_many_attempts", "slow down")
			e.RetryAfter = tt.after
			srv := errorServer(t, func(*http.Request) error { return fmt.Errorf("login: %w", e) })
			resp := get(t, srv.Client(), srv.URL)
			if got := resp.Header.Get("Retry-After"); got != tt.wantHeader {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantHeader)
			}
			var se *shop.Error
			if !errors.As(shophttp.DecodeError(resp), &se) || se.RetryAfter != tt.wantBack {
				t.Errorf("decoded RetryAfter = %v, want %v", se.RetryAfter, tt.wantBack)
			}
		})
	}
}

func TestErrorUnexpectedHidesDetails(t *testing.T) {
	const secret = "dial tcp 10.0.0.7:5432: password authentication failed for user shop"
	srv := errorServer(t, func(*http.Request) error { return fmt.Errorf("load order: %w", errors.New(secret)) })
	resp := get(t, srv.Client(), srv.URL)
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body shophttp.ErrorBody
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("body %q: %v", raw, err)
	}
	if body.Error.Code != "internal" {
		t.Errorf("code = %q, want internal", body.Error.Code)
	}
	if body.Error.Message == "" {
		t.Error("empty message")
	}
	for _, leak := range []string{"10.0.0.7", "password", "load order"} {
		if strings.Contains(string(raw), leak) {
			t.Errorf("body %q reveals %q", raw, leak)
		}
	}

	// The client side gets an error without a kind, naming the status.
	resp2 := get(t, srv.Client(), srv.URL)
	got := shophttp.DecodeError(resp2)
	if shop.KindOf(got) != nil {
		t.Errorf("decoded kind = %v, want none", shop.KindOf(got))
	}
	if !strings.Contains(got.Error(), "500") || !strings.Contains(got.Error(), "internal") {
		t.Errorf("decoded error %q does not name the status and code", got)
	}
}

func TestErrorSpecialStatuses(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantKind   *shop.Kind // after DecodeError
	}{
		{"body too large", fmt.Errorf("%w: the limit is 10 bytes", shophttp.ErrBodyTooLarge), http.StatusRequestEntityTooLarge, "body_too_large", shop.ErrInvalid},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, "timeout", shop.ErrUnavailable},
		{"bare kind", shop.ErrNotFound, http.StatusNotFound, "not_found", shop.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := errorServer(t, func(*http.Request) error { return tt.err })
			resp := get(t, srv.Client(), srv.URL)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			got := shophttp.DecodeError(resp)
			if shop.KindOf(got) != tt.wantKind {
				t.Errorf("decoded kind = %v, want %v", shop.KindOf(got), tt.wantKind)
			}
			if shop.CodeOf(got) != tt.wantCode {
				t.Errorf("decoded code = %q, want %q", shop.CodeOf(got), tt.wantCode)
			}
		})
	}
}

func TestErrorCanceledHidesDetails(t *testing.T) {
	rec := httptest.NewRecorder()
	shophttp.EncodeError(context.Background(), fmt.Errorf("query orders: %w", context.Canceled), rec)
	if rec.Code != 499 {
		t.Errorf("status = %d, want 499", rec.Code)
	}
	var body shophttp.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Error.Code == "internal" || strings.Contains(body.Error.Message, "query orders") {
		t.Errorf("error body = %+v, want a cancellation without internal details", body.Error)
	}
}

func TestDecodeErrorFromOtherServers(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantKind   *shop.Kind
		wantCode   string
		wantMsg    string
		wantRetry  time.Duration
		wantInText string // for errors without a kind
	}{
		{"proxy HTML 502", http.StatusBadGateway, nil, "<html>bad gateway</html>", shop.ErrUnavailable, "unavailable", "Bad Gateway", 0, ""},
		{"empty 503", http.StatusServiceUnavailable, http.Header{"Retry-After": {"7"}}, "", shop.ErrUnavailable, "unavailable", "Service Unavailable", 7 * time.Second, ""},
		{"mux 405", http.StatusMethodNotAllowed, nil, "Method Not Allowed\n", shop.ErrNotFound, "not_found", "Method Not Allowed", 0, ""},
		{"415", http.StatusUnsupportedMediaType, nil, "", shop.ErrInvalid, "invalid", "Unsupported Media Type", 0, ""},
		{"HTTP-date Retry-After ignored", http.StatusTooManyRequests, http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:00 GMT"}}, "", shop.ErrTooManyRequests, "too_many_requests", "Too Many Requests", 0, ""},
		{"negative Retry-After ignored", http.StatusTooManyRequests, http.Header{"Retry-After": {"-5"}}, "", shop.ErrTooManyRequests, "too_many_requests", "Too Many Requests", 0, ""},
		{"unknown status", http.StatusTeapot, nil, "", nil, "internal", "", 0, "418"},
		{"unknown status with code", http.StatusNotImplemented, nil, `{"error":{"code":"nope","message":"x"}}`, nil, "internal", "", 0, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			got := shophttp.DecodeError(&http.Response{StatusCode: tt.status, Header: h, Body: io.NopCloser(strings.NewReader(tt.body))})
			if shop.KindOf(got) != tt.wantKind {
				t.Errorf("kind = %v, want %v", shop.KindOf(got), tt.wantKind)
			}
			if shop.CodeOf(got) != tt.wantCode {
				t.Errorf("code = %q, want %q", shop.CodeOf(got), tt.wantCode)
			}
			if tt.wantKind == nil {
				if !strings.Contains(got.Error(), tt.wantInText) {
					t.Errorf("error %q does not mention %q", got, tt.wantInText)
				}
				return
			}
			if got.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", got.Error(), tt.wantMsg)
			}
			var se *shop.Error
			errors.As(got, &se)
			if se.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", se.RetryAfter, tt.wantRetry)
			}
		})
	}
}

func TestNotFoundHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/", shophttp.NotFound())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp := get(t, srv.Client(), srv.URL+"/no/such/route")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status = %d, want 404", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	got := shophttp.DecodeError(resp)
	if !errors.Is(got, shop.ErrNotFound) || shop.CodeOf(got) != "route_not_found" || !strings.Contains(got.Error(), "/no/such/route") {
		t.Errorf("decoded %v (code %q), want not_found route_not_found naming the path", got, shop.CodeOf(got))
	}
}

func TestRetryAfterHeaderIsWholeSeconds(t *testing.T) {
	e := shop.E(shop.ErrTooManyRequests, "", "slow down")
	e.RetryAfter = 2*time.Second + time.Nanosecond
	rec := httptest.NewRecorder()
	shophttp.EncodeError(context.Background(), e, rec)
	n, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || n != 3 {
		t.Errorf("Retry-After = %q, want 3", rec.Header().Get("Retry-After"))
	}
}
