// Package apitest checks a running shop against its OpenAPI document
// (package api) with kin-openapi's validator: every response must be one
// the document describes for its request (status, headers, body shape,
// every field and its type, no extra field), a request the document
// refuses must not succeed, and a path the document does not have must be
// answered 404 or 405 in the shop's error shape. End-to-end tests pass each
// exchange to a Checker, then ask which operations they covered.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/kitshop/shop/api"
)

// Checker validates exchanges against the document. It is safe for
// concurrent use.
type Checker struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]bool // operation IDs exercised
}

// New loads and validates the document. The servers it lists are dropped,
// so a shop on any address matches.
func New() (*Checker, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.Document)
	if err != nil {
		return nil, fmt.Errorf("apitest: load the document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("apitest: the document is not valid: %w", err)
	}
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("apitest: route the document: %w", err)
	}
	return &Checker{doc: doc, router: router, seen: map[string]bool{}}, nil
}

// Check validates one exchange: req (its body in reqBody, as sent) and the
// answer (status, header and body as received). It returns nil when the
// document describes the answer.
func (c *Checker) Check(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		// A path or method the document does not have: the shop must
		// refuse it in its error shape.
		if (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) && isError(respBody) {
			return nil
		}
		return fmt.Errorf("%s %s is not in the document (%v), yet was answered %d %s", req.Method, req.URL.Path, err, status, respBody)
	}
	c.mu.Lock()
	c.seen[route.Operation.OperationID] = true
	c.mu.Unlock()

	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{
		Request:    cloneWithBody(req, reqBody),
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         true,
		},
	}
	if reqErr := openapi3filter.ValidateRequest(ctx, in); reqErr != nil && status < 400 {
		return fmt.Errorf("%s %s: a request the document refuses (%v) succeeded with %d", req.Method, req.URL.Path, reqErr, status)
	}
	in.Options = &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options:                in.Options,
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s %s answered %d, which the document does not describe: %v\nbody: %s", req.Method, req.URL.Path, status, err, respBody)
	}
	return nil
}

// Operations returns the IDs of every operation in the document, sorted.
func (c *Checker) Operations() []string {
	var ids []string
	for _, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			ids = append(ids, op.OperationID)
		}
	}
	sort.Strings(ids)
	return ids
}

// Missed returns the operations no checked exchange has used, sorted.
func (c *Checker) Missed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var missed []string
	for _, id := range c.Operations() {
		if !c.seen[id] {
			missed = append(missed, id)
		}
	}
	return missed
}

// Client returns an HTTP client whose every exchange is checked; a
// failed check is reported to fail (t.Errorf, say) and does not change
// what the caller gets.
func (c *Checker) Client(fail func(format string, args ...any)) *http.Client {
	return &http.Client{Transport: &checking{c: c, next: http.DefaultTransport, fail: fail}}
}

type checking struct {
	c    *Checker
	next http.RoundTripper
	fail func(format string, args ...any)
}

func (t *checking) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req = cloneWithBody(req, reqBody)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err != nil {
		return nil, err
	}
	if err := t.c.Check(req, reqBody, resp.StatusCode, resp.Header, respBody); err != nil {
		t.fail("contract: %v", err)
	}
	return resp, nil
}

// cloneWithBody returns req with a fresh reader over body.
func cloneWithBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return r
}

// isError says whether body is the shop's error shape.
func isError(body []byte) bool {
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	return json.Unmarshal(body, &e) == nil && e.Error != nil && e.Error.Code != "" && e.Error.Message != ""
}
