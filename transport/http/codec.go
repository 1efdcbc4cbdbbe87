package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/go-kit/kit/endpoint"
	"github.com/kitshop/shop"
)

// MaxBodyBytes is the default limit on a request body, big enough for any
// request of the shop's API.
const MaxBodyBytes = 64 << 10

// ErrBodyTooLarge is returned by DecodeJSON for a body over the limit; the
// error encoder answers it with 413.
var ErrBodyTooLarge = errors.New("request body too large")

// DecodeJSON decodes the request body into v, at most limit bytes (0 means
// MaxBodyBytes). It rejects unknown fields, trailing data and malformed JSON
// with an ErrInvalid error naming the problem, and an oversized body with an
// error wrapping ErrBodyTooLarge.
func DecodeJSON(r *http.Request, v any, limit int64) error {
	if limit <= 0 {
		limit = MaxBodyBytes
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !jsonCompatible(mt) {
			return shop.E(shop.ErrInvalid, "unsupported_media_type", "Content-Type must be application/json")
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return shop.E(shop.ErrInvalid, "bad_body", "could not read the request body")
	}
	if int64(len(body)) > limit {
		return fmt.Errorf("%w: the limit is %d bytes", ErrBodyTooLarge, limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return shop.E(shop.ErrInvalid, "bad_json", "request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	// Only whitespace may follow the value. (Decoder.More would let a
	// stray "]" or "}" through.)
	if _, err := dec.Token(); err != io.EOF {
		return shop.E(shop.ErrInvalid, "bad_json", "request body holds more than one JSON value or data after it")
	}
	return nil
}

// jsonCompatible reports whether a body of media type mt may hold JSON:
// JSON itself, and the types simple clients send JSON under without saying so
// (curl -d sends application/x-www-form-urlencoded). The body must then
// still parse as JSON. Other types (multipart forms, XML) are refused.
func jsonCompatible(mt string) bool {
	switch mt {
	case "application/json", "text/plain", "application/x-www-form-urlencoded":
		return true
	}
	return strings.HasSuffix(mt, "+json")
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return shop.E(shop.ErrInvalid, "bad_json", "malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		if typ.Field != "" {
			return shop.E(shop.ErrInvalid, "bad_json", "field %q must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
		}
		return shop.E(shop.ErrInvalid, "bad_json", "request body must be a JSON object, not %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return shop.E(shop.ErrInvalid, "bad_json", "malformed JSON: the body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for an unknown field (only
		// encoding/json/v2, still an experiment in Go 1.26, does), so its
		// message is the only structure there is; the tests pin it.
		return shop.E(shop.ErrInvalid, "unknown_field", "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return shop.E(shop.ErrInvalid, "bad_json", "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

func jsonType(goKind string) string {
	switch goKind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	default:
		return "an object"
	}
}

// StatusCoder is implemented by responses that want a status other than 200,
// such as 201 Created (the same interface go-kit's transport uses).
type StatusCoder interface {
	StatusCode() int
}

// NoContent is implemented by responses that carry no body (204).
type NoContent interface {
	NoContent() bool
}

// EncodeJSON is a go-kit EncodeResponseFunc: a response whose Failed() error
// is non-nil goes through EncodeError; otherwise it is written as JSON with
// the status the response asks for (StatusCoder), or 204 for NoContent.
func EncodeJSON(ctx context.Context, w http.ResponseWriter, response any) error {
	if f, ok := response.(endpoint.Failer); ok && f.Failed() != nil {
		EncodeError(ctx, f.Failed(), w)
		return nil
	}
	if nc, ok := response.(NoContent); ok && nc.NoContent() {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	status := http.StatusOK
	if sc, ok := response.(StatusCoder); ok {
		status = sc.StatusCode()
	}
	body, err := json.Marshal(response)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
	return nil
}

// EncodeJSONRequest is a go-kit EncodeRequestFunc for clients: it writes
// request as the JSON body.
func EncodeJSONRequest(_ context.Context, r *http.Request, request any) error {
	body, err := json.Marshal(request)
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = int64(len(body))
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return nil
}

// DecodeJSONResponse returns a go-kit DecodeResponseFunc for clients: a 2xx
// body is decoded into a new value made by newResponse, anything else into
// the error it carries (see DecodeError).
func DecodeJSONResponse[T any]() func(context.Context, *http.Response) (any, error) {
	return func(_ context.Context, resp *http.Response) (any, error) {
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil, DecodeError(resp)
		}
		var v T
		if resp.StatusCode == http.StatusNoContent {
			return v, nil
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&v); err != nil {
			return nil, fmt.Errorf("decode %T response: %w", v, err)
		}
		return v, nil
	}
}

// DecodeResponse returns a go-kit DecodeResponseFunc for clients whose
// response type T carries business errors (see endpoint.Failer): a 2xx body
// is decoded into a T; a business error (an error with a kind other than
// ErrUnavailable, such as not found or conflict) becomes the response
// failed(err), so the endpoint itself succeeds and breakers, retries and
// load balancers count only transport failures, 5xx and ErrUnavailable;
// anything else is the endpoint's error. Either way the caller of a
// client-side Service method gets the error with its kind and code.
func DecodeResponse[T any](failed func(error) T) func(context.Context, *http.Response) (any, error) {
	ok := DecodeJSONResponse[T]()
	return func(ctx context.Context, resp *http.Response) (any, error) {
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			return ok(ctx, resp)
		}
		err := DecodeError(resp)
		if k := shop.KindOf(err); k != nil && k != shop.ErrUnavailable {
			return failed(err), nil
		}
		return nil, err
	}
}
