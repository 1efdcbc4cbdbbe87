package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/kitshop/shop"
)

// statusOf maps each error kind to its HTTP status.
var statusOf = map[*shop.Kind]int{
	shop.ErrInvalid:         http.StatusBadRequest,
	shop.ErrUnauthenticated: http.StatusUnauthorized,
	shop.ErrPaymentRequired: http.StatusPaymentRequired,
	shop.ErrForbidden:       http.StatusForbidden,
	shop.ErrNotFound:        http.StatusNotFound,
	shop.ErrConflict:        http.StatusConflict,
	shop.ErrTooManyRequests: http.StatusTooManyRequests,
	shop.ErrUnavailable:     http.StatusServiceUnavailable,
}

// kindOf is statusOf reversed, for clients.
var kindOf = func() map[int]*shop.Kind {
	m := make(map[int]*shop.Kind, len(statusOf))
	for k, s := range statusOf {
		m[s] = k
	}
	m[http.StatusRequestEntityTooLarge] = shop.ErrInvalid
	m[http.StatusMethodNotAllowed] = shop.ErrNotFound
	m[http.StatusUnsupportedMediaType] = shop.ErrInvalid
	m[http.StatusGatewayTimeout] = shop.ErrUnavailable
	m[http.StatusBadGateway] = shop.ErrUnavailable
	return m
}()

// statusClientClosedRequest is the non-standard status (nginx's) for a
// request whose caller went away before the answer.
const statusClientClosedRequest = 499

// StatusOf returns the HTTP status for err: its kind's status, 413 for a body
// over the limit, 504 when a deadline passed, 499 when the caller went away,
// and 500 for anything else.
func StatusOf(err error) int {
	if k := shop.KindOf(err); k != nil {
		return statusOf[k]
	}
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return statusClientClosedRequest
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON shape of every error response:
// {"error":{"kind":"conflict","code":"email_taken","message":"..."}}.
type ErrorBody struct {
	Error shop.ErrorDetail `json:"error"`
}

// EncodeError is a go-kit ErrorEncoder. Errors with a kind are written with
// the kind's status, their code and their message; anything unexpected is a
// 500 whose message reveals nothing internal. Headers, including
// Content-Type and Retry-After, are set before the status.
//
// Within a server built with ServerOptions, EncodeError also logs a 5xx
// answer, with the cause the response hides: every error a go-kit server
// answers, and every business error EncodeJSON answers, passes through here
// exactly once.
func EncodeError(ctx context.Context, err error, w http.ResponseWriter) {
	status := StatusOf(err)
	logServerError(ctx, status, err)
	detail := shop.DetailOf(err)
	switch status {
	case http.StatusRequestEntityTooLarge:
		detail = shop.ErrorDetail{Kind: shop.ErrInvalid.Code(), Code: "body_too_large", Message: err.Error()}
	case http.StatusMethodNotAllowed:
		detail = shop.ErrorDetail{Kind: shop.ErrNotFound.Code(), Code: "method_not_allowed", Message: err.Error()}
	case http.StatusGatewayTimeout:
		detail = shop.ErrorDetail{Kind: shop.ErrUnavailable.Code(), Code: "timeout", Message: "the request took too long"}
	case statusClientClosedRequest:
		detail = shop.ErrorDetail{Kind: shop.ErrUnavailable.Code(), Code: "canceled", Message: "the request was cancelled"}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	var se *shop.Error
	if errors.As(err, &se) && se.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((se.RetryAfter+time.Second-1)/time.Second)))
	}
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="kitshop"`)
	}
	w.WriteHeader(status)
	body, _ := json.Marshal(ErrorBody{Error: detail})
	w.Write(append(body, '\n'))
}

// DecodeError turns a non-2xx response back into the error the server
// encoded: a *shop.Error of the same kind and code, with Retry-After restored.
// The kind comes from the body; a body without one (a proxy's answer) is
// judged by its status. A status without a kind (500) becomes a plain error
// naming the status, as does a body that is not an ErrorBody.
func DecodeError(resp *http.Response) error {
	var body ErrorBody
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(raw, &body)
	kind := shop.KindFromCode(body.Error.Kind)
	if kind == nil {
		kind = kindOf[resp.StatusCode]
	}
	if kind == nil {
		if body.Error.Code != "" {
			return fmt.Errorf("remote service: HTTP %d (%s)", resp.StatusCode, body.Error.Code)
		}
		return fmt.Errorf("remote service: HTTP %d", resp.StatusCode)
	}
	e := &shop.Error{Kind: kind, Code: body.Error.Code, Message: body.Error.Message}
	if e.Code == "" {
		e.Code = kind.Code()
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}
